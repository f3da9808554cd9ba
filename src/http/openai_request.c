/* openai_request.c: the /v1/ request bodies as one provider's chat (see
 * openai_request.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "http/chat.h"
#include "http/openai_request.h"
#include "providers/provider.h"

bool
oa_model_split(const char *model, char provider[OA_PROVIDER_MAX], const char **model_part,
	       struct http_field_error *e)
{
	const char *slash = strchr(model, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(provider, OA_PROVIDER_MAX, "openai");
		*model_part = model;
	} else {
		n = (size_t)(slash - model);
		if (n == 0 || n >= OA_PROVIDER_MAX) {
			http_field_error_set(e, 400, "unknown_provider", "model",
					     "model must be provider/model, e.g. anthropic/claude-3-5-haiku-latest");
			return false;
		}
		memcpy(provider, model, n);
		provider[n] = '\0';
		*model_part = slash + 1;
	}
	if (**model_part == '\0') {
		http_field_error_set(e, 400, "invalid_value", "model",
				     "model names no model after '%s/'", provider);
		return false;
	}
	return true;
}

bool
oa_provider_known(const struct aigw_config *cfg, const char *provider,
		  struct http_field_error *e)
{
	if (prov_find_in(cfg, provider) != NULL)
		return true;
	http_field_error_set(e, 400, "unknown_provider", "model",
			     "unknown provider '%.*s' in model: see GET /v1/models",
			     (int)utf8_cut(provider, 32), provider);
	return false;
}

/* How much of a client's string a message may show: at most max bytes,
 * cut on a character boundary, nothing of text that is not UTF-8 (a
 * JSON escape can decode to a lone surrogate). */
static int
shown(const char *s, size_t max)
{
	return utf8_length(s, strlen(s)) < 0 ? 0 : (int)utf8_cut(s, max);
}

static bool
is_null(json_object *v)
{
	return v == NULL || json_object_is_type(v, json_type_null);
}

/* A member that is present and not null, or NULL. */
static json_object *
member(json_object *o, const char *name)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, name, &v) || is_null(v))
		return NULL;
	return v;
}

static bool
check_string(json_object *v, const char *field, long max, bool empty_ok,
	     struct http_field_error *e)
{
	return http_check_text(v, field, empty_ok ? 0 : 1, max, "invalid_type", "invalid_value", e);
}

static bool
check_bool(json_object *o, const char *name, bool *out, struct http_field_error *e)
{
	json_object *v = member(o, name);

	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_boolean)) {
		http_field_error_set(e, 400, "invalid_type", name, "%s must be true or false", name);
		return false;
	}
	*out = json_object_get_boolean(v);
	return true;
}

/* A sampling parameter: a number from 0 to max, echoed in the object
 * (the providers are not sent it yet: docs/openai.md). */
static bool
check_number(json_object *o, const char *name, double max, struct http_field_error *e)
{
	json_object *v = member(o, name);
	double d;

	if (v == NULL)
		return true;
	d = json_object_get_double(v);
	if ((!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) ||
	    !(d >= 0 && d <= max)) {
		http_field_error_set(e, 400, "invalid_value", name,
				     "%s must be a number from 0 to %g", name, max);
		return false;
	}
	return true;
}

static bool
check_tokens(json_object *o, const char *name, int *out, struct http_field_error *e)
{
	json_object *v = member(o, name);
	int64_t n;

	if (v == NULL)
		return true;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < 1 || n > CHAT_MAX_TOKENS_MAX) {
		http_field_error_set(e, 400, "invalid_value", name,
				     "%s must be a whole number from 1 to %d", name, CHAT_MAX_TOKENS_MAX);
		return false;
	}
	*out = (int)n;
	return true;
}

/* Fields this API does not take yet: refused, not ignored, so that a
 * client never gets an answer to another question than it asked. */
static bool
refuse_unsupported(json_object *o, const char *const *names, struct http_field_error *e)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		json_object *v = member(o, names[i]);

		if (v == NULL)
			continue;
		if (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0)
			continue;
		http_field_error_set(e, 400, "unsupported_parameter", names[i],
				     "%s is not supported by aigw yet (docs/openai.md)", names[i]);
		return false;
	}
	return true;
}

