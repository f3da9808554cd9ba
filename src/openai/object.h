/*
 * object.h: the objects of the OpenAI-compatible API built from a
 * stored chat of one provider: the Responses API's response object and
 * the Chat Completions API's chat.completion, and the ids that name a chat
 * there (docs/openai.md).
 *
 * Pure and thread-safe: a row's fields in, a json-c object out (the
 * caller owns it); the webhook sender renders its bodies with the same
 * functions. Rendering fails only with NULL: out of memory, or stored
 * JSON that does not parse.
 *
 * Ids: "resp_" + the chat's UUID without dashes for a response,
 * "chatcmpl-" + the same for a completion, "msg_" + the same for the
 * one output message. Both request ids read back to the chat.
 */
#ifndef AIGW_OPENAI_OBJECT_H
#define AIGW_OPENAI_OBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/util.h"

#define OA_ID_MAX 48

/* The Responses API's status words: its wire vocabulary, which aigw's
 * own statuses (db/status.h) map onto with oa_status(). */
#define OA_STATUS_QUEUED "queued"
#define OA_STATUS_IN_PROGRESS "in_progress"
#define OA_STATUS_COMPLETED "completed"
#define OA_STATUS_FAILED "failed"
#define OA_STATUS_CANCELLED "cancelled"
#define OA_STATUS_INCOMPLETE "incomplete"

/* What a stored /v1/ chat holds (db/responses.h's struct db_response). */
struct oa_row {
	const char *chat_id;          /* UUID */
	const char *status;           /* chats.status */
	long created_at;              /* Unix seconds */
	long completed_at;            /* Unix seconds; 0 while not finished */
	const char *results_json;     /* {"provider": result}, streaming text included */
	const char *api_request_json; /* what the request asked */
	const char *models_json;      /* {"provider": "model"}: one provider */
};

/* prefix ("resp_", "chatcmpl-", "msg_") and uuid without dashes. Cannot
 * fail: out has OA_ID_MAX bytes. */
void oa_id(const char *prefix, const char *uuid, char out[OA_ID_MAX]);
/* The chat UUID of a "resp_" or "chatcmpl-" id; false for anything else. */
bool oa_id_chat(const char *id, char uuid[UUID_STR_LEN + 1]);

/* The Responses status of a chat status: queued, in_progress, completed,
 * failed, cancelled; NULL for an unknown one. */
const char *oa_status(const char *chat_status);

/* The response object. */
json_object *oa_response_object(const struct oa_row *row);
/* A copy of the response object resp as it was when created: status
 * (NULL: queued when background, else in_progress), no output, usage or
 * error yet. What a background create and a stream's opening events show,
 * whatever the work has done since. NULL on ENOMEM. */
json_object *oa_response_opening(json_object *resp, const char *status);
/* The chat.completion object (a finished chat: its text, or "" when it
 * has none). */
json_object *oa_completion_object(const struct oa_row *row);

#endif
