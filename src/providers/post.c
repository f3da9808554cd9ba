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
