/* openai.c: the /v1/ responses resource: read, stream, cancel, and the
 * model list (docs/openai.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "db/chats.h"
#include "db/pieces_view.h"
#include "db/responses.h"
#include "db/status.h"
#include "http/chat.h"
#include "http/openai.h"
#include "http/openai_stream.h"
#include "http/routes.h"
#include "http/webhookreq.h"
#include "openai/object.h"
#include "providers/provider.h"

#define NOT_FOUND "no such response, or it has expired"

/* The row as its response object in out->json. */
static enum aigw_err
object_of(const struct db_response *row, struct rt_state *out)
{
	const struct oa_row r = {
		.chat_id = row->chat_id, .status = row->status, .created_at = row->created_at,
		.completed_at = row->completed_at, .results_json = row->results_json,
		.api_request_json = row->api_request_json, .models_json = row->models_json,
	};
	json_object *o = oa_response_object(&r);
	const char *s;
	size_t len = 0;

	if (o == NULL)
		return AIGW_ENOMEM;
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	out->json = s != NULL ? strndup(s, len) : NULL;
	out->len = len;
	json_object_put(o);
	if (out->json == NULL)
		return AIGW_ENOMEM;
	out->version = row->version;
	out->expires_s = row->expires_at;
	out->final = db_status_name_final(row->status);
	snprintf(out->status, sizeof out->status, "%s", row->status);
	return AIGW_OK;
}

enum aigw_err
oa_read(struct http_thread *t, const struct http_req *req, const char *id, bool text_so_far,
	struct rt_state *out)
{
	struct db_response row;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_response_get(t->db, id, req->user, text_so_far, &row);
	if (err == AIGW_OK)
		err = object_of(&row, out);
	db_response_free(&row);
	return err;
}

static enum aigw_err
read_object(struct http_thread *t, const struct http_req *req, const char *id,
	    struct rt_state *out)
{
	return oa_read(t, req, id, true, out);
}

/* The pieces after after, then the object: read after them, so that a
 * final object is never shown before the pieces it follows (a change
 * between the two reads is notified, and the stream reads again). */
static enum aigw_err
read_stream(struct http_thread *t, const struct http_req *req, const char *id, long after,
	    struct rt_state *out)
{
	struct db_chat_view view;
	struct db_pieces pieces;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_chat_stream_read(t->db, id, req->user, after, RT_PIECES_PER_READ, &view, &pieces);
	if (err != AIGW_OK)
		return err;
	db_chat_view_free(&view);
	/* The stream's events take the running text from the pieces; of the
	 * object they need what does not change, and the final results. */
	err = oa_read(t, req, id, false, out);
	if (err != AIGW_OK) {
		db_pieces_free(&pieces);
		return err;
	}
	out->pieces = pieces;
	return AIGW_OK;
}

static enum aigw_err
read_stored(struct http_thread *t, const struct http_req *req, const char *id,
	    struct rt_state *out)
{
	return oa_read(t, req, id, false, out);
}

const struct rt_source oa_source = {
	.channel = DB_CHANNEL_CHAT,
	.not_found = NOT_FOUND,
	.read = read_object,
	.read_stream = read_stream,
	.view = STATUS_VIEW_RESPONSE,
};

const struct rt_source oa_wait_source = {
	.channel = DB_CHANNEL_CHAT,
	.not_found = NOT_FOUND,
	.read = read_stored,
	.read_stream = read_stream,
};

bool
oa_store(struct http_thread *t, struct http_req *req, const struct oa_request *r,
	 const char *api, char id[UUID_STR_LEN + 1])
{
	const struct aigw_config *cfg = t->app->cfg;
	struct http_field_error fe;
	struct db_chat_new row;
	json_object *models = json_object_new_object(), *metadata;
	const char *webhook_url = NULL;
	enum aigw_err err;
	bool ok = false;

	if (models == NULL ||
	    json_object_object_add(models, r->provider, json_object_new_string(r->model)) != 0) {
		http_resp_from_err(req, AIGW_ENOMEM);
		goto out;
	}
	if (!chat_models_reachable(models, cfg, &fe)) {
		snprintf(fe.field, sizeof fe.field, "model");
		http_resp_field_error(req, &fe);
		goto out;
	}
	/* A per-request URL rides in metadata, the one free-form field of
	 * OpenAI's requests: taken under the same rule as webhook_url. */
	if (json_object_object_get_ex(r->api_request, "metadata", &metadata) &&
	    json_object_is_type(metadata, json_type_object) &&
	    !webhookreq_url(metadata, cfg, &webhook_url, &fe)) {
		snprintf(fe.field, sizeof fe.field, "metadata.webhook_url");
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
		.message = r->last_user,
		.system = r->system,
		.max_tokens = r->max_tokens,
		.models_json = json_object_to_json_string_ext(models, JSON_C_TO_STRING_PLAIN),
		.ttl_s = cfg->chat_ttl_s,
		.messages_json = json_object_to_json_string_ext(r->messages, JSON_C_TO_STRING_PLAIN),
		.api = api,
		.api_request_json = json_object_to_json_string_ext(r->api_request,
								   JSON_C_TO_STRING_PLAIN),
		.webhook_url = webhook_url,
		.webhook_key = webhookreq_key(req),
	};
	if (row.models_json == NULL || row.messages_json == NULL || row.api_request_json == NULL) {
		http_resp_from_err(req, AIGW_ENOMEM);
		goto out;
	}
	ok = chat_store(t, req, &row);
out:
	json_object_put(models);
	return ok;
}

