/* ratelimit.c: reservations against the providers' shared rate limits (see ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A whole number of ms a pause has left, from column col of row; -1 when
 * it is not one (never read as "go on"). */
static int64_t
left_value(const PGresult *res, int row, int col)
{
	char *end = NULL;
	long long v;

	if (PQgetisnull(res, row, col))
		return -1;
	v = strtoll(PQgetvalue(res, row, col), &end, 10);
	return end == NULL || *end != '\0' || v < 0 ? -1 : (int64_t)v;
}

enum aigw_err
db_provider_pause(struct db *db, const char *provider, int64_t ms, int64_t *left_ms)
{
	char m[24];
	const char *values[2] = { provider, m };
	PGresult *res = NULL;
	enum aigw_err err;

	*left_ms = 0;
	snprintf(m, sizeof m, "%lld", (long long)(ms > 0 ? ms : 0));
	err = db_exec(db, DB_PAUSE_SET, values, &res);
	if (err == AIGW_OK && (PQntuples(res) != 1 || left_value(res, 0, 0) < 0)) {
		log_error("db", NULL, "pause_set: unexpected answer for %s", provider);
		err = AIGW_EDB;
	}
	if (err == AIGW_OK)
		*left_ms = left_value(res, 0, 0);
	PQclear(res);
	return err;
}

enum aigw_err
db_provider_pauses(struct db *db, const char *const *providers, size_t n, int64_t *left_ms)
{
	PGresult *res = NULL;
	enum aigw_err err;

	memset(left_ms, 0, n * sizeof *left_ms);
	err = db_exec(db, DB_PAUSE_READ, NULL, &res);
	if (err != AIGW_OK)
		return err;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *name = PQgetvalue(res, row, 0);
		int64_t left = left_value(res, row, 1);

		for (size_t i = 0; i < n && left > 0; i++)
			if (strcmp(providers[i], name) == 0)
				left_ms[i] = left;
	}
	PQclear(res);
	return AIGW_OK;
}
