/*
 * openai.c: OpenAI Chat Completions, POST {base}/chat/completions (API
 * reference "Chat > Create chat completion", with "web_search_options" and
 * "response_format" for JSON mode).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"
#include "providers/sse.h"
#include "providers/stream.h"

#define NAME "openai"
/* The bytes of a streamed refusal kept for its error sentence. */
#define REFUSAL_KEEP (4 * PROV_SNIPPET_MAX)

json_object *
prov_openai_messages(const struct prov_call *call)
{
	return prov_common_call_messages(call, call->system, false);
}

/* {"user_location":{"type":"approximate","approximate":{"country":..}}}, or
 * {} without a location; NULL on ENOMEM. */
static json_object *
web_search_options(const struct prov_call *call)
{
	const char *country = prov_common_location(call);
	json_object *ws = json_object_new_object();
	json_object *loc, *approx;
	int rc = 0;

	if (ws == NULL || country == NULL)
		goto out;
	loc = json_object_new_object();
	approx = json_object_new_object();
	if (approx != NULL)
		rc |= prov_common_add(approx, "country", json_object_new_string(country));
	if (loc != NULL) {
		rc |= prov_common_add(loc, "type", json_object_new_string("approximate"));
		rc |= prov_common_add(loc, "approximate", approx);
		approx = NULL;
	}
	json_object_put(approx);
	rc |= prov_common_add(ws, "user_location", loc);
	if (rc != 0) {
		json_object_put(ws);
		ws = NULL;
	}
out:
	return ws;
}

/*
 * {"type":"json_object"}: JSON mode, which makes the model answer one valid
 * JSON object. Structured Outputs ("json_schema") would need a schema, and a
 * job step only says "JSON". JSON mode also needs the word "JSON" in the
 * messages (OpenAI answers 400 otherwise, and an uninstructed model may emit
 * whitespace up to max tokens); the caller puts that instruction in the
 * system prompt. NULL on ENOMEM.
 */
static json_object *
response_format_json(void)
{
	json_object *rf = json_object_new_object();

	if (rf != NULL && prov_common_add(rf, "type", json_object_new_string("json_object")) != 0) {
		json_object_put(rf);
		rf = NULL;
	}
	return rf;
}

json_object *
prov_openai_body(const struct prov_call *call)
{
	json_object *body = json_object_new_object();
	int rc = 0;

	if (body == NULL)
		goto out;
	rc |= prov_common_add(body, "model", json_object_new_string(call->model));
	rc |= prov_common_add(body, "messages", prov_openai_messages(call));
	/* max_tokens is deprecated and refused by the o-series models. */
	rc |= prov_common_add(body, "max_completion_tokens", json_object_new_int(call->max_tokens));
	if (call->websearch)
		rc |= prov_common_add(body, "web_search_options", web_search_options(call));
	if (call->json_output)
		rc |= prov_common_add(body, "response_format", response_format_json());
	if (rc != 0) {
		json_object_put(body);
		body = NULL;
	}
out:
	return body;
}

static const struct prov_scheme scheme = {
	.path = "/chat/completions",
	.auth_name = "Authorization",
	.auth_prefix = "Bearer ",
	.content_type = "application/json",
	.stream_flag = true,
	.stream_usage = true,
	.body = prov_openai_body,
};

enum aigw_err
prov_openai_build(const struct prov_config *cfg, const struct prov_call *call,
		  struct prov_http *out)
{
	return prov_scheme_build(&scheme, cfg, call, out);
}

static enum aigw_err
build_stream(const struct prov_config *cfg, const struct prov_call *call, struct prov_http *out)
{
	return prov_scheme_build_stream(&scheme, cfg, call, out);
}

/* OpenAI's wire format at another server (AIGW_PROVIDER_<NAME>_*): the
 * same requests; a server on the operator's own machine may want no key. */
static const struct prov_scheme compat_scheme = {
	.path = "/chat/completions",
	.auth_name = "Authorization",
	.auth_prefix = "Bearer ",
	.content_type = "application/json",
	.stream_flag = true,
	.stream_usage = true,
	.body = prov_openai_body,
	.key_optional = true,
};

enum aigw_err
prov_openai_compat_build(const struct prov_config *cfg, const struct prov_call *call,
			 struct prov_http *out)
{
	return prov_scheme_build(&compat_scheme, cfg, call, out);
}

