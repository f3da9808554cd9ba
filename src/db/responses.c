/* responses.c: the /v1/ API's read of its chats (see responses.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/responses.h"
#include "db/sql.h"
#include "db/status.h"
#include "db/views_sql.h"

#define RESPONSE_SELECT(results) \
	"SELECT r.chat_id, r.status, r.version, r.api," \
	" extract(epoch FROM r.created_at)::bigint," \
	" coalesce(extract(epoch FROM r.completed_at)::bigint, 0)," \
	" (" results ")::text," \
	" coalesce(r.api_request, '{}'::jsonb)::text, r.models::text," \
	" floor(extract(epoch FROM r.expires_at))::bigint" \
	" FROM chat_results r WHERE r.chat_id = $1 AND r.owner_user = $2" \
	"  AND r.expires_at > now() AND r.api <> 'chat'"

/* $1 id $2 owner. */
static const struct db_stmt stmt_response_get = {
	.name = "response_get",
	.nparams = 2,
	.idempotent = true,
	.sql = RESPONSE_SELECT(CHAT_RESULTS_SHOWN(PIECES_WITH_TEXT)),
};

/* The same with the results as stored: no pass over the pieces, which a
 * stream reads as deltas at every wake. */
static const struct db_stmt stmt_response_get_stored = {
	.name = "response_get_stored",
	.nparams = 2,
	.idempotent = true,
	.sql = RESPONSE_SELECT("r.results"),
};

void
db_response_free(struct db_response *r)
{
	if (r == NULL)
		return;
	free(r->results_json);
	free(r->api_request_json);
	free(r->models_json);
	memset(r, 0, sizeof *r);
}

enum aigw_err
db_response_get(struct db *db, const char *id, const char *owner, bool text_so_far,
		struct db_response *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, text_so_far ? &stmt_response_get : &stmt_response_get_stored, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return AIGW_ENOTFOUND;
	}
	snprintf(out->chat_id, sizeof out->chat_id, "%s", PQgetvalue(res, 0, 0));
	snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 1));
	out->version = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	snprintf(out->api, sizeof out->api, "%s", PQgetvalue(res, 0, 3));
	out->created_at = strtol(PQgetvalue(res, 0, 4), NULL, 10);
	out->completed_at = strtol(PQgetvalue(res, 0, 5), NULL, 10);
	out->results_json = db_value_dup(res, 0, 6);
	out->api_request_json = db_value_dup(res, 0, 7);
	out->models_json = db_value_dup(res, 0, 8);
	out->expires_at = strtol(PQgetvalue(res, 0, 9), NULL, 10);
	PQclear(res);
	if (out->results_json == NULL || out->api_request_json == NULL || out->models_json == NULL) {
		db_response_free(out);
		return AIGW_ENOMEM;
	}
	return AIGW_OK;
}
