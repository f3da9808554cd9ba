/*
 * openai_batch.c: the OpenAI Batch API over the Files API (API reference
 * "Files > Upload file", "Batch > Create batch", "Batch > Retrieve batch",
 * "Batch > Cancel batch", "Files > Retrieve file content", "Batch > The
 * request input object" and "Batch > The request output object").
 *
 * Every call goes out as the Chat Completions request the sync adapter
 * (openai.c) would send, and every answer is read by its parser, so a call
 * costs, reads and fails the same in a batch as alone.
 *
 * States (what build sends for each; parse reads the answer to it):
 *   NULL                  POST {base}/files: multipart/form-data with
 *                         purpose=batch and the JSONL input file, one line
 *                         {"custom_id","method":"POST","url":"/v1/chat/completions",
 *                         "body"} per call. The File object's id moves to:
 *   {"step":"create","input_file_id"}
 *                         POST {base}/batches {"input_file_id","endpoint":
 *                         "/v1/chat/completions","completion_window":"24h"}.
 *                         The Batch object's id is the external id; WAIT:
 *   {"step":"poll","batch_id"}
 *                         GET {base}/batches/{batch_id}. validating,
 *                         in_progress, finalizing, cancelling: WAIT.
 *                         completed: NEXT to the files. failed, expired,
 *                         cancelled: the files when there are any (the lines
 *                         that ran have results), else FAILED with the
 *                         batch's errors. Any other status is a bad body.
 *   {"step":"output","batch_id","output_file_id","error_file_id"|null}
 *                         GET {base}/files/{output_file_id}/content, then
 *                         NEXT to the error file when there is one, else DONE.
 *   {"step":"errors","batch_id","error_file_id"}
 *                         GET {base}/files/{error_file_id}/content; DONE.
 * Cancel: POST {base}/batches/{batch_id}/cancel from any state with a
 * batch_id (the batch keeps its partial results in its files).
 *
 * Output and error files hold one request output object a line:
 * {"id","custom_id","response":{"status_code","request_id","body"},"error"}.
 * A response is parsed by the sync parser with its status_code; an error
 * ({"code","message"}: batch_expired, batch_cancelled, request_timeout) is a
 * failed result. A line whose response or error is malformed is a bad-body
 * result for its custom_id; a line without a readable custom_id is skipped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

#define NAME "openai-batch"
#define ENDPOINT "/v1/chat/completions"
/* "Files > Upload file": a batch input file holds up to 50,000 requests and
 * 200 MB. */
#define MAX_ITEMS 50000
#define UPLOAD_MAX (200u * 1000 * 1000)
/* The JSON lines hold no CR (JSON escapes it) and every line starts with
 * '{', so no part of the file can read as a delimiter: a fixed boundary is
 * safe whatever the messages say. */
#define BOUNDARY "aigw-batch-7d0b4c1e9a2f"
/* The metadata key that names a batch's token (see prov_async_token). */
#define TOKEN_KEY "aigw_batch"

static const char multipart_head[] =
	"--" BOUNDARY "\r\n"
	"Content-Disposition: form-data; name=\"purpose\"\r\n"
	"\r\n"
	"batch\r\n"
	"--" BOUNDARY "\r\n"
	"Content-Disposition: form-data; name=\"file\"; filename=\"batch.jsonl\"\r\n"
	"Content-Type: application/jsonl\r\n"
	"\r\n";
static const char multipart_tail[] = "\r\n--" BOUNDARY "--\r\n";

/* ---- building requests ---- */

