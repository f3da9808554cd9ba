/*
 * rate.h: the worker's side of the providers' shared rate limits (SPEC 3;
 * the window itself is db/ratelimit.h): what one call is counted as
 * against a tokens-per-minute limit.
 *
 * Pure functions: no I/O, no allocation, thread-safe.
 */
#ifndef AIGW_WORKER_RATE_H
#define AIGW_WORKER_RATE_H

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

#endif