static enum aigw_err compat_parse(long status, const char *body, size_t len,
				  struct prov_result *out);

void
prov_named_desc(struct prov_desc *out, const char *name, const char *key_env,
		const char *base_env)
{
	*out = (struct prov_desc){
		.name = name,
		.kind = PROV_SYNC,
		.key_env = key_env,
		.base_env = base_env,
		.build = prov_openai_compat_build,
		.parse = compat_parse,
		.format = PROV_FORMAT_OPENAI_COMPAT,
		.key_optional = true,
	};
}

static enum aigw_err
compat_build_stream(const struct prov_config *cfg, const struct prov_call *call,
		    struct prov_http *out)
{
	return prov_scheme_build_stream(&compat_scheme, cfg, call, out);
}

/* message.annotations[]: {"type":"url_citation","url_citation":{"url","title",..}}. */
static enum aigw_err
annotations(json_object *msg, struct prov_result *out)
{
	json_object *list = prov_common_get(msg, "annotations", json_type_array);
	size_t n = list ? json_object_array_length(list) : 0;
	enum aigw_err err = AIGW_OK;

	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		json_object *a = json_object_array_get_idx(list, i);
		const char *type = prov_common_get_str(a, "type");
		json_object *c = prov_common_get(a, "url_citation", json_type_object);

		if (type == NULL || strcmp(type, "url_citation") != 0)
			continue;
		if (c == NULL)
			c = a; /* the flat form some compatible servers send */
		err = prov_common_cite(out, prov_common_get_str(c, "url"), prov_common_get_str(c, "title"));
	}
	return err;
}

enum aigw_err
prov_openai_chat_parse(const char *name, long status, const char *body, size_t len,
		       struct prov_result *out, prov_chat_extra_fn extra)
{
	json_object *root = NULL, *choices, *choice, *msg, *content = NULL;
	const char *why, *refusal;
	struct buf text;
	enum aigw_err err;

	buf_init(&text, len);
	err = prov_common_begin(name, status, body, len, out, &root);
	if (err != AIGW_OK)
		goto out;
	if (out->errclass != PROV_ERR_NONE) {
		json_object *e = prov_common_get(root, "error", json_type_object);
		const char *code = prov_common_get_str(e, "code");

		/* An account out of credit answers 429 too; waiting cannot fix it. */
		if (status == 429 && code != NULL && strcmp(code, "insufficient_quota") == 0)
			out->errclass = PROV_ERR_CLIENT;
		goto out;
	}
	choices = prov_common_get(root, "choices", json_type_array);
	if (choices == NULL) {
		err = prov_common_bad_body(out, name, "no choices array");
		goto out;
	}
	if (json_object_array_length(choices) == 0) {
		err = prov_common_bad_body(out, name, "choices is empty");
		goto out;
	}
	choice = json_object_array_get_idx(choices, 0);
	msg = prov_common_get(choice, "message", json_type_object);
	if (msg == NULL) {
		err = prov_common_bad_body(out, name, "choices[0].message is not an object");
		goto out;
	}
	why = prov_common_get_str(choice, "finish_reason");
	refusal = prov_common_get_str(msg, "refusal");
	if (refusal != NULL && refusal[0] != '\0') {
		char *snip = prov_common_snippet(refusal);

		err = snip ? prov_common_fail(out, PROV_ERR_CLIENT, "%s refused to answer: %s", name, snip)
			   : AIGW_ENOMEM;
		free(snip);
		goto out;
	}
	if (json_object_object_get_ex(msg, "content", &content) && content != NULL) {
		if (!json_object_is_type(content, json_type_string)) {
			err = prov_common_bad_body(out, name, "choices[0].message.content is not a string");
			goto out;
		}
		err = buf_append(&text, json_object_get_string(content),
				 (size_t)json_object_get_string_len(content));
		if (err != AIGW_OK)
			goto out;
	}
	prov_openai_usage(root, &out->input_tokens, &out->output_tokens);
	if ((err = prov_common_model(out, prov_common_get_str(root, "model"))) != AIGW_OK)
		goto out;
	if ((err = annotations(msg, out)) != AIGW_OK)
		goto out;
	if ((err = prov_common_finish(out, name, &text, why)) != AIGW_OK)
		goto out;
	if (out->ok && extra != NULL)
		err = extra(root, out);
out:
	return prov_common_parse_end(out, err, &text, root);
}

