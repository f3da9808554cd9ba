/*
 * anthropic_batch.c: the Anthropic Message Batches API (API reference
 * "Messages > Create a Message Batch", "Retrieve a Message Batch", "Retrieve
 * Message Batch results", "Cancel a Message Batch").
 *
 * Every call goes out as the Messages request the sync adapter
 * (anthropic.c) would send, with the same headers, and every succeeded
 * message is read by its parser as a 200 answer.
 *
 * States (what build sends for each; parse reads the answer to it):
 *   NULL                  POST {base}/v1/messages/batches {"requests":
 *                         [{"custom_id","params":<Messages body>}]}. The
 *                         MessageBatch's id is the external id; WAIT:
 *   {"step":"poll","batch_id"}
 *                         GET {base}/v1/messages/batches/{batch_id}.
 *                         processing_status in_progress, canceling: WAIT;
 *                         ended: NEXT with its results_url; else bad body.
 *   {"step":"results","batch_id","results_url"}
 *                         GET results_url (absolute, with the same headers),
 *                         JSONL of {"custom_id","result":{"type":"succeeded",
 *                         "message"} | {"type":"errored","error":
 *                         {"type":"error","error":{"type","message"}}} |
 *                         {"type":"canceled"} | {"type":"expired"}}; DONE.
 * Cancel: POST {base}/v1/messages/batches/{batch_id}/cancel once there is a
 * batch_id.
 *
 * The key goes with the results request, so build sends it only to a
 * results_url under the configured base URL (an answer naming another host
 * gets AIGW_EINVAL, never the key).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

/* More requests than any batch holds (100,000 at most). */
#define COUNT_MAX 1000000000LL
#define NAME "anthropic-batch"
/* "Create a Message Batch": requests, minItems 1, maxItems 100,000 (and 256
 * MB, past which the API answers 413). */
#define MAX_ITEMS 100000
#define BODY_MAX (256u * 1000 * 1000)
/* One batch: BATCHES <id>. */
#define BATCHES "/v1/messages/batches/"

/* ---- building requests ---- */

static enum aigw_err
build_create(const struct prov_config *cfg, const char *model, const struct prov_batch_item *items,
	     size_t n, struct prov_http *out)
{
	json_object *body = NULL, *reqs;
	const char *text;
	size_t len = 0;
	enum aigw_err err;
	int rc = 0;

	if ((err = prov_async_check(cfg, model, items, n, MAX_ITEMS, true)) != AIGW_OK)
		goto out;
	err = AIGW_ENOMEM;
	if ((body = json_object_new_object()) == NULL || (reqs = json_object_new_array()) == NULL ||
	    prov_common_add(body, "requests", reqs) != 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct prov_call call = items[i].call;
		json_object *r = json_object_new_object();

		call.model = model;
		if (r != NULL) {
			rc |= prov_common_add(r, "custom_id", json_object_new_string(items[i].custom_id));
			rc |= prov_common_add(r, "params", prov_anthropic_body(&call));
		}
		rc |= prov_common_push(reqs, r);
	}
	if (rc != 0)
		goto out;
	text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		goto out;
	if (len > BODY_MAX) { /* a batch past the provider's limit */
		err = AIGW_EINVAL;
		goto out;
	}
	out->method = "POST";
	out->creates = true;
	if ((out->body = strndup(text, len)) == NULL)
		goto out;
	out->body_len = len;
	if ((err = prov_common_url(out, cfg->base_url, "/v1/messages/batches")) != AIGW_OK ||
	    (err = prov_anthropic_headers(out, cfg->api_key)) != AIGW_OK ||
	    (err = prov_common_header(out, "Content-Type", NULL, "application/json")) != AIGW_OK)
		goto out;
out:
	json_object_put(body);
	return err;
}

/* GET {base}/v1/messages/batches?limit=100[&after_id=cursor]: the newest
 * Message Batches first. */
