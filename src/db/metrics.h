/*
 * metrics.h: the database side of metrics (the HTTP side is
 * http/metrics.c): what GET /api/metrics and aigw status read: the counters and
 * histograms the database keeps as work finishes (migrations/0009), and
 * gauges counted from the queue indexes. Both are cheap however large the
 * work tables grow. Errors: AIGW_EDB.
 */
#ifndef AIGW_DB_METRICS_H
#define AIGW_DB_METRICS_H

#include "core/err.h"
#include "db/db.h"

struct db_metric_sample {
	const char *family;   /* aigw_jobs_total */
	const char *suffix;   /* "", "_bucket", "_sum" or "_count" */
	const char *labels;   /* rendered and escaped: type="x",status="y"; "" for none */
	const char *le;       /* a bucket's bound; "" for none */
	double value;
};

/* Calls each once per sample, families together and a histogram's buckets
 * in rising order. The strings live only during the call. stale_s: a
 * worker whose slot was not heartbeated for this long is not alive. */
enum aigw_err db_metrics(struct db *db, long stale_s,
			 void (*each)(void *ctx, const struct db_metric_sample *s),
			 void *ctx) AIGW_MUSTCHECK;

/* Adds HTTP request counts: requests_json is a JSON array of
 * {"route": the route table's pattern, "status": the code, "n": count},
 * busy the 503s for busy. Not idempotent: not retried. */
enum aigw_err db_metrics_add_http(struct db *db, const char *requests_json, long busy)
	AIGW_MUSTCHECK;

struct db_overview {
	long chats_pending, jobs_pending;
	long chats_running, jobs_running;
	long workers_alive;
	long stuck_jobs;
	char oldest_pending_s[24];   /* seconds, or "-" when nothing waits */
	char reaper_ran_at[32];      /* ISO time, or "never" */
	char reaper_ago_s[24];       /* seconds, or "-" */
};
enum aigw_err db_overview(struct db *db, long stale_s, struct db_overview *out) AIGW_MUSTCHECK;

#endif
