/*
 * gemini.c: the Gemini API, POST {base}/v1beta/models/{model}:generateContent
 * (API reference "Generating content", with "Grounding with Google Search"
 * and GenerationConfig.responseMimeType for JSON mode).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"
#include "providers/sse.h"
#include "providers/stream.h"

#define NAME "gemini"

/* {"parts":[{"text":s}]}, the shape of both a content and the system
 * instruction; NULL on ENOMEM. */
static json_object *
content(const char *role, const char *s)
{
	json_object *c = json_object_new_object();
	json_object *parts = json_object_new_array();
	json_object *part = json_object_new_object();
	int rc = 0;

	if (part != NULL)
		rc |= prov_common_add(part, "text", json_object_new_string(s));
	if (parts != NULL) {
		rc |= prov_common_push(parts, part);
		part = NULL;
	}
	if (c != NULL) {
		if (role != NULL)
			rc |= prov_common_add(c, "role", json_object_new_string(role));
		rc |= prov_common_add(c, "parts", parts);
		parts = NULL;
	}
	if (c == NULL || rc != 0) {
		json_object_put(c);
		c = NULL;
	}
	json_object_put(part);
	json_object_put(parts);
	return c;
}

/* One-element array holding v (taken); NULL on ENOMEM. */
static json_object *
array_of(json_object *v)
{
	json_object *a = json_object_new_array();

	if (a == NULL || prov_common_push(a, v) != 0) {
		if (a == NULL)
			json_object_put(v);
		json_object_put(a);
		a = NULL;
	}
	return a;
}

/*
 * {"maxOutputTokens":n}, plus "responseMimeType":"application/json" (JSON
 * mode: the candidate's text is JSON) when the call wants a JSON object. Not
 * with Google Search: before Gemini 3 the API refuses a JSON response type
 * together with a tool (400 INVALID_ARGUMENT), which no retry can fix, so a
 * grounded call relies on the caller's instruction in the system prompt, as
 * Anthropic and Perplexity calls do. NULL on ENOMEM.
 */
static json_object *
generation_config(const struct prov_call *call)
{
	json_object *g = json_object_new_object();
	int rc = 0;

	if (g == NULL)
		goto out;
	rc |= prov_common_add(g, "maxOutputTokens", json_object_new_int(call->max_tokens));
	if (call->json_output && !call->websearch)
		rc |= prov_common_add(g, "responseMimeType", json_object_new_string("application/json"));
	if (rc != 0) {
		json_object_put(g);
		g = NULL;
	}
out:
	return g;
}

/* [{"google_search":{}}]: the Gemini 2 tool; it takes no location. */
static json_object *
search_tools(void)
{
	json_object *tool = json_object_new_object();

	if (tool != NULL && prov_common_add(tool, "google_search", json_object_new_object()) != 0) {
		json_object_put(tool);
		tool = NULL;
	}
	return tool == NULL ? NULL : array_of(tool);
}

/* "/v1beta/models/<model><method>" with the model escaped, so a model
 * name can never reach another path or a query. */
static enum aigw_err
model_path(const struct prov_call *call, const char *method, char **path)
{
	const char *model = call->model;
	struct buf b;
	char *esc = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	buf_init(&b, 64 * 1024);
	*path = NULL;
	/* "models/gemini-2.5-flash" is the resource name Google's own listings show. */
	if (strncmp(model, "models/", 7) == 0 && model[7] != '\0')
		model += 7;
	if ((esc = prov_common_escape(model)) == NULL)
		goto out;
	if ((err = buf_printf(&b, "/v1beta/models/%s%s", esc, method)) != AIGW_OK)
		goto out;
	err = buf_steal(&b, path);
out:
	free(esc);
	buf_free(&b);
	/* Past the ceiling, the model name is not one. */
	return err == AIGW_ETOOBIG ? AIGW_EINVAL : err;
}

static enum aigw_err
path_for(const struct prov_call *call, char **path)
{
	return model_path(call, ":generateContent", path);
}

/* "/v1beta/models/<model>:streamGenerateContent?alt=sse": server-sent
 * events rather than the default JSON array, so the framer reads it. */
static enum aigw_err
stream_path_for(const struct prov_call *call, char **path)
{
	return model_path(call, ":streamGenerateContent?alt=sse", path);
}