static enum aigw_err
build_find(const struct prov_config *cfg, json_object *st, struct prov_http *out)
{
	return prov_async_build_find(cfg, st, "/v1/messages/batches", "after_id",
				     prov_anthropic_headers, out);
}

/* url is base itself followed by a path: same scheme, host and port, so the
 * key stays with the provider the operator configured. */
static bool
under_base(const char *url, const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return n > 0 && strncmp(url, base, n) == 0 && url[n] == '/';
}

static enum aigw_err
build_results(const struct prov_config *cfg, const char *url, struct prov_http *out)
{
	enum aigw_err err = AIGW_EINVAL;

	if (!under_base(url, cfg->base_url))
		goto out;
	out->method = "GET";
	out->download = true;
	if ((err = prov_common_url(out, url, "")) != AIGW_OK ||
	    (err = prov_anthropic_headers(out, cfg->api_key)) != AIGW_OK)
		goto out;
out:
	return err;
}

static enum aigw_err
build(const struct prov_config *cfg, const char *model, const char *state,
      const struct prov_batch_item *items, size_t n, struct prov_http *out)
{
	json_object *st = NULL;
	const char *step = NULL, *id, *url;
	enum aigw_err err = AIGW_EINVAL;

	memset(out, 0, sizeof *out);
	if (state == NULL) {
		err = build_create(cfg, model, items, n, out);
		goto out;
	}
	if (!prov_async_config_ok(cfg) || (err = prov_async_state(state, &st, &step)) != AIGW_OK)
		goto out;
	err = AIGW_EINVAL;
	if (strcmp(step, "find") == 0) {
		err = build_find(cfg, st, out);
		goto out;
	}
	if ((id = prov_async_get_id(st, "batch_id")) == NULL)
		goto out;
	if (strcmp(step, "poll") == 0)
		err = prov_async_build_bare(cfg, "GET", BATCHES, id, "", prov_anthropic_headers, out);
	else if (strcmp(step, "results") == 0 && (url = prov_async_get_id(st, "results_url")) != NULL)
		err = build_results(cfg, url, out);
out:
	if (err != AIGW_OK)
		prov_http_free(out);
	json_object_put(st);
	return err;
}

static const char *const cancel_before[] = { "find", NULL };
static const char *const cancel_steps[] = { "poll", "results", NULL };
static const struct prov_async_cancel cancel = {
	"batch_id", cancel_before, cancel_steps, BATCHES, "/cancel", prov_anthropic_headers,
};

static enum aigw_err
build_cancel(const struct prov_config *cfg, const char *state, struct prov_http *out)
{
	return prov_async_build_cancel(cfg, state, &cancel, out);
}

/* ---- reading answers ---- */

/* The MessageBatch of the new batch. */
static enum aigw_err
parse_create(json_object *root, struct prov_step *out)
{
	return prov_async_created(out, NAME, prov_async_get_id(root, "id"), "batch_id",
				  "the batch has no id");
}

/*
 * A page of the list {"data":[MessageBatch],"has_more","last_id"}, newest
 * first. A Message Batch carries nothing of ours (no metadata; custom_ids
 * show only in its results), so the lost one is the batch of as many
 * requests created closest to the first create, from PROV_ASYNC_FIND_SKEW_S
 * before it. Adopting another batch of the same size can only fail calls
 * (results are matched by custom_id, which are ours alone), never answer
 * one with another's result.
 */
