/* webhookreq.c: a submit's "webhook_url" field (see webhookreq.h). */
#include "core/webhook.h"
#include "http/webhookreq.h"

bool
webhookreq_url(json_object *root, const struct aigw_config *cfg, const char **url,
	       struct http_field_error *e)
{
	json_object *v;
	const char *why = NULL;

	*url = NULL;
	if (root == NULL || !json_object_object_get_ex(root, "webhook_url", &v) ||
	    json_object_is_type(v, json_type_null))
		return true;
	if (!cfg->webhook_per_request) {
		http_field_error_set(e, 400, "invalid_field", "webhook_url",
				     "webhook_url is not accepted here: the operator has not"
				     " allowed per-request webhooks (AIGW_WEBHOOK_PER_REQUEST)");
		return false;
	}
	if (!json_object_is_type(v, json_type_string)) {
		http_field_error_set(e, 400, "invalid_field", "webhook_url",
				     "webhook_url must be a string");
		return false;
	}
	if (!webhook_url_valid(json_object_get_string(v), &why)) {
		http_field_error_set(e, 400, "invalid_field", "webhook_url", "webhook_url %s", why);
		return false;
	}
	*url = json_object_get_string(v);
	return true;
}

const char *
webhookreq_key(const struct http_req *req)
{
	return req->key_id[0] ? req->key_id : NULL;
}
