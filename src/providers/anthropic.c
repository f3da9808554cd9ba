/*
 * anthropic.c: the Anthropic Messages API, POST {base}/v1/messages (API
 * reference "Messages", with the "Web search tool").
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

#define NAME "anthropic"
#define API_VERSION "2023-06-01"
#define WEB_SEARCH_TOOL "web_search_20250305"
/* Each search is billed; five is enough to ground one answer. */
#define WEB_SEARCH_MAX_USES 5

/* [{"type":"web_search_20250305","name":"web_search","max_uses":5,
 *   "user_location":{"type":"approximate","country":..}}]; NULL on ENOMEM. */
static json_object *
web_search_tools(const struct prov_call *call)
{
	const char *country = prov_common_location(call);
	json_object *tools = json_object_new_array();
	json_object *tool = json_object_new_object();
	json_object *loc = NULL;
	int rc = 0;

	if (tools == NULL || tool == NULL)
		goto fail;
	rc |= prov_common_add(tool, "type", json_object_new_string(WEB_SEARCH_TOOL));
	rc |= prov_common_add(tool, "name", json_object_new_string("web_search"));
	rc |= prov_common_add(tool, "max_uses", json_object_new_int(WEB_SEARCH_MAX_USES));
	if (country != NULL) {
		loc = json_object_new_object();
		if (loc != NULL) {
			rc |= prov_common_add(loc, "type", json_object_new_string("approximate"));
			rc |= prov_common_add(loc, "country", json_object_new_string(country));
		}
		rc |= prov_common_add(tool, "user_location", loc);
	}
	rc |= prov_common_push(tools, tool);
	tool = NULL;
	if (rc == 0)
		goto out;
fail:
	json_object_put(tool);
	json_object_put(tools);
	tools = NULL;
out:
	return tools;
}

/* The Messages API takes the system prompt beside the messages, not as one. */
static json_object *
messages(const struct prov_call *call)
{
	return prov_common_messages(NULL, call->message);
}

json_object *
prov_anthropic_body(const struct prov_call *call)
{
	json_object *body = json_object_new_object();
	int rc = 0;

	if (body == NULL)
		goto out;
	rc |= prov_common_add(body, "model", json_object_new_string(call->model));
	rc |= prov_common_add(body, "max_tokens", json_object_new_int(call->max_tokens));
	/* The Messages API takes the system prompt beside the messages, not as one. */
	if (call->system != NULL && call->system[0] != '\0')
		rc |= prov_common_add(body, "system", json_object_new_string(call->system));
	rc |= prov_common_add(body, "messages", messages(call));
	if (call->websearch)
		rc |= prov_common_add(body, "tools", web_search_tools(call));
	/* call->json_output changes nothing here: the Messages API has no JSON
	 * mode without a schema (its structured outputs, output_config.format,
	 * require a JSON Schema, and a job step gives none), so the answer
	 * follows the caller's instruction in the system prompt. */
	if (rc != 0) {
		json_object_put(body);
		body = NULL;
	}
out:
	return body;
}

static const struct prov_fixed_header fixed[] = {
	{ "anthropic-version", API_VERSION },
	{ NULL, NULL },
};

static const struct prov_scheme scheme = {
	.path = "/v1/messages",
	.auth_name = "x-api-key",
	.fixed = fixed,
	.content_type = "application/json",
	.body = prov_anthropic_body,
};

enum aigw_err
prov_anthropic_headers(struct prov_http *h, const char *api_key)
{
	return prov_scheme_headers(&scheme, h, api_key);
}

enum aigw_err
prov_anthropic_build(const struct prov_config *cfg, const struct prov_call *call,
		     struct prov_http *out)
{
	return prov_scheme_build(&scheme, cfg, call, out);
}

/* Sources found but not cited: the web_search_tool_result blocks. Their
 * content is an array of results, or an error object when the search failed. */
static enum aigw_err
search_results(json_object *content, struct prov_result *out)
{
	size_t n = json_object_array_length(content);
	enum aigw_err err = AIGW_OK;

	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		json_object *block = json_object_array_get_idx(content, i);
		const char *type = prov_common_get_str(block, "type");
		json_object *results = prov_common_get(block, "content", json_type_array);
		size_t m = results ? json_object_array_length(results) : 0;

		if (type == NULL || strcmp(type, "web_search_tool_result") != 0)
			continue;
		for (size_t j = 0; j < m && err == AIGW_OK; j++) {
			json_object *r = json_object_array_get_idx(results, j);

			err = prov_common_cite(out, prov_common_get_str(r, "url"),
					       prov_common_get_str(r, "title"));
		}
	}
	return err;
}

/* The answer is every text block joined (a searched answer comes in several);
 * the sources each block cites come first. Sets *what on a malformed block. */
static enum aigw_err
text_blocks(json_object *content, struct buf *text, struct prov_result *out, const char **what)
{
	size_t n = json_object_array_length(content);
	enum aigw_err err = AIGW_OK;

	*what = NULL;
	for (size_t i = 0; i < n && err == AIGW_OK && *what == NULL; i++) {
		json_object *block = json_object_array_get_idx(content, i);
		const char *type = prov_common_get_str(block, "type");
		json_object *t, *cites;
		size_t m;

		if (type == NULL) {
			*what = "a content block has no type";
			break;
		}
		if (strcmp(type, "text") != 0)
			continue;
		t = prov_common_get(block, "text", json_type_string);
		if (t == NULL) {
			*what = "a text block's text is not a string";
			break;
		}
		err = buf_append(text, json_object_get_string(t), (size_t)json_object_get_string_len(t));
		cites = prov_common_get(block, "citations", json_type_array);
		m = cites ? json_object_array_length(cites) : 0;
		for (size_t j = 0; j < m && err == AIGW_OK; j++) {
			json_object *c = json_object_array_get_idx(cites, j);

			err = prov_common_cite(out, prov_common_get_str(c, "url"),
					       prov_common_get_str(c, "title"));
		}
	}
	return err;
}

enum aigw_err
prov_anthropic_message_parse(const char *name, long status, const char *body, size_t len,
			     struct prov_result *out)
{
	json_object *root = NULL, *content, *usage;
	const char *what = NULL;
	struct buf text;
	enum aigw_err err;

	buf_init(&text, len);
	err = prov_common_begin(name, status, body, len, out, &root);
	if (err != AIGW_OK || out->errclass != PROV_ERR_NONE)
		goto out;
	content = prov_common_get(root, "content", json_type_array);
	if (content == NULL) {
		err = prov_common_bad_body(out, name, "content is not an array");
		goto out;
	}
	if ((err = text_blocks(content, &text, out, &what)) != AIGW_OK)
		goto out;
	if (what != NULL) {
		err = prov_common_bad_body(out, name, what);
		goto out;
	}
	if ((err = search_results(content, out)) != AIGW_OK)
		goto out;
	usage = prov_common_get(root, "usage", json_type_object);
	out->input_tokens = prov_common_get_count(usage, "input_tokens");
	out->output_tokens = prov_common_get_count(usage, "output_tokens");
	if ((err = prov_common_model(out, prov_common_get_str(root, "model"))) != AIGW_OK)
		goto out;
	err = prov_common_finish(out, name, &text, prov_common_get_str(root, "stop_reason"));
out:
	return prov_common_parse_end(out, err, &text, root);
}

enum aigw_err
prov_anthropic_parse(long status, const char *body, size_t len, struct prov_result *out)
{
	return prov_anthropic_message_parse(NAME, status, body, len, out);
}
