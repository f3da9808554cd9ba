/*
 * analysis.c: the HTTP side of prompt analysis (the database side is
 * db/analysis.c, the command line cli/analysis.c):
 * GET /api/analysis/batches and /api/analysis/batches/{id}:
 * the scheduled prompt analysis runs, for a dashboard. Read-only and scoped
 * to the caller: a batch shows only the caller's analyses, and one with
 * none of them is 404 like a missing one. The JSON is built by the
 * database.
 */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "db/analysis.h"
#include "http/routes.h"

#define BATCH_LIST_DEFAULT 20
#define BATCH_LIST_MAX 100

void
analysis_batches(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char limit[16];
	char *json = NULL;
	long n = BATCH_LIST_DEFAULT;
	enum aigw_err err;

	(void)args;
	if (http_query_has(req, "limit") &&
	    (!http_query_get(req, "limit", limit, sizeof limit) ||
	     parse_long(limit, 1, BATCH_LIST_MAX, &n) != AIGW_OK)) {
		http_resp_error(req, 400, "invalid_field", "limit",
				"limit must be a whole number from 1 to %d", BATCH_LIST_MAX);
		return;
	}
	err = db_analysis_batches(t->db, req->user, n, &json);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, json, strlen(json));
	else
		http_resp_from_err(req, err);
	free(json);
}

void
analysis_batch(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char *json = NULL;
	enum aigw_err err;

	if (!uuid_is_valid(args->id)) {
		http_resp_error(req, 400, "invalid_id", "id", "the batch id must be a UUID");
		return;
	}
	err = db_analysis_batch(t->db, req->user, args->id, &json);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, json, strlen(json));
	else if (err == AIGW_ENOTFOUND)
		http_resp_error(req, 404, "not_found", NULL, "no such analysis batch");
	else
		http_resp_from_err(req, err);
	free(json);
}
