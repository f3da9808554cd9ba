/* reap.c: the reaper's statements (see reap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/reap.h"

/* Runs stmt; *count receives the number its single row or its command tag
 * reports. */
static enum aigw_err
count_of(struct db *db, enum db_stmt stmt, const char *const *values, long *count)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, stmt, values, &res);

	*count = 0;
	if (err != AIGW_OK)
		return err;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*count = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	else
		*count = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_reap_turn(struct db *db, long min_interval_s, bool *due)
{
	char interval[24];
	const char *values[1] = { interval };
	int rows = 0;
	enum aigw_err err;

	snprintf(interval, sizeof interval, "%ld", min_interval_s);
	err = db_exec_rows(db, DB_REAP_TURN, values, &rows);
	*due = err == AIGW_OK && rows == 1;
	return err;
}

enum aigw_err
db_reap(struct db *db, const struct db_reap_limits *l, struct db_reap_counts *out)
{
	char pending[24], attempts[24], timeout[24], done[24], failed[24];
	const char *pending_v[1] = { pending };
	const char *chat_v[2] = { attempts, timeout };
	const char *keep_v[2] = { done, failed };
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	snprintf(pending, sizeof pending, "%ld", l->pending_timeout_s);
	snprintf(attempts, sizeof attempts, "%ld", l->max_attempts);
	snprintf(timeout, sizeof timeout, "%ld", l->chat_timeout_s);
	snprintf(done, sizeof done, "%ld", l->keep_done_days);
	snprintf(failed, sizeof failed, "%ld", l->keep_failed_days);
	if ((err = count_of(db, DB_REAP_CHATS_UNCLAIMED, pending_v, &out->chats_unclaimed)) ||
	    (err = count_of(db, DB_REAP_CHATS_SPENT, chat_v, &out->chats_spent)) ||
	    (err = count_of(db, DB_REAP_CHATS_REQUEUE, chat_v, &out->chats_requeued)) ||
	    (err = count_of(db, DB_REAP_CHATS_DELETE, NULL, &out->chats_deleted)) ||
	    (err = count_of(db, DB_REAP_JOBS_UNCLAIMED, pending_v, &out->jobs_unclaimed)) ||
	    (err = count_of(db, DB_REAP_JOBS_SPENT, NULL, &out->jobs_spent)) ||
	    (err = count_of(db, DB_REAP_JOBS_REQUEUE, NULL, &out->jobs_requeued)) ||
	    (err = count_of(db, DB_REAP_JOBS_DELETE, keep_v, &out->jobs_deleted)) ||
	    (err = count_of(db, DB_REAP_BATCHES_DELETE, keep_v, &out->batches_deleted)))
		return err;
	return AIGW_OK;
}
