/* ops.c: GET /api/health (docs/api.md, Health). */
#include <stdio.h>

#include "config.h"

#include "db/chats.h"
#include "db/workers.h"
#include "http/routes.h"
#include "providers/provider.h"

void
ops_health(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	/* the built-in providers and up to CONFIG_NAMED_MAX named ones */
	char body[4096];
	const struct aigw_config *cfg = t->app->cfg;
	size_t nprov;
	long queue = 0, workers = 0;
	int n;

	(void)args;
	if (db_health(t->db, WORKER_SLOT_STALE_S, &queue, &workers) != AIGW_OK) {
		static const char down[] =
			"{\"success\":false,\"status\":\"unavailable\",\"database\":\"down\","
			"\"error\":\"the database is unavailable\",\"code\":\"unavailable\"}";
		http_resp_header(req, "Retry-After", "2");
		http_resp_raw(req, 503, down, sizeof down - 1);
		return;
	}
	n = snprintf(body, sizeof body,
		     "{\"success\":true,\"status\":\"ok\",\"version\":\"%s\",\"database\":\"ok\","
		     "\"queue_depth\":%ld,\"workers\":%ld,\"providers\":{", PACKAGE_VERSION,
		     queue, workers);
	/* How each provider is reached from here: no answer is made up
	 * without the operator seeing it. */
	nprov = prov_count_in(cfg);
	for (size_t i = 0; i < nprov && n > 0 && (size_t)n < sizeof body; i++) {
		const struct prov_desc *d = prov_at_in(cfg, i);

		n += snprintf(body + n, sizeof body - (size_t)n, "%s\"%s\":\"%s\"", i ? "," : "",
			      d->name, prov_state_name(prov_state_in(d, cfg)));
	}
	if (n > 0 && (size_t)n < sizeof body)
		n += snprintf(body + n, sizeof body - (size_t)n, "}}");
	if (n < 0 || (size_t)n >= sizeof body) {
		http_resp_from_err(req, AIGW_ENOMEM);
		return;
	}
	http_resp_raw(req, 200, body, (size_t)n);
}
