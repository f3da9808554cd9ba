/* conversation.c: a chat submit's `messages`, checked and normalized (see
 * conversation.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "http/conversation.h"
#include "providers/provider.h"

/* Texts are counted in characters once read, so their buffers are bounded
 * only by what a request body can hold. */
#define CONV_BYTES_MAX ((size_t)1 << 30)

/* What one element of messages was read as. */
enum turn_role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

/* A 400 naming field: "<field> <rule>". */
static bool
fail(struct http_field_error *e, const char *field, const char *rule)
{
	http_field_error_set(e, 400, "invalid_field", field, "%s %s", field, rule);
	return false;
}

static bool
role_of(json_object *turn, size_t i, enum turn_role *role, struct http_field_error *e)
{
	char field[48];
	json_object *v;
	const char *r;

	snprintf(field, sizeof field, "messages[%zu].role", i);
	if (!json_object_object_get_ex(turn, "role", &v) || !json_object_is_type(v, json_type_string))
		return fail(e, field, "must be one of system, user, assistant");
	r = json_object_get_string(v);
	if (strcmp(r, "user") == 0)
		*role = ROLE_USER;
	else if (strcmp(r, "assistant") == 0)
		*role = ROLE_ASSISTANT;
	else if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0)
		*role = ROLE_SYSTEM;
	else
		return fail(e, field, "must be one of system, user, assistant");
	return true;
}

/* Appends the text of string s to b after checking it is UTF-8 without NUL;
 * *chars grows by its characters. */
static bool
add_text(struct buf *b, json_object *s, const char *field, long *chars,
	 struct http_field_error *e)
{
	long n = utf8_length(json_object_get_string(s), (size_t)json_object_get_string_len(s));

	if (n < 0)
		return fail(e, field, "must be UTF-8 text without NUL characters");
	*chars += n;
	if (buf_append(b, json_object_get_string(s), (size_t)json_object_get_string_len(s)) != AIGW_OK) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return false;
	}
	return true;
}

/* The text of messages[i].content into b: a string, or text parts joined
 * by a newline; *chars gets its length in characters. */
static bool
content_of(json_object *turn, size_t i, struct buf *b, long *chars, struct http_field_error *e)
{
	char field[80];
	json_object *c;
	size_t n;

	*chars = 0;
	snprintf(field, sizeof field, "messages[%zu].content", i);
	if (!json_object_object_get_ex(turn, "content", &c))
		return fail(e, field, "is required");
	if (json_object_is_type(c, json_type_string))
		return add_text(b, c, field, chars, e);
	if (!json_object_is_type(c, json_type_array))
		return fail(e, field, "must be a string or a list of {\"type\": \"text\", \"text\": ...} parts");
	n = json_object_array_length(c);
	for (size_t k = 0; k < n; k++) {
		json_object *part = json_object_array_get_idx(c, k), *v;

		snprintf(field, sizeof field, "messages[%zu].content[%zu].type", i, k);
		if (!json_object_is_type(part, json_type_object) ||
		    !json_object_object_get_ex(part, "type", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), "text") != 0)
			return fail(e, field, "must be \"text\": only text parts are supported");
		snprintf(field, sizeof field, "messages[%zu].content[%zu].text", i, k);
		if (!json_object_object_get_ex(part, "text", &v) || !json_object_is_type(v, json_type_string))
			return fail(e, field, "must be a string");
		if (k > 0 && buf_puts(b, "\n") != AIGW_OK) {
			http_field_error_set(e, 500, "internal", NULL, "out of memory");
			return false;
		}
		*chars += k > 0;
		if (!add_text(b, v, field, chars, e))
			return false;
	}
	return true;
}

/* {"role": role, "content": text} appended to list; -1 on ENOMEM. */
static int
push_turn(json_object *list, const char *role, const char *text, size_t len)
{
	json_object *t = json_object_new_object();
	json_object *r = json_object_new_string(role);
	json_object *c = json_object_new_string_len(text, (int)len);

	if (t == NULL || r == NULL || c == NULL ||
	    json_object_object_add(t, "role", r) != 0) {
		json_object_put(t);
		json_object_put(r);
		json_object_put(c);
		return -1;
	}
	if (json_object_object_add(t, "content", c) != 0) {
		json_object_put(t);
		json_object_put(c);
		return -1;
	}
	if (json_object_array_add(list, t) != 0) {
		json_object_put(t);
		return -1;
	}
	return 0;
}

