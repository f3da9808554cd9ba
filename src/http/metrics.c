/* metrics.c: the HTTP side of metrics, GET /api/metrics (see metrics.h); the database side is
 * db/metrics.c. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "config.h"

#include "core/log.h"
#include "core/secret.h"
#include "db/workers.h"
#include "http/metrics.h"
#include "http/routes.h"

/* 4 MiB holds tens of thousands of samples; the label sets are bounded by the
 * job types, providers and statuses, so this is never reached. */
#define METRICS_TEXT_MAX (4L << 20)

struct family {
	const char *name;
	const char *type;
	const char *help;
};

static const struct family families[] = {
	{ "aigw_chats_created_total", "counter", "Chats submitted." },
	{ "aigw_chats_total", "counter", "Chats finished, by status." },
	{ "aigw_chat_duration_seconds", "histogram",
	  "Time from a chat's submit to its last result." },
	{ "aigw_jobs_created_total", "counter", "Jobs submitted." },
	{ "aigw_jobs_total", "counter", "Jobs finished, by type and status." },
	{ "aigw_job_duration_seconds", "histogram", "Time from a job's submit to its end, by type." },
	{ "aigw_provider_calls_total", "counter",
	  "Provider calls settled (after their retries), by provider and outcome." },
	{ "aigw_provider_latency_seconds", "histogram",
	  "Time of a provider call's last attempt, by provider." },
	{ "aigw_queue_depth", "gauge", "Chats and jobs waiting for a worker." },
	{ "aigw_running", "gauge", "Chats and jobs being worked on." },
	{ "aigw_oldest_pending_seconds", "gauge", "Age of the oldest chat or job waiting." },
	{ "aigw_stuck_jobs", "gauge",
	  "Running jobs whose lease ran out or that ran past their type's timeout." },
	{ "aigw_workers_alive", "gauge", "Workers holding a slot with a fresh heartbeat." },
	{ "aigw_reaper_last_run_timestamp_seconds", "gauge",
	  "When the reaper last ran (Unix time; 0: never)." },
	{ "aigw_rate_limit_waits_total", "counter",
	  "Provider calls that waited for a rate limit, by provider." },
	{ "aigw_rate_limit_wait_seconds_total", "counter",
	  "Time provider calls spent waiting for a rate limit, by provider." },
	{ "aigw_provider_tokens_total", "counter",
	  "Tokens of provider calls that answered, by provider, model and direction"
	  " (input or output)." },
	{ "aigw_provider_cost_usd_total", "counter",
	  "Estimated cost of provider calls from the price table, by provider and model." },
	{ "aigw_http_requests_total", "counter",
	  "HTTP requests answered, by route (the route's pattern) and status." },
	{ "aigw_http_busy_total", "counter",
	  "Requests answered 503 busy: too many waiting for changes." },
	{ "aigw_webhook_deliveries_total", "counter",
	  "Webhook delivery attempts, by outcome: delivered, failed_attempt, refused;"
	  " gave_up counts deliveries given up after their retries." },
};

#define NFAMILIES (sizeof families / sizeof families[0])
_Static_assert(NFAMILIES <= 64, "struct metrics_text.shown has a bit per family");

/* The index of a known family, or -1. */
static int
family_find(const char *name)
{
	for (size_t i = 0; i < NFAMILIES; i++)
		if (strcmp(families[i].name, name) == 0)
			return (int)i;
	return -1;
}

static enum aigw_err
family_header(struct metrics_text *t, size_t i)
{
	t->shown |= UINT64_C(1) << i;
	return buf_printf(t->out, "# HELP %s %s\n# TYPE %s %s\n", families[i].name,
			  families[i].help, families[i].name, families[i].type);
}