struct stream_ctx {
	struct oa_stream st;
	struct buf b;
};

/* rt_events' send hook: the events of one read s (pieces after last). */
static enum aigw_err
send_read(struct http_req *req, void *ctx, const struct rt_state *s, long last, bool *ended)
{
	struct stream_ctx *c = ctx;
	json_object *resp = json_tokener_parse(s->json);
	enum aigw_err err;
	long prev = last;

	buf_reset(&c->b);
	if (resp == NULL)
		return AIGW_ENOMEM;
	err = oa_stream_head(&c->st, &c->b, resp);
	for (size_t i = 0; i < s->pieces.n && err == AIGW_OK && !c->st.ended; i++) {
		const struct db_piece *p = &s->pieces.v[i];

		if (p->seq <= prev || p->seq > s->pieces.upto)
			continue;
		prev = p->seq;
		err = p->reset ? oa_stream_reset(&c->st, &c->b)
			       : oa_stream_delta(&c->st, &c->b, resp, p->text);
	}
	if (err == AIGW_OK && !c->st.ended && s->final && !s->pieces.cut &&
	    s->pieces.upto >= s->version)
		err = oa_stream_end(&c->st, &c->b, resp);
	json_object_put(resp);
	*ended = c->st.ended;
	if (err != AIGW_OK || c->b.len == 0)
		return err;
	return http_stream_write(req, c->b.data, c->b.len);
}

void
oa_stream_events(struct http_thread *t, struct http_req *req, const char *id, bool completion,
		 bool include_usage, long after)
{
	struct stream_ctx c;
	struct rt_source src = oa_source;

	oa_stream_init(&c.st, completion, include_usage, after);
	buf_init(&c.b, 80L << 20);
	src.send = send_read;
	src.ctx = &c;
	rt_events(t, req, &src, id);
	buf_free(&c.b);
	oa_stream_free(&c.st);
}

/* The chat of the route's id, or a 404 answered. */
static bool
chat_of(struct http_req *req, const struct route_args *args, char uuid[UUID_STR_LEN + 1])
{
	if (oa_id_chat(args->id, uuid))
		return true;
	http_resp_error(req, 404, "not_found", "id", NOT_FOUND);
	return false;
}

/* How many events the stream of a final chat id has in all, into *total;
 * -1 while it is not final. */
static enum aigw_err
count_events(struct http_thread *t, struct http_req *req, const char *id, long *total)
{
	struct oa_stream st;
	struct rt_state s = { 0 };
	struct buf b;
	enum aigw_err err;
	long last = -1;

	oa_stream_init(&st, false, false, LONG_MAX);
	buf_init(&b, 1L << 20);
	*total = -1;
	for (;;) {
		json_object *resp;

		rt_state_free(&s);
		err = read_stream(t, req, id, last, &s);
		if (err != AIGW_OK || !s.final)
			break;
		resp = json_tokener_parse(s.json);
		if (resp == NULL) {
			err = AIGW_ENOMEM;
			break;
		}
		err = oa_stream_head(&st, &b, resp);
		for (size_t i = 0; i < s.pieces.n && err == AIGW_OK && !st.ended; i++)
			err = s.pieces.v[i].reset ? oa_stream_reset(&st, &b)
						  : oa_stream_delta(&st, &b, resp, s.pieces.v[i].text);
		if (err == AIGW_OK && !s.pieces.cut)
			err = oa_stream_end(&st, &b, resp);
		json_object_put(resp);
		buf_reset(&b);
		last = s.pieces.upto;
		if (err != AIGW_OK || !s.pieces.cut || st.ended) {
			*total = err == AIGW_OK ? st.next : -1;
			break;
		}
	}
	rt_state_free(&s);
	buf_free(&b);
	oa_stream_free(&st);
	return err;
}

