/* post.c: a sync provider's request, built from its scheme, and the
 * messages of Chat-style bodies (see common.h). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "providers/common.h"
#include "providers/provider.h"

/* {"role": role, "content": content}; NULL on ENOMEM. */
static json_object *
message(const char *role, const char *content)
{
	json_object *m = json_object_new_object();
	int rc = 0;

	if (m == NULL)
		return NULL;
	rc |= prov_common_add(m, "role", json_object_new_string(role));
	rc |= prov_common_add(m, "content", json_object_new_string(content));
	if (rc != 0) {
		json_object_put(m);
		m = NULL;
	}
	return m;
}

json_object *
prov_common_messages(const char *system, const char *user)
{
	json_object *msgs = json_object_new_array();
	int rc = 0;

	if (msgs == NULL)
		return NULL;
	if (system != NULL && system[0] != '\0')
		rc |= prov_common_push(msgs, message("system", system));
	rc |= prov_common_push(msgs, message("user", user));
	if (rc != 0) {
		json_object_put(msgs);
		msgs = NULL;
	}
	return msgs;
}

/* m's content with "\n\n" and more appended; -1 on ENOMEM. */
static int
message_extend(json_object *m, const char *more)
{
	json_object *c = prov_common_get(m, "content", json_type_string);
	struct buf b;
	int rc = -1;

	buf_init(&b, (size_t)json_object_get_string_len(c) + strlen(more) + 3);
	if (buf_append(&b, json_object_get_string(c), (size_t)json_object_get_string_len(c)) == AIGW_OK &&
	    buf_puts(&b, "\n\n") == AIGW_OK && buf_puts(&b, more) == AIGW_OK &&
	    json_object_set_string_len(c, b.data, (int)b.len) != 0)
		rc = 0;
	buf_free(&b);
	return rc;
}

json_object *
prov_common_call_messages(const struct prov_call *call, const char *system, bool alternate)
{
	json_object *msgs, *last = NULL;
	int rc = 0;

	if (call->nturns == 0)
		return prov_common_messages(system, call->message);
	if ((msgs = json_object_new_array()) == NULL)
		return NULL;
	if (system != NULL && system[0] != '\0')
		rc |= prov_common_push(msgs, message("system", system));
	for (size_t i = 0; i < call->nturns && rc == 0; i++) {
		const struct prov_turn *t = &call->turns[i];
		const char *prev = last ? prov_common_get_str(last, "role") : NULL;

		if (alternate && last == NULL && strcmp(t->role, "user") != 0)
			continue; /* the conversation must open with the user */
		if (alternate && prev != NULL && strcmp(prev, t->role) == 0) {
			rc |= message_extend(last, t->content);
			continue;
		}
		last = message(t->role, t->content);
		rc |= prov_common_push(msgs, last);
	}
	if (rc != 0) {
		json_object_put(msgs);
		msgs = NULL;
	}
	return msgs;
}

enum aigw_err
prov_scheme_headers(const struct prov_scheme *s, struct prov_http *h, const char *api_key)
{
	bool keyless = s->key_optional && (api_key == NULL || api_key[0] == '\0');
	enum aigw_err err = keyless ? AIGW_OK
				    : prov_common_header(h, s->auth_name, s->auth_prefix, api_key);

	for (const struct prov_fixed_header *f = s->fixed;
	     err == AIGW_OK && f != NULL && f->name != NULL; f++)
		err = prov_common_header(h, f->name, NULL, f->value);
	return err;
}

/* {"include_usage":true}; NULL on ENOMEM. */
static json_object *
stream_options(void)
{
	json_object *o = json_object_new_object();

	if (o != NULL && prov_common_add(o, "include_usage", json_object_new_boolean(1)) != 0) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static enum aigw_err
build(const struct prov_scheme *s, const struct prov_config *cfg, const struct prov_call *call,
      bool stream, struct prov_http *out)
{
	enum aigw_err (*path_of)(const struct prov_call *, char **) =
		stream && s->stream_path_of != NULL ? s->stream_path_of : s->path_of;
	json_object *body = NULL;
	char *path = NULL;
	int rc = 0;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	if ((err = prov_common_check_key(cfg, call, !s->key_optional)) != AIGW_OK)
		goto out;
	if ((s->path == NULL || (stream && s->stream_path_of != NULL)) &&
	    (err = path_of(call, &path)) != AIGW_OK)
		goto out;
	err = AIGW_ENOMEM;
	if ((body = s->body(call)) == NULL)
		goto out;
	if (stream && s->stream_flag)
		rc |= prov_common_add(body, "stream", json_object_new_boolean(1));
	if (stream && s->stream_usage)
		rc |= prov_common_add(body, "stream_options", stream_options());
	if (rc != 0)
		goto out;
	if ((err = prov_common_url(out, cfg->base_url, path != NULL ? path : s->path)) !=
		    AIGW_OK ||
	    (err = prov_scheme_headers(s, out, cfg->api_key)) != AIGW_OK ||
	    (err = prov_common_header(out, "Content-Type", NULL, s->content_type)) != AIGW_OK ||
	    (err = prov_common_body(out, body)) != AIGW_OK)
		goto out;
out:
	if (err != AIGW_OK)
		prov_http_free(out);
	free(path);
	json_object_put(body);
	return err;
}

enum aigw_err
prov_scheme_build(const struct prov_scheme *s, const struct prov_config *cfg,
		  const struct prov_call *call, struct prov_http *out)
{
	return build(s, cfg, call, false, out);
}

enum aigw_err
prov_scheme_build_stream(const struct prov_scheme *s, const struct prov_config *cfg,
			 const struct prov_call *call, struct prov_http *out)
{
	return build(s, cfg, call, true, out);
}