/* A float the way the format spells it: integers without a fraction. */
static void
format_value(double v, char *out, size_t len)
{
	if (isnan(v))
		snprintf(out, len, "NaN");
	else if (isinf(v))
		snprintf(out, len, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		snprintf(out, len, "%lld", (long long)v);
	else
		snprintf(out, len, "%.9g", v);
}

void
metrics_text_add(struct metrics_text *t, const struct db_metric_sample *s)
{
	char value[64];
	bool braces = s->labels[0] != '\0' || s->le[0] != '\0';
	enum aigw_err err = AIGW_OK;

	if (t->err != AIGW_OK)
		return;
	if (strcmp(t->family, s->family) != 0) {
		int f = family_find(s->family);

		snprintf(t->family, sizeof t->family, "%s", s->family);
		err = f >= 0 ? family_header(t, (size_t)f)
			     : buf_printf(t->out, "# TYPE %s untyped\n", s->family);
	}
	format_value(s->value, value, sizeof value);
	if (err == AIGW_OK && s->le[0] != '\0')
		err = buf_printf(t->out, "%s%s{%s%sle=\"%s\"} %s\n", s->family, s->suffix, s->labels,
				 s->labels[0] ? "," : "", s->le, value);
	else if (err == AIGW_OK)
		err = buf_printf(t->out, "%s%s%s%s%s %s\n", s->family, s->suffix, braces ? "{" : "",
				 s->labels, braces ? "}" : "", value);
	t->err = err;
}

void
metrics_text_finish(struct metrics_text *t)
{
	for (size_t i = 0; i < NFAMILIES && t->err == AIGW_OK; i++)
		if ((t->shown & (UINT64_C(1) << i)) == 0)
			t->err = family_header(t, i);
}

void
metrics_text_build_info(struct metrics_text *t, const char *version)
{
	if (t->err == AIGW_OK)
		t->err = buf_printf(t->out, "# HELP aigw_build_info The aigw version answering"
					    " (always 1).\n# TYPE aigw_build_info gauge\n"
					    "aigw_build_info{version=\"%s\"} 1\n", version);
}

bool
metrics_access_allowed(const struct aigw_config *cfg, const char *remote_addr,
		       const char *authorization)
{
	char want[SECRET_HASH_HEX_LEN + 1], got[SECRET_HASH_HEX_LEN + 1];
	const char *token;

	switch (cfg->metrics_access) {
	case METRICS_OPEN:
		return true;
	case METRICS_LOCAL:
		return remote_addr != NULL &&
		       (strncmp(remote_addr, "127.", 4) == 0 || strcmp(remote_addr, "::1") == 0 ||
			strcmp(remote_addr, "::ffff:127.0.0.1") == 0);
	case METRICS_TOKEN:
		if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0)
			return false;
		token = authorization + 7;
		/* Hashes of equal length compared in constant time: how long
		 * the comparison takes tells nothing of the token. */
		return secret_sha256_hex(token, strlen(token), got) == AIGW_OK &&
		       secret_sha256_hex(cfg->metrics_token, strlen(cfg->metrics_token), want) ==
			       AIGW_OK &&
		       secret_hash_equal(got, want);
	default:
		return false;
	}
}

/* The HTTP counts of this process not yet in the database. */
static struct {
	pthread_mutex_t lock;
	struct { const char *route; int status; long n; } slot[METRICS_HTTP_SLOTS];
	size_t used;
	long busy, dropped;
	int64_t flushed_ms;
} http_counts = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define ROUTE_UNMATCHED "unmatched"

static void
count_locked(const char *route, int status, long n)
{
	size_t i;

	for (i = 0; i < http_counts.used; i++)
		if (http_counts.slot[i].status == status &&
		    strcmp(http_counts.slot[i].route, route) == 0)
			break;
	if (i == http_counts.used) {
		if (i == METRICS_HTTP_SLOTS) {
			http_counts.dropped += n;
			return;
		}
		http_counts.slot[i].route = route;
		http_counts.slot[i].status = status;
		http_counts.slot[i].n = 0;
		http_counts.used++;
	}
	http_counts.slot[i].n += n;
}

