/*
 * ratelimit.h: provider rate limits shared by every worker on every host
 * (docs/architecture.md), kept in the database as a sliding window of reservations:
 * one row per request let through, with its estimated tokens; and the
 * providers' pauses (a 429 with Retry-After), one row per provider.
 *
 * db_rate_reserve() either reserves a request or says how long to wait;
 * the caller owns the policy (what a call's tokens are estimated at, what
 * to do while the database is away). It runs a transaction of its own on
 * the connection (a per-provider advisory lock, then one statement that
 * counts and reserves), so it must not be called inside another. Not
 * thread-safe: one struct db per thread, as everywhere. Errors: AIGW_EDB
 * (the database is away or refused; nothing is reserved), AIGW_EINVAL
 * when called inside a transaction.
 */
#ifndef AIGW_DB_RATELIMIT_H
#define AIGW_DB_RATELIMIT_H

#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* The window of RPM and TPM. */
#define DB_RATE_WINDOW_MS 60000
/*
 * A reservation is counted this much longer than the minute: a request
 * reaches the provider a little after it was reserved (the rest of the
 * loop's turn, a TLS handshake), and a late one must not put RPM + 1
 * requests in the provider's minute. Costs under 2% of the rate.
 */
#define DB_RATE_GUARD_MS 1000

/*
 * Reserves one request of `tokens` estimated tokens to provider unless it
 * would put more than rpm requests, or more than tpm tokens, in the window
 * (0: no limit), counting every worker's. Tokens above tpm are counted as
 * tpm, so that a large call still goes, alone in its window. waited_ms
 * >= 0 says the request waited that long already: when it is let through,
 * rate_limit_waits counts one wait of that length (-1: it did not wait).
 *
 * Not inside a transaction of the caller's: AIGW_EINVAL, and that
 * transaction goes on untouched.
 * AIGW_OK: *wait_ms is 0 when reserved, else the ms until it would fit
 * (nothing reserved). AIGW_EDB: *wait_ms is 0 and nothing was reserved,
 * except when the connection broke during COMMIT, where a reservation may
 * stand unused (erring on the side of the limit).
 */
enum aigw_err db_rate_reserve(struct db *db, const char *provider, long rpm, long tpm,
			      long tokens, int64_t waited_ms, int64_t *wait_ms) AIGW_MUSTCHECK;

/*
 * Pauses provider for every worker for ms from now, unless it is paused
 * longer already (a pause only grows). *left_ms receives how long the
 * shared pause lasts from now. AIGW_EDB: nothing known (*left_ms 0).
 */
enum aigw_err db_provider_pause(struct db *db, const char *provider, int64_t ms,
				int64_t *left_ms) AIGW_MUSTCHECK;

/*
 * For each of n providers, how long its shared pause lasts from now in
 * left_ms[i] (0: not paused). AIGW_EDB: every left_ms[i] is 0.
 */
enum aigw_err db_provider_pauses(struct db *db, const char *const *providers, size_t n,
				 int64_t *left_ms) AIGW_MUSTCHECK;

#endif
