/*
 * perplexity.c: the Perplexity Sonar API, POST {base}/chat/completions (API
 * reference "Chat Completions", with "web_search_options" and the
 * "citations" / "search_results" answer fields).
 */
#include <string.h>

#include <json-c/json.h>

#include "providers/common.h"
#include "providers/provider.h"
#include "providers/sse.h"
#include "providers/stream.h"

#define NAME "perplexity"
/* How far into search_results a citation's title is looked for: the lists
 * are a handful long, and a hostile one must not make the lookup quadratic. */
#define TITLE_SCAN_MAX 256

/* {"user_location":{"country":..}}; NULL on ENOMEM. */
static json_object *
web_search_options(const char *country)
{
	json_object *ws = json_object_new_object();
	json_object *loc = json_object_new_object();
	int rc = 0;

	if (loc != NULL)
		rc |= prov_common_add(loc, "country", json_object_new_string(country));
	if (ws != NULL) {
		rc |= prov_common_add(ws, "user_location", loc);
		loc = NULL;
	}
	if (ws == NULL || rc != 0) {
		json_object_put(ws);
		ws = NULL;
	}
	json_object_put(loc);
	return ws;
}

/* The Chat Completions body as Sonar takes it; NULL on ENOMEM. */
static json_object *
perplexity_body(const struct prov_call *call)
{
	json_object *body;
	int rc = 0;

	if ((body = json_object_new_object()) == NULL)
		return NULL;
	rc |= prov_common_add(body, "model", json_object_new_string(call->model));
	/* Sonar refuses a conversation that does not alternate user and
	 * assistant turns after the system prompt, opening with the user's. */
	rc |= prov_common_add(body, "messages", prov_common_call_messages(call, call->system, true));
	rc |= prov_common_add(body, "max_tokens", json_object_new_int(call->max_tokens));
	/* Sonar always searches, so websearch changes nothing; a location
	 * still localises the search it does anyway. */
	if (prov_common_location(call) != NULL)
		rc |= prov_common_add(body, "web_search_options",
				      web_search_options(prov_common_location(call)));
	/* call->json_output changes nothing here: Sonar's response_format takes
	 * only "json_schema" and "regex", not OpenAI's schemaless "json_object",
	 * and its schemas may not hold unconstrained objects, so a job step that
	 * only says "JSON" has nothing to send; the answer follows the caller's
	 * instruction in the system prompt. */
	if (rc != 0) {
		json_object_put(body);
		body = NULL;
	}
	return body;
}

static const struct prov_scheme scheme = {
	.path = "/chat/completions",
	.auth_name = "Authorization",
	.auth_prefix = "Bearer ",
	.content_type = "application/json",
	.stream_flag = true,
	.body = perplexity_body,
};

enum aigw_err
prov_perplexity_build(const struct prov_config *cfg, const struct prov_call *call,
		      struct prov_http *out)
{
	return prov_scheme_build(&scheme, cfg, call, out);
}

static enum aigw_err
build_stream(const struct prov_config *cfg, const struct prov_call *call, struct prov_http *out)
{
	return prov_scheme_build_stream(&scheme, cfg, call, out);
}

static const char *
title_for(json_object *results, const char *url)
{
	size_t n = results ? json_object_array_length(results) : 0;
	const char *title = NULL;

	for (size_t i = 0; i < n && i < TITLE_SCAN_MAX && title == NULL; i++) {
		json_object *r = json_object_array_get_idx(results, i);
		const char *u = prov_common_get_str(r, "url");

		if (u != NULL && strcmp(u, url) == 0)
			title = prov_common_get_str(r, "title");
	}
	return title;
}

/* "citations" (URLs, numbered as the [n] marks in the text) come first, with
 * a title from "search_results" when it has one; then the other results. */
static enum aigw_err
sources(json_object *root, struct prov_result *out)
{
	json_object *urls = prov_common_get(root, "citations", json_type_array);
	json_object *results = prov_common_get(root, "search_results", json_type_array);
	size_t n = urls ? json_object_array_length(urls) : 0;
	size_t m = results ? json_object_array_length(results) : 0;
	enum aigw_err err = AIGW_OK;

	for (size_t i = 0; i < n && i < PROV_CITATIONS_MAX && err == AIGW_OK; i++) {
		json_object *u = json_object_array_get_idx(urls, i);

		if (json_object_is_type(u, json_type_string))
			err = prov_common_cite(out, json_object_get_string(u),
					       title_for(results, json_object_get_string(u)));
	}
	for (size_t i = 0; i < m && err == AIGW_OK; i++) {
		json_object *r = json_object_array_get_idx(results, i);

		err = prov_common_cite(out, prov_common_get_str(r, "url"), prov_common_get_str(r, "title"));
	}
	return err;
}

enum aigw_err
prov_perplexity_parse(long status, const char *body, size_t len, struct prov_result *out)
{
	return prov_openai_chat_parse(NAME, status, body, len, out, sources);
}

/* ---- the streamed answer: OpenAI-style chunks, whose citations and
 * search_results grow as the search goes; the last ones are the answer's ---- */

static const char *const stream_extra[] = { "citations", "search_results", NULL };

static enum aigw_err
stream_event(struct prov_stream *st, const struct sse_event *ev, json_object *acc)
{
	return prov_openai_chunk_event(st, ev, acc, stream_extra);
}

static json_object *
stream_whole(json_object *acc, const char *text, size_t len)
{
	return prov_openai_chunk_whole(acc, text, len, stream_extra);
}

const struct prov_stream_format prov_perplexity_stream = {
	.name = NAME,
	.event = stream_event,
	.usage = prov_openai_usage,
	.whole = stream_whole,
	.parse = prov_perplexity_parse,
	.build = build_stream,
	/* Sonar's stream may stop after the chunk that gives the finish
	 * reason, without OpenAI's [DONE]. */
	.end_key = "finish_reason",
};