void
metrics_http_count(const char *route, int status)
{
	pthread_mutex_lock(&http_counts.lock);
	count_locked(route != NULL ? route : ROUTE_UNMATCHED, status, 1);
	pthread_mutex_unlock(&http_counts.lock);
}

void
metrics_http_busy(void)
{
	pthread_mutex_lock(&http_counts.lock);
	http_counts.busy++;
	pthread_mutex_unlock(&http_counts.lock);
}

/* The counts as JSON, or NULL (nothing, or out of memory); the caller
 * holds the lock. */
static char *
counts_json_locked(void)
{
	json_object *a;
	char *out = NULL;
	int rc = 0;

	if (http_counts.used == 0 && http_counts.busy == 0)
		return NULL;
	a = json_object_new_array();
	for (size_t i = 0; a != NULL && i < http_counts.used; i++) {
		json_object *e = json_object_new_object();

		if (e == NULL) {
			rc = -1;
			break;
		}
		rc |= json_object_object_add(e, "route",
					     json_object_new_string(http_counts.slot[i].route));
		rc |= json_object_object_add(e, "status",
					     json_object_new_int(http_counts.slot[i].status));
		rc |= json_object_object_add(e, "n", json_object_new_int64(http_counts.slot[i].n));
		rc |= json_object_array_add(a, e);
	}
	if (a != NULL && rc == 0) {
		const char *text = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);

		out = text != NULL ? strdup(text) : NULL;
	}
	json_object_put(a);
	return out;
}

char *
metrics_http_take(long *busy)
{
	char *json;

	pthread_mutex_lock(&http_counts.lock);
	json = counts_json_locked();
	*busy = http_counts.busy;
	if (json != NULL) {
		http_counts.used = 0;
		http_counts.busy = 0;
	}
	pthread_mutex_unlock(&http_counts.lock);
	return json;
}

/* One flush at a time: a scrape's (forced) flush waits for one under way,
 * so that counts taken from memory are in the database before it reads;
 * the flusher's skips when another is under way. */
static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;

void
metrics_http_flush(struct db *db, int64_t now_ms, bool force)
{
	char *json;
	long busy = 0, dropped;

	if (force)
		pthread_mutex_lock(&flush_lock);
	else if (pthread_mutex_trylock(&flush_lock) != 0)
		return;
	pthread_mutex_lock(&http_counts.lock);
	if (!force && now_ms - http_counts.flushed_ms < 1000) {
		pthread_mutex_unlock(&http_counts.lock);
		pthread_mutex_unlock(&flush_lock);
		return;
	}
	http_counts.flushed_ms = now_ms;
	dropped = http_counts.dropped;
	http_counts.dropped = 0;
	pthread_mutex_unlock(&http_counts.lock);
	if (dropped > 0)
		log_warn("metrics", NULL, "%ld HTTP request counts dropped: more than %d route and"
			 " status pairs", dropped, METRICS_HTTP_SLOTS);
	json = metrics_http_take(&busy);
	if (json != NULL && (db == NULL || db_metrics_add_http(db, json, busy) != AIGW_OK))
		log_warn("metrics", NULL, "HTTP request counts not written to the database;"
			 " aigw_http_requests_total misses them");
	free(json);
	pthread_mutex_unlock(&flush_lock);
}