/* One element of messages, i, into the system prompt or the turns. */
static bool
take_turn(json_object *turn, size_t i, struct conversation *out, struct buf *sys,
	  long *total, struct http_field_error *e)
{
	enum turn_role role;
	char field[48];
	struct buf text;
	long chars;
	bool ok = false;

	snprintf(field, sizeof field, "messages[%zu]", i);
	if (!json_object_is_type(turn, json_type_object))
		return fail(e, field, "must be an object with a role and a content");
	if (!role_of(turn, i, &role, e))
		return false;
	buf_init(&text, CONV_BYTES_MAX);
	if (!content_of(turn, i, &text, &chars, e))
		goto out;
	snprintf(field, sizeof field, "messages[%zu].content", i);
	if (chars < 1 || chars > CONV_TURN_MAX) {
		http_field_error_set(e, 400, "invalid_field", field, "%s must be 1 to %d characters",
				     field, CONV_TURN_MAX);
		goto out;
	}
	*total += chars;
	if (*total > CONV_TOTAL_MAX) {
		http_field_error_set(e, 400, "invalid_field", field,
				     "messages must hold at most %d characters in all (reached at %s)",
				     CONV_TOTAL_MAX, field);
		goto out;
	}
	if (role == ROLE_SYSTEM) {
		if ((sys->len > 0 && buf_puts(sys, "\n\n") != AIGW_OK) ||
		    buf_append(sys, text.data, text.len) != AIGW_OK)
			goto nomem;
	} else {
		snprintf(field, sizeof field, "messages[%zu].role", i);
		if (out->nturns == 0 && role != ROLE_USER) {
			http_field_error_set(e, 400, "invalid_field", field,
					     "%s: the conversation must open with a user turn", field);
			goto out;
		}
		if (push_turn(out->turns, role == ROLE_USER ? "user" : "assistant", text.data,
			      text.len) != 0)
			goto nomem;
		out->nturns++;
	}
	ok = true;
	goto out;
nomem:
	http_field_error_set(e, 500, "internal", NULL, "out of memory");
out:
	buf_free(&text);
	return ok;
}

/* The joined system prompt: bounded, then kept (NULL when empty). */
static bool
take_system(struct buf *sys, struct conversation *out, struct http_field_error *e)
{
	long chars;

	if (sys->len == 0)
		return true;
	chars = utf8_length(sys->data, sys->len);
	if (chars > CONV_SYSTEM_MAX) {
		http_field_error_set(e, 400, "invalid_field", "messages",
				     "the system prompt (system and the system turns of messages) "
				     "must be at most %d characters", CONV_SYSTEM_MAX);
		return false;
	}
	if (buf_steal(sys, &out->system) != AIGW_OK) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return false;
	}
	return true;
}

enum aigw_err
conversation_parse(json_object *messages, const char *system, struct conversation *out,
		   struct http_field_error *e)
{
	struct buf sys;
	size_t n;
	long total = 0;
	json_object *last;

	memset(out, 0, sizeof *out);
	if (!json_object_is_type(messages, json_type_array) ||
	    (n = json_object_array_length(messages)) < 1 || n > CONV_TURNS_MAX) {
		http_field_error_set(e, 400, "invalid_field", "messages",
				     "messages must be a list of 1 to %d turns", CONV_TURNS_MAX);
		return AIGW_EINVAL;
	}
	buf_init(&sys, CONV_BYTES_MAX);
	if ((out->turns = json_object_new_array()) == NULL ||
	    (system != NULL && buf_puts(&sys, system) != AIGW_OK)) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (!take_turn(json_object_array_get_idx(messages, i), i, out, &sys, &total, e))
			goto fail;
	}
	if (out->nturns == 0) {
		http_field_error_set(e, 400, "invalid_field", "messages",
				     "messages must hold a user turn");
		goto fail;
	}
	last = json_object_array_get_idx(out->turns, out->nturns - 1);
	if (strcmp(json_object_get_string(json_object_object_get(last, "role")), "user") != 0) {
		char field[48];

		snprintf(field, sizeof field, "messages[%zu].role", n - 1);
		http_field_error_set(e, 400, "invalid_field", field,
				     "%s: the last turn must be the user's", field);
		goto fail;
	}
	out->last = json_object_get_string(json_object_object_get(last, "content"));
	if (!take_system(&sys, out, e))
		goto fail;
	buf_free(&sys);
	return AIGW_OK;
fail:
	buf_free(&sys);
	conversation_free(out);
	return e->status == 500 ? AIGW_ENOMEM : AIGW_EINVAL;
}

void
conversation_free(struct conversation *c)
{
	json_object_put(c->turns);
	free(c->system);
	memset(c, 0, sizeof *c);
}

bool
conversation_providers_ok(json_object *models, struct http_field_error *e)
{
	json_object_object_foreach(models, name, model) {
		const struct prov_desc *d = prov_find(name);
		int shown = (int)utf8_cut(name, NAME_SHOWN_MAX);
		char field[96];

		(void)model;
		if (d == NULL || prov_takes_turns(d))
			continue;
		snprintf(field, sizeof field, "models.%.*s", shown, name);
		http_field_error_set(e, 400, "invalid_field", field,
				     "%.*s takes one message, not a conversation: send message, "
				     "or messages with a single user turn", shown, name);
		return false;
	}
	return true;
}
