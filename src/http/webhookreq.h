/*
 * webhookreq.h: a submit's "webhook_url" (POST /api/ai/chat, POST
 * /api/jobs; docs/webhooks.md): taken only when AIGW_WEBHOOK_PER_REQUEST
 * is on, and only a well-formed http(s) URL. Fails with a 400 naming the
 * field (left in e for the caller to answer); cannot fail otherwise.
 */
#ifndef AIGW_HTTP_WEBHOOKREQ_H
#define AIGW_HTTP_WEBHOOKREQ_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/config.h"
#include "http/server.h"

/* *url is the field's value borrowed from root, or NULL when absent or
 * null; false (and e set) when it may not be taken. */
bool webhookreq_url(json_object *root, const struct aigw_config *cfg, const char **url,
		    struct http_field_error *e);

/* The key whose URL and secret the work's deliveries use: the caller's
 * key id, or NULL without one. */
const char *webhookreq_key(const struct http_req *req);

#endif
