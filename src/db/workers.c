/* workers.c: typed access to worker_slots (see workers.h). */
#include <stdio.h>
#include <stdlib.h>

#include "db/workers.h"
#include "db/status.h"

static enum aigw_err
slot_stmt(struct db *db, const struct db_stmt *stmt, const char *const *values, int *slot)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, stmt, values, &res);

	if (err != AIGW_OK)
		return err;
	*slot = PQntuples(res) == 1 ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return AIGW_OK;
}

/* $1 slot $2 pid $3 host: a spawned worker takes the slot reserved
 * for it, unless the reservation went stale and someone else has it. */
static const struct db_stmt stmt_slot_take = {
	.name = "slot_take",
	.nparams = 3,
	.idempotent = false,
	.sql = "UPDATE worker_slots SET heartbeat_at = now(), pid = $2, host = $3"
	       " WHERE slot = $1 AND pid IS NULL AND heartbeat_at IS NOT NULL"
	       " RETURNING slot",
};

/* Runs stmt on slot for the worker (pid, host); *ok when it returned the
 * slot, that is when the row was the worker's to change. */
static enum aigw_err
slot_owned(struct db *db, const struct db_stmt *stmt, int slot, long pid, const char *host,
	   bool *ok)
{
	char s[16], p[24];
	const char *values[3] = { s, p, host };
	int got = 0;
	enum aigw_err err;

	snprintf(s, sizeof s, "%d", slot);
	snprintf(p, sizeof p, "%ld", pid);
	err = slot_stmt(db, stmt, values, &got);
	*ok = err == AIGW_OK && got == slot;
	return err;
}

enum aigw_err
db_slot_take(struct db *db, int slot, long pid, const char *host, bool *ok)
{
	return slot_owned(db, &stmt_slot_take, slot, pid, host, ok);
}

/* $1 highest slot $2 stale_s $3 pid $4 host: a worker started by hand
 * takes any free slot; a spawner reserves one (pid and host NULL)
 * for the worker it is about to start. */
static const struct db_stmt stmt_slot_reserve = {
	.name = "slot_reserve",
	.nparams = 4,
	.idempotent = false,
	.sql = "UPDATE worker_slots SET heartbeat_at = now(), pid = $3, host = $4"
	       " WHERE slot = (SELECT slot FROM worker_slots WHERE slot <= $1"
	       "  AND (heartbeat_at IS NULL OR heartbeat_at < now() - $2 * interval '1 second')"
	       "  ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)"
	       " RETURNING slot",
};

enum aigw_err
db_slot_reserve(struct db *db, long max, long pid, const char *host, int *slot)
{
	char m[24], stale[24], p[24];
	const char *values[4] = { m, stale, p, host };

	snprintf(m, sizeof m, "%ld", max);
	snprintf(stale, sizeof stale, "%ld", WORKER_SLOT_STALE_S);
	snprintf(p, sizeof p, "%ld", pid);
	return slot_stmt(db, &stmt_slot_reserve, values, slot);
}

enum aigw_err
db_slot_reserve_spawn(struct db *db, long max, int *slot)
{
	char m[24], stale[24];
	const char *values[4] = { m, stale, NULL, NULL };

	snprintf(m, sizeof m, "%ld", max);
	snprintf(stale, sizeof stale, "%ld", WORKER_SLOT_STALE_S);
	return slot_stmt(db, &stmt_slot_reserve, values, slot);
}

/* $1 slot $2 pid $3 host */
static const struct db_stmt stmt_slot_heartbeat = {
	.name = "slot_heartbeat",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE worker_slots SET heartbeat_at = now()"
	       " WHERE slot = $1 AND pid = $2 AND host = $3 RETURNING slot",
};

enum aigw_err
db_slot_heartbeat(struct db *db, int slot, long pid, const char *host, bool *ok)
{
	return slot_owned(db, &stmt_slot_heartbeat, slot, pid, host, ok);
}

/* $1 slot $2 pid $3 host */
static const struct db_stmt stmt_slot_release = {
	.name = "slot_release",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE worker_slots SET heartbeat_at = NULL, pid = NULL, host = NULL"
	       " WHERE slot = $1 AND pid = $2 AND host = $3",
};

enum aigw_err
db_slot_release(struct db *db, int slot, long pid, const char *host)
{
	char s[16], p[24];
	const char *values[3] = { s, p, host };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(s, sizeof s, "%d", slot);
	snprintf(p, sizeof p, "%ld", pid);
	err = db_exec(db, &stmt_slot_release, values, &res);
	PQclear(res);
	return err;
}

/* $1 max attempts of a chat $2 AIGW_ANALYSIS_CONCURRENCY: work a
 * worker could claim right now
 * (chats, jobs, calls waiting for a batch, batches left by a worker). */
static const struct db_stmt stmt_queue_waiting = {
	.name = "queue_waiting",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT (SELECT count(*) FROM chat_results WHERE (status = " SQL_PENDING
	       "  OR (status = " SQL_PROCESSING " AND lease_until < now() AND attempts < $1))"
	       "  AND expires_at > now())"
	       " + (SELECT count(*) FROM jobs WHERE (status = " SQL_PENDING
	       "  OR (status = " SQL_RUNNING " AND lease_until < now() AND attempts < max_attempts))"
	       /* Analysis jobs waiting for their cap are no work to wake for. */
	       "  AND (analysis_batch IS NULL OR (SELECT count(*) FROM jobs r"
	       "   WHERE r.analysis_batch IS NOT NULL AND r.status = " SQL_RUNNING
	       "   AND r.lease_until >= now()) < $2))"
	       " + (SELECT count(*) FROM batch_items WHERE batch_id IS NULL AND result IS NULL)"
	       " + (SELECT count(*) FROM batches WHERE status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")"
	       "  AND lease_until < now())"
	       /* Webhook deliveries due within seconds, and not in flight. */
	       " + (SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL"
	       "  AND gave_up_at IS NULL AND next_at < now() + interval '5 seconds'"
	       "  AND (lease_until IS NULL OR lease_until < now()))",
};

enum aigw_err
db_queue_waiting(struct db *db, long max_attempts, long analysis_max, long *n)
{
	char att[24], cap[24];
	const char *values[2] = { att, cap };
	PGresult *res = NULL;
	enum aigw_err err;

	*n = 0;
	snprintf(att, sizeof att, "%ld", max_attempts);
	snprintf(cap, sizeof cap, "%ld", analysis_max);
	err = db_exec(db, &stmt_queue_waiting, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		*n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}