void
metrics_text_status_cache(struct metrics_text *t, const struct status_cache_stats *s)
{
	long entries, bytes;

	if (s == NULL || t->err != AIGW_OK)
		return;
	status_cache_stats_size(s, &entries, &bytes);
	t->err = buf_printf(t->out,
		"# HELP aigw_status_cache_lookups_total Polls of this aigw-fcgi looked up in its"
		" status cache, by result (hit: answered from memory).\n"
		"# TYPE aigw_status_cache_lookups_total counter\n"
		"aigw_status_cache_lookups_total{result=\"hit\"} %lu\n"
		"aigw_status_cache_lookups_total{result=\"miss\"} %lu\n"
		"# HELP aigw_status_cache_clears_total Times a process of this aigw-fcgi emptied"
		" its status cache (its notifications were lost).\n"
		"# TYPE aigw_status_cache_clears_total counter\n"
		"aigw_status_cache_clears_total %lu\n"
		"# HELP aigw_status_cache_entries Statuses this aigw-fcgi keeps in memory.\n"
		"# TYPE aigw_status_cache_entries gauge\n"
		"aigw_status_cache_entries %ld\n"
		"# HELP aigw_status_cache_bytes Memory the status cache of this aigw-fcgi counts.\n"
		"# TYPE aigw_status_cache_bytes gauge\n"
		"aigw_status_cache_bytes %ld\n",
		atomic_load(&s->hits), atomic_load(&s->misses), atomic_load(&s->clears), entries,
		bytes);
}

struct metrics_flusher {
	struct db *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
};

static void *
flusher_main(void *arg)
{
	struct metrics_flusher *f = arg;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		while (!f->stopping &&
		       pthread_cond_timedwait(&f->cond, &f->lock, &until) != ETIMEDOUT)
			;
		if (f->stopping)
			break;
		pthread_mutex_unlock(&f->lock);
		metrics_http_flush(f->db, time_mono_ms(), false);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	/* The counts of the last second, before the connection goes. */
	metrics_http_flush(f->db, 0, true);
	return NULL;
}

struct metrics_flusher *
metrics_flusher_start(const struct aigw_config *cfg)
{
	struct metrics_flusher *f = calloc(1, sizeof *f);
	pthread_condattr_t attr;

	if (f == NULL)
		return NULL;
	f->db = db_open(cfg, DB_USE_WORK);
	if (f->db == NULL) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&f->thread, NULL, flusher_main, f) != 0) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->lock);
		db_free(f->db);
		free(f);
		return NULL;
	}
	return f;
}

void
metrics_flusher_stop(struct metrics_flusher *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	db_free(f->db);
	free(f);
}

static void
sample_to_text(void *ctx, const struct db_metric_sample *s)
{
	metrics_text_add(ctx, s);
}

void
ops_metrics(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct buf out;
	struct metrics_text text = { .out = &out, .err = AIGW_OK };
	enum aigw_err err;

	(void)args;
	if (!metrics_access_allowed(t->app->cfg, http_param(req, "REMOTE_ADDR"),
				    http_param(req, "HTTP_AUTHORIZATION"))) {
		if (t->app->cfg->metrics_access == METRICS_TOKEN)
			http_resp_header(req, "WWW-Authenticate", "Bearer realm=\"aigw metrics\"");
		http_resp_error(req, t->app->cfg->metrics_access == METRICS_TOKEN ? 401 : 403,
				t->app->cfg->metrics_access == METRICS_TOKEN ? "unauthorized"
									      : "forbidden",
				NULL, "the metrics are not open to this client (AIGW_METRICS_ACCESS)");
		return;
	}
	/* This request is not counted yet: it is counted when it is answered. */
	metrics_http_flush(t->db, 0, true);
	buf_init(&out, METRICS_TEXT_MAX);
	metrics_text_build_info(&text, PACKAGE_VERSION);
	metrics_text_status_cache(&text, t->app->status_cache != NULL ? t->app->status_cache_stats
								       : NULL);
	err = db_metrics(t->db, WORKER_SLOT_STALE_S, sample_to_text, &text);
	if (err == AIGW_OK) {
		metrics_text_finish(&text);
		err = text.err;
	}
	if (err == AIGW_OK)
		http_resp_text(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			       out.data ? out.data : "", out.len);
	else
		http_resp_from_err(req, err == AIGW_ETOOBIG ? AIGW_ENOMEM : err);
	buf_free(&out);
}