static bool
model_of(json_object *root, struct oa_request *out, struct http_field_error *e)
{
	json_object *v = member(root, "model");
	const char *part;

	if (v == NULL) {
		http_field_error_set(e, 400, "missing_required_parameter", "model", "model is required");
		return false;
	}
	if (!check_string(v, "model", OA_PROVIDER_MAX + CHAT_MODEL_NAME_MAX, false, e) ||
	    !oa_model_split(json_object_get_string(v), out->provider, &part, e))
		return false;
	if (utf8_length(part, strlen(part)) > CHAT_MODEL_NAME_MAX) {
		http_field_error_set(e, 400, "invalid_value", "model",
				     "the model name must be at most %d characters", CHAT_MODEL_NAME_MAX);
		return false;
	}
	out->model_buf = strdup(part);
	if (out->model_buf == NULL) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return false;
	}
	out->model = out->model_buf;
	return true;
}

/* Appends text to the system prompt, a blank line between parts. */
static bool
add_system(struct oa_request *out, const char *text, struct http_field_error *e)
{
	size_t had = out->system ? strlen(out->system) : 0, n = strlen(text);
	char *s = realloc(out->system, had + n + 3);

	if (s == NULL) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return false;
	}
	out->system = s;
	if (had > 0) {
		memcpy(s + had, "\n\n", 2);
		had += 2;
	}
	memcpy(s + had, text, n + 1);
	if (utf8_length(s, had + n) > CHAT_SYSTEM_MAX) {
		http_field_error_set(e, 400, "invalid_value", "instructions",
				     "the instructions and system messages together must be at most"
				     " %d characters", CHAT_SYSTEM_MAX);
		return false;
	}
	return true;
}

/* Adds a user or assistant turn, joined to the one before when of the
 * same role (wire formats that need alternating turns take it so). */
static bool
add_turn(struct oa_request *out, const char *role, const char *text, struct http_field_error *e)
{
	size_t n = json_object_array_length(out->messages);
	json_object *last = n > 0 ? json_object_array_get_idx(out->messages, n - 1) : NULL, *t, *v;

	if (last != NULL && json_object_object_get_ex(last, "role", &v) &&
	    strcmp(json_object_get_string(v), role) == 0) {
		const char *had;
		char *joined;

		json_object_object_get_ex(last, "content", &v);
		had = json_object_get_string(v);
		size_t size = strlen(had) + strlen(text) + 3;

		joined = malloc(size);
		if (joined == NULL)
			goto oom;
		snprintf(joined, size, "%s%s%s", had, *had && *text ? "\n\n" : "", text);
		v = json_object_new_string(joined);
		free(joined);
		if (v == NULL || json_object_object_add(last, "content", v) != 0)
			goto oom;
		return true;
	}
	if (n >= OA_TURNS_MAX) {
		http_field_error_set(e, 400, "invalid_value", NULL,
				     "at most %d turns of conversation", OA_TURNS_MAX);
		return false;
	}
	t = json_object_new_object();
	if (t == NULL || json_object_array_add(out->messages, t) != 0) {
		json_object_put(t);
		goto oom;
	}
	if (json_object_object_add(t, "role", json_object_new_string(role)) != 0 ||
	    json_object_object_add(t, "content", json_object_new_string(text)) != 0)
		goto oom;
	return true;
oom:
	http_field_error_set(e, 500, "internal", NULL, "out of memory");
	return false;
}

/* The text of a content: a string, or parts of the given text types
 * (OpenAI's names per API) joined. *text is malloc'd. */
static bool
content_text(json_object *content, const char *field, const char *const *types, char **text,
	     struct http_field_error *e)
{
	char f[96];
	size_t used = 0;

	*text = NULL;
	if (json_object_is_type(content, json_type_string)) {
		if (!check_string(content, field, CHAT_MESSAGE_MAX, true, e))
			return false;
		*text = strdup(json_object_get_string(content));
		goto done;
	}
	if (!json_object_is_type(content, json_type_array)) {
		http_field_error_set(e, 400, "invalid_type", field,
				     "%s must be a string or a list of text parts", field);
		return false;
	}
	*text = calloc(1, 1);
	for (size_t j = 0; *text != NULL && j < json_object_array_length(content); j++) {
		json_object *part = json_object_array_get_idx(content, j), *type, *v;
		bool known = false;
		char *grown;
		size_t n;

		snprintf(f, sizeof f, "%s[%zu].type", field, j);
		if (!json_object_is_type(part, json_type_object) ||
		    !json_object_object_get_ex(part, "type", &type) ||
		    !json_object_is_type(type, json_type_string)) {
			http_field_error_set(e, 400, "invalid_value", f, "%s is required", f);
			goto bad;
		}
		for (size_t k = 0; types[k] != NULL; k++)
			known |= strcmp(json_object_get_string(type), types[k]) == 0;
		if (!known) {
			http_field_error_set(e, 400, "unsupported_value", f,
					     "content of type '%.*s' is not supported yet: only text",
					     shown(json_object_get_string(type), 40),
					     json_object_get_string(type));
			goto bad;
		}
		snprintf(f, sizeof f, "%s[%zu].text", field, j);
		if (!json_object_object_get_ex(part, "text", &v)) {
			http_field_error_set(e, 400, "missing_required_parameter", f, "%s is required", f);
			goto bad;
		}
		if (!check_string(v, f, CHAT_MESSAGE_MAX, true, e))
			goto bad;
		n = (size_t)json_object_get_string_len(v);
		grown = realloc(*text, used + n + 1);
		if (grown == NULL)
			break;
		*text = grown;
		memcpy(*text + used, json_object_get_string(v), n + 1);
		used += n;
	}
done:
	if (*text == NULL) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return false;
	}
	return true;
