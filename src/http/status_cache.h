/*
 * status_cache.h: the /status bodies of recently read chats and jobs, kept
 * in aigw-fcgi's memory so that a poll of a row nothing changed costs no
 * database round trip (docs/architecture.md, "The status cache").
 *
 * Every change to a chat or job row is notified (db/listen.h) and the
 * process's hub hears it: the hub forgets the row here before it wakes
 * the row's waiters (status_cache_forget), and empties the whole cache
 * when it loses its LISTEN, since it cannot know what it missed
 * (status_cache_enable). A read of the database takes a ticket before it
 * starts; its body is stored only when no notification of that row (nor
 * a loss of the LISTEN) came in between, so a read that raced a change
 * cannot put the older state back. A body never replaces one of a higher
 * version. A notification is sent after its change commits, and may be
 * lost when a worker dies between the two: an entry older than max_age_ms
 * is read again, which bounds how long such a loss can show.
 *
 * Ownership and expiry are kept with the body and checked on every hit
 * as the database's query checks them: another owner's row, or a chat
 * past its expiresAt, is not there (STATUS_CACHE_NOT_THERE).
 *
 * The API keys requests present are kept the same way (kind
 * DB_CHANNEL_KEY, view STATUS_VIEW_KEY, their id, owner ""; http/auth.c),
 * forgotten when their change is notified (migrations/0020), so that
 * authentication needs no query either; their lookups are not in the
 * figures.
 *
 * Bounded by bytes (bodies, owners and bookkeeping, not the hash table's
 * fixed array): the least recently used entries go first. Thread-safe
 * (one lock). Cannot fail after status_cache_new(), which fails only out
 * of memory; a body that cannot be copied is simply not stored.
 */
#ifndef AIGW_HTTP_STATUS_CACHE_H
#define AIGW_HTTP_STATUS_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/listen.h"

struct status_cache;

/* Which body of a row is kept: a chat has two (its /status body and, for
 * /v1/ work, its response object), and a notification of the row drops
 * both. */
enum status_view {
	STATUS_VIEW_NONE,         /* not kept */
	STATUS_VIEW_STATUS,       /* GET /api/ai/chat/status, /api/jobs/{id}/status */
	STATUS_VIEW_RESPONSE,     /* GET /v1/responses/{id}: the object */
	STATUS_VIEW_KEY,          /* an API key's row (http/auth.c) */
	STATUS_VIEW_COUNT
};

#define STATUS_CACHE_PROCESSES_MAX 64

/* Figures of one aigw-fcgi, shared by its processes when it forks. The
 * gauges are kept per process, so that one that died and was replaced
 * leaves none of its own behind. */
struct status_cache_stats {
	atomic_ulong hits;        /* answered from memory (404s included) */
	atomic_ulong misses;      /* read from the database */
	atomic_ulong clears;      /* the hub lost its LISTEN */
	struct {
		atomic_long entries;
		atomic_long bytes;
	} process[STATUS_CACHE_PROCESSES_MAX];
};

/* The gauges summed over the processes. */
void status_cache_stats_size(const struct status_cache_stats *s, long *entries, long *bytes);

/* Zeroed figures in memory that a fork() shares (MAP_SHARED); NULL when
 * mmap fails. Freed with status_cache_stats_free(). */
struct status_cache_stats *status_cache_stats_new(void);
void status_cache_stats_free(struct status_cache_stats *s);

/* A cache of at most max_bytes (at least 4 KiB is taken), entries read
 * again after max_age_ms (at least 1), counting into stats (not owned;
 * may be NULL) as process (0 .. STATUS_CACHE_PROCESSES_MAX - 1, whose
 * gauges start again at 0). Disabled until status_cache_enable(c, true).
 * NULL out of memory, or for a process out of range. */
struct status_cache *status_cache_new(size_t max_bytes, int64_t max_age_ms,
				      struct status_cache_stats *stats, long process);
/* Safe on NULL. */
void status_cache_free(struct status_cache *c);

/* What a database read of a row must hold to be stored afterwards. */
struct status_cache_ticket {
	unsigned long gen;
	unsigned long epoch;
	bool enabled;
};
void status_cache_ticket(struct status_cache *c, enum db_channel kind, const char *id,
			 struct status_cache_ticket *out);

/* A row's /status body. */
struct status_body {
	const char *json;
	size_t len;
	long version;
	bool final;
	const char *status;       /* at most 15 bytes are kept */
};

/* The copy of a hit, which the caller frees. */
struct status_hit {
	char *json;
	size_t len;
	long version;
	bool final;
	char status[16];
};

enum status_cache_result {
	STATUS_CACHE_MISS,        /* read the database */
	STATUS_CACHE_HIT,         /* *out is the row as owner sees it */
	STATUS_CACHE_NOT_THERE,   /* another owner's, or expired: a 404 */
};
/* Looks the view of row id of kind up for owner at now_ms (time_mono_ms)
 * and wall clock now_s (seconds since the epoch, for expiry). A hit's body
 * is copied into out (a miss when that copy fails). */
enum status_cache_result status_cache_get(struct status_cache *c, enum db_channel kind,
					  enum status_view view, const char *id,
					  const char *owner, int64_t now_ms, int64_t now_s,
					  struct status_hit *out);
void status_hit_free(struct status_hit *h);

/* Stores body, read for owner after ticket t was taken, as the view of
 * row id of kind, which expires at expires_s (0: never, as jobs). An entry
 * of a lower version is dropped either way; one of the same or a higher
 * version is kept. */
void status_cache_put(struct status_cache *c, const struct status_cache_ticket *t,
		      enum db_channel kind, enum status_view view, const char *id,
		      const char *owner, int64_t expires_s, const struct status_body *body,
		      int64_t now_ms);

/* The row changed (its notification came): drop every view of it, and
 * refuse the bodies of reads that began before. */
void status_cache_forget(struct status_cache *c, enum db_channel kind, const char *id);
/* The hub's LISTEN is up (on) or lost: either way everything is dropped
 * and reads begun before are refused; while off nothing is stored. */
void status_cache_enable(struct status_cache *c, bool on);

/* How many entries, and the bytes they count. */
void status_cache_size(struct status_cache *c, size_t *entries, size_t *bytes);

#endif