enum aigw_err
prov_openai_parse(long status, const char *body, size_t len, struct prov_result *out)
{
	return prov_openai_chat_parse(NAME, status, body, len, out, NULL);
}

/* A named server's answer: its errors say PROV_FORMAT_OPENAI_COMPAT, which
 * prov_result_named() turns into the provider's own name. */
static enum aigw_err
compat_parse(long status, const char *body, size_t len, struct prov_result *out)
{
	return prov_openai_chat_parse(PROV_FORMAT_OPENAI_COMPAT, status, body, len, out, NULL);
}

/* ---- the streamed answer: "data: {chunk}" lines, then "data: [DONE]" ---- */

/* Appends a string field of a chunk's delta: the text to the answer, a
 * refusal to acc's. Refuses a field that is there but not a string. */
static enum aigw_err
chunk_string(struct prov_stream *st, json_object *delta, const char *key, json_object *acc)
{
	json_object *v = NULL;
	struct buf b;
	enum aigw_err err;
	const char *old;

	if (!json_object_object_get_ex(delta, key, &v) || v == NULL)
		return AIGW_OK;
	if (!json_object_is_type(v, json_type_string))
		return prov_stream_bad(st, "a chunk's delta holds a field that is not a string");
	if (strcmp(key, "content") == 0)
		return prov_stream_text(st, json_object_get_string(v),
					(size_t)json_object_get_string_len(v));
	/* A refusal fails the answer and only its first PROV_SNIPPET_MAX bytes
	 * are quoted; keeping a few times that (so the quote is still marked
	 * as cut) bounds the copy made per piece. */
	old = prov_common_get_str(acc, key);
	buf_init(&b, REFUSAL_KEEP);
	err = buf_puts(&b, old ? old : "");
	if (err == AIGW_OK) {
		size_t n = (size_t)json_object_get_string_len(v);

		if (n > REFUSAL_KEEP - b.len)
			n = REFUSAL_KEEP - b.len;
		err = buf_append(&b, json_object_get_string(v), n);
	}
	if (err == AIGW_OK && prov_common_add(acc, key, json_object_new_string_len(b.data ? b.data : "", (int)b.len)) != 0)
		err = AIGW_ENOMEM;
	buf_free(&b);
	return err;
}

/* Annotations (web search's url_citation) come whole in the deltas. */
static enum aigw_err
chunk_annotations(struct prov_stream *st, const struct sse_event *ev, json_object *delta,
		  json_object *acc)
{
	json_object *list = prov_common_get(delta, "annotations", json_type_array);
	json_object *all = prov_common_get(acc, "annotations", json_type_array);
	size_t n = list ? json_object_array_length(list) : 0;
	enum aigw_err err;

	if (n == 0)
		return AIGW_OK;
	if ((err = prov_stream_charge(st, ev->data_len)) != AIGW_OK)
		return err;
	if (all == NULL) {
		if (prov_common_add(acc, "annotations", json_object_new_array()) != 0)
			return AIGW_ENOMEM;
		all = prov_common_get(acc, "annotations", json_type_array);
	}
	for (size_t i = 0; i < n; i++) {
		/* A hostile stream cannot grow the list past what a result keeps. */
		if (json_object_array_length(all) >= 4 * PROV_CITATIONS_MAX)
			break;
		if (prov_common_push(all, json_object_get(json_object_array_get_idx(list, i))) != 0)
			return AIGW_ENOMEM;
	}
	return AIGW_OK;
}

void
prov_openai_usage(json_object *root, long *input, long *output)
{
	json_object *usage = prov_common_get(root, "usage", json_type_object);

	*input = prov_common_get_count(usage, "prompt_tokens");
	*output = prov_common_get_count(usage, "completion_tokens");
}

