/*
 * chat.h: the chat resource: validating a submit, and the handlers
 * (declared in routes.h) that store it and report its progress.
 *
 * chat_request_parse() is pure: body bytes in, a validated request or a
 * field error out. The request owns its json-c tree; the string pointers
 * borrow from it. Release with chat_request_free() (safe on a zeroed one).
 * Parsing fails with a field error (400) or out of memory; the handlers
 * answer every failure themselves (4xx for the client's, 503 for the
 * database's).
 */
#ifndef AIGW_HTTP_CHAT_H
#define AIGW_HTTP_CHAT_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/config.h"
#include "core/err.h"
#include "http/conversation.h"
#include "http/server.h"

#define CHAT_MESSAGE_MAX 32768   /* characters */
#define CHAT_SYSTEM_MAX 32768    /* characters */
#define CHAT_MODELS_MAX 8
#define CHAT_MODEL_NAME_MAX 128  /* characters */
#define CHAT_MAX_TOKENS_MAX 65536
#define CHAT_MAX_TOKENS_DEFAULT 1024

struct chat_request {
	json_object *root;
	const char *message;      /* the user's message: the last turn of messages */
	const char *system;       /* NULL when absent; with messages, joined */
	struct conversation conv; /* messages, normalized; nturns 0 without */
	json_object *models;      /* borrowed from root */
	int max_tokens;
	bool websearch;
	char location[3];         /* "" when absent, else upper case */
};

/* AIGW_OK, or AIGW_EINVAL with e filled (invalid_json, invalid_field,
 * unknown_provider), or AIGW_ENOMEM. */
enum aigw_err chat_request_parse(const char *body, size_t len, struct chat_request *out,
				 struct http_field_error *e) AIGW_MUSTCHECK;
/* The same where the providers are cfg's (prov_find_in: the named ones
 * too); cfg NULL: the built-in ones. */
enum aigw_err chat_request_parse_in(const struct aigw_config *cfg, const char *body, size_t len,
				    struct chat_request *out,
				    struct http_field_error *e) AIGW_MUSTCHECK;
void chat_request_free(struct chat_request *r);

/* Whether some provider that models names (validated) is reached by this
 * process: configured in cfg, or answered by the mock under AIGW_MOCK. When
 * none is, false with e filled (400 provider_not_configured, naming the
 * first one's missing key). */
bool chat_models_reachable(json_object *models, const struct aigw_config *cfg,
			   struct http_field_error *e);

/* Stores row (a validated chat, its chat_id new) after the caller's
 * active-work admission (http/auth.h), and wakes the workers. false when
 * the request was answered instead (429 at a limit, 503 for the
 * database); then nothing was stored. */
struct db_chat_new;
bool chat_store(struct http_thread *t, struct http_req *req, const struct db_chat_new *row);

/* The body GET /api/ai/chat/status answers for this chat (json owned by
 * the caller): what a webhook's "data" carries too (worker/webhooks.c).
 * AIGW_ENOMEM. */
struct db_chat_view;
enum aigw_err chat_status_body(const struct db_chat_view *v, char **json) AIGW_MUSTCHECK;

#endif