/* The call's contents: its turns, the assistant's under Gemini's name for
 * it ("model"), or its message alone as the user's; NULL on ENOMEM. */
static json_object *
contents(const struct prov_call *call)
{
	json_object *list;
	int rc = 0;

	if (call->nturns == 0)
		return array_of(content("user", call->message));
	if ((list = json_object_new_array()) == NULL)
		return NULL;
	for (size_t i = 0; i < call->nturns && rc == 0; i++) {
		const struct prov_turn *t = &call->turns[i];

		rc |= prov_common_push(list, content(strcmp(t->role, "user") == 0 ? "user" : "model",
						     t->content));
	}
	if (rc != 0) {
		json_object_put(list);
		list = NULL;
	}
	return list;
}

/* The generateContent body of a call; NULL on ENOMEM. */
static json_object *
gemini_body(const struct prov_call *call)
{
	json_object *body;
	int rc = 0;

	if ((body = json_object_new_object()) == NULL)
		return NULL;
	rc |= prov_common_add(body, "contents", contents(call));
	if (call->system != NULL && call->system[0] != '\0')
		rc |= prov_common_add(body, "systemInstruction", content(NULL, call->system));
	rc |= prov_common_add(body, "generationConfig", generation_config(call));
	if (call->websearch)
		rc |= prov_common_add(body, "tools", search_tools());
	if (rc != 0) {
		json_object_put(body);
		body = NULL;
	}
	return body;
}

/* The key goes in a header: a ?key= query would end up in access logs. */
static const struct prov_scheme scheme = {
	.path_of = path_for,
	.stream_path_of = stream_path_for,
	.auth_name = "x-goog-api-key",
	.content_type = "application/json",
	.body = gemini_body,
};

enum aigw_err
prov_gemini_build(const struct prov_config *cfg, const struct prov_call *call,
		  struct prov_http *out)
{
	return prov_scheme_build(&scheme, cfg, call, out);
}

static enum aigw_err
build_stream(const struct prov_config *cfg, const struct prov_call *call, struct prov_http *out)
{
	return prov_scheme_build_stream(&scheme, cfg, call, out);
}

/* Google answers a wrong key with 400 INVALID_ARGUMENT; its details say so. */
static bool
key_invalid(json_object *root)
{
	json_object *e = prov_common_get(root, "error", json_type_object);
	json_object *details = prov_common_get(e, "details", json_type_array);
	size_t n = details ? json_object_array_length(details) : 0;
	bool found = false;

	for (size_t i = 0; i < n && !found; i++) {
		const char *reason = prov_common_get_str(json_object_array_get_idx(details, i), "reason");

		found = reason != NULL && strcmp(reason, "API_KEY_INVALID") == 0;
	}
	return found;
}

/* candidates[0].groundingMetadata.groundingChunks[].web {uri, title}. */
static enum aigw_err
grounding(json_object *cand, struct prov_result *out)
{
	json_object *meta = prov_common_get(cand, "groundingMetadata", json_type_object);
	json_object *chunks = prov_common_get(meta, "groundingChunks", json_type_array);
	size_t n = chunks ? json_object_array_length(chunks) : 0;
	enum aigw_err err = AIGW_OK;

	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		json_object *web = prov_common_get(json_object_array_get_idx(chunks, i), "web",
						   json_type_object);

		err = prov_common_cite(out, prov_common_get_str(web, "uri"),
				       prov_common_get_str(web, "title"));
	}
	return err;
}

/* Joins the text parts of a candidate; skips thought summaries, which are
 * not the answer. Sets *what when the candidate is malformed. */