enum aigw_err
prov_openai_chunk_event(struct prov_stream *st, const struct sse_event *ev, json_object *acc,
			const char *const *extra)
{
	json_object *chunk = NULL, *choices, *choice, *delta, *e;
	const char *why;
	enum aigw_err err;

	if ((err = prov_stream_unnamed(st, ev)) != AIGW_OK)
		return err;
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		prov_stream_done(st);
		return AIGW_OK;
	}
	if ((err = prov_stream_json(st, ev, &chunk)) != AIGW_OK)
		return err;
	if ((e = prov_common_get(chunk, "error", json_type_object)) != NULL) {
		err = prov_stream_error(st, e);
		goto out;
	}
	choices = prov_common_get(chunk, "choices", json_type_array);
	if (choices == NULL) {
		err = prov_stream_bad(st, "a chunk has no choices array");
		goto out;
	}
	err = AIGW_ENOMEM;
	if (prov_stream_keep(acc, "model", prov_common_get(chunk, "model", json_type_string)) != 0 ||
	    prov_stream_keep(acc, "usage", prov_common_get(chunk, "usage", json_type_object)) != 0)
		goto out;
	for (const char *const *k = extra; k != NULL && *k != NULL; k++)
		if (prov_stream_keep(acc, *k, prov_common_get(chunk, *k, json_type_array)) != 0)
			goto out;
	err = AIGW_OK;
	if (json_object_array_length(choices) == 0)
		goto out; /* the usage chunk */
	choice = json_object_array_get_idx(choices, 0);
	delta = prov_common_get(choice, "delta", json_type_object);
	if ((err = chunk_string(st, delta, "content", acc)) != AIGW_OK ||
	    (err = chunk_string(st, delta, "refusal", acc)) != AIGW_OK ||
	    (err = chunk_annotations(st, ev, delta, acc)) != AIGW_OK)
		goto out;
	if ((why = prov_common_get_str(choice, "finish_reason")) != NULL &&
	    prov_common_add(acc, "finish_reason", json_object_new_string(why)) != 0)
		err = AIGW_ENOMEM;
out:
	json_object_put(chunk);
	return err;
}

json_object *
prov_openai_chunk_whole(json_object *acc, const char *text, size_t len, const char *const *extra)
{
	json_object *root = json_object_new_object();
	json_object *msg = json_object_new_object();
	json_object *choice = json_object_new_object();
	json_object *choices = json_object_new_array();
	int rc = 0;

	if (root == NULL || msg == NULL || choice == NULL || choices == NULL)
		goto fail;
	rc |= prov_common_add(msg, "role", json_object_new_string("assistant"));
	rc |= prov_common_add(msg, "content", json_object_new_string_len(text, (int)len));
	rc |= prov_stream_keep(msg, "refusal", prov_common_get(acc, "refusal", json_type_string));
	rc |= prov_stream_keep(msg, "annotations", prov_common_get(acc, "annotations", json_type_array));
	rc |= prov_common_add(choice, "index", json_object_new_int(0));
	rc |= prov_common_add(choice, "message", msg);
	msg = NULL;
	rc |= prov_stream_keep(choice, "finish_reason",
			       prov_common_get(acc, "finish_reason", json_type_string));
	rc |= prov_common_push(choices, choice);
	choice = NULL;
	rc |= prov_common_add(root, "choices", choices);
	choices = NULL;
	rc |= prov_stream_keep(root, "model", prov_common_get(acc, "model", json_type_string));
	rc |= prov_stream_keep(root, "usage", prov_common_get(acc, "usage", json_type_object));
	for (const char *const *k = extra; k != NULL && *k != NULL; k++)
		rc |= prov_stream_keep(root, *k, prov_common_get(acc, *k, json_type_array));
	if (rc == 0)
		return root;
fail:
	json_object_put(msg);
	json_object_put(choice);
	json_object_put(choices);
	json_object_put(root);
	return NULL;
}

static enum aigw_err
stream_event(struct prov_stream *st, const struct sse_event *ev, json_object *acc)
{
	return prov_openai_chunk_event(st, ev, acc, NULL);
}

static json_object *
stream_whole(json_object *acc, const char *text, size_t len)
{
	return prov_openai_chunk_whole(acc, text, len, NULL);
}

const struct prov_stream_format prov_openai_stream = {
	.name = NAME,
	.event = stream_event,
	.whole = stream_whole,
	.parse = prov_openai_parse,
	.usage = prov_openai_usage,
	.build = build_stream,
};

const struct prov_stream_format prov_openai_compat_stream = {
	.name = PROV_FORMAT_OPENAI_COMPAT,
	.event = stream_event,
	.whole = stream_whole,
	.parse = compat_parse,
	.usage = prov_openai_usage,
	.build = compat_build_stream,
};