/* One line of the input file; AIGW_ENOMEM, AIGW_ETOOBIG past the ceiling. */
static enum aigw_err
input_line(struct buf *b, const char *model, const struct prov_batch_item *item)
{
	struct prov_call call = item->call;
	json_object *line = json_object_new_object();
	const char *text;
	size_t n = 0;
	enum aigw_err err = AIGW_ENOMEM;
	int rc = 0;

	call.model = model;
	if (line == NULL)
		goto out;
	rc |= prov_common_add(line, "custom_id", json_object_new_string(item->custom_id));
	rc |= prov_common_add(line, "method", json_object_new_string("POST"));
	rc |= prov_common_add(line, "url", json_object_new_string(ENDPOINT));
	rc |= prov_common_add(line, "body", prov_openai_body(&call));
	if (rc != 0)
		goto out;
	text = json_object_to_json_string_length(line, JSON_C_TO_STRING_PLAIN |
						 JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (text == NULL)
		goto out;
	if ((err = buf_append(b, text, n)) == AIGW_OK)
		err = buf_puts(b, "\n");
out:
	json_object_put(line);
	return err;
}

static enum aigw_err
build_upload(const struct prov_config *cfg, const char *model, const struct prov_batch_item *items,
	     size_t n, struct prov_http *out)
{
	struct buf b;
	enum aigw_err err;

	buf_init(&b, UPLOAD_MAX);
	if ((err = prov_async_check(cfg, model, items, n, MAX_ITEMS, true)) != AIGW_OK)
		goto out;
	err = buf_puts(&b, multipart_head);
	for (size_t i = 0; i < n && err == AIGW_OK; i++)
		err = input_line(&b, model, &items[i]);
	if (err == AIGW_OK)
		err = buf_puts(&b, multipart_tail);
	if (err == AIGW_ETOOBIG) /* a batch past the provider's file limit */
		err = AIGW_EINVAL;
	if (err != AIGW_OK)
		goto out;
	out->method = "POST";
	out->body_len = b.len;
	if ((err = buf_steal(&b, &out->body)) != AIGW_OK ||
	    (err = prov_common_url(out, cfg->base_url, "/files")) != AIGW_OK ||
	    (err = prov_common_header(out, "Authorization", "Bearer ", cfg->api_key)) != AIGW_OK ||
	    (err = prov_common_header(out, "Content-Type", "multipart/form-data; boundary=",
				      BOUNDARY)) != AIGW_OK)
		goto out;
out:
	buf_free(&b);
	return err;
}

/* The batch carries its token in metadata, which the list of batches
 * shows: a create whose answer was lost is found by it. */
static enum aigw_err
build_create(const struct prov_config *cfg, const char *file_id, const char *token,
	     struct prov_http *out)
{
	json_object *body = json_object_new_object(), *meta = json_object_new_object();
	enum aigw_err err = AIGW_ENOMEM;
	int rc = 0;

	if (token == NULL) {
		json_object_put(meta);
		json_object_put(body);
		return AIGW_EINVAL;
	}
	if (body == NULL || meta == NULL) {
		json_object_put(meta);
		goto out;
	}
	rc |= prov_common_add(body, "input_file_id", json_object_new_string(file_id));
	rc |= prov_common_add(body, "endpoint", json_object_new_string(ENDPOINT));
	rc |= prov_common_add(body, "completion_window", json_object_new_string("24h"));
	rc |= prov_common_add(meta, TOKEN_KEY, json_object_new_string(token));
	rc |= prov_common_add(body, "metadata", meta);
	if (rc != 0)
		goto out;
	out->method = "POST";
	out->creates = true;
	if ((err = prov_common_url(out, cfg->base_url, "/batches")) != AIGW_OK ||
	    (err = prov_common_header(out, "Authorization", "Bearer ", cfg->api_key)) != AIGW_OK ||
	    (err = prov_common_header(out, "Content-Type", NULL, "application/json")) != AIGW_OK ||
	    (err = prov_common_body(out, body)) != AIGW_OK)
		goto out;
out:
	json_object_put(body);
	return err;
}

/* GET {base}/batches?limit=100[&after=cursor]: the newest batches first. */
static enum aigw_err
build_find(const struct prov_config *cfg, json_object *st, struct prov_http *out)
{
	return prov_async_build_find(cfg, st, "/batches", "after", prov_async_bearer, out);
}

static enum aigw_err
build(const struct prov_config *cfg, const char *model, const char *state,
      const struct prov_batch_item *items, size_t n, struct prov_http *out)
{
	json_object *st = NULL;
	const char *step = NULL, *id;
	enum aigw_err err = AIGW_EINVAL;

	memset(out, 0, sizeof *out);
	if (state == NULL) {
		err = build_upload(cfg, model, items, n, out);
		goto out;
	}
	if (!prov_async_config_ok(cfg) || (err = prov_async_state(state, &st, &step)) != AIGW_OK)
		goto out;
	err = AIGW_EINVAL;
	if (strcmp(step, "create") == 0 && (id = prov_async_get_id(st, "input_file_id")) != NULL)
		err = build_create(cfg, id, prov_async_token(items, n), out);
	else if (strcmp(step, "find") == 0)
		err = build_find(cfg, st, out);
	else if (strcmp(step, "poll") == 0 && (id = prov_async_get_id(st, "batch_id")) != NULL)
		err = prov_async_build_bare(cfg, "GET", "/batches/", id, "", prov_async_bearer, out);
	else if (strcmp(step, "output") == 0 && (id = prov_async_get_id(st, "output_file_id")) != NULL)
		err = prov_async_build_bare(cfg, "GET", "/files/", id, "/content",
					    prov_async_bearer, out);
	else if (strcmp(step, "errors") == 0 && (id = prov_async_get_id(st, "error_file_id")) != NULL)
		err = prov_async_build_bare(cfg, "GET", "/files/", id, "/content",
					    prov_async_bearer, out);
	if (err == AIGW_OK && (strcmp(step, "output") == 0 || strcmp(step, "errors") == 0))
		out->download = true;
out:
	if (err != AIGW_OK)
		prov_http_free(out);
	json_object_put(st);
	return err;
}

/* Before "poll" there is an uploaded file at most, and no batch known (a
 * lookup finds it first). */
static const char *const cancel_before[] = { "create", "find", NULL };
static const char *const cancel_steps[] = { "poll", "output", "errors", NULL };
static const struct prov_async_cancel cancel = {
	"batch_id", cancel_before, cancel_steps, "/batches/", "/cancel", prov_async_bearer,
};

static enum aigw_err
build_cancel(const struct prov_config *cfg, const char *state, struct prov_http *out)
{
	return prov_async_build_cancel(cfg, state, &cancel, out);
}

/* ---- reading answers ---- */

/* As prov_async_begin, and an account out of credit (429
 * insufficient_quota) is not worth waiting for, as in openai.c. */
static enum aigw_err
begin(long status, const char *body, size_t len, struct prov_step *out, json_object **root)
{
	enum aigw_err err = prov_async_begin(NAME, status, body, len, out, root);
	const char *code;

	if (err == AIGW_OK && out->kind == PROV_STEP_FAILED && status == 429) {
		code = prov_common_get_str(prov_common_get(*root, "error", json_type_object), "code");
		if (code != NULL && strcmp(code, "insufficient_quota") == 0)
			out->errclass = PROV_ERR_CLIENT;
	}
	return err;
}

/* The File object: {"id":"file-...","object":"file",...}. */
static enum aigw_err
parse_upload(json_object *root, struct prov_step *out)
{
	const char *id = prov_async_get_id(root, "id");

	if (id == NULL)
		return prov_async_fail(out, PROV_ERR_BAD_BODY,
				       "%s returned an unexpected body: the file has no id", NAME);
	return prov_async_move(out, PROV_STEP_NEXT, "step", "create", "input_file_id", id,
			       (char *)NULL);
}

/* The Batch object of the new batch. */
static enum aigw_err
parse_create(json_object *root, struct prov_step *out)
{
	return prov_async_created(out, NAME, prov_async_get_id(root, "id"), "batch_id",
				  "the batch has no id");
}

/* A page of the list {"data":[Batch],"has_more","last_id"}, newest first:
 * the batch whose metadata holds the token, else the next page while it
 * may still hold batches from the first create on, else ABSENT. */
static enum aigw_err
parse_find(json_object *st, json_object *root, struct prov_step *out)
{
	struct prov_async_find f;
	enum aigw_err err;
	json_object *data = prov_async_find_list(NAME, st, root, &f, out, &err);
	size_t n = data != NULL ? json_object_array_length(data) : 0;
	long long oldest = -1;
	const char *last = NULL;

	if (data == NULL)
		return err;
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(data, i);
		json_object *meta = prov_common_get(b, "metadata", json_type_object);
		json_object *created = prov_common_get(b, "created_at", json_type_int);
		const char *id = prov_async_get_id(b, "id");
		const char *token = prov_common_get_str(meta, TOKEN_KEY);

		if (id == NULL)
			continue;
		if (token != NULL && strcmp(token, f.token) == 0 && prov_async_id_ok(id))
			return prov_async_found(out, "batch_id", id);
		last = id;
		if (created != NULL)
			oldest = json_object_get_int64(created);
	}
	/* The list's own cursor, when it gives one, over the last id read. */
	if (last != NULL && prov_async_get_id(root, "last_id") != NULL)
		last = prov_async_get_id(root, "last_id");
	return prov_async_find_end(out, &f, root, last, oldest);
}

