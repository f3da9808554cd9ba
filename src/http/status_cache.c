/* status_cache.c: recently read /status bodies (see status_cache.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/util.h"
#include "http/status_cache.h"

#define MIN_BYTES 4096
/* Buckets per byte of the bound: a body is rarely under 256 bytes. */
#define BYTES_PER_BUCKET 256
/* Counters of notified rows, by hash: a read is refused when its row's
 * counter moved; two rows sharing one only cost a refused store. */
#define GEN_SLOTS 4096

struct entry {
	struct entry *chain;          /* the bucket's next */
	struct entry *newer, *older;  /* recency: c->newest ... c->oldest */
	uint32_t hash;
	unsigned what;                /* what_of(kind, view) */
	char id[UUID_STR_LEN + 1];
	char status[16];
	bool final;
	long version;
	int64_t filled_ms;
	int64_t expires_s;
	size_t cost;
	size_t len;
	char *owner;                  /* in the same allocation, after it */
	char json[];
};

struct status_cache {
	pthread_mutex_t lock;
	size_t max_bytes;
	int64_t max_age_ms;
	struct status_cache_stats *stats;
	atomic_long *stat_entries, *stat_bytes;   /* this process's gauges */
	struct entry **buckets;
	size_t nbuckets;              /* a power of two */
	struct entry *newest, *oldest;
	size_t entries;
	size_t bytes;
	unsigned long gens[GEN_SLOTS];
	unsigned long epoch;
	bool enabled;
};

struct status_cache_stats *
status_cache_stats_new(void)
{
	void *p = mmap(NULL, sizeof(struct status_cache_stats), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	/* Anonymous pages come zeroed: every counter starts at 0. */
	return p == MAP_FAILED ? NULL : p;
}

void
status_cache_stats_free(struct status_cache_stats *s)
{
	if (s != NULL)
		munmap(s, sizeof *s);
}

/* The id as the hub hears it: lower case, at most a UUID's length. */
static void
key_of(const char *id, char out[UUID_STR_LEN + 1])
{
	size_t i = 0;

	for (; i < UUID_STR_LEN && id[i] != '\0'; i++)
		out[i] = (id[i] >= 'A' && id[i] <= 'Z') ? (char)(id[i] + ('a' - 'A')) : id[i];
	out[i] = '\0';
}

/* A row's view as one number. */
static unsigned
what_of(enum db_channel kind, enum status_view view)
{
	return (unsigned)kind * STATUS_VIEW_COUNT + (unsigned)view;
}

/* FNV-1a over what (a kind, or what_of a view) and the key. */
static uint32_t
hash_of(unsigned what, const char *key)
{
	uint32_t h = 2166136261u ^ (uint32_t)what;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619u;
	}
	return h;
}

