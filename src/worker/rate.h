/*
 * rate.h: the worker's side of the providers' shared rate limits
 * (docs/architecture.md, Reliability;
 * the window itself is db/ratelimit.h): what one call is counted as
 * against a tokens-per-minute limit, and when a provider that answered
 * 429 with Retry-After is paused for every worker.
 *
 * Pure functions: no I/O, no allocation, thread-safe.
 */
#ifndef AIGW_WORKER_RATE_H
#define AIGW_WORKER_RATE_H

#include <stdbool.h>
#include <stdint.h>

#include "providers/provider.h"

/* How long a call waits before asking again when the database cannot say
 * whether it may go: it never goes blindly past a limit. */
#define RATE_DB_RETRY_MS 1000

/*
 * The tokens a call is counted as before it is sent, when nobody knows
 * yet: its input (system prompt and message) at 4 bytes of UTF-8 a token,
 * rounded up, plus every token it may answer (max_tokens). Bytes rather
 * than characters: scripts outside Latin take more tokens per character,
 * and more bytes too. Counting the whole answer errs on the side of the
 * limit, as providers that count output do when they admit a request.
 * Instructions the adapters add (JSON mode, web search) are not counted.
 * Cannot fail.
 */
int64_t rate_call_tokens(const struct prov_call *call);

/* A worker reads the providers' shared pauses at most this often (and
 * before a call when it has not read them for this long). */
#define RATE_PAUSE_READ_MS 1000
/* The longest one answer pauses a provider: a Retry-After of hours is a
 * spent quota, not a burst; calls learn it again after this. */
#define RATE_PAUSE_MAX_MS 300000

/*
 * The end (ms, on now's clock) of the pause that an answer received at
 * now calls for: a 429 with Retry-After pauses its provider until now +
 * Retry-After (at most RATE_PAUSE_MAX_MS); any other answer calls for no
 * pause: 0. Cannot fail.
 */
int64_t rate_pause_end(long http_status, long retry_after_s, int64_t now);

/* A pause ending at until (0: none) merged with one read from the
 * database at now with left_ms to go: the later end. Cannot fail. */
int64_t rate_pause_merge(int64_t until, int64_t left_ms, int64_t now);

/* How long a call at now waits for its provider's pause ending at until
 * (0: it goes). Waiting is not an attempt. Cannot fail. */
int64_t rate_pause_wait(int64_t until, int64_t now);

/* Whether the shared pauses are read again before a call at now, when
 * they were last read at read_ms (read false: never). Cannot fail. */
bool rate_pause_read_due(bool read, int64_t read_ms, int64_t now);

#endif