bad:
	free(*text);
	*text = NULL;
	return false;
}

/* One turn of role with content: system and developer turns join the
 * system prompt. */
static bool
add_content(struct oa_request *out, const char *role, json_object *content, const char *field,
	    const char *const *types, struct http_field_error *e)
{
	char *text;
	bool ok;

	if (!content_text(content, field, types, &text, e))
		return false;
	if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)
		ok = *text == '\0' || add_system(out, text, e);
	else
		ok = add_turn(out, role, text, e);
	free(text);
	return ok;
}

/* The last turn must be the user's, with text: it is what is asked. */
static bool
finish_turns(struct oa_request *out, const char *field, struct http_field_error *e)
{
	size_t n = json_object_array_length(out->messages);
	json_object *last = n > 0 ? json_object_array_get_idx(out->messages, n - 1) : NULL, *v;

	if (last == NULL || !json_object_object_get_ex(last, "role", &v) ||
	    strcmp(json_object_get_string(v), "user") != 0) {
		http_field_error_set(e, 400, "invalid_value", field,
				     "%s must end with a user message", field);
		return false;
	}
	json_object_object_get_ex(last, "content", &v);
	out->last_user = json_object_get_string(v);
	if (*out->last_user == '\0' || utf8_length(out->last_user, strlen(out->last_user)) > CHAT_MESSAGE_MAX) {
		http_field_error_set(e, 400, "invalid_value", field,
				     "the last user message must be 1 to %d characters", CHAT_MESSAGE_MAX);
		return false;
	}
	return true;
}

static bool
role_of(json_object *item, const char *field, const char *const *roles, const char **role,
	struct http_field_error *e)
{
	json_object *v;

	if (!json_object_object_get_ex(item, "role", &v) || !json_object_is_type(v, json_type_string)) {
		http_field_error_set(e, 400, "missing_required_parameter", field, "%s is required", field);
		return false;
	}
	for (size_t i = 0; roles[i] != NULL; i++) {
		if (strcmp(json_object_get_string(v), roles[i]) == 0) {
			*role = roles[i];
			return true;
		}
	}
	http_field_error_set(e, 400, "unsupported_value", field,
			     "role '%.*s' is not supported: system, developer, user or assistant",
			     shown(json_object_get_string(v), 40), json_object_get_string(v));
	return false;
}

static const char *const roles[] = { "system", "developer", "user", "assistant", NULL };

static bool
parse_input(json_object *root, struct oa_request *out, struct http_field_error *e)
{
	static const char *const types[] = { "input_text", "output_text", NULL };
	json_object *input = member(root, "input");
	char f[64];

	if (input == NULL) {
		http_field_error_set(e, 400, "missing_required_parameter", "input", "input is required");
		return false;
	}
	if (json_object_is_type(input, json_type_string)) {
		if (!check_string(input, "input", CHAT_MESSAGE_MAX, false, e))
			return false;
		return add_turn(out, "user", json_object_get_string(input), e) &&
		       finish_turns(out, "input", e);
	}
	if (!json_object_is_type(input, json_type_array)) {
		http_field_error_set(e, 400, "invalid_type", "input",
				     "input must be a string or a list of message items");
		return false;
	}
	for (size_t i = 0; i < json_object_array_length(input); i++) {
		json_object *item = json_object_array_get_idx(input, i), *type, *content;
		const char *role;

		snprintf(f, sizeof f, "input[%zu]", i);
		if (!json_object_is_type(item, json_type_object)) {
			http_field_error_set(e, 400, "invalid_type", f, "%s must be a message item", f);
			return false;
		}
		type = member(item, "type");
		snprintf(f, sizeof f, "input[%zu].type", i);
		if (type != NULL && (!json_object_is_type(type, json_type_string) ||
				     strcmp(json_object_get_string(type), "message") != 0)) {
			http_field_error_set(e, 400, "unsupported_value", f,
					     "input items of type '%.*s' are not supported yet: only"
					     " message items with text",
					     shown(json_object_get_string(type), 40),
					     json_object_get_string(type));
			return false;
		}
		snprintf(f, sizeof f, "input[%zu].role", i);
		if (!role_of(item, f, roles, &role, e))
			return false;
		snprintf(f, sizeof f, "input[%zu].content", i);
		content = member(item, "content");
		if (content == NULL) {
			http_field_error_set(e, 400, "missing_required_parameter", f, "%s is required", f);
			return false;
		}
		if (!add_content(out, role, content, f, types, e))
			return false;
	}
	return finish_turns(out, "input", e);
}