/* errors.data[].message joined, as one snippet; NULL for none, or on ENOMEM
 * (*err says which). */
static char *
batch_errors(json_object *root, enum aigw_err *err)
{
	json_object *list = prov_common_get(prov_common_get(root, "errors", json_type_object),
					    "data", json_type_array);
	size_t n = list != NULL ? json_object_array_length(list) : 0;
	struct buf b;
	char *out = NULL;

	*err = AIGW_OK;
	buf_init(&b, 4096);
	for (size_t i = 0; i < n && *err == AIGW_OK && b.len < PROV_SNIPPET_MAX; i++) {
		const char *msg = prov_async_get_id(json_object_array_get_idx(list, i), "message");

		if (msg != NULL)
			*err = buf_printf(&b, "%s%.*s", b.len ? "; " : "", PROV_SNIPPET_MAX, msg);
	}
	if (*err == AIGW_OK && b.len > 0 && (out = prov_common_snippet(b.data)) == NULL)
		*err = AIGW_ENOMEM;
	buf_free(&b);
	if (*err != AIGW_OK)
		*err = AIGW_ENOMEM;
	return out;
}

/* A file id: absent or null is none; anything else but a non-empty string
 * is not the documented shape (*ok becomes false). */
static const char *
file_field(json_object *root, const char *key, bool *ok)
{
	json_object *v = NULL;
	const char *id = prov_async_get_id(root, key);

	if (id == NULL && json_object_object_get_ex(root, key, &v) && v != NULL)
		*ok = false;
	return id;
}

