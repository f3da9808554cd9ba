/* pace.c: the worker's claim size, from the length of its turns (see pace.h). */
#include "worker/pace.h"

static long
clamp(long n, long chats_max)
{
	if (n > chats_max)
		n = chats_max;
	return n < 1 ? 1 : n;
}

long
pace_claim_start(long chats_max)
{
	return clamp(PACE_START, chats_max);
}

long
pace_claim_next(long limit, int64_t turn_ms, long lease_s, long chats_max)
{
	int64_t lease_ms = (int64_t)lease_s * 1000;

	if (turn_ms * 10 > lease_ms)
		return clamp(limit / 2, chats_max);
	if (turn_ms * 20 < lease_ms)
		return clamp(limit + PACE_STEP, chats_max);
	return clamp(limit, chats_max);
}
