/* reap.c: the database side of the reaper, its statements (see reap.h); the
 * command is cli/reap.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/reap.h"
#include "db/sql.h"
#include "db/status.h"

/* A failed result for every provider of the chat with none yet. */
#define CHAT_FILL_MISSING(error, attempts) \
	"coalesce((SELECT jsonb_object_agg(k, jsonb_build_object('ok', false," \
	" 'error', " error ", 'errorClass', 'timeout', 'attempts', " attempts "))" \
	" FROM jsonb_object_keys(models) k WHERE NOT results ? k), '{}'::jsonb)"

/* Runs stmt; *count receives the number its single row or its command tag
 * reports. */
static enum aigw_err
count_of(struct db *db, const struct db_stmt *stmt, const char *const *values, long *count)
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

/* $1 min interval: takes the reaper's turn; no row when it is not due. */
static const struct db_stmt stmt_reap_turn = {
	.name = "reap_turn",
	.nparams = 1,
	.idempotent = false,
	.sql = "UPDATE reaper_state SET ran_at = now() WHERE id = 1"
	       " AND (ran_at IS NULL OR ran_at <= now() - $1::int * interval '1 second')"
	       " RETURNING ran_at",
};

enum aigw_err
db_reap_turn(struct db *db, long min_interval_s, bool *due)
{
	char interval[24];
	const char *values[1] = { interval };
	int rows = 0;
	enum aigw_err err;

	snprintf(interval, sizeof interval, "%ld", min_interval_s);
	err = db_exec_rows(db, &stmt_reap_turn, values, &rows);
	*due = err == AIGW_OK && rows == 1;
	return err;
}

/* $1 pending_timeout_s */
static const struct db_stmt stmt_reap_chats_unclaimed = {
	.name = "reap_chats_unclaimed",
	.nparams = 1,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE chat_results SET status = " CHAT_FINAL_STATUS ","
	       "  results = results || " CHAT_FILL_MISSING("'no worker picked it up within ' || $1::int || ' s'", "0") ","
	       "  completed_at = now(), lease_until = NULL, version = version + 1"
	       " WHERE status = " SQL_PENDING " AND expires_at > now()"
	       "  AND coalesce(attempt_at, created_at) < now() - $1::int * interval '1 second'"
	       " RETURNING chat_id, version)"
	       " SELECT count(" CHAT_NOTIFY ") FROM u",
};

/* $1 max attempts $2 run timeout_s: no attempt left for work whose
 * worker died or that ran too long. */
static const struct db_stmt stmt_reap_chats_spent = {
	.name = "reap_chats_spent",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE chat_results SET status = " CHAT_FINAL_STATUS ","
	       "  results = results || " CHAT_FILL_MISSING(
	       "CASE WHEN lease_until < now() THEN 'the worker stopped, and '"
	       " ELSE 'timed out after ' || $2::int || ' s, and ' END"
	       " || attempts || ' attempts are spent'", "attempts") ","
	       "  completed_at = now(), lease_until = NULL, version = version + 1"
	       " WHERE status = " SQL_PROCESSING " AND attempts >= $1::int AND expires_at > now()"
	       "  AND lease_until IS NOT NULL"
	       "  AND (lease_until < now() OR attempt_at < now() - $2::int * interval '1 second')"
	       " RETURNING chat_id, version)"
	       " SELECT count(" CHAT_NOTIFY ") FROM u",
};

/* $1 max attempts $2 run timeout_s: ran too long, attempts left: back
 * in the queue. The running worker's fenced writes now fail. */
static const struct db_stmt stmt_reap_chats_requeue = {
	.name = "reap_chats_requeue",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE chat_results SET status = " SQL_PENDING ", attempt_at = now(), lease_until = NULL,"
	       "  version = version + 1"
	       " WHERE status = " SQL_PROCESSING " AND attempts < $1::int AND expires_at > now()"
	       "  AND lease_until IS NOT NULL AND attempt_at < now() - $2::int * interval '1 second'"
	       " RETURNING chat_id, version)"
	       " SELECT count(" CHAT_NOTIFY ") FROM u",
};

