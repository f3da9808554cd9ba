/* metrics.c: typed access to metric_values and the gauges (see metrics.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/metrics.h"

enum aigw_err
db_metrics(struct db *db, long stale_s, void (*each)(void *ctx, const struct db_metric_sample *s),
	   void *ctx)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, DB_METRICS, values, &res);
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

enum aigw_err
db_status(struct db *db, long stale_s, struct db_status *out)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, DB_STATUS, values, &res);
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