static enum aigw_err
parse_find(json_object *st, json_object *root, struct prov_step *out)
{
	static const char *const counts[] = { "processing", "succeeded", "errored", "canceled",
					      "expired" };
	struct prov_async_find f;
	enum aigw_err err;
	json_object *data = prov_async_find_list(NAME, st, root, &f, out, &err);
	size_t n = data != NULL ? json_object_array_length(data) : 0;
	long long oldest = -1, gap = -1;
	const char *best = NULL;

	if (data == NULL)
		return err;
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(data, i);
		json_object *rc = prov_common_get(b, "request_counts", json_type_object);
		const char *id = prov_async_get_id(b, "id");
		long long created = prov_async_time(prov_common_get_str(b, "created_at")), total = 0;

		/* Hostile counts must not overflow the sum: a batch whose
		 * counts no batch could have is not ours. */
		for (size_t k = 0; k < sizeof counts / sizeof counts[0] && total >= 0; k++) {
			long long c = json_object_get_int64(prov_common_get(rc, counts[k],
									    json_type_int));

			total = c >= 0 && c <= COUNT_MAX ? total + c : -1;
		}
		if (created >= 0)
			oldest = created;
		if (total >= 0 && prov_async_id_ok(id) && prov_async_closer(&f, total, created, &gap))
			best = id;
	}
	if (best != NULL)
		return prov_async_found(out, "batch_id", best);
	return prov_async_find_end(out, &f, root, prov_async_get_id(root, "last_id"), oldest);
}

/* An absolute http(s) URL with nothing in it a request line could not hold. */
static bool
url_ok(const char *u)
{
	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return false;
	for (; *u != '\0'; u++)
		if ((unsigned char)*u <= 0x20 || *u == 0x7f)
			return false;
	return true;
}

static enum aigw_err
parse_poll(json_object *st, json_object *root, struct prov_step *out)
{
	const char *status = prov_common_get_str(root, "processing_status");
	const char *url = prov_async_get_id(root, "results_url");
	char *snip = NULL;
	enum aigw_err err = AIGW_OK;

	if (status == NULL) {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "the batch has no processing_status", NAME);
	} else if (strcmp(status, "in_progress") == 0 || strcmp(status, "canceling") == 0) {
		out->kind = PROV_STEP_WAIT;
	} else if (strcmp(status, "ended") != 0) {
		snip = prov_common_snippet(status);
		err = snip == NULL ? AIGW_ENOMEM
				   : prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected "
						     "body: unknown processing_status \"%s\"",
						     NAME, snip);
	} else if (url != NULL && !url_ok(url)) {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "results_url is not an http(s) URL", NAME);
	} else if (url != NULL) {
		err = prov_async_move(out, PROV_STEP_NEXT, "step", "results", "batch_id",
				      prov_async_get_id(st, "batch_id"), "results_url", url,
				      (char *)NULL);
	} else if (prov_async_get_id(root, "archived_at") != NULL) {
		/* Results are kept 29 days; asking again will not bring them back. */
		err = prov_async_fail(out, PROV_ERR_CLIENT, "anthropic batch was archived: "
				      "its results are no longer available");
	} else {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "an ended batch without a results_url", NAME);
	}
	free(snip);
	return err;
}

/* The class of an errored request, from its error type ("Errors" in the API
 * reference): what a sync call answering it would have been. */
static enum prov_errclass
error_class(const char *type)
{
	static const struct {
		const char *type;
		enum prov_errclass c;
	} map[] = {
		{ "invalid_request_error", PROV_ERR_CLIENT },
		{ "authentication_error", PROV_ERR_AUTH },
		{ "permission_error", PROV_ERR_AUTH },
		{ "billing_error", PROV_ERR_CLIENT },
		{ "not_found_error", PROV_ERR_CLIENT },
		{ "request_too_large", PROV_ERR_CLIENT },
		{ "rate_limit_error", PROV_ERR_RATE_LIMIT },
		{ "timeout_error", PROV_ERR_TIMEOUT },
		{ "api_error", PROV_ERR_SERVER },
		{ "overloaded_error", PROV_ERR_SERVER },
	};
	enum prov_errclass c = PROV_ERR_SERVER; /* the provider's side, by default */

	for (size_t i = 0; type != NULL && i < sizeof map / sizeof map[0]; i++)
		if (strcmp(type, map[i].type) == 0)
			c = map[i].c;
	return c;
}