static bool
parse_metadata(json_object *root, struct http_field_error *e)
{
	json_object *md = member(root, "metadata");
	char f[96];

	if (md == NULL)
		return true;
	if (!json_object_is_type(md, json_type_object) ||
	    json_object_object_length(md) > OA_METADATA_MAX) {
		http_field_error_set(e, 400, "invalid_value", "metadata",
				     "metadata must be an object of at most %d string values",
				     OA_METADATA_MAX);
		return false;
	}
	json_object_object_foreach(md, key, v) {
		long chars = utf8_length(key, strlen(key));

		if (chars < 1 || chars > 64) {
			http_field_error_set(e, 400, "invalid_value", "metadata",
					     "metadata keys must be 1 to 64 characters of UTF-8 text");
			return false;
		}
		snprintf(f, sizeof f, "metadata.%.*s", shown(key, 64), key);
		if (!check_string(v, f, 512, true, e))
			return false;
	}
	return true;
}

/* Adds name: a copy of root's member (null when absent) to o. */
static int
echo(json_object *o, json_object *root, const char *name)
{
	json_object *v = member(root, name);

	return json_object_object_add(o, name, v != NULL ? json_object_get(v) : NULL);
}

static enum aigw_err
begin(const char *body, size_t len, struct oa_request *out, struct http_field_error *e)
{
	memset(out, 0, sizeof *out);
	out->max_tokens = CHAT_MAX_TOKENS_DEFAULT;
	out->root = http_parse_json(body, len, e);
	if (out->root == NULL)
		return e->status == 500 ? AIGW_ENOMEM : AIGW_EINVAL;
	if (!json_object_is_type(out->root, json_type_object)) {
		http_field_error_set(e, 400, "invalid_json", NULL, "the body must be a JSON object");
		return AIGW_EINVAL;
	}
	out->messages = json_object_new_array();
	out->api_request = json_object_new_object();
	if (out->messages == NULL || out->api_request == NULL) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return AIGW_ENOMEM;
	}
	return AIGW_OK;
}

static enum aigw_err
end(struct oa_request *out, bool ok, struct http_field_error *e)
{
	if (ok)
		return AIGW_OK;
	oa_request_free(out);
	return e->status == 500 ? AIGW_ENOMEM : AIGW_EINVAL;
}

enum aigw_err
oa_parse_response_request(const char *body, size_t len, struct oa_request *out,
			  struct http_field_error *e)
{
	static const char *const unsupported[] = {
		"tools", "previous_response_id", "conversation", "prompt", "include", "reasoning", NULL,
	};
	json_object *root, *v, *fmt, *type;
	enum aigw_err err = begin(body, len, out, e);
	bool ok;

	if (err != AIGW_OK)
		return end(out, false, e);
	root = out->root;
	ok = model_of(root, out, e) && refuse_unsupported(root, unsupported, e);
	/* text.format other than plain text asks for structured output. */
	if (ok && (v = member(root, "text")) != NULL && (fmt = member(v, "format")) != NULL &&
	    (!json_object_object_get_ex(fmt, "type", &type) ||
	     strcmp(json_object_get_string(type), "text") != 0)) {
		http_field_error_set(e, 400, "unsupported_parameter", "text.format",
				     "structured output (text.format) is not supported by aigw yet");
		ok = false;
	}
	if (ok && (v = member(root, "instructions")) != NULL) {
		ok = check_string(v, "instructions", CHAT_SYSTEM_MAX, true, e) &&
		     (json_object_get_string_len(v) == 0 || add_system(out, json_object_get_string(v), e));
	}
	ok = ok && parse_input(root, out, e) && parse_metadata(root, e) &&
	     check_tokens(root, "max_output_tokens", &out->max_tokens, e) &&
	     check_number(root, "temperature", 2, e) && check_number(root, "top_p", 1, e) &&
	     check_bool(root, "background", &out->background, e) &&
	     check_bool(root, "stream", &out->stream, e);
	if (ok && (echo(out->api_request, root, "model") != 0 ||
		   echo(out->api_request, root, "instructions") != 0 ||
		   echo(out->api_request, root, "metadata") != 0 ||
		   echo(out->api_request, root, "max_output_tokens") != 0 ||
		   echo(out->api_request, root, "temperature") != 0 ||
		   echo(out->api_request, root, "top_p") != 0 ||
		   json_object_object_add(out->api_request, "background",
					  json_object_new_boolean(out->background)) != 0)) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		ok = false;
	}
	return end(out, ok, e);
}

