/* metrics.c: the database side of metrics, metric_values and the gauges (see
 * metrics.h); the HTTP side is http/metrics.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/metrics.h"
#include "db/sql.h"
#include "db/status.h"

/* $1 stale_s of a worker slot: every sample of GET /api/metrics, as
 * (family, suffix, labels, le, value), families together, buckets in
 * rising order. Counters from metric_values, histograms from
 * metric_histograms (one array of buckets a row); gauges
 * from the queue indexes, never from finished rows. */
static const struct db_stmt stmt_metrics = {
	.name = "metrics",
	.nparams = 1,
	.idempotent = true,
	.sql = "WITH c AS (SELECT family, ''::text AS suffix, labels, ''::text AS le,"
	       "   sum(value) AS value FROM metric_values GROUP BY family, labels"
	       "  UNION ALL SELECT h.family, '_bucket', h.labels,"
	       "   (aigw_histogram_bounds())[u.i]::text, sum(u.b) FROM metric_histograms h,"
	       "   unnest(h.buckets) WITH ORDINALITY AS u(b, i) GROUP BY h.family, h.labels, u.i"
	       "  UNION ALL SELECT family, '_bucket', labels, '+Inf', sum(count)"
	       "   FROM metric_histograms GROUP BY family, labels"
	       "  UNION ALL SELECT family, '_sum', labels, '', sum(sum)"
	       "   FROM metric_histograms GROUP BY family, labels"
	       "  UNION ALL SELECT family, '_count', labels, '', sum(count)"
	       "   FROM metric_histograms GROUP BY family, labels),"
	       " active AS (SELECT"
	       "  (SELECT count(*) FROM chat_results WHERE status = " SQL_PENDING ") AS chats_pending,"
	       "  (SELECT count(*) FROM chat_results WHERE status = " SQL_PROCESSING ") AS chats_running,"
	       "  (SELECT count(*) FROM jobs WHERE status = " SQL_PENDING ") AS jobs_pending,"
	       "  (SELECT count(*) FROM jobs WHERE status = " SQL_RUNNING ") AS jobs_running),"
	       " s (family, suffix, labels, le, value) AS ("
	       "  SELECT family, suffix, labels, le, value FROM c"
	       "  UNION ALL SELECT 'aigw_chats_created_total', '', '', '',"
	       "   coalesce((SELECT sum(value) FROM c WHERE family = 'aigw_chats_total'), 0)"
	       "   + (SELECT chats_pending + chats_running FROM active)"
	       /* Jobs by type: the finished ones' type label as rendered,
	        * with the active ones of that type. */
	       "  UNION ALL SELECT 'aigw_jobs_created_total', '', t, '', sum(n) FROM ("
	       "   SELECT substring(labels FROM '^(type=\"(?:[^\"\\\\]|\\\\.)*\")') AS t, value AS n"
	       "    FROM c WHERE family = 'aigw_jobs_total'"
	       "   UNION ALL SELECT aigw_label('type', type), count(*) FROM jobs"
	       "    WHERE status IN (" SQL_PENDING ", " SQL_RUNNING ") GROUP BY type) j GROUP BY t"
	       "  UNION ALL SELECT 'aigw_queue_depth', '', 'kind=\"chat\"', '', chats_pending FROM active"
	       "  UNION ALL SELECT 'aigw_queue_depth', '', 'kind=\"job\"', '', jobs_pending FROM active"
	       "  UNION ALL SELECT 'aigw_running', '', 'kind=\"chat\"', '', chats_running FROM active"
	       "  UNION ALL SELECT 'aigw_running', '', 'kind=\"job\"', '', jobs_running FROM active"
	       "  UNION ALL SELECT 'aigw_oldest_pending_seconds', '', 'kind=\"chat\"', '',"
	       "   coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM chat_results"
	       "    WHERE status = " SQL_PENDING ")), 0)"
	       "  UNION ALL SELECT 'aigw_oldest_pending_seconds', '', 'kind=\"job\"', '',"
	       "   coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM jobs"
	       "    WHERE status = " SQL_PENDING ")), 0)"
	       "  UNION ALL SELECT 'aigw_stuck_jobs', '', '', '', count(*) FROM jobs"
	       "   WHERE status = " SQL_RUNNING " AND (lease_until < now() OR coalesce(attempt_at, started_at)"
	       "    + timeout_s * interval '1 second' < now())"
	       "  UNION ALL SELECT 'aigw_workers_alive', '', '', '', count(*) FROM worker_slots"
	       "   WHERE pid IS NOT NULL AND heartbeat_at > now() - $1 * interval '1 second'"
	       "  UNION ALL SELECT 'aigw_reaper_last_run_timestamp_seconds', '', '', '',"
	       "   coalesce(extract(epoch FROM (SELECT ran_at FROM reaper_state WHERE id = 1)), 0)"
	       "  UNION ALL SELECT 'aigw_rate_limit_waits_total', '', aigw_label('provider', provider),"
	       "   '', waits FROM rate_limit_waits"
	       "  UNION ALL SELECT 'aigw_rate_limit_wait_seconds_total', '',"
	       "   aigw_label('provider', provider), '', wait_ms / 1000.0 FROM rate_limit_waits)"
	       " SELECT family, suffix, labels, le, value::double precision FROM s"
	       " ORDER BY family, labels, CASE suffix WHEN '_bucket' THEN 0 WHEN '_sum' THEN 1"
	       "  WHEN '_count' THEN 2 ELSE 0 END,"
	       "  CASE WHEN le = '' THEN 0 WHEN le = '+Inf' THEN 'Infinity'::float8 ELSE le::float8 END",
};

