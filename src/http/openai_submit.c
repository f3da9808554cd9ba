/* openai_submit.c: POST /v1/responses and POST /v1/chat/completions: a
 * chat of one provider, answered at once (background), as a stream, or
 * when it ends within AIGW_SYNC_WAIT_S (docs/openai.md). */
#include <stdio.h>
#include <string.h>

#include "db/responses.h"
#include "db/status.h"
#include "http/openai.h"
#include "openai/object.h"
#include "http/routes.h"

/* Parses the body with parse and checks its provider is routed here;
 * false when the request was answered. */
static bool
parse(const struct http_thread *t, struct http_req *req, struct oa_request *r,
      enum aigw_err (*parser)(const char *, size_t, struct oa_request *, struct http_field_error *))
{
	struct http_field_error fe;
	enum aigw_err err = parser(req->body.data ? req->body.data : "", req->body.len, r, &fe);

	if (err == AIGW_OK && !oa_provider_known(t->app->cfg, r->provider, &fe)) {
		oa_request_free(r);
		err = AIGW_EINVAL;
	}

	if (err == AIGW_EINVAL)
		http_resp_field_error(req, &fe);
	else if (err != AIGW_OK)
		http_resp_from_err(req, err);
	return err == AIGW_OK;
}

void
oa_responses_create(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct oa_request r;
	struct rt_state s = { 0 };
	char id[UUID_STR_LEN + 1];

	(void)args;
	if (!parse(t, req, &r, oa_parse_response_request))
		return;
	if (!oa_store(t, req, &r, "response", id))
		goto out;
	if (r.stream) {
		oa_stream_events(t, req, id, false, false, -1);
		goto out;
	}
	/* Background answers at once, with the object as created (a worker
	 * may have taken it already); otherwise the answer waits for the
	 * end, but never past AIGW_SYNC_WAIT_S: then the object as it is. */
	if (!rt_wait_final(t, req, &oa_wait_source, id,
			   r.background ? 0 : t->app->cfg->sync_wait_s, &s))
		goto out;
	if (!r.background && !s.final) {
		/* Past the bound: the object as it stands, its text so far. */
		enum aigw_err err;

		rt_state_free(&s);
		err = oa_read(t, req, id, true, &s);
		if (err != AIGW_OK) {
			http_resp_from_err(req, err);
			goto out;
		}
	}
	if (r.background) {
		json_object *o = json_tokener_parse(s.json), *created = NULL;

		if (o != NULL)
			created = oa_response_opening(o, OA_STATUS_QUEUED);
		json_object_put(o);
		http_resp_json(req, 200, created);
	} else {
		http_resp_raw(req, 200, s.json, s.len);
	}
out:
	rt_state_free(&s);
	oa_request_free(&r);
}

/* A finished completion: 200 with its object, or its failure. */
static void
answer_completion(struct http_thread *t, struct http_req *req, const char *id)
{
	struct db_response row;
	json_object *res, *v;
	enum aigw_err err = db_response_get(t->db, id, req->user, false, &row);
	const char *msg = "the provider failed", *code = "provider_error";

	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return;
	}
	if (db_status_is(row.status, DB_STATUS_COMPLETED)) {
		const struct oa_row r = {
			.chat_id = row.chat_id, .status = row.status, .created_at = row.created_at,
			.completed_at = row.completed_at, .results_json = row.results_json,
			.api_request_json = row.api_request_json, .models_json = row.models_json,
		};

		http_resp_json(req, 200, oa_completion_object(&r));
	} else if (db_status_is(row.status, DB_STATUS_CANCELLED)) {
		http_resp_error(req, 409, OA_STATUS_CANCELLED, NULL, "the completion was cancelled");
	} else {
		/* The provider's own error, after aigw's retries: a 500, as
		 * OpenAI answers its own failures. */
		res = json_tokener_parse(row.results_json);
		json_object_object_foreach(res, name, result) {
			(void)name;
			if (json_object_object_get_ex(result, "error", &v))
				msg = json_object_get_string(v);
			if (json_object_object_get_ex(result, "errorClass", &v))
				code = json_object_get_string(v);
		}
		http_resp_error(req, 500, code, NULL, "%s", msg);
		json_object_put(res);
	}
	db_response_free(&row);
}

void
oa_completions_create(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct oa_request r;
	struct rt_state s = { 0 };
	char id[UUID_STR_LEN + 1], cmpl[OA_ID_MAX];

	(void)args;
	if (!parse(t, req, &r, oa_parse_completion_request))
		return;
	if (!oa_store(t, req, &r, "completion", id))
		goto out;
	if (r.stream) {
		oa_stream_events(t, req, id, true, r.include_usage, -1);
		goto out;
	}
	if (!rt_wait_final(t, req, &oa_wait_source, id, t->app->cfg->sync_wait_s, &s))
		goto out;
	if (s.final) {
		answer_completion(t, req, id);
		goto out;
	}
	/* Past the bound the work goes on: the client fetches it by id. */
	oa_id("chatcmpl-", id, cmpl);
	http_resp_header(req, "Retry-After", "5");
	http_resp_error(req, 504, "timeout", NULL,
			"the completion %s is still running after AIGW_SYNC_WAIT_S (%ld s); it is"
			" stored: fetch it with GET /v1/responses/%s", cmpl, t->app->cfg->sync_wait_s,
			cmpl);
out:
	rt_state_free(&s);
	oa_request_free(&r);
}
