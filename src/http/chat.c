/* chat.c: POST /api/ai/chat, GET /api/ai/chat/status and /events (docs/api.md). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "db/chats.h"
#include "db/pieces_view.h"
#include "db/status.h"
#include "http/auth.h"
#include "http/chat.h"
#include "http/commit.h"
#include "http/realtime.h"
#include "http/routes.h"
#include "http/wake.h"
#include "http/webhookreq.h"
#include "providers/provider.h"

/* A string field of 1..max characters of valid UTF-8. */
static bool
check_text(json_object *v, const char *field, long max, struct http_field_error *e)
{
	return http_check_text(v, field, 1, max, "invalid_field", "invalid_field", e);
}

static bool
check_models(const struct aigw_config *cfg, json_object *models, struct http_field_error *e)
{
	char field[96];
	int n;

	if (!json_object_is_type(models, json_type_object)) {
		http_field_error_set(e, 400, "invalid_field", "models",
				     "models must be an object of provider to model name");
		return false;
	}
	n = json_object_object_length(models);
	if (n < 1 || n > CHAT_MODELS_MAX) {
		http_field_error_set(e, 400, "invalid_field", "models",
				     "models must name 1 to %d providers", CHAT_MODELS_MAX);
		return false;
	}
	json_object_object_foreach(models, name, model) {
		int shown = (int)utf8_cut(name, NAME_SHOWN_MAX);

		snprintf(field, sizeof field, "models.%.*s", shown, name);
		if (prov_find_in(cfg, name) == NULL) {
			http_field_error_set(e, 400, "unknown_provider", field,
					     "unknown provider '%.*s'", shown, name);
			return false;
		}
		if (!check_text(model, field, CHAT_MODEL_NAME_MAX, e))
			return false;
	}
	return true;
}

enum aigw_err
chat_request_parse(const char *body, size_t len, struct chat_request *out,
		   struct http_field_error *e)
{
	return chat_request_parse_in(NULL, body, len, out, e);
}

enum aigw_err
chat_request_parse_in(const struct aigw_config *cfg, const char *body, size_t len,
		      struct chat_request *out, struct http_field_error *e)
{
	json_object *v, *turns = NULL;
	bool conv;

	memset(out, 0, sizeof *out);
	out->max_tokens = CHAT_MAX_TOKENS_DEFAULT;
	out->root = http_parse_json(body, len, e);
	if (out->root == NULL)
		return e->status == 500 ? AIGW_ENOMEM : AIGW_EINVAL;
	if (!json_object_is_type(out->root, json_type_object)) {
		http_field_error_set(e, 400, "invalid_json", NULL, "the body must be a JSON object");
		goto invalid;
	}
	conv = json_object_object_get_ex(out->root, "messages", &turns) &&
	       !json_object_is_type(turns, json_type_null);
	if (json_object_object_get_ex(out->root, "message", &v) && !json_object_is_type(v, json_type_null)) {
		if (conv) {
			http_field_error_set(e, 400, "invalid_field", "messages",
					     "send message or messages, not both");
			goto invalid;
		}
		if (!check_text(v, "message", CHAT_MESSAGE_MAX, e))
			goto invalid;
		out->message = json_object_get_string(v);
	} else if (!conv) {
		http_field_error_set(e, 400, "invalid_field", "message",
				     "message (or messages, a conversation) is required");
		goto invalid;
	}

	if (!json_object_object_get_ex(out->root, "models", &out->models)) {
		http_field_error_set(e, 400, "invalid_field", "models", "models is required");
		goto invalid;
	}
	if (!check_models(cfg, out->models, e))
		goto invalid;

	if (json_object_object_get_ex(out->root, "system", &v) && !json_object_is_type(v, json_type_null)) {
		if (!check_text(v, "system", CHAT_SYSTEM_MAX, e))
			goto invalid;
		out->system = json_object_get_string(v);
	}
	if (conv) {
		enum aigw_err err = conversation_parse(turns, out->system, &out->conv, e);

		if (err != AIGW_OK) {
			chat_request_free(out);
			return err;
		}
		out->message = out->conv.last;
		out->system = out->conv.system;
		if (out->conv.nturns > 1 && !conversation_providers_ok(out->models, e))
			goto invalid;
	}
	if (json_object_object_get_ex(out->root, "max_tokens", &v) && !json_object_is_type(v, json_type_null)) {
		int64_t n = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || n < 1 || n > CHAT_MAX_TOKENS_MAX) {
			http_field_error_set(e, 400, "invalid_field", "max_tokens",
					     "max_tokens must be a whole number from 1 to %d",
					     CHAT_MAX_TOKENS_MAX);
			goto invalid;
		}
		out->max_tokens = (int)n;
	}
	if (json_object_object_get_ex(out->root, "websearch", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_field_error_set(e, 400, "invalid_field", "websearch",
					     "websearch must be true or false");
			goto invalid;
		}
		out->websearch = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(out->root, "location", &v) && !json_object_is_type(v, json_type_null)) {
		const char *s = json_object_get_string(v);

		if (!json_object_is_type(v, json_type_string) || strlen(s) != 2 ||
		    !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
		    !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z')) {
			http_field_error_set(e, 400, "invalid_field", "location",
					     "location must be a two-letter ISO country code");
			goto invalid;
		}
		out->location[0] = (char)(s[0] & ~0x20);
		out->location[1] = (char)(s[1] & ~0x20);
		out->location[2] = '\0';
	}
	return AIGW_OK;
