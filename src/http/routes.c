/* routes.c: the route table and its matcher. */
#include <stdio.h>
#include <string.h>

#include "http/routes.h"

static const struct http_route routes[] = {
	{ "POST", "/api/ai/chat", chat_submit, true, false },
	{ "GET", "/api/ai/chat/status", chat_status, false, false },
	{ "GET", "/api/ai/chat/events", chat_events, false, false },
	{ "POST", "/api/ai/chat/cancel", chat_cancel, false, false },
	{ "DELETE", "/api/ai/chat", chat_cancel, false, false },
	{ "GET", "/api/health", ops_health, false, true },
	/* Open to the API's authentication: AIGW_METRICS_ACCESS guards it. */
	{ "GET", "/api/metrics", ops_metrics, false, true },
	{ "POST", "/api/jobs", jobs_submit, true, false },
	{ "GET", "/api/jobs", jobs_list, false, false },
	{ "GET", "/api/jobtypes", jobs_types, false, false },
	{ "GET", "/api/jobs/{id}", jobs_get, false, false },
	{ "DELETE", "/api/jobs/{id}", jobs_cancel, false, false },
	{ "GET", "/api/jobs/{id}/status", jobs_status, false, false },
	{ "GET", "/api/jobs/{id}/result", jobs_result, false, false },
	{ "GET", "/api/jobs/{id}/events", jobs_events, false, false },
	{ "POST", "/api/jobs/{id}/cancel", jobs_cancel, false, false },
	{ "GET", "/api/analysis/batches", analysis_batches, false, false },
	{ "GET", "/api/analysis/batches/{id}", analysis_batch, false, false },
	{ "POST", "/v1/responses", oa_responses_create, true, false },
	{ "GET", "/v1/responses/{id}", oa_responses_get, false, false },
	{ "POST", "/v1/responses/{id}/cancel", oa_responses_cancel, false, false },
	{ "POST", "/v1/chat/completions", oa_completions_create, true, false },
	{ "GET", "/v1/models", oa_models, false, false },
};

static bool
match(const char *pattern, const char *path, struct route_args *args)
{
	while (*pattern != '\0' && *path != '\0') {
		if (strncmp(pattern, "{id}", 4) == 0) {
			size_t n = strcspn(path, "/");

			if (n == 0 || n >= sizeof args->id)
				return false;
			memcpy(args->id, path, n);
			args->id[n] = '\0';
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

enum route_match
http_route_find(const char *method, const char *path, const struct http_route **route,
		struct route_args *args, char *allow, size_t allowlen)
{
	enum route_match result = ROUTE_NONE;
	size_t used = 0;

	*route = NULL;
	allow[0] = '\0';
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		struct route_args scratch;

		memset(&scratch, 0, sizeof scratch);
		if (!match(routes[i].pattern, path, &scratch))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			*route = &routes[i];
			*args = scratch;
			return ROUTE_FOUND;
		}
		result = ROUTE_WRONG_METHOD;
		if (used < allowlen) {
			int n = snprintf(allow + used, allowlen - used, "%s%s",
					 used ? ", " : "", routes[i].method);
			if (n > 0)
				used += (size_t)n;
		}
	}
	return result;
}
