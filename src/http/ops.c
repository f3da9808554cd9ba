/* ops.c: GET /api/health (SPEC 2.3). */
#include <stdio.h>

#include "db/chats.h"
#include "db/workers.h"
#include "http/routes.h"

void
ops_health(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char body[256];
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
		     "{\"success\":true,\"status\":\"ok\",\"database\":\"ok\","
		     "\"queue_depth\":%ld,\"workers\":%ld}", queue, workers);
	http_resp_raw(req, 200, body, (size_t)n);
}