enum aigw_err
db_metrics(struct db *db, long stale_s, void (*each)(void *ctx, const struct db_metric_sample *s),
	   void *ctx)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, &stmt_metrics, values, &res);
	if (err != AIGW_OK)
		return err;
	for (int i = 0; i < PQntuples(res); i++) {
		struct db_metric_sample s = {
			.family = PQgetvalue(res, i, 0), .suffix = PQgetvalue(res, i, 1),
			.labels = PQgetvalue(res, i, 2), .le = PQgetvalue(res, i, 3),
			.value = strtod(PQgetvalue(res, i, 4), NULL),
		};

		each(ctx, &s);
	}
	PQclear(res);
	return AIGW_OK;
}

/* $1: [{"route": pattern, "status": code, "n": count}, ...] to add to
 * aigw_http_requests_total, $2 the busy 503s to add to
 * aigw_http_busy_total. Labels are rendered here (aigw_label escapes). */
static const struct db_stmt stmt_add_http = {
	.name = "metrics_add_http",
	.nparams = 2,
	.idempotent = false,
	.sql = "SELECT aigw_metric_add('aigw_http_requests_total',"
	       "  aigw_label('route', e->>'route') || ',' || aigw_label('status', e->>'status'),"
	       "  (e->>'n')::double precision)"
	       " FROM jsonb_array_elements($1::jsonb) AS e"
	       " UNION ALL SELECT aigw_metric_add('aigw_http_busy_total', '', $2::double precision)"
	       " WHERE $2::double precision > 0",
};

enum aigw_err
db_metrics_add_http(struct db *db, const char *requests_json, long busy)
{
	char busy_text[24];
	const char *values[2] = { requests_json, busy_text };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(busy_text, sizeof busy_text, "%ld", busy);
	err = db_exec(db, &stmt_add_http, values, &res);
	PQclear(res);
	return err;
}

/* $1 stale_s: what aigw status prints. */
static const struct db_stmt stmt_overview = {
	.name = "overview",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT (SELECT count(*) FROM chat_results WHERE status = " SQL_PENDING "),"
	       " (SELECT count(*) FROM jobs WHERE status = " SQL_PENDING "),"
	       " (SELECT count(*) FROM chat_results WHERE status = " SQL_PROCESSING "),"
	       " (SELECT count(*) FROM jobs WHERE status = " SQL_RUNNING "),"
	       " (SELECT count(*) FROM worker_slots WHERE pid IS NOT NULL"
	       "  AND heartbeat_at > now() - $1 * interval '1 second'),"
	       " coalesce(extract(epoch FROM now() - least("
	       "  (SELECT min(created_at) FROM chat_results WHERE status = " SQL_PENDING "),"
	       "  (SELECT min(created_at) FROM jobs WHERE status = " SQL_PENDING ")))::bigint::text, '-'),"
	       " coalesce((SELECT " TS("ran_at") " FROM reaper_state WHERE id = 1), 'never'),"
	       " coalesce((SELECT extract(epoch FROM now() - ran_at)::bigint::text FROM reaper_state"
	       "  WHERE id = 1), '-'),"
	       " (SELECT count(*) FROM jobs WHERE status = " SQL_RUNNING " AND (lease_until < now()"
	       "  OR coalesce(attempt_at, started_at) + timeout_s * interval '1 second' < now()))",
};

enum aigw_err
db_overview(struct db *db, long stale_s, struct db_overview *out)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, &stmt_overview, values, &res);
	if (err != AIGW_OK)
		return err;
	out->chats_pending = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	out->jobs_pending = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	out->chats_running = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	out->jobs_running = strtol(PQgetvalue(res, 0, 3), NULL, 10);
	out->workers_alive = strtol(PQgetvalue(res, 0, 4), NULL, 10);
	snprintf(out->oldest_pending_s, sizeof out->oldest_pending_s, "%s", PQgetvalue(res, 0, 5));
	snprintf(out->reaper_ran_at, sizeof out->reaper_ran_at, "%s", PQgetvalue(res, 0, 6));
	snprintf(out->reaper_ago_s, sizeof out->reaper_ago_s, "%s", PQgetvalue(res, 0, 7));
	out->stuck_jobs = strtol(PQgetvalue(res, 0, 8), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}
