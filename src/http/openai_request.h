/*
 * openai_request.h: validating the bodies of the OpenAI-compatible API
 * (docs/openai.md): POST /v1/responses and POST /v1/chat/completions, into
 * one chat of one provider.
 *
 * Pure: body bytes in, a validated request or a field error out (400, its
 * param naming the field as OpenAI does, e.g. "input[1].content[0].type";
 * images, files, tools and other item types are refused until supported).
 * The request owns its json-c trees and strings; free it with
 * oa_request_free() (safe on a zeroed one). Fails with AIGW_EINVAL (e
 * filled) or AIGW_ENOMEM.
 */
#ifndef AIGW_HTTP_OPENAI_REQUEST_H
#define AIGW_HTTP_OPENAI_REQUEST_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/err.h"
#include "http/server.h"

#define OA_PROVIDER_MAX 32
#define OA_TURNS_MAX 256
#define OA_METADATA_MAX 16

struct oa_request {
	json_object *root;        /* the body */
	char provider[OA_PROVIDER_MAX];
	const char *model;        /* the model part, borrowed from model_buf */
	char *model_buf;
	/* [{"role": "user" | "assistant", "content": text}, ...]: the
	 * conversation, adjacent turns of one role joined, the last the user's */
	json_object *messages;
	const char *last_user;    /* borrowed from messages */
	char *system;             /* instructions and system turns; NULL: none */
	int max_tokens;
	bool background;
	bool stream;
	bool include_usage;       /* stream_options.include_usage */
	json_object *api_request; /* what the object echoes: model as asked, ... */
};

/* "provider/model", or a bare model for openai: the provider and where
 * the model part starts. false with e filled (param "model") for a
 * provider name too long or a missing model part. */
struct aigw_config;

bool oa_model_split(const char *model, char provider[OA_PROVIDER_MAX], const char **model_part,
		    struct http_field_error *e);
/* Whether provider is one this process routes to (built-in, or named in
 * cfg; NULL: built-in only); false with e filled (400 unknown_provider,
 * param "model"). */
bool oa_provider_known(const struct aigw_config *cfg, const char *provider,
		       struct http_field_error *e);

enum aigw_err oa_parse_response_request(const char *body, size_t len, struct oa_request *out,
					struct http_field_error *e) AIGW_MUSTCHECK;
enum aigw_err oa_parse_completion_request(const char *body, size_t len, struct oa_request *out,
					  struct http_field_error *e) AIGW_MUSTCHECK;
void oa_request_free(struct oa_request *r);

#endif