static bool
one_of(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static enum aigw_err
parse_poll(json_object *st, json_object *root, struct prov_step *out)
{
	static const char *const running[] = { "validating", "in_progress", "finalizing", "cancelling" };
	static const char *const ended[] = { "failed", "expired", "cancelled" };
	const char *status = prov_common_get_str(root, "status");
	const char *batch = prov_async_get_id(st, "batch_id");
	bool ok = true, completed;
	const char *output = file_field(root, "output_file_id", &ok);
	const char *errors = file_field(root, "error_file_id", &ok);
	char *what = NULL;
	enum aigw_err err = AIGW_OK;

	if (status == NULL || !ok) {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: %s",
				      NAME, status == NULL ? "the batch has no status"
							   : "a file id is not a string");
		goto out;
	}
	if (one_of(status, running, sizeof running / sizeof running[0])) {
		out->kind = PROV_STEP_WAIT;
		goto out;
	}
	completed = strcmp(status, "completed") == 0;
	if (!completed && !one_of(status, ended, sizeof ended / sizeof ended[0])) {
		if ((what = prov_common_snippet(status)) == NULL)
			err = AIGW_ENOMEM;
		else
			err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					      "unknown batch status \"%s\"", NAME, what);
		goto out;
	}
	/* A batch that ended early still has results for the lines that ran. */
	if (output != NULL)
		err = prov_async_move(out, PROV_STEP_NEXT, "step", "output", "batch_id", batch,
				      "output_file_id", output, "error_file_id", errors, (char *)NULL);
	else if (errors != NULL)
		err = prov_async_move(out, PROV_STEP_NEXT, "step", "errors", "batch_id", batch,
				      "error_file_id", errors, (char *)NULL);
	else if (completed)
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "a completed batch without an output or error file", NAME);
	else if ((what = batch_errors(root, &err)) != NULL)
		/* failed as a whole: asking again would tell the same */
		err = prov_async_fail(out, PROV_ERR_CLIENT, "openai batch %s: %s", status, what);
	else if (err == AIGW_OK)
		err = prov_async_fail(out, PROV_ERR_CLIENT, "openai batch %s", status);
out:
	free(what);
	return err;
}

/* The class of a request that never got an HTTP answer. */
static enum prov_errclass
line_error_class(const char *code)
{
	enum prov_errclass c = PROV_ERR_SERVER;

	if (code == NULL)
		c = PROV_ERR_SERVER;
	else if (strcmp(code, "batch_expired") == 0 || strcmp(code, "request_timeout") == 0)
		c = PROV_ERR_TIMEOUT;
	else if (strcmp(code, "batch_cancelled") == 0)
		c = PROV_ERR_CLIENT; /* cancelled on purpose: not to be run again */
	return c;
}