void
oa_responses_get(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char uuid[UUID_STR_LEN + 1], text[32];
	struct rt_state s = { 0 };
	long after = -1, total;
	enum aigw_err err;

	if (!chat_of(req, args, uuid))
		return;
	if (!http_query_get(req, "stream", text, sizeof text) || strcmp(text, "true") != 0) {
		/* Background work is polled here: from memory while it has not
		 * changed (http/status_cache.h). */
		err = rt_read(t, req, &oa_source, uuid, &s);
		if (err == AIGW_OK)
			http_resp_raw(req, 200, s.json, s.len);
		else if (err == AIGW_ENOTFOUND)
			http_resp_error(req, 404, "not_found", "id", NOT_FOUND);
		else
			http_resp_from_err(req, err);
		rt_state_free(&s);
		return;
	}
	if (http_query_has(req, "starting_after") &&
	    (!http_query_get(req, "starting_after", text, sizeof text) ||
	     rt_parse_version(text, &after) != AIGW_OK)) {
		http_resp_error(req, 400, "invalid_value", "starting_after",
				"starting_after must be an event's sequence_number (0 or more)");
		return;
	}
	if (after >= 0) {
		err = count_events(t, req, uuid, &total);
		if (err == AIGW_ENOTFOUND) {
			http_resp_error(req, 404, "not_found", "id", NOT_FOUND);
			return;
		}
		if (err != AIGW_OK) {
			http_resp_from_err(req, err);
			return;
		}
		if (total >= 0 && after >= total) {
			http_resp_error(req, 400, "invalid_value", "starting_after",
					"starting_after %ld is beyond the stream: its last event is %ld",
					after, total - 1);
			return;
		}
	}
	oa_stream_events(t, req, uuid, false, false, after);
}

void
oa_responses_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char uuid[UUID_STR_LEN + 1];
	struct rt_state s = { 0 };
	enum aigw_err err;

	if (!chat_of(req, args, uuid))
		return;
	/* Idempotent: a finished response comes back as it is. Read first,
	 * so that a chat of aigw's own API is not cancelled from here. */
	err = read_object(t, req, uuid, &s);
	if (err == AIGW_OK && !s.final) {
		err = db_chat_cancel(t->db, uuid, req->user);
		rt_state_free(&s);
		if (err == AIGW_OK)
			err = read_object(t, req, uuid, &s);
	}
	if (err == AIGW_OK)
		http_resp_raw(req, 200, s.json, s.len);
	else if (err == AIGW_ENOTFOUND)
		http_resp_error(req, 404, "not_found", "id", NOT_FOUND);
	else
		http_resp_from_err(req, err);
	rt_state_free(&s);
}

/* Adds {"id": "provider/model", ...} to data; nonzero on ENOMEM. */
static int
model_add(json_object *data, const char *provider, const char *model, size_t model_len)
{
	json_object *m = json_object_new_object();
	char id[CONFIG_NAMED_NAME_MAX + CONFIG_NAMED_MODEL_MAX + 64];
	int rc = 0;

	if (m == NULL || json_object_array_add(data, m) != 0) {
		json_object_put(m);
		return -1;
	}
	snprintf(id, sizeof id, "%s/%.*s", provider, (int)model_len, model);
	rc |= json_object_object_add(m, "id", json_object_new_string(id));
	rc |= json_object_object_add(m, "object", json_object_new_string("model"));
	rc |= json_object_object_add(m, "created", json_object_new_int(0));
	rc |= json_object_object_add(m, "owned_by", json_object_new_string(provider));
	return rc;
}

void
oa_models(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	const struct aigw_config *cfg = t->app->cfg;
	json_object *list = json_object_new_object(), *data = json_object_new_array();
	const char *provider, *model;
	int rc = 0;

	(void)args;
	if (list == NULL || data == NULL) {
		json_object_put(list);
		json_object_put(data);
		http_resp_from_err(req, AIGW_ENOMEM);
		return;
	}
	rc |= json_object_object_add(list, "object", json_object_new_string("list"));
	rc |= json_object_object_add(list, "data", data);
	for (size_t i = 0; rc == 0 && prov_price_at(i, &provider, &model); i++) {
		const struct prov_desc *d = prov_find_in(cfg, provider);

		if (d != NULL && prov_state_in(d, cfg) != PROV_MISSING)
			rc |= model_add(data, provider, model, strlen(model));
	}
	/* A named provider's models are what its _MODELS lists: its server
	 * knows them, the price table does not. */
	for (size_t i = 0; rc == 0 && i < cfg->nnamed; i++) {
		const struct config_named *e = &cfg->named[i];

		for (const char *p = e->models; rc == 0 && *p != '\0';) {
			size_t n = strcspn(p, ",");

			rc |= model_add(data, e->name, p, n);
			p += n + (p[n] == ',');
		}
	}
	if (rc != 0) {
		json_object_put(list);
		http_resp_from_err(req, AIGW_ENOMEM);
		return;
	}
	http_resp_json(req, 200, list);
}