static bool
parse_messages(json_object *root, struct oa_request *out, struct http_field_error *e)
{
	static const char *const types[] = { "text", NULL };
	json_object *msgs = member(root, "messages");
	char f[64];
	size_t n;

	if (msgs == NULL || !json_object_is_type(msgs, json_type_array) ||
	    (n = json_object_array_length(msgs)) == 0) {
		http_field_error_set(e, 400, "invalid_value", "messages",
				     "messages must be a non-empty list of messages");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(msgs, i), *content;
		const char *role;

		snprintf(f, sizeof f, "messages[%zu]", i);
		if (!json_object_is_type(m, json_type_object)) {
			http_field_error_set(e, 400, "invalid_type", f, "%s must be a message", f);
			return false;
		}
		snprintf(f, sizeof f, "messages[%zu].role", i);
		if (!role_of(m, f, roles, &role, e))
			return false;
		snprintf(f, sizeof f, "messages[%zu].tool_calls", i);
		if (member(m, "tool_calls") != NULL || member(m, "function_call") != NULL) {
			http_field_error_set(e, 400, "unsupported_parameter", f,
					     "tool calls are not supported by aigw yet");
			return false;
		}
		snprintf(f, sizeof f, "messages[%zu].content", i);
		content = member(m, "content");
		if (content == NULL) {
			http_field_error_set(e, 400, "missing_required_parameter", f, "%s is required", f);
			return false;
		}
		if (!add_content(out, role, content, f, types, e))
			return false;
	}
	return finish_turns(out, "messages", e);
}

enum aigw_err
oa_parse_completion_request(const char *body, size_t len, struct oa_request *out,
			    struct http_field_error *e)
{
	static const char *const unsupported[] = {
		"tools", "functions", "audio", "prediction", "logprobs", "top_logprobs", NULL,
	};
	json_object *root, *v, *type;
	enum aigw_err err = begin(body, len, out, e);
	bool ok;

	if (err != AIGW_OK)
		return end(out, false, e);
	root = out->root;
	ok = model_of(root, out, e) && refuse_unsupported(root, unsupported, e);
	if (ok && (v = member(root, "n")) != NULL &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)) {
		http_field_error_set(e, 400, "unsupported_value", "n", "n must be 1: one choice");
		ok = false;
	}
	if (ok && (v = member(root, "response_format")) != NULL &&
	    (!json_object_object_get_ex(v, "type", &type) ||
	     strcmp(json_object_get_string(type), "text") != 0)) {
		http_field_error_set(e, 400, "unsupported_parameter", "response_format",
				     "structured output (response_format) is not supported by aigw yet");
		ok = false;
	}
	ok = ok && parse_messages(root, out, e) && parse_metadata(root, e) &&
	     check_tokens(root, "max_tokens", &out->max_tokens, e) &&
	     check_tokens(root, "max_completion_tokens", &out->max_tokens, e) &&
	     check_bool(root, "stream", &out->stream, e);
	if (ok && (v = member(root, "stream_options")) != NULL) {
		if (!json_object_is_type(v, json_type_object)) {
			http_field_error_set(e, 400, "invalid_type", "stream_options",
					     "stream_options must be an object");
			ok = false;
		} else {
			ok = check_bool(v, "include_usage", &out->include_usage, e);
		}
	}
	if (ok && (echo(out->api_request, root, "model") != 0 ||
		   echo(out->api_request, root, "max_tokens") != 0 ||
		   echo(out->api_request, root, "max_completion_tokens") != 0 ||
		   echo(out->api_request, root, "metadata") != 0)) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		ok = false;
	}
	return end(out, ok, e);
}

void
oa_request_free(struct oa_request *r)
{
	json_object_put(r->root);
	json_object_put(r->messages);
	json_object_put(r->api_request);
	free(r->model_buf);
	free(r->system);
	memset(r, 0, sizeof *r);
}