static const struct db_stmt stmt_reap_chats_delete = {
	.name = "reap_chats_delete",
	.nparams = 0,
	.idempotent = false,
	.sql = "DELETE FROM chat_results WHERE chat_id IN (SELECT chat_id FROM chat_results"
	       " WHERE expires_at <= now() LIMIT 5000)",
};

/* $1 pending_timeout_s */
static const struct db_stmt stmt_reap_jobs_unclaimed = {
	.name = "reap_jobs_unclaimed",
	.nparams = 1,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE jobs SET status = " SQL_FAILED ", status_message = 'Failed',"
	       "  error = 'no worker picked it up within ' || $1::int || ' s',"
	       "  completed_at = now(), version = version + 1, updated_at = now()"
	       " WHERE status = " SQL_PENDING
	       "  AND coalesce(attempt_at, created_at) < now() - $1::int * interval '1 second'"
	       /* Analysis jobs wait their turn under a cap, for as long as their
	        * batch moves. */
	       "  AND (analysis_batch IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r"
	       "   WHERE r.analysis_batch IS NOT NULL AND r.status = " SQL_RUNNING
	       "   AND r.lease_until >= now()))"
	       " RETURNING job_id, version)"
	       " SELECT count(" JOB_NOTIFY ") FROM u",
};

static const struct db_stmt stmt_reap_jobs_spent = {
	.name = "reap_jobs_spent",
	.nparams = 0,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE jobs SET status = " SQL_FAILED ", status_message = 'Failed',"
	       "  error = CASE WHEN lease_until < now() THEN 'the worker stopped, and '"
	       "   ELSE 'timed out after ' || timeout_s || ' s, and ' END"
	       "   || attempts || ' attempts are spent',"
	       "  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
	       " WHERE status = " SQL_RUNNING " AND attempts >= max_attempts"
	       "  AND (lease_until < now() OR attempt_at < now() - timeout_s * interval '1 second')"
	       " RETURNING job_id, version),"
	       " s AS (UPDATE job_steps SET status = " SQL_FAILED " FROM u"
	       "  WHERE job_steps.job_id = u.job_id AND job_steps.status = " SQL_RUNNING ")"
	       " SELECT count(" JOB_NOTIFY ") FROM u",
};

static const struct db_stmt stmt_reap_jobs_requeue = {
	.name = "reap_jobs_requeue",
	.nparams = 0,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE jobs SET status = " SQL_PENDING ", status_message = 'Timed out; queued again',"
	       "  attempt_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
	       " WHERE status = " SQL_RUNNING " AND attempts < max_attempts"
	       "  AND attempt_at < now() - timeout_s * interval '1 second'"
	       " RETURNING job_id, version),"
	       " s AS (UPDATE job_steps SET status = " SQL_PENDING " FROM u"
	       "  WHERE job_steps.job_id = u.job_id AND job_steps.status = " SQL_RUNNING ")"
	       " SELECT count(" JOB_NOTIFY ") FROM u",
};

