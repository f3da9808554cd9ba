/* workers.c: typed access to worker_slots (see workers.h). */
#include <stdio.h>
#include <stdlib.h>

#include "db/workers.h"

static enum aigw_err
slot_stmt(struct db *db, enum db_stmt stmt, const char *const *values, int *slot)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, stmt, values, &res);

	if (err != AIGW_OK)
		return err;
	*slot = PQntuples(res) == 1 ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_slot_take(struct db *db, int slot, long pid, const char *host, bool *ok)
{
	char s[16], p[24];
	const char *values[3] = { s, p, host };
	int got = 0;
	enum aigw_err err;

	snprintf(s, sizeof s, "%d", slot);
	snprintf(p, sizeof p, "%ld", pid);
	err = slot_stmt(db, DB_SLOT_TAKE, values, &got);
	*ok = err == AIGW_OK && got == slot;
	return err;
}

enum aigw_err
db_slot_reserve(struct db *db, long max, long pid, const char *host, int *slot)
{
	char m[24], stale[24], p[24];
	const char *values[4] = { m, stale, p, host };

	snprintf(m, sizeof m, "%ld", max);
	snprintf(stale, sizeof stale, "%ld", WORKER_SLOT_STALE_S);
	snprintf(p, sizeof p, "%ld", pid);
	return slot_stmt(db, DB_SLOT_RESERVE, values, slot);
}

enum aigw_err
db_slot_reserve_spawn(struct db *db, long max, int *slot)
{
	char m[24], stale[24];
	const char *values[4] = { m, stale, NULL, NULL };

	snprintf(m, sizeof m, "%ld", max);
	snprintf(stale, sizeof stale, "%ld", WORKER_SLOT_STALE_S);
	return slot_stmt(db, DB_SLOT_RESERVE, values, slot);
}

enum aigw_err
db_slot_heartbeat(struct db *db, int slot, long pid, const char *host, bool *ok)
{
	char s[16], p[24];
	const char *values[3] = { s, p, host };
	int got = 0;
	enum aigw_err err;

	snprintf(s, sizeof s, "%d", slot);
	snprintf(p, sizeof p, "%ld", pid);
	err = slot_stmt(db, DB_SLOT_HEARTBEAT, values, &got);
	*ok = err == AIGW_OK && got == slot;
	return err;
}

enum aigw_err
db_slot_release(struct db *db, int slot, long pid, const char *host)
{
	char s[16], p[24];
	const char *values[3] = { s, p, host };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(s, sizeof s, "%d", slot);
	snprintf(p, sizeof p, "%ld", pid);
	err = db_exec(db, DB_SLOT_RELEASE, values, &res);
	PQclear(res);
	return err;
}

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
	err = db_exec(db, DB_QUEUE_WAITING, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		*n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}
