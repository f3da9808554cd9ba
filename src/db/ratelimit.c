/* ratelimit.c: reservations against the providers' shared rate limits (see ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "db/ratelimit.h"

enum aigw_err
db_rate_reserve(struct db *db, const char *provider, long rpm, long tpm, long tokens,
		int64_t waited_ms, int64_t *wait_ms)
{
	char r[24], tp[24], tok[24], win[24], waited[24];
	const char *lock_v[1] = { provider };
	const char *values[6] = { provider, r, tp, tok, win, waited_ms >= 0 ? waited : NULL };
	PGresult *res = NULL;
	char *end = NULL;
	long long wait = 0;
	enum aigw_err err;

	*wait_ms = 0;
	if (tpm > 0 && tokens > tpm)
		tokens = tpm;
	if (tokens < 0)
		tokens = 0;
	snprintf(r, sizeof r, "%ld", rpm);
	snprintf(tp, sizeof tp, "%ld", tpm);
	snprintf(tok, sizeof tok, "%ld", tokens);
	snprintf(win, sizeof win, "%d", DB_RATE_WINDOW_MS + DB_RATE_GUARD_MS);
	snprintf(waited, sizeof waited, "%lld", (long long)waited_ms);
	err = db_begin(db);
	if (err != AIGW_OK)
		goto out;
	err = db_exec(db, DB_RATE_LOCK, lock_v, &res);
	if (err != AIGW_OK)
		goto out;
	PQclear(res);
	res = NULL;
	err = db_exec(db, DB_RATE_RESERVE, values, &res);
	if (err != AIGW_OK)
		goto out;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		wait = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (end == NULL || *end != '\0' || wait < 0) {
		/* Cannot happen with tokens <= tpm; never read it as "go". */
		log_error("db", NULL, "rate_reserve: unexpected answer for %s", provider);
		err = AIGW_EDB;
		goto out;
	}
	err = db_commit(db);
out:
	db_rollback(db); /* nothing to do after a commit */
	PQclear(res);
	if (err == AIGW_OK)
		*wait_ms = (int64_t)wait;
	return err;
}
