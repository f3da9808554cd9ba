/* ratelimit.c: reservations against the providers' shared rate limits (see ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/ratelimit.h"

/* Any constant works; it only has to be the same in every aigw, and fit
 * in an int (the two-key form, apart from migrate.c's one-key lock). */
#define RATE_LOCK_CLASS "7391002"

/* $1 provider: one reservation at a time per provider, over every
 * worker; held until the transaction ends. The class key keeps these
 * apart from other advisory locks; providers whose names hash alike
 * only share the wait. A worker's loop blocks while it waits here, so
 * the wait is bounded (lock_timeout); and a holder that stalls inside
 * the transaction (stopped, swapped out) is cut off by the server
 * rather than freezing every worker. Both settings end with the
 * transaction; set_config runs first, in FROM. */
static const struct db_stmt stmt_rate_lock = {
	.name = "rate_lock",
	.nparams = 1,
	.idempotent = false,
	.sql = "SELECT pg_advisory_xact_lock(" RATE_LOCK_CLASS ", hashtext($1::text))"
	       " FROM (SELECT set_config('lock_timeout', '2s', true),"
	       "  set_config('idle_in_transaction_session_timeout', '10s', true)) AS s",
};

/* $1 provider $2 rpm $3 tpm (0: no limit) $4 tokens $5 window ms $6 ms
 * this request waited (NULL: none). Run under rate_lock, as its own
 * statement so that its snapshot sees every reservation committed
 * before the lock was ours. Reserves when the request fits in the
 * window and answers 0; else answers the ms until the oldest
 * reservation that must leave for it to fit has left. Rows out of the
 * window go on the way. */
static const struct db_stmt stmt_rate_reserve = {
	.name = "rate_reserve",
	.nparams = 6,
	.idempotent = false,
	.sql = "WITH t AS (SELECT statement_timestamp() AS now,"
	       "  $5::bigint * interval '1 millisecond' AS win),"
	       " gone AS (DELETE FROM rate_reservations r USING t"
	       "  WHERE r.provider = $1::text AND r.reserved_at <= t.now - t.win),"
	       /* k: the place from the oldest; upto: tokens of rows 1..k */
	       " w AS (SELECT r.reserved_at, count(*) OVER () AS n, sum(r.tokens) OVER () AS total,"
	       "  row_number() OVER o AS k, sum(r.tokens) OVER (o ROWS UNBOUNDED PRECEDING) AS upto"
	       "  FROM rate_reservations r, t"
	       "  WHERE r.provider = $1::text AND r.reserved_at > t.now - t.win"
	       "  WINDOW o AS (ORDER BY r.reserved_at)),"
	       " fit AS (SELECT ($2::bigint = 0 OR coalesce(max(w.n), 0) < $2::bigint)"
	       "  AND ($3::bigint = 0 OR coalesce(max(w.total), 0) + $4::bigint <= $3::bigint) AS ok"
	       "  FROM w),"
	       " ins AS (INSERT INTO rate_reservations (provider, reserved_at, tokens)"
	       "  SELECT $1::text, t.now, $4::bigint FROM t, fit WHERE fit.ok),"
	       " counted AS (INSERT INTO rate_limit_waits AS c (provider, waits, wait_ms)"
	       "  SELECT $1::text, 1, $6::bigint FROM fit WHERE fit.ok AND $6::bigint IS NOT NULL"
	       "  ON CONFLICT (provider) DO UPDATE SET waits = c.waits + 1,"
	       "   wait_ms = c.wait_ms + excluded.wait_ms, updated_at = now())"
	       " SELECT CASE WHEN fit.ok THEN 0 ELSE greatest(1, ceil(1000 * extract(epoch FROM"
	       "  (SELECT min(w.reserved_at) FROM w"
	       "   WHERE ($2::bigint = 0 OR w.n - w.k < $2::bigint)"
	       "    AND ($3::bigint = 0 OR w.total - w.upto + $4::bigint <= $3::bigint))"
	       "  + t.win - t.now)))::bigint END"
	       " FROM t, fit",
};

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
	/* Not inside the caller's transaction: the rollback below would end
	 * it. */
	if ((err = db_begin(db)) != AIGW_OK)
		return err;
	err = db_exec(db, &stmt_rate_lock, lock_v, &res);
	if (err != AIGW_OK)
		goto out;
	PQclear(res);
	res = NULL;
	err = db_exec(db, &stmt_rate_reserve, values, &res);
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

/* $1 provider $2 ms. A pause only grows; answers the ms the shared
 * pause lasts from now, by the database's clock (hosts' clocks may
 * differ, their elapsed times do not). */
/* A pause run twice ends a reconnect's length later: harmless. */
static const struct db_stmt stmt_pause_set = {
	.name = "pause_set",
	.nparams = 2,
	.idempotent = true,
	.sql = "INSERT INTO provider_pauses AS p (provider, until)"
	       " VALUES ($1::text, statement_timestamp() + $2::bigint * interval '1 millisecond')"
	       " ON CONFLICT (provider) DO UPDATE SET until = greatest(p.until, excluded.until)"
	       " RETURNING greatest(0, ceil(1000 * extract(epoch FROM"
	       "  p.until - statement_timestamp())))::bigint",
};

enum aigw_err
db_provider_pause(struct db *db, const char *provider, int64_t ms, int64_t *left_ms)
{
	char m[24];
	const char *values[2] = { provider, m };
	PGresult *res = NULL;
	enum aigw_err err;

	*left_ms = 0;
	snprintf(m, sizeof m, "%lld", (long long)(ms > 0 ? ms : 0));
	err = db_exec(db, &stmt_pause_set, values, &res);
	if (err == AIGW_OK && (PQntuples(res) != 1 || left_value(res, 0, 0) < 0)) {
		log_error("db", NULL, "pause_set: unexpected answer for %s", provider);
		err = AIGW_EDB;
	}
	if (err == AIGW_OK)
		*left_ms = left_value(res, 0, 0);
	PQclear(res);
	return err;
}

/* Every provider paused now, with the ms its pause has left. */
static const struct db_stmt stmt_pause_read = {
	.name = "pause_read",
	.nparams = 0,
	.idempotent = true,
	.sql = "SELECT provider, ceil(1000 * extract(epoch FROM until - statement_timestamp()))::bigint"
	       " FROM provider_pauses WHERE until > statement_timestamp()",
};

enum aigw_err
db_provider_pauses(struct db *db, const char *const *providers, size_t n, int64_t *left_ms)
{
	PGresult *res = NULL;
	enum aigw_err err;

	memset(left_ms, 0, n * sizeof *left_ms);
	err = db_exec(db, &stmt_pause_read, NULL, &res);
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
