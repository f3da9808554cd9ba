/* rate.c: what a call counts as against the providers' rate limits (see rate.h). */
#include <string.h>

#include "worker/rate.h"

int64_t
rate_call_tokens(const struct prov_call *call)
{
	uint64_t bytes = 0;
	int64_t out = call->max_tokens > 0 ? call->max_tokens : 0;

	if (call->system != NULL)
		bytes += strlen(call->system);
	if (call->message != NULL)
		bytes += strlen(call->message);
	return (int64_t)((bytes + 3) / 4) + out;
}

int64_t
rate_pause_end(long http_status, long retry_after_s, int64_t now)
{
	int64_t ms;

	if (http_status != 429 || retry_after_s <= 0)
		return 0;
	ms = retry_after_s > RATE_PAUSE_MAX_MS / 1000 ? RATE_PAUSE_MAX_MS
						      : (int64_t)retry_after_s * 1000;
	return now + ms;
}

int64_t
rate_pause_merge(int64_t until, int64_t left_ms, int64_t now)
{
	if (left_ms > RATE_PAUSE_MAX_MS)
		left_ms = RATE_PAUSE_MAX_MS;
	return left_ms > 0 && now + left_ms > until ? now + left_ms : until;
}

int64_t
rate_pause_wait(int64_t until, int64_t now)
{
	return until > now ? until - now : 0;
}

bool
rate_pause_read_due(bool read, int64_t read_ms, int64_t now)
{
	/* A clock that went back (a fake one) reads again too. */
	return !read || now - read_ms >= RATE_PAUSE_READ_MS || now < read_ms;
}