/* {"type":"errored","error":{"type":"error","error":{"type","message"}}}. */
static enum aigw_err
errored(json_object *result, const char *id, struct prov_step *s)
{
	json_object *e = prov_common_get(prov_common_get(result, "error", json_type_object),
					 "error", json_type_object);
	const char *type = prov_async_get_id(e, "type");
	const char *msg = prov_async_get_id(e, "message");
	char *snip = NULL;
	enum aigw_err err;

	if (e == NULL || (type == NULL && msg == NULL))
		return prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					   "an errored result without an error", NAME);
	if ((snip = prov_common_snippet(msg != NULL ? msg : type)) == NULL)
		return AIGW_ENOMEM;
	err = prov_async_add_fail(s, id, error_class(type), "%s request errored: %s", NAME, snip);
	free(snip);
	return err;
}

/* One line of the results: {"custom_id","result":{"type",...}}. */
static enum aigw_err
result_line(json_object *line, const char *id, struct prov_step *s)
{
	json_object *result = prov_common_get(line, "result", json_type_object);
	const char *type = prov_common_get_str(result, "type");
	struct prov_result r;
	const char *text;
	size_t n;
	enum aigw_err err;

	prov_common_result_init(&r);
	if (type == NULL) {
		err = prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					  "a result without a type", NAME);
	} else if (strcmp(type, "succeeded") == 0) {
		text = prov_async_text(prov_common_get(result, "message", json_type_object), &n);
		err = text == NULL ? AIGW_ENOMEM
				   : prov_anthropic_message_parse(NAME, 200, text, n, &r);
		if (err == AIGW_OK)
			err = prov_async_add(s, id, &r);
	} else if (strcmp(type, "errored") == 0) {
		err = errored(result, id, s);
	} else if (strcmp(type, "canceled") == 0) {
		/* canceled on purpose (past its deadline): not to be run again */
		err = prov_async_add_fail(s, id, PROV_ERR_CLIENT, "%s did not run the request: "
					  "the batch was canceled first", NAME);
	} else if (strcmp(type, "expired") == 0) {
		err = prov_async_add_fail(s, id, PROV_ERR_TIMEOUT, "%s did not run the request: "
					  "the batch reached its 24 hours first", NAME);
	} else {
		err = prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					  "an unknown result type", NAME);
	}
	prov_result_free(&r);
	return err;
}

static enum aigw_err
parse(const char *state, long status, const char *body, size_t len, struct prov_step *out)
{
	json_object *st = NULL, *root = NULL;
	const char *step = NULL;
	bool results;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	if (state != NULL && (err = prov_async_state(state, &st, &step)) == AIGW_ENOMEM)
		goto out;
	if (state != NULL && (err != AIGW_OK ||
			      (strcmp(step, "find") != 0 && (prov_async_get_id(st, "batch_id") == NULL ||
			       (strcmp(step, "poll") != 0 && strcmp(step, "results") != 0))))) {
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				      NAME);
		goto out;
	}
	results = step != NULL && strcmp(step, "results") == 0;
	if (results && status >= 200 && status <= 299) {
		if ((err = prov_async_jsonl(NAME, body, len, out, result_line)) == AIGW_OK &&
		    out->kind != PROV_STEP_FAILED)
			out->kind = PROV_STEP_DONE;
		goto out;
	}
	if ((err = prov_async_begin(NAME, status, body, len, out, &root)) != AIGW_OK ||
	    out->kind == PROV_STEP_FAILED)
		goto out;
	if (step == NULL)
		err = parse_create(root, out);
	else if (strcmp(step, "find") == 0)
		err = parse_find(st, root, out);
	else
		err = parse_poll(st, root, out);
out:
	return prov_async_parse_end(out, err, root, st);
}

const struct prov_async_ops prov_anthropic_batch_ops = {
	.max_items = MAX_ITEMS,
	.max_bytes = BODY_MAX,
	.build = build,
	.parse = parse,
	.build_cancel = build_cancel,
};
