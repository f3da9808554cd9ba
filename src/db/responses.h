/*
 * responses.h: the chats made by the OpenAI-compatible API (/v1/, api
 * 'response' or 'completion'), read as its objects need them: the row's
 * status, its one provider's result (with the text streamed so far while
 * it runs), its times as Unix seconds and what its request asked.
 *
 * A chat of aigw's own API is not found here. Errors: AIGW_EDB,
 * AIGW_ENOMEM, AIGW_ENOTFOUND (no such chat, expired, another owner's,
 * or not made by /v1/).
 */
#ifndef AIGW_DB_RESPONSES_H
#define AIGW_DB_RESPONSES_H

#include <stdbool.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

struct db_response {
	char chat_id[UUID_STR_LEN + 1];
	char status[16];
	long version;
	char api[16];             /* "response" or "completion" */
	long created_at;          /* Unix seconds */
	long completed_at;        /* Unix seconds; 0 while not finished */
	long expires_at;          /* Unix seconds, rounded down */
	char *results_json;       /* {"provider": result}, streaming text included */
	char *api_request_json;   /* what the request asked; "{}" when not stored */
	char *models_json;        /* {"provider": "model"} */
};

/* text_so_far: a running chat's results show its streamed text so far
 * (a pass over its pieces); false: the results as stored, for a reader
 * that takes the text from the pieces itself. */
enum aigw_err db_response_get(struct db *db, const char *id, const char *owner, bool text_so_far,
			      struct db_response *out) AIGW_MUSTCHECK;
void db_response_free(struct db_response *r);

#endif