invalid:
	chat_request_free(out);
	return AIGW_EINVAL;
}

void
chat_request_free(struct chat_request *r)
{
	json_object_put(r->root);
	conversation_free(&r->conv);
	memset(r, 0, sizeof *r);
}

bool
chat_models_reachable(json_object *models, const struct aigw_config *cfg,
		      struct http_field_error *e)
{
	const char *names[CHAT_MODELS_MAX];
	const struct prov_desc *missing;
	size_t n = 0;
	char why[160];

	json_object_object_foreach(models, name, model) {
		(void)model;
		if (n == CHAT_MODELS_MAX)
			return true; /* not a validated models object */
		names[n++] = name;
	}
	missing = prov_none_reachable_in(cfg, names, n);
	if (missing == NULL)
		return true;
	prov_not_configured_text(missing, why, sizeof why);
	http_field_error_set(e, 400, "provider_not_configured", "models", "%s", why);
	return false;
}

bool
chat_store(struct http_thread *t, struct http_req *req, const struct db_chat_new *row)
{
	const struct aigw_config *cfg = t->app->cfg;
	struct http_admission adm;
	enum aigw_err err;

	if (!http_admit_lock(t, req, NULL, &adm) || !http_admit_check(t, req, &adm, NULL))
		return false;
	if (adm.open) {
		/* Counted and inserted in one transaction, under the lock. */
		err = db_chat_insert(t->db, &row, 1);
	} else {
		err = commit_group_insert(t->app->chat_commits, t->db, row);
	}
	if (err == AIGW_OK) {
		err = http_admit_commit(t, &adm);
		if (err == AIGW_EDB && db_connection_lost(t->db)) {
			/* The server may have committed before the connection
			 * went: a stored chat is accepted, whatever came back. */
			bool stored = false;

			if (db_chat_stored(t->db, row->chat_id, &stored) == AIGW_OK && stored)
				err = AIGW_OK;
		}
	} else {
		http_admit_abort(t, &adm);
	}
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return false;
	}
	if (t->app->waker != NULL)
		waker_poke(t->app->waker);
	else
		wake_now(cfg, t->app->spawn_env, t->db);
	return true;
}

void
chat_submit(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	const struct aigw_config *cfg = t->app->cfg;
	struct chat_request cr;
	struct http_field_error fe;
	struct db_chat_new row;
	char id[UUID_STR_LEN + 1], location[96];
	const char *webhook_url = NULL;
	enum aigw_err err;

	(void)args;
	err = chat_request_parse_in(cfg, req->body.data ? req->body.data : "", req->body.len, &cr,
				    &fe);
	if (err == AIGW_EINVAL) {
		http_resp_field_error(req, &fe);
		return;
	}
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return;
	}
	/* A chat naming some providers this host reaches is taken: the
	 * others fail at once in its results, saying what to set. */
	if (!chat_models_reachable(cr.models, cfg, &fe) ||
	    !webhookreq_url(cr.root, cfg, &webhook_url, &fe)) {
		http_resp_field_error(req, &fe);
		goto out;
	}
	err = uuid_new(id);
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		goto out;
	}
	row = (struct db_chat_new){
		.chat_id = id,
		.owner_user = req->user,
		.owner_org = req->org,
		.message = cr.message,
		.system = cr.system,
		.max_tokens = cr.max_tokens,
		.websearch = cr.websearch,
		.location = cr.location[0] ? cr.location : NULL,
		.models_json = json_object_to_json_string_ext(cr.models, JSON_C_TO_STRING_PLAIN),
		.ttl_s = cfg->chat_ttl_s,
		.webhook_url = webhook_url,
		.webhook_key = webhookreq_key(req),
	};
	/* One user turn is the message alone: stored as such, it goes to
	 * every provider, the batch ones too. */
	if (cr.conv.nturns > 1)
		row.messages_json = json_object_to_json_string_ext(cr.conv.turns,
								   JSON_C_TO_STRING_PLAIN);
	if (row.models_json == NULL || (cr.conv.nturns > 1 && row.messages_json == NULL)) {
		http_resp_from_err(req, AIGW_ENOMEM);
		goto out;
	}
	if (!chat_store(t, req, &row))
		goto out;
	snprintf(location, sizeof location, "/api/ai/chat/status?id=%s", id);
	http_resp_header(req, "Location", location);
	http_resp_header(req, "Retry-After", "1");
	{
		char body[128];
		int n = snprintf(body, sizeof body,
				 "{\"success\":true,\"chatId\":\"%s\",\"status\":\"pending\"}", id);
		http_resp_raw(req, 202, body, (size_t)n);
	}