/* $1 keep_done_days $2 keep_failed_days */
static const struct db_stmt stmt_reap_jobs_delete = {
	.name = "reap_jobs_delete",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS (DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs"
	       " WHERE (status = " SQL_COMPLETED " AND completed_at < now() - $1::int * interval '1 day')"
	       "  OR (status IN (" SQL_FAILED ", " SQL_CANCELLED ")"
	       "   AND completed_at < now() - $2::int * interval '1 day') LIMIT 5000)"
	       " RETURNING job_id)"
	       /* Notified: a status cache (http/status_cache.h) holding the job
		* drops it. A chat is deleted only past its expiry, which the
		* cache checks itself. */
	       " SELECT count(" JOB_NOTIFY ") FROM u",
};

/* $1 keep_done_days $2 keep_failed_days: finished batches past their
 * keeping, with their calls (whose results live on in their chats and
 * job steps). */
static const struct db_stmt stmt_reap_batches_delete = {
	.name = "reap_batches_delete",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH b AS (SELECT batch_id FROM batches"
	       " WHERE (status = " SQL_DONE " AND completed_at < now() - $1::int * interval '1 day')"
	       "  OR (status IN (" SQL_FAILED ", " SQL_CANCELLED ")"
	       "   AND completed_at < now() - $2::int * interval '1 day') LIMIT 5000),"
	       " i AS (DELETE FROM batch_items WHERE batch_id IN (SELECT batch_id FROM b))"
	       " DELETE FROM batches WHERE batch_id IN (SELECT batch_id FROM b)",
};

/* Pieces of streamed answers outlive their chat's or job's end by this
 * much: a client that lost its stream just before the end resumes from
 * them; later ones get the final state, which holds every text. */
#define PIECES_KEEP_S "60"
/* At most this many chats (jobs) a run lose their pieces: a few hundred
 * each, so a turn's delete stays short. */
#define PIECES_ROWS_PER_RUN "500"

/* The pieces (table pieces) of finished rows of table parent, keyed by
 * column id: driven from the pieces, which hold only streams of the last
 * minute or so, never from the finished rows. */
#define REAP_PIECES_SQL(pieces, parent, id) \
	"DELETE FROM " pieces " WHERE " id " IN (SELECT r." id \
	" FROM (SELECT DISTINCT " id " FROM " pieces ") p JOIN " parent " r USING (" id ")" \
	" WHERE r.status IN (" SQL_COMPLETED ", " SQL_FAILED ", " SQL_CANCELLED ")" \
	"  AND r.completed_at < now() - interval '" PIECES_KEEP_S " seconds'" \
	" LIMIT " PIECES_ROWS_PER_RUN ")"

static const struct db_stmt stmt_reap_chat_pieces = {
	.name = "reap_chat_pieces",
	.nparams = 0,
	.idempotent = false,
	.sql = REAP_PIECES_SQL("chat_pieces", "chat_results", "chat_id"),
};

static const struct db_stmt stmt_reap_job_pieces = {
	.name = "reap_job_pieces",
	.nparams = 0,
	.idempotent = false,
	.sql = REAP_PIECES_SQL("job_pieces", "jobs", "job_id"),
};

struct db_reap_limits
db_reap_limits_of(const struct aigw_config *cfg)
{
	struct db_reap_limits l = {
		.pending_timeout_s = cfg->pending_timeout_s,
		.max_attempts = cfg->max_attempts,
		.chat_timeout_s = config_chat_timeout_s(cfg),
		.keep_done_days = cfg->keep_done_days,
		.keep_failed_days = cfg->keep_failed_days,
	};

	return l;
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
	if ((err = count_of(db, &stmt_reap_chats_unclaimed, pending_v, &out->chats_unclaimed)) ||
	    (err = count_of(db, &stmt_reap_chats_spent, chat_v, &out->chats_spent)) ||
	    (err = count_of(db, &stmt_reap_chats_requeue, chat_v, &out->chats_requeued)) ||
	    (err = count_of(db, &stmt_reap_chats_delete, NULL, &out->chats_deleted)) ||
	    (err = count_of(db, &stmt_reap_jobs_unclaimed, pending_v, &out->jobs_unclaimed)) ||
	    (err = count_of(db, &stmt_reap_jobs_spent, NULL, &out->jobs_spent)) ||
	    (err = count_of(db, &stmt_reap_jobs_requeue, NULL, &out->jobs_requeued)) ||
	    (err = count_of(db, &stmt_reap_jobs_delete, keep_v, &out->jobs_deleted)) ||
	    (err = count_of(db, &stmt_reap_batches_delete, keep_v, &out->batches_deleted)) ||
	    (err = count_of(db, &stmt_reap_chat_pieces, NULL, &out->chat_pieces_deleted)) ||
	    (err = count_of(db, &stmt_reap_job_pieces, NULL, &out->job_pieces_deleted)))
		return err;
	return AIGW_OK;
}
