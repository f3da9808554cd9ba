/*
 * metrics.h: GET /api/metrics in the Prometheus text exposition format
 * (version 0.0.4), and who may read it (AIGW_METRICS_ACCESS).
 *
 * The samples come from the database (db/metrics.h); this module names
 * each family's type and help once, before its first sample, and writes
 * the lines; a family with no sample yet still gets its help and type, so
 * a scrape always shows every family aigw documents. Rendering fails only with AIGW_ENOMEM or AIGW_ETOOBIG.
 */
#ifndef AIGW_HTTP_METRICS_H
#define AIGW_HTTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/config.h"
#include "db/metrics.h"
#include "http/status_cache.h"

struct metrics_text {
	struct buf *out;
	char family[128];       /* the family whose header was written last */
	enum aigw_err err;      /* the first failure; later samples are skipped */
	uint64_t shown;         /* bit i: known family i has its header written */
};

/* Appends one sample (and its family's # HELP and # TYPE lines when the
 * family changes) to t->out. */
void metrics_text_add(struct metrics_text *t, const struct db_metric_sample *s);

/* Appends the # HELP and # TYPE lines of every known family that had no
 * sample, after the last metrics_text_add. */
void metrics_text_finish(struct metrics_text *t);

/* Appends aigw_build_info{version="..."} 1 with its # HELP and # TYPE
 * lines: which version answers, for dashboards and upgrade checks. */
void metrics_text_build_info(struct metrics_text *t, const char *version);

/* Appends the status cache's figures (http/status_cache.h) of the aigw-fcgi
 * answering, summed over its processes; nothing when s is NULL (CGI, or
 * the cache turned off). */
void metrics_text_status_cache(struct metrics_text *t, const struct status_cache_stats *s);

/* Whether a request may read the metrics: remote_addr is the client's
 * address as the web server saw it, authorization the Authorization
 * header (either may be NULL). */
bool metrics_access_allowed(const struct aigw_config *cfg, const char *remote_addr,
			    const char *authorization);

/*
 * HTTP request counts (aigw_http_requests_total{route,status},
 * aigw_http_busy_total): kept in this process and added to the database
 * once a second (a request per write would double the writes of a poll)
 * by the flusher's thread, off the requests' path (a request thread's
 * write would hold its FastCGI end record), and always before a scrape and
 * at the end of a CGI request, so a scrape's figures lag other processes
 * by at most a second. route is the route table's
 * pattern (a string that lives on), NULL for a path no route knows.
 * Thread-safe; cannot fail (past METRICS_HTTP_SLOTS label sets, or when the
 * database refuses, a count is dropped, with a log line).
 */
struct metrics_flusher;

#define METRICS_HTTP_SLOTS 512
void metrics_http_count(const char *route, int status);
void metrics_http_busy(void);
/* Writes the counts when force or when a second passed since the last
 * write (now_ms: a monotonic clock). One flush at a time: a forced one
 * waits for one under way, another is skipped then. */
void metrics_http_flush(struct db *db, int64_t now_ms, bool force);
/* A thread with a database connection of its own that flushes the counts
 * every second, and once more when stopped. NULL when it cannot start
 * (memory, thread). */
struct metrics_flusher *metrics_flusher_start(const struct aigw_config *cfg);
/* Safe on NULL. */
void metrics_flusher_stop(struct metrics_flusher *f);
/* The pending counts as the JSON db_metrics_add_http reads, and the busy
 * count, taken (reset); for tests. NULL when nothing is pending. */
char *metrics_http_take(long *busy);

#endif
