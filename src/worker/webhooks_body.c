/* webhooks_body.c: a delivery's body (see webhooks_body.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "db/chats.h"
#include "db/jobs.h"
#include "db/responses.h"
#include "http/chat.h"
#include "openai/object.h"
#include "worker/webhooks_body.h"

#define BODY_MAX (64L << 20)

/* A chat's data: its /api/ai/chat/status body. */
static enum aigw_err
chat_data(struct db *db, const struct db_webhook *w, char **json)
{
	struct db_chat_view v;
	enum aigw_err err = db_chat_status(db, w->object_id, w->owner_user, &v);

	if (err != AIGW_OK)
		return err;
	err = chat_status_body(&v, json);
	db_chat_view_free(&v);
	return err;
}

/* A /v1/ response's (or completion's) data: its response object, as
 * GET /v1/responses/{id} answers it. */
static enum aigw_err
response_data(struct db *db, const struct db_webhook *w, char **json)
{
	struct db_response row;
	struct oa_row r;
	json_object *o;
	enum aigw_err err = db_response_get(db, w->object_id, w->owner_user, true, &row);

	if (err != AIGW_OK)
		return err;
	r = (struct oa_row){
		.chat_id = row.chat_id, .status = row.status, .created_at = row.created_at,
		.completed_at = row.completed_at, .results_json = row.results_json,
		.api_request_json = row.api_request_json, .models_json = row.models_json,
	};
	o = oa_response_object(&r);
	*json = o != NULL ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
	json_object_put(o);
	db_response_free(&row);
	return *json != NULL ? AIGW_OK : AIGW_ENOMEM;
}

/* A job's data: its /api/jobs/{id}/status body. */
static enum aigw_err
job_data(struct db *db, const struct db_webhook *w, char **json)
{
	struct db_job_view v;
	enum aigw_err err = db_job_status_view(db, w->object_id, w->owner_user, &v);

	if (err != AIGW_OK)
		return err;
	*json = v.json;
	return AIGW_OK;
}

enum aigw_err
webhooks_body(struct db *db, const struct db_webhook *w, char **body)
{
	char *data = NULL;
	struct buf b;
	enum aigw_err err;

	*body = NULL;
	if (strcmp(w->kind, "job") == 0)
		err = job_data(db, w, &data);
	else if (strncmp(w->event, "response.", 9) == 0)
		err = response_data(db, w, &data);
	else
		err = chat_data(db, w, &data);
	if (err != AIGW_OK)
		return err;
	/* event and event_time come from fixed alphabets (the trigger's
	 * names, a timestamp): no escaping needed. */
	buf_init(&b, BODY_MAX);
	err = buf_printf(&b, "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":%s}", w->event,
			 w->event_time, data);
	if (err == AIGW_OK)
		err = buf_steal(&b, body);
	if (err == AIGW_ETOOBIG)
		err = AIGW_ENOMEM;
	buf_free(&b);
	free(data);
	return err;
}