static enum aigw_err
candidate_text(json_object *cand, struct buf *text, const char **what)
{
	json_object *c = NULL, *parts = NULL;
	size_t n;
	enum aigw_err err = AIGW_OK;

	*what = NULL;
	if (json_object_object_get_ex(cand, "content", &c) &&
	    !json_object_is_type(c, json_type_object)) {
		*what = "candidates[0].content is not an object";
		goto out;
	}
	if (json_object_object_get_ex(c, "parts", &parts) &&
	    !json_object_is_type(parts, json_type_array)) {
		*what = "candidates[0].content.parts is not an array";
		goto out;
	}
	n = parts ? json_object_array_length(parts) : 0;
	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		json_object *part = json_object_array_get_idx(parts, i);
		json_object *t = NULL, *thought = prov_common_get(part, "thought", json_type_boolean);

		if (!json_object_is_type(part, json_type_object)) {
			*what = "a part is not an object";
			goto out;
		}
		if (thought != NULL && json_object_get_boolean(thought))
			continue;
		if (!json_object_object_get_ex(part, "text", &t))
			continue; /* a function call or inline data: not text */
		if (!json_object_is_type(t, json_type_string)) {
			*what = "a part's text is not a string";
			goto out;
		}
		err = buf_append(text, json_object_get_string(t), (size_t)json_object_get_string_len(t));
	}
out:
	return err;
}

/* The first candidate of an answer or chunk into *cand (NULL when there is
 * none) and its text appended to text; *what set when it is malformed. */
static enum aigw_err
first_candidate(json_object *root, json_object **cand, struct buf *text, const char **what)
{
	json_object *cands = NULL;

	*cand = NULL;
	*what = NULL;
	if (json_object_object_get_ex(root, "candidates", &cands) &&
	    !json_object_is_type(cands, json_type_array)) {
		*what = "candidates is not an array";
		return AIGW_OK;
	}
	if (cands == NULL || json_object_array_length(cands) == 0)
		return AIGW_OK;
	*cand = json_object_array_get_idx(cands, 0);
	if (!json_object_is_type(*cand, json_type_object)) {
		*what = "candidates[0] is not an object";
		return AIGW_OK;
	}
	return candidate_text(*cand, text, what);
}

static void
usage_of(json_object *root, long *input, long *output)
{
	json_object *usage = prov_common_get(root, "usageMetadata", json_type_object);
	long cand_tokens, thought_tokens;

	*input = prov_common_get_count(usage, "promptTokenCount");
	/* Thinking tokens are billed as output, as OpenAI and Anthropic count them. */
	cand_tokens = prov_common_get_count(usage, "candidatesTokenCount");
	thought_tokens = prov_common_get_count(usage, "thoughtsTokenCount");
	if (thought_tokens < 0)
		thought_tokens = 0;
	*output = cand_tokens < 0 || cand_tokens > LONG_MAX - thought_tokens ?
		  -1 : cand_tokens + thought_tokens;
}

enum aigw_err
prov_gemini_parse(long status, const char *body, size_t len, struct prov_result *out)
{
	json_object *root = NULL, *cand;
	const char *block, *what = NULL;
	struct buf text;
	enum aigw_err err;

	buf_init(&text, len);
	err = prov_common_begin(NAME, status, body, len, out, &root);
	if (err != AIGW_OK)
		goto out;
	if (out->errclass != PROV_ERR_NONE) {
		if (status == 400 && key_invalid(root))
			out->errclass = PROV_ERR_AUTH;
		goto out;
	}
	block = prov_common_get_str(prov_common_get(root, "promptFeedback", json_type_object),
				    "blockReason");
	if (block != NULL) {
		char *snip = prov_common_snippet(block);

		err = snip ? prov_common_fail(out, PROV_ERR_CLIENT, "%s blocked the prompt: %s", NAME, snip)
			   : AIGW_ENOMEM;
		free(snip);
		goto out;
	}
	if ((err = first_candidate(root, &cand, &text, &what)) != AIGW_OK)
		goto out;
	if (what != NULL) {
		err = prov_common_bad_body(out, NAME, what);
		goto out;
	}
	if (cand == NULL) {
		err = prov_common_fail(out, PROV_ERR_CLIENT, "%s returned no candidates", NAME);
		goto out;
	}
	usage_of(root, &out->input_tokens, &out->output_tokens);
	if ((err = prov_common_model(out, prov_common_get_str(root, "modelVersion"))) != AIGW_OK)
		goto out;
	if ((err = grounding(cand, out)) != AIGW_OK)
		goto out;
	err = prov_common_finish(out, NAME, &text, prov_common_get_str(cand, "finishReason"));
out:
	return prov_common_parse_end(out, err, &text, root);
}

/* ---- the streamed answer (streamGenerateContent?alt=sse): each event a
 * GenerateContentResponse with the candidate's new parts; usage, model and
 * grounding as far as known, the last chunk with the finish reason ---- */