/* One request output object. */
static enum aigw_err
result_line(json_object *line, const char *id, struct prov_step *s)
{
	json_object *resp = prov_common_get(line, "response", json_type_object);
	json_object *e = prov_common_get(line, "error", json_type_object);
	json_object *code, *body = NULL;
	struct prov_result r;
	const char *text, *msg;
	char *snip = NULL;
	size_t n;
	enum aigw_err err;

	prov_common_result_init(&r);
	if (resp != NULL) {
		code = prov_common_get(resp, "status_code", json_type_int);
		if (code == NULL) {
			err = prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected "
						  "body: a response whose status_code is not a number", NAME);
			goto out;
		}
		json_object_object_get_ex(resp, "body", &body);
		if ((text = prov_async_text(body, &n)) == NULL) {
			err = AIGW_ENOMEM;
			goto out;
		}
		err = prov_openai_chat_parse(NAME, (long)json_object_get_int64(code), text, n, &r, NULL);
		if (err == AIGW_OK)
			err = prov_async_add(s, id, &r);
	} else if (e != NULL) {
		msg = prov_async_get_id(e, "message");
		if (msg == NULL)
			msg = prov_async_get_id(e, "code");
		if (msg != NULL && (snip = prov_common_snippet(msg)) == NULL) {
			err = AIGW_ENOMEM;
			goto out;
		}
		err = prov_async_add_fail(s, id, line_error_class(prov_common_get_str(e, "code")),
					  "%s did not run the request: %s", NAME,
					  snip != NULL ? snip : "no reason given");
	} else {
		err = prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					  "a result line without a response or an error", NAME);
	}
out:
	free(snip);
	prov_result_free(&r);
	return err;
}

static enum aigw_err
parse_file(json_object *st, bool output, long status, const char *body, size_t len,
	   struct prov_step *out)
{
	json_object *root = NULL;
	const char *errors = output ? prov_async_get_id(st, "error_file_id") : NULL;
	enum aigw_err err;

	if (status < 200 || status > 299) {
		err = begin(status, body, len, out, &root);
		goto out;
	}
	err = prov_async_jsonl(NAME, body, len, out, result_line);
	if (err != AIGW_OK || out->kind == PROV_STEP_FAILED)
		goto out;
	if (errors != NULL)
		err = prov_async_move(out, PROV_STEP_NEXT, "step", "errors", "batch_id",
				      prov_async_get_id(st, "batch_id"), "error_file_id", errors,
				      (char *)NULL);
	else
		out->kind = PROV_STEP_DONE;
out:
	json_object_put(root);
	return err;
}

static enum aigw_err
parse(const char *state, long status, const char *body, size_t len, struct prov_step *out)
{
	json_object *st = NULL, *root = NULL;
	const char *step = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	if (state != NULL && (err = prov_async_state(state, &st, &step)) == AIGW_ENOMEM)
		goto out;
	if (state != NULL && (err != AIGW_OK ||
			      (strcmp(step, "create") != 0 && strcmp(step, "find") != 0 &&
			       prov_async_get_id(st, "batch_id") == NULL))) {
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				      NAME);
		goto out;
	}
	if (step != NULL && (strcmp(step, "output") == 0 || strcmp(step, "errors") == 0)) {
		err = parse_file(st, strcmp(step, "output") == 0, status, body, len, out);
		goto out;
	}
	if ((err = begin(status, body, len, out, &root)) != AIGW_OK || out->kind == PROV_STEP_FAILED)
		goto out;
	if (step == NULL)
		err = parse_upload(root, out);
	else if (strcmp(step, "create") == 0)
		err = parse_create(root, out);
	else if (strcmp(step, "find") == 0)
		err = parse_find(st, root, out);
	else if (strcmp(step, "poll") == 0)
		err = parse_poll(st, root, out);
	else
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				      NAME);
out:
	return prov_async_parse_end(out, err, root, st);
}

const struct prov_async_ops prov_openai_batch_ops = {
	.max_items = MAX_ITEMS,
	.max_bytes = UPLOAD_MAX,
	.build = build,
	.parse = parse,
	.build_cancel = build_cancel,
};
