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
