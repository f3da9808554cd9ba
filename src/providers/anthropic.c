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
#include "providers/sse.h"
#include "providers/stream.h"

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
	return prov_common_call_messages(call, NULL, false);
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
	.stream_flag = true,
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

static enum aigw_err
build_stream(const struct prov_config *cfg, const struct prov_call *call, struct prov_http *out)
{
	return prov_scheme_build_stream(&scheme, cfg, call, out);
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

static void
usage_of(json_object *root, long *input, long *output)
{
	json_object *usage = prov_common_get(root, "usage", json_type_object);

	*input = prov_common_get_count(usage, "input_tokens");
	*output = prov_common_get_count(usage, "output_tokens");
}

enum aigw_err
prov_anthropic_message_parse(const char *name, long status, const char *body, size_t len,
			     struct prov_result *out)
{
	json_object *root = NULL, *content;
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
	usage_of(root, &out->input_tokens, &out->output_tokens);
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

/* ---- the streamed answer: message_start, then per content block
 * content_block_start / _delta / _stop, message_delta (stop reason and
 * cumulative usage), message_stop; ping and error may come anywhere ---- */

/* acc: "message" (message_start's), "blocks" (the content blocks, each text
 * block with "_from"/"_to": its bytes of the stream's text, joined only at
 * the end so that a long answer is never copied per delta), "open" (the
 * index of the block being read, or absent). */

static json_object *
open_block(json_object *acc, json_object *ev)
{
	json_object *blocks = prov_common_get(acc, "blocks", json_type_array);
	json_object *open = prov_common_get(acc, "open", json_type_int);
	json_object *idx = prov_common_get(ev, "index", json_type_int);

	if (blocks == NULL || open == NULL || idx == NULL ||
	    json_object_get_int64(idx) != json_object_get_int64(open))
		return NULL;
	return json_object_array_get_idx(blocks, json_object_array_length(blocks) - 1);
}

static enum aigw_err
block_start(struct prov_stream *st, json_object *ev, json_object *acc)
{
	json_object *blocks = prov_common_get(acc, "blocks", json_type_array);
	json_object *block = prov_common_get(ev, "content_block", json_type_object);
	json_object *idx = prov_common_get(ev, "index", json_type_int);
	json_object *copy = NULL;
	const char *type = prov_common_get_str(block, "type");
	json_object *t;
	enum aigw_err err = AIGW_ENOMEM;

	if (blocks == NULL || block == NULL || idx == NULL || type == NULL ||
	    prov_common_get(acc, "open", json_type_int) != NULL ||
	    json_object_get_int64(idx) != (int64_t)json_object_array_length(blocks))
		return prov_stream_bad(st, "a content block starts out of order");
	if (json_object_deep_copy(block, &copy, NULL) != 0 || copy == NULL)
		return AIGW_ENOMEM;
	if (strcmp(type, "text") == 0) {
		t = prov_common_get(copy, "text", json_type_string);
		if (prov_common_add(copy, "_from", json_object_new_int64((int64_t)prov_stream_text_len(st))) != 0)
			goto out;
		if (t != NULL && (err = prov_stream_text(st, json_object_get_string(t),
							 (size_t)json_object_get_string_len(t))) != AIGW_OK)
			goto out;
		json_object_object_del(copy, "text");
	}
	err = AIGW_ENOMEM;
	if (prov_common_push(blocks, copy) != 0) {
		copy = NULL;
		goto out;
	}
	copy = NULL;
	if (prov_common_add(acc, "open", json_object_get(idx)) != 0)
		goto out;
	err = AIGW_OK;
out:
	json_object_put(copy);
	return err;
}

static enum aigw_err
block_delta(struct prov_stream *st, json_object *ev, size_t size, json_object *acc)
{
	json_object *block = open_block(acc, ev);
	json_object *delta = prov_common_get(ev, "delta", json_type_object);
	const char *type = prov_common_get_str(delta, "type");
	json_object *t, *cites;
	enum aigw_err err;

	if (block == NULL || type == NULL)
		return prov_stream_bad(st, "a delta for a block that is not open");
	if (strcmp(type, "text_delta") == 0) {
		if (prov_common_get(block, "_from", json_type_int) == NULL ||
		    (t = prov_common_get(delta, "text", json_type_string)) == NULL)
			return prov_stream_bad(st, "a text delta is not text");
		return prov_stream_text(st, json_object_get_string(t), (size_t)json_object_get_string_len(t));
	}
	if (strcmp(type, "citations_delta") == 0) {
		json_object *c = prov_common_get(delta, "citation", json_type_object);

		if (c == NULL)
			return prov_stream_bad(st, "a citations delta has no citation");
		if ((err = prov_stream_charge(st, size)) != AIGW_OK)
			return err;
		if ((cites = prov_common_get(block, "citations", json_type_array)) == NULL) {
			if (prov_common_add(block, "citations", json_object_new_array()) != 0)
				return AIGW_ENOMEM;
			cites = prov_common_get(block, "citations", json_type_array);
		}
		if (json_object_array_length(cites) >= 4 * PROV_CITATIONS_MAX)
			return AIGW_OK;
		return prov_common_push(cites, json_object_get(c)) != 0 ? AIGW_ENOMEM : AIGW_OK;
	}
	return AIGW_OK; /* a tool's input_json_delta, thinking: not the answer */
}

static enum aigw_err
block_stop(struct prov_stream *st, json_object *ev, json_object *acc)
{
	json_object *block = open_block(acc, ev);

	if (block == NULL)
		return prov_stream_bad(st, "a block stops that is not open");
	if (prov_common_get(block, "_from", json_type_int) != NULL &&
	    prov_common_add(block, "_to", json_object_new_int64((int64_t)prov_stream_text_len(st))) != 0)
		return AIGW_ENOMEM;
	json_object_object_del(acc, "open");
	return AIGW_OK;
}

/* message_delta's usage counts are cumulative: they replace the start's. */
static enum aigw_err
message_delta(struct prov_stream *st, json_object *ev, json_object *acc)
{
	json_object *msg = prov_common_get(acc, "message", json_type_object);
	json_object *delta = prov_common_get(ev, "delta", json_type_object);
	json_object *usage = prov_common_get(ev, "usage", json_type_object);
	json_object *mu;

	if (msg == NULL)
		return prov_stream_bad(st, "message_delta before message_start");
	if (prov_stream_keep(msg, "stop_reason", prov_common_get(delta, "stop_reason", json_type_string)) != 0)
		return AIGW_ENOMEM;
	if (usage == NULL)
		return AIGW_OK;
	if ((mu = prov_common_get(msg, "usage", json_type_object)) == NULL) {
		if (prov_common_add(msg, "usage", json_object_new_object()) != 0)
			return AIGW_ENOMEM;
		mu = prov_common_get(msg, "usage", json_type_object);
	}
	json_object_object_foreach(usage, k, v) {
		if (v != NULL && prov_stream_keep(mu, k, v) != 0)
			return AIGW_ENOMEM;
	}
	return AIGW_OK;
}

static enum aigw_err
message_start(struct prov_stream *st, json_object *ev, json_object *acc)
{
	json_object *msg = prov_common_get(ev, "message", json_type_object);
	json_object *copy = NULL;

	if (msg == NULL || prov_common_get(acc, "message", json_type_object) != NULL)
		return prov_stream_bad(st, "message_start is missing or repeated");
	if (json_object_deep_copy(msg, &copy, NULL) != 0 || copy == NULL)
		return AIGW_ENOMEM;
	json_object_object_del(copy, "content");
	if (prov_common_add(acc, "message", copy) != 0 ||
	    prov_common_add(acc, "blocks", json_object_new_array()) != 0)
		return AIGW_ENOMEM;
	return AIGW_OK;
}

static enum aigw_err
stream_event(struct prov_stream *st, const struct sse_event *ev, json_object *acc)
{
	json_object *o = NULL;
	const char *type;
	enum aigw_err err;

	if ((err = prov_stream_json(st, ev, &o)) != AIGW_OK)
		return err;
	type = prov_common_get_str(o, "type");
	/* The data says its type; the event name must agree with it. */
	if (type == NULL || (strcmp(ev->name, "message") != 0 && strcmp(ev->name, type) != 0))
		err = prov_stream_bad(st, "an event's type is missing or not its name");
	else if (strcmp(type, "error") == 0)
		err = prov_stream_error(st, prov_common_get(o, "error", json_type_object));
	else if (strcmp(type, "message_start") == 0)
		err = message_start(st, o, acc);
	else if (prov_common_get(acc, "message", json_type_object) == NULL && strcmp(type, "ping") != 0)
		err = prov_stream_bad(st, "an event before message_start");
	else if (strcmp(type, "content_block_start") == 0 &&
		 (err = prov_stream_charge(st, ev->data_len)) == AIGW_OK)
		err = block_start(st, o, acc);
	else if (strcmp(type, "content_block_delta") == 0)
		err = block_delta(st, o, ev->data_len, acc);
	else if (strcmp(type, "content_block_stop") == 0)
		err = block_stop(st, o, acc);
	else if (strcmp(type, "message_delta") == 0 &&
		 (err = prov_stream_charge(st, ev->data_len)) == AIGW_OK)
		err = message_delta(st, o, acc);
	else if (strcmp(type, "message_stop") == 0)
		prov_stream_done(st);
	/* ping, and the event types Anthropic documents it may add: skipped. */
	json_object_put(o);
	return err;
}

static json_object *
stream_whole(json_object *acc, const char *text, size_t len)
{
	json_object *msg = prov_common_get(acc, "message", json_type_object);
	json_object *blocks = prov_common_get(acc, "blocks", json_type_array);
	json_object *root = NULL;
	size_t n = blocks ? json_object_array_length(blocks) : 0;

	if (msg == NULL || json_object_deep_copy(msg, &root, NULL) != 0 || root == NULL)
		return msg == NULL ? json_object_new_object() : NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(blocks, i);
		json_object *from = prov_common_get(b, "_from", json_type_int);
		json_object *to = prov_common_get(b, "_to", json_type_int);
		size_t f, t;

		if (from == NULL)
			continue;
		f = (size_t)json_object_get_int64(from);
		t = to != NULL ? (size_t)json_object_get_int64(to) : len;
		if (f > len || t > len || t < f)
			f = t = len;
		if (prov_common_add(b, "text", json_object_new_string_len(text + f, (int)(t - f))) != 0)
			goto fail;
		json_object_object_del(b, "_from");
		json_object_object_del(b, "_to");
	}
	if (prov_stream_keep(root, "content", blocks) == 0)
		return root;
fail:
	json_object_put(root);
	return NULL;
}

const struct prov_stream_format prov_anthropic_stream = {
	.name = NAME,
	.event = stream_event,
	.whole = stream_whole,
	.parse = prov_anthropic_parse,
	.usage = usage_of,
	.build = build_stream,
};
