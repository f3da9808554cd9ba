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

#define NAME "openai"

json_object *
prov_openai_messages(const struct prov_call *call)
{
	return prov_common_messages(call->system, call->message);
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
	.body = prov_openai_body,
};

enum aigw_err
prov_openai_build(const struct prov_config *cfg, const struct prov_call *call,
		  struct prov_http *out)
{
	return prov_scheme_build(&scheme, cfg, call, out);
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
	json_object *root = NULL, *choices, *choice, *msg, *content = NULL, *usage;
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
	usage = prov_common_get(root, "usage", json_type_object);
	out->input_tokens = prov_common_get_count(usage, "prompt_tokens");
	out->output_tokens = prov_common_get_count(usage, "completion_tokens");
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