out:
	chat_request_free(&cr);
}

/* The chat of v as its /status body. Every piece comes from the database
 * as valid JSON or a fixed alphabet (UUID, status, timestamps): no
 * re-parsing needed. */
static enum aigw_err
chat_state(const struct db_chat_view *v, struct rt_state *out)
{
	struct buf b;
	enum aigw_err err;

	buf_init(&b, 64L << 20);
	err = buf_printf(&b,
		"{\"success\":true,\"chatId\":\"%s\",\"status\":\"%s\",\"version\":%ld,"
		"\"results\":%s,\"pending\":%s,\"createdAt\":\"%s\",\"completedAt\":%s%s%s,"
		"\"expiresAt\":\"%s\"}",
		v->chat_id, v->status, v->version, v->results_json, v->pending_json, v->created_at,
		v->completed_at[0] ? "\"" : "null", v->completed_at, v->completed_at[0] ? "\"" : "",
		v->expires_at);
	if (err == AIGW_OK) {
		out->len = b.len;
		err = buf_steal(&b, &out->json);
	}
	if (err == AIGW_ETOOBIG)
		err = AIGW_ENOMEM;
	if (err == AIGW_OK) {
		out->version = v->version;
		out->final = db_status_name_final(v->status);
		snprintf(out->status, sizeof out->status, "%s", v->status);
	}
	buf_free(&b);
	return err;
}

enum aigw_err
chat_status_body(const struct db_chat_view *v, char **json)
{
	struct rt_state st;
	enum aigw_err err;

	memset(&st, 0, sizeof st);
	*json = NULL;
	err = chat_state(v, &st);
	if (err == AIGW_OK) {
		*json = st.json;
		st.json = NULL;
	}
	rt_state_free(&st);
	return err;
}

/* The chat as /status shows it: streaming providers with their text. */
static enum aigw_err
chat_read(struct http_thread *t, const struct http_req *req, const char *id,
	  struct rt_state *out)
{
	struct db_chat_view v;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_chat_status(t->db, id, req->user, &v);
	if (err != AIGW_OK)
		return err;
	err = chat_state(&v, out);
	/* Shown to the second: the cache lets it go at most a second early. */
	if (err == AIGW_OK && !time_parse_utc(v.expires_at, &out->expires_s))
		out->expires_s = RT_NOT_CACHED;
	db_chat_view_free(&v);
	return err;
}

/* The chat as /events shows it, with its pieces after after. */
static enum aigw_err
chat_read_stream(struct http_thread *t, const struct http_req *req, const char *id, long after,
		 struct rt_state *out)
{
	struct db_chat_view v;
	long row_version;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_chat_stream_read(t->db, id, req->user, after, RT_PIECES_PER_READ, &v,
				  &out->pieces);
	if (err != AIGW_OK)
		return err;
	/* An event's state is the chat as of its last state change, its id:
	 * a client resuming from the version it shows misses no piece. */
	row_version = v.version;
	v.version = out->pieces.state_version;
	err = chat_state(&v, out);
	out->version = row_version;
	db_chat_view_free(&v);
	if (err != AIGW_OK)
		rt_state_free(out);
	return err;
}

static const struct rt_source chat_source = {
	.channel = DB_CHANNEL_CHAT,
	.not_found = "no such chat, or it has expired",
	.read = chat_read,
	.read_stream = chat_read_stream,
	.view = STATUS_VIEW_STATUS,
};

/* The chat id of the query, or a 400 already answered. */
static bool
query_id(struct http_req *req, char id[UUID_STR_LEN + 2])
{
	if (http_query_get(req, "id", id, UUID_STR_LEN + 2) && uuid_is_valid(id))
		return true;
	http_resp_error(req, 400, "invalid_id", "id", "id must be a chat id (a UUID)");
	return false;
}

void
chat_status(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char id[UUID_STR_LEN + 2];
	struct rt_params p;
	struct http_field_error fe;

	(void)args;
	if (!query_id(req, id))
		return;
	if (!rt_status_params(req, &p, &fe)) {
		http_resp_field_error(req, &fe);
		return;
	}
	rt_longpoll(t, req, &chat_source, id, &p);
}

void
chat_events(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char id[UUID_STR_LEN + 2];

	(void)args;
	if (query_id(req, id))
		rt_events(t, req, &chat_source, id);
}

void
chat_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char id[UUID_STR_LEN + 2];
	struct rt_state s = { 0 };
	enum aigw_err err;

	(void)args;
	if (!query_id(req, id))
		return;
	/* Cancelling is idempotent: a finished chat is shown as it is, so a
	 * client may repeat it safely. */
	err = db_chat_cancel(t->db, id, req->user);
	if (err == AIGW_OK)
		err = chat_read(t, req, id, &s);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, s.json, s.len);
	else if (err == AIGW_ENOTFOUND)
		http_resp_error(req, 404, "not_found", NULL, "%s", chat_source.not_found);
	else
		http_resp_from_err(req, err);
	rt_state_free(&s);
}