static enum aigw_err
stream_event(struct prov_stream *st, const struct sse_event *ev, json_object *acc)
{
	json_object *chunk = NULL, *cand, *e;
	const char *what = NULL;
	struct buf text;
	enum aigw_err err;

	buf_init(&text, PROV_STREAM_TEXT_MAX);
	if ((err = prov_stream_unnamed(st, ev)) != AIGW_OK ||
	    (err = prov_stream_json(st, ev, &chunk)) != AIGW_OK)
		goto out;
	if ((e = prov_common_get(chunk, "error", json_type_object)) != NULL) {
		err = prov_stream_error(st, e);
		goto out;
	}
	/* A blocked prompt's stream ends with the feedback alone. */
	if (prov_common_get_str(prov_common_get(chunk, "promptFeedback", json_type_object),
				"blockReason") != NULL)
		prov_stream_done(st);
	err = AIGW_ENOMEM;
	if (prov_stream_keep(acc, "usageMetadata", prov_common_get(chunk, "usageMetadata", json_type_object)) != 0 ||
	    prov_stream_keep(acc, "modelVersion", prov_common_get(chunk, "modelVersion", json_type_string)) != 0 ||
	    prov_stream_keep(acc, "promptFeedback", prov_common_get(chunk, "promptFeedback", json_type_object)) != 0)
		goto out;
	err = AIGW_OK;
	if ((err = first_candidate(chunk, &cand, &text, &what)) != AIGW_OK)
		goto out;
	if (what != NULL) {
		err = prov_stream_bad(st, what);
		goto out;
	}
	if (cand == NULL)
		goto out; /* a chunk of usage or feedback alone */
	if ((err = prov_stream_text(st, text.data ? text.data : "", text.len)) != AIGW_OK)
		goto out;
	if (prov_common_add(acc, "candidate", json_object_new_boolean(1)) != 0 ||
	    prov_stream_keep(acc, "finishReason", prov_common_get(cand, "finishReason", json_type_string)) != 0 ||
	    prov_stream_keep(acc, "groundingMetadata",
			     prov_common_get(cand, "groundingMetadata", json_type_object)) != 0)
		err = AIGW_ENOMEM;
out:
	buf_free(&text);
	json_object_put(chunk);
	return err;
}

static json_object *
stream_whole(json_object *acc, const char *text, size_t len)
{
	json_object *root = json_object_new_object();
	json_object *cand = NULL, *part = NULL;
	int rc = 0;

	if (root == NULL)
		return NULL;
	if (prov_common_get(acc, "candidate", json_type_boolean) != NULL) {
		cand = json_object_new_object();
		part = json_object_new_object();
		if (part != NULL)
			rc |= prov_common_add(part, "text", json_object_new_string_len(text, (int)len));
		if (cand != NULL) {
			json_object *c = json_object_new_object();

			if (c != NULL)
				rc |= prov_common_add(c, "parts", array_of(part));
			else
				json_object_put(part);
			part = NULL;
			rc |= prov_common_add(cand, "content", c);
			rc |= prov_stream_keep(cand, "finishReason",
					       prov_common_get(acc, "finishReason", json_type_string));
			rc |= prov_stream_keep(cand, "groundingMetadata",
					       prov_common_get(acc, "groundingMetadata", json_type_object));
		}
		rc |= prov_common_add(root, "candidates", array_of(cand));
		cand = NULL;
	}
	json_object_put(part);
	rc |= prov_stream_keep(root, "usageMetadata", prov_common_get(acc, "usageMetadata", json_type_object));
	rc |= prov_stream_keep(root, "modelVersion", prov_common_get(acc, "modelVersion", json_type_string));
	rc |= prov_stream_keep(root, "promptFeedback", prov_common_get(acc, "promptFeedback", json_type_object));
	if (rc != 0) {
		json_object_put(root);
		root = NULL;
	}
	return root;
}

const struct prov_stream_format prov_gemini_stream = {
	.name = NAME,
	.event = stream_event,
	.whole = stream_whole,
	.parse = prov_gemini_parse,
	.usage = usage_of,
	.build = build_stream,
	/* No final event: the last chunk carries the finish reason; a blocked
	 * prompt ends with the feedback alone. */
	.end_key = "finishReason",
};