static void
count(atomic_ulong *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

void
status_cache_stats_size(const struct status_cache_stats *s, long *entries, long *bytes)
{
	*entries = *bytes = 0;
	for (size_t i = 0; i < STATUS_CACHE_PROCESSES_MAX; i++) {
		*entries += atomic_load(&s->process[i].entries);
		*bytes += atomic_load(&s->process[i].bytes);
	}
}

struct status_cache *
status_cache_new(size_t max_bytes, int64_t max_age_ms, struct status_cache_stats *stats,
		 long process)
{
	struct status_cache *c;
	size_t want;

	if (process < 0 || process >= STATUS_CACHE_PROCESSES_MAX)
		return NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	if (stats != NULL) {
		c->stat_entries = &stats->process[process].entries;
		c->stat_bytes = &stats->process[process].bytes;
		/* What a process of this place left when it died. */
		atomic_store(c->stat_entries, 0);
		atomic_store(c->stat_bytes, 0);
	}
	c->max_bytes = max_bytes < MIN_BYTES ? MIN_BYTES : max_bytes;
	c->max_age_ms = max_age_ms < 1 ? 1 : max_age_ms;
	c->stats = stats;
	want = c->max_bytes / BYTES_PER_BUCKET;
	c->nbuckets = 64;
	while (c->nbuckets < want && c->nbuckets < ((size_t)1 << 24))
		c->nbuckets <<= 1;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* Unlinks e from its bucket and the recency list and frees it; under
 * the lock. */
static void
drop(struct status_cache *c, struct entry *e)
{
	struct entry **p = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	c->entries--;
	c->bytes -= e->cost;
	if (c->stats != NULL) {
		atomic_fetch_sub_explicit(c->stat_entries, 1, memory_order_relaxed);
		atomic_fetch_sub_explicit(c->stat_bytes, (long)e->cost, memory_order_relaxed);
	}
	free(e);
}

static void
drop_all(struct status_cache *c)
{
	while (c->oldest != NULL)
		drop(c, c->oldest);
}

void
status_cache_free(struct status_cache *c)
{
	if (c == NULL)
		return;
	drop_all(c);
	pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static struct entry *
find(struct status_cache *c, uint32_t hash, unsigned what, const char *key)
{
	for (struct entry *e = c->buckets[hash & (c->nbuckets - 1)]; e != NULL; e = e->chain)
		if (e->hash == hash && e->what == what && strcmp(e->id, key) == 0)
			return e;
	return NULL;
}

/* Moves e to the newest end; under the lock. */
static void
touch(struct status_cache *c, struct entry *e)
{
	if (c->newest == e)
		return;
	/* e has a newer one, so it is not c->newest. */
	e->newer->older = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = NULL;
	e->older = c->newest;
	c->newest->newer = e;
	c->newest = e;
}

void
status_cache_ticket(struct status_cache *c, enum db_channel kind, const char *id,
		    struct status_cache_ticket *out)
{
	char key[UUID_STR_LEN + 1];

	key_of(id, key);
	pthread_mutex_lock(&c->lock);
	/* By row, whatever the view: a notification refuses them all. */
	out->gen = c->gens[hash_of((unsigned)kind, key) % GEN_SLOTS];
	out->epoch = c->epoch;
	out->enabled = c->enabled;
	pthread_mutex_unlock(&c->lock);
}

enum status_cache_result
status_cache_get(struct status_cache *c, enum db_channel kind, enum status_view view,
		 const char *id, const char *owner, int64_t now_ms, int64_t now_s,
		 struct status_hit *out)
{
	const unsigned what = what_of(kind, view);
	char key[UUID_STR_LEN + 1];
	enum status_cache_result r = STATUS_CACHE_MISS;
	struct entry *e;
	uint32_t hash;

	memset(out, 0, sizeof *out);
	key_of(id, key);
	hash = hash_of(what, key);
	pthread_mutex_lock(&c->lock);
	e = find(c, hash, what, key);
	if (e != NULL && now_ms - e->filled_ms >= c->max_age_ms) {
		drop(c, e);
		e = NULL;
	}
	if (e != NULL && e->expires_s != 0 && now_s >= e->expires_s) {
		/* Expired: the database would not show it either. */
		drop(c, e);
		r = STATUS_CACHE_NOT_THERE;
	} else if (e != NULL && strcmp(e->owner, owner != NULL ? owner : "") != 0) {
		r = STATUS_CACHE_NOT_THERE;
	} else if (e != NULL) {
		out->json = malloc(e->len + 1);
		if (out->json != NULL) {
			memcpy(out->json, e->json, e->len + 1);
			out->len = e->len;
			out->version = e->version;
			out->final = e->final;
			memcpy(out->status, e->status, sizeof out->status);
			touch(c, e);
			r = STATUS_CACHE_HIT;
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* The figures are the polls'; keys are looked up by every request. */
	if (c->stats != NULL && view != STATUS_VIEW_KEY)
		count(r == STATUS_CACHE_MISS ? &c->stats->misses : &c->stats->hits);
	return r;
}

void
status_hit_free(struct status_hit *h)
{
	free(h->json);
	h->json = NULL;
}

static struct entry *
entry_new(unsigned what, const char *key, uint32_t hash, const char *owner, int64_t expires_s,
	  const struct status_body *body, int64_t now_ms)
{
	size_t olen = strlen(owner);
	size_t cost = sizeof(struct entry) + body->len + 1 + olen + 1;
	struct entry *e = malloc(cost);

	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof *e);
	e->hash = hash;
	e->what = what;
	memcpy(e->id, key, sizeof e->id);
	snprintf(e->status, sizeof e->status, "%s", body->status != NULL ? body->status : "");
	e->final = body->final;
	e->version = body->version;
	e->filled_ms = now_ms;
	e->expires_s = expires_s;
	e->cost = cost;
	e->len = body->len;
	memcpy(e->json, body->json, body->len);
	e->json[body->len] = '\0';
	e->owner = e->json + body->len + 1;
	memcpy(e->owner, owner, olen + 1);
	return e;
}

void
status_cache_put(struct status_cache *c, const struct status_cache_ticket *t,
		 enum db_channel kind, enum status_view view, const char *id, const char *owner,
		 int64_t expires_s, const struct status_body *body, int64_t now_ms)
{
	const unsigned what = what_of(kind, view);
	char key[UUID_STR_LEN + 1];
	struct entry *e, *old;
	uint32_t hash;
	bool valid;

	if (owner == NULL)
		owner = "";
	key_of(id, key);
	hash = hash_of(what, key);
	/* Allocated outside the lock; most puts follow a miss and store. */
	e = entry_new(what, key, hash, owner, expires_s, body, now_ms);
	pthread_mutex_lock(&c->lock);
	valid = t->enabled && c->enabled && t->epoch == c->epoch &&
		t->gen == c->gens[hash_of((unsigned)kind, key) % GEN_SLOTS];
	old = find(c, hash, what, key);
	if (old != NULL && old->version >= body->version) {
		/* What is kept is as new; a valid read confirms it now. */
		if (valid && old->version == body->version && strcmp(old->owner, owner) == 0)
			old->filled_ms = now_ms;
		pthread_mutex_unlock(&c->lock);
		free(e);
		return;
	}
	if (old != NULL)
		drop(c, old);
	if (!valid || e == NULL || e->cost > c->max_bytes) {
		pthread_mutex_unlock(&c->lock);
		free(e);
		return;
	}
	while (c->bytes + e->cost > c->max_bytes && c->oldest != NULL)
		drop(c, c->oldest);
	e->chain = c->buckets[hash & (c->nbuckets - 1)];
	c->buckets[hash & (c->nbuckets - 1)] = e;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
	c->entries++;
	c->bytes += e->cost;
	if (c->stats != NULL) {
		atomic_fetch_add_explicit(c->stat_entries, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(c->stat_bytes, (long)e->cost, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->lock);
}

void
status_cache_forget(struct status_cache *c, enum db_channel kind, const char *id)
{
	char key[UUID_STR_LEN + 1];
	struct entry *e;

	key_of(id, key);
	pthread_mutex_lock(&c->lock);
	c->gens[hash_of((unsigned)kind, key) % GEN_SLOTS]++;
	for (unsigned v = STATUS_VIEW_NONE + 1; v < STATUS_VIEW_COUNT; v++) {
		const unsigned what = what_of(kind, (enum status_view)v);

		e = find(c, hash_of(what, key), what, key);
		if (e != NULL)
			drop(c, e);
	}
	pthread_mutex_unlock(&c->lock);
}

void
status_cache_enable(struct status_cache *c, bool on)
{
	pthread_mutex_lock(&c->lock);
	c->epoch++;
	c->enabled = on;
	drop_all(c);
	pthread_mutex_unlock(&c->lock);
	if (!on && c->stats != NULL)
		count(&c->stats->clears);
}

void
status_cache_size(struct status_cache *c, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&c->lock);
	*entries = c->entries;
	*bytes = c->bytes;
	pthread_mutex_unlock(&c->lock);
}
