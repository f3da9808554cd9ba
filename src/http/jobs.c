/* jobs.c: the HTTP side of jobs: POST /api/jobs, a job's views and events,
 * cancel and the list (docs/api.md, Jobs); the database side is db/jobs.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/jobs.h"
#include "db/pieces_view.h"
#include "db/status.h"
#include "http/auth.h"
#include "http/jobs.h"
#include "http/realtime.h"
#include "http/routes.h"
#include "http/webhookreq.h"
#include "http/wake.h"
#include "providers/provider.h"

/* The largest job view we build around text from the database. */
#define RESULT_RESPONSE_MAX (16L << 20)

/* A string anywhere in v that holds a NUL. PostgreSQL's jsonb cannot store
 * \u0000, and failing there would look like an outage (503) instead of
 * the client's mistake. The parser bounds the depth, so recursion does. */
static bool
has_nul(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (has_nul(json_object_array_get_idx(v, i)))
				return true;
		return false;
	case json_type_object: {
		json_object_object_foreach(v, key, val) {
			(void)key;
			if (has_nul(val))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

/* Adds val to o under key; val is released when that fails, so the caller
 * owns nothing either way. */
static bool
add_owned(json_object *o, const char *key, json_object *val)
{
	if (json_object_object_add(o, key, val) != 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

/* The texts db_job_insert stores: the input, the step names, and the
 * fingerprint an Idempotency-Key replay is compared by. */
static enum aigw_err
derive_texts(struct job_request *r)
{
	json_object *v;

	r->input_json = json_object_to_json_string_ext(r->input, JSON_C_TO_STRING_PLAIN);
	if (r->input_json == NULL)
		return AIGW_ENOMEM;

	r->steps = jobtype_step_names(r->type);
	if (r->steps == NULL)
		return AIGW_ENOMEM;
	r->steps_json = json_object_to_json_string_ext(r->steps, JSON_C_TO_STRING_PLAIN);
	if (r->steps_json == NULL)
		return AIGW_ENOMEM;

	/* Built afresh, in a fixed key order and without the keys the API
	 * ignores, so that only what makes the job counts: white space,
	 * top-level key order and unknown keys do not. */
	r->canon = json_object_new_object();
	if (r->canon == NULL)
		return AIGW_ENOMEM;
	v = json_object_new_string(r->type->name);
	if (v == NULL || !add_owned(r->canon, "type", v))
		return AIGW_ENOMEM;
	v = NULL;
	if (r->decision_id[0] != '\0' && (v = json_object_new_string(r->decision_id)) == NULL)
		return AIGW_ENOMEM;
	if (!add_owned(r->canon, "decision_id", v))
		return AIGW_ENOMEM;
	if (!add_owned(r->canon, "input", json_object_get(r->input)))
		return AIGW_ENOMEM;
	r->fingerprint = json_object_to_json_string_ext(r->canon, JSON_C_TO_STRING_PLAIN);
	return r->fingerprint != NULL ? AIGW_OK : AIGW_ENOMEM;
}

enum aigw_err
job_request_parse(const char *body, size_t len, const struct jobtype_registry *types,
		  struct job_request *out, struct http_field_error *e)
{
	char field[96], msg[256];
	const char *name;
	json_object *v;
	enum aigw_err err = AIGW_EINVAL;

	memset(out, 0, sizeof *out);
	out->root = http_parse_json(body, len, e);
	if (out->root == NULL)
		return e->status == 500 ? AIGW_ENOMEM : AIGW_EINVAL;
	if (!json_object_is_type(out->root, json_type_object)) {
		http_field_error_set(e, 400, "invalid_json", NULL, "the body must be a JSON object");
		goto out;
	}

	if (!json_object_object_get_ex(out->root, "type", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		http_field_error_set(e, 400, "invalid_field", "type",
				     "type is required and must be the name of a job type");
		goto out;
	}
	name = json_object_get_string(v);
	/* A NUL inside would let "a\u0000junk" pass as "a". */
	if (strlen(name) == (size_t)json_object_get_string_len(v))
		out->type = jobtype_find(types, name);
	if (out->type == NULL) {
		/* Echoed only when short: a cut could split a UTF-8 character. */
		if (strlen(name) <= JOBTYPE_NAME_MAX)
			http_field_error_set(e, 400, "unknown_job_type", "type",
					     "unknown job type '%s'", name);
		else
			http_field_error_set(e, 400, "unknown_job_type", "type", "unknown job type");
		goto out;
	}

	if (json_object_object_get_ex(out->root, "decision_id", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) != UUID_STR_LEN ||
		    !uuid_is_valid(json_object_get_string(v))) {
			http_field_error_set(e, 400, "invalid_field", "decision_id",
					     "decision_id must be a UUID or null");
			goto out;
		}
		/* Lower case, as PostgreSQL shows it, so that a replay with
		 * the other case still matches the fingerprint. */
		name = json_object_get_string(v);
		for (size_t i = 0; i < UUID_STR_LEN; i++)
			out->decision_id[i] = (char)tolower((unsigned char)name[i]);
		out->decision_id[UUID_STR_LEN] = '\0';
	}

	if (!json_object_object_get_ex(out->root, "input", &out->input) ||
	    json_object_is_type(out->input, json_type_null)) {
		out->input = NULL;
		http_field_error_set(e, 400, "invalid_field", "input",
				     "input is required: an object of %s's input fields",
				     out->type->name);
		goto out;
	}
	if (jobtype_check_input(out->type, out->input, field, sizeof field, msg, sizeof msg) != AIGW_OK) {
		http_field_error_set(e, 400, "invalid_field", field, "%s", msg);
		goto out;
	}
	json_object_object_foreach(out->input, key, val) {
		if (has_nul(val)) {
			snprintf(field, sizeof field, "input.%s", key);
			http_field_error_set(e, 400, "invalid_field", field,
					     "%s must not contain NUL characters", field);
			goto out;
		}
	}

	err = derive_texts(out);
	if (err != AIGW_OK)
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
out:
	if (err != AIGW_OK)
		job_request_free(out);
	return err;
}

void
job_request_free(struct job_request *r)
{
	json_object_put(r->canon);
	json_object_put(r->steps);
	json_object_put(r->root);
	memset(r, 0, sizeof *r);
}

bool
job_idempotency_key_valid(const char *key)
{
	size_t n;

	for (n = 0; key[n] != '\0'; n++)
		if (n >= JOB_IDEMPOTENCY_KEY_MAX || (unsigned char)key[n] < 0x20 ||
		    (unsigned char)key[n] > 0x7e)
			return false;
	return n > 0;
}

/* ---- handlers ---- */

/* The path's id, or a 400 already answered. */
static bool
path_id_ok(struct http_req *req, const struct route_args *args)
{
	if (uuid_is_valid(args->id))
		return true;
	http_resp_error(req, 400, "invalid_id", "id", "the job id must be a UUID");
	return false;
}

static void
resp_job_err(struct http_req *req, enum aigw_err err)
{
	if (err == AIGW_ENOTFOUND)
		http_resp_error(req, 404, "not_found", NULL, "no such job");
	else
		http_resp_from_err(req, err);
}

/* The id in a job's JSON from the database (a replayed job is not the one
 * whose id we generated). false when it is not there. */
static bool
json_job_id(const char *json, char id[UUID_STR_LEN + 1])
{
	json_object *o = json_tokener_parse(json), *v;
	bool ok = false;

	if (o != NULL && json_object_object_get_ex(o, "id", &v) &&
	    uuid_is_valid(json_object_get_string(v))) {
		memcpy(id, json_object_get_string(v), UUID_STR_LEN + 1);
		ok = true;
	}
	json_object_put(o);
	return ok;
}

/*
 * A job with a step that names no provider this host reaches could only
 * fail: refused, as a chat naming none is. A step that reaches some of
 * its providers goes on; the others fail at once in its results.
 */
static bool
job_type_reachable(const struct jobtype *type, const struct aigw_config *cfg,
		   struct http_field_error *e)
{
	for (size_t s = 0; s < type->nsteps; s++) {
		const struct jobtype_step *st = &type->steps[s];
		const char *names[JOBTYPE_MAX_FANOUT];
		const struct prov_desc *missing;
		char why[160];

		for (size_t c = 0; c < st->ncalls; c++)
			names[c] = st->calls[c].provider;
		missing = prov_none_reachable_in(cfg, names, st->ncalls);
		if (missing != NULL) {
			prov_not_configured_text(missing, why, sizeof why);
			http_field_error_set(e, 400, "provider_not_configured", "type",
					     "step %s: %s", st->name, why);
			return false;
		}
	}
	return true;
}

void
jobs_submit(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	const char *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");
	enum db_job_insert_outcome outcome = DB_JOB_CREATED;
	struct job_request jr;
	struct http_field_error fe;
	struct db_job_new row;
	struct http_admission adm;
	char id[UUID_STR_LEN + 1], location[64], retry[16];
	char *json = NULL;
	const char *webhook_url = NULL;
	enum aigw_err err;

	(void)args;
	memset(&jr, 0, sizeof jr);
	if (key != NULL && !job_idempotency_key_valid(key)) {
		http_resp_error(req, 400, "invalid_field", "Idempotency-Key",
				"Idempotency-Key must be 1 to %d printable ASCII characters",
				JOB_IDEMPOTENCY_KEY_MAX);
		goto out;
	}
	err = job_request_parse(req->body.data ? req->body.data : "", req->body.len,
				t->app->jobtypes, &jr, &fe);
	if (err == AIGW_OK && !job_type_reachable(jr.type, t->app->cfg, &fe))
		err = AIGW_EINVAL;
	if (err == AIGW_OK && !webhookreq_url(jr.root, t->app->cfg, &webhook_url, &fe))
		err = AIGW_EINVAL;
	if (err == AIGW_EINVAL) {
		http_resp_field_error(req, &fe);
		goto out;
	}
	if (err == AIGW_OK)
		err = uuid_new(id);
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		goto out;
	}
	row = (struct db_job_new){
		.type = jr.type->name,
		.owner_user = req->user,
		.owner_org = req->org,
		.decision_id = jr.decision_id[0] ? jr.decision_id : NULL,
		.input_json = jr.input_json,
		.max_attempts = jr.type->attempts,
		.timeout_s = jr.type->timeout_s,
		.steps_json = jr.steps_json,
		.idempotency_key = key,
		.fingerprint = jr.fingerprint,
		.webhook_url = webhook_url,
		.webhook_key = webhookreq_key(req),
	};
	if (!http_admit_lock(t, req, row.decision_id, &adm))
		goto out;
	err = AIGW_ENOTFOUND;
	if (key != NULL && adm.open) {
		/* A replay is the first job's answer, even at the limit. */
		err = db_job_find_by_key(t->db, req->user, key, jr.fingerprint, &outcome, &json);
		if (err != AIGW_OK && err != AIGW_ENOTFOUND) {
			http_admit_abort(t, &adm);
			http_resp_from_err(req, err);
			goto out;
		}
	}
	if (err == AIGW_ENOTFOUND) {
		if (!http_admit_check(t, req, &adm, row.decision_id))
			goto out;
		err = db_job_insert(t->db, id, &row, &outcome, &json);
	}
	if (err == AIGW_OK) {
		err = http_admit_commit(t, &adm);
		if (err == AIGW_EDB && outcome == DB_JOB_CREATED && db_connection_lost(t->db)) {
			/* The server may have committed before the connection
			 * went: a stored job is accepted, whatever came back. */
			free(json);
			json = NULL;
			if (db_job_accepted(t->db, id, &json) == AIGW_OK)
				err = AIGW_OK;
		}
	} else {
		http_admit_abort(t, &adm);
	}
	if (err != AIGW_OK) {
		/* Not committed: the body read in the transaction is void. */
		free(json);
		json = NULL;
	}
	if (err == AIGW_ECONFLICT) {
		http_resp_header(req, "Retry-After", "1");
		http_resp_error(req, 409, "idempotency_in_progress", NULL,
				"a request with this Idempotency-Key is still being processed");
		goto out;
	}
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		goto out;
	}
	switch (outcome) {
	case DB_JOB_CREATED:
		if (t->app->waker != NULL)
			waker_poke(t->app->waker);
		else
			wake_now(t->app->cfg, t->app->spawn_env, t->db);
		snprintf(location, sizeof location, "/api/jobs/%s", id);
		snprintf(retry, sizeof retry, "%d", jr.type->poll_interval_s);
		http_resp_header(req, "Location", location);
		http_resp_header(req, "Retry-After", retry);
		http_resp_raw(req, 202, json, strlen(json));
		break;
	case DB_JOB_REPLAYED:
		if (json_job_id(json, id)) {
			snprintf(location, sizeof location, "/api/jobs/%s", id);
			http_resp_header(req, "Location", location);
		}
		http_resp_raw(req, 200, json, strlen(json));
		break;
	case DB_JOB_KEY_REUSED:
		http_resp_error(req, 422, "idempotency_key_reused", "Idempotency-Key",
				"this Idempotency-Key was used for a different request");
		break;
	}
out:
	free(json);
	job_request_free(&jr);
}

static void
show(struct http_thread *t, struct http_req *req, const struct route_args *args,
     bool with_output)
{
	char *json = NULL;
	enum aigw_err err;

	if (!path_id_ok(req, args))
		goto out;
	err = db_job_get(t->db, args->id, req->user, with_output, &json);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, json, strlen(json));
	else
		resp_job_err(req, err);
out:
	free(json);
}

void
jobs_get(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	show(t, req, args, true);
}

static enum aigw_err
job_read(struct http_thread *t, const struct http_req *req, const char *id,
	 struct rt_state *out)
{
	struct db_job_view v;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_job_status_view(t->db, id, req->user, &v);
	if (err != AIGW_OK)
		return err;
	out->json = v.json;
	out->len = strlen(v.json);
	out->version = v.version;
	out->final = db_status_name_final(v.status);
	snprintf(out->status, sizeof out->status, "%s", v.status);
	return AIGW_OK;
}

/* The job as /events shows it, with its pieces after after. */
static enum aigw_err
job_read_stream(struct http_thread *t, const struct http_req *req, const char *id, long after,
		struct rt_state *out)
{
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_job_stream_read(t->db, id, req->user, after, RT_PIECES_PER_READ, &out->json,
				 &out->version, out->status, &out->pieces);
	if (err != AIGW_OK)
		return err;
	out->len = strlen(out->json);
	out->final = db_status_name_final(out->status);
	return AIGW_OK;
}

static const struct rt_source job_source = {
	.channel = DB_CHANNEL_JOB,
	.not_found = "no such job",
	.read = job_read,
	.read_stream = job_read_stream,
	/* Jobs do not expire; the reaper's deletion of a finished one is
	 * notified (db/reap.c). */
	.view = STATUS_VIEW_STATUS,
};

void
jobs_status(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct rt_params p;
	struct http_field_error fe;

	if (!path_id_ok(req, args))
		return;
	if (!rt_status_params(req, &p, &fe)) {
		http_resp_field_error(req, &fe);
		return;
	}
	rt_longpoll(t, req, &job_source, args->id, &p);
}

void
jobs_events(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	if (path_id_ok(req, args))
		rt_events(t, req, &job_source, args->id);
}

/* The type's poll-interval hint for a job's /status JSON; the default
 * when the type is gone from the registry (or the text is not as
 * expected, which it always is: the database built it). */
static int
retry_after_for(const struct jobtype_registry *types, const char *status_json)
{
	json_object *o = json_tokener_parse(status_json), *v;
	const struct jobtype *type = NULL;
	int s = JOB_RETRY_AFTER_DEFAULT;

	if (o != NULL && json_object_object_get_ex(o, "type", &v) &&
	    json_object_is_type(v, json_type_string))
		type = jobtype_find(types, json_object_get_string(v));
	if (type != NULL)
		s = type->poll_interval_s;
	json_object_put(o);
	return s;
}

void
jobs_result(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct db_job_result r;
	json_object *o = NULL;
	struct buf b;
	char retry[16];
	enum aigw_err err;

	memset(&r, 0, sizeof r);
	buf_init(&b, RESULT_RESPONSE_MAX);
	if (!path_id_ok(req, args))
		goto out;
	err = db_job_result(t->db, args->id, req->user, &r);
	if (err != AIGW_OK) {
		resp_job_err(req, err);
		goto out;
	}
	if (db_status_is(r.status, DB_STATUS_COMPLETED)) {
		/* output is JSON text from the database: no re-parsing. */
		err = buf_printf(&b, "{\"status\":\"%s\",\"result\":%s}",
				 db_status_name(DB_STATUS_COMPLETED),
				 r.output_json ? r.output_json : "null");
		if (err == AIGW_OK)
			http_resp_raw(req, 200, b.data, b.len);
		else
			http_resp_from_err(req, err == AIGW_ETOOBIG ? AIGW_ENOMEM : err);
	} else if (db_status_is(r.status, DB_STATUS_FAILED) ||
		   db_status_is(r.status, DB_STATUS_CANCELLED)) {
		/* The error is free text: json-c escapes it. A job cancelled
		 * by its owner has no error of its own. */
		o = json_object_new_object();
		if (o != NULL &&
		    add_owned(o, "status", json_object_new_string(r.status)) &&
		    add_owned(o, "error", json_object_new_string(r.error ? r.error : r.status))) {
			http_resp_json(req, 200, o);
			o = NULL;
		} else {
			http_resp_from_err(req, AIGW_ENOMEM);
		}
	} else {
		snprintf(retry, sizeof retry, "%d", retry_after_for(t->app->jobtypes, r.status_json));
		http_resp_header(req, "Retry-After", retry);
		http_resp_raw(req, 202, r.status_json, strlen(r.status_json));
	}
out:
	json_object_put(o);
	buf_free(&b);
	db_job_result_free(&r);
}

void
jobs_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	char *json = NULL;
	enum aigw_err err;

	if (!path_id_ok(req, args))
		goto out;
	/* A finished job is left as it is and shown: cancelling is
	 * idempotent, so a client may repeat it safely. */
	err = db_job_cancel(t->db, args->id, req->user);
	if (err == AIGW_OK)
		err = db_job_get(t->db, args->id, req->user, true, &json);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, json, strlen(json));
	else
		resp_job_err(req, err);
out:
	free(json);
}

static bool
known_status(const char *s)
{
	enum db_status st;

	return db_status_parse(s, &st) && db_status_of_job(st);
}

void
jobs_list(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	struct db_job_list q = { .owner = req->user, .limit = JOB_LIST_LIMIT_DEFAULT };
	char status[16], type[JOBTYPE_NAME_MAX + 1], limit[16], cursor[64];
	char *json = NULL;
	long n;
	enum aigw_err err;

	(void)args;
	/* A parameter given but unreadable (bad escape, too long) is an
	 * error, never silently no filter. */
	if (http_query_has(req, "status")) {
		if (!http_query_get(req, "status", status, sizeof status) || !known_status(status)) {
			http_resp_error(req, 400, "invalid_field", "status",
					"status must be pending, running, completed, failed or cancelled");
			goto out;
		}
		q.status = status;
	}
	if (http_query_has(req, "type")) {
		/* An unknown type is no error: it matches no job. */
		if (!http_query_get(req, "type", type, sizeof type) ||
		    utf8_length(type, strlen(type)) < 0) {
			http_resp_error(req, 400, "invalid_field", "type",
					"type must be a job type name of at most %d characters",
					JOBTYPE_NAME_MAX);
			goto out;
		}
		q.type = type;
	}
	if (http_query_has(req, "limit")) {
		if (!http_query_get(req, "limit", limit, sizeof limit) ||
		    parse_long(limit, 1, JOB_LIST_LIMIT_MAX, &n) != AIGW_OK) {
			http_resp_error(req, 400, "invalid_field", "limit",
					"limit must be a whole number from 1 to %d", JOB_LIST_LIMIT_MAX);
			goto out;
		}
		q.limit = (int)n;
	}
	if (http_query_has(req, "cursor")) {
		if (!http_query_get(req, "cursor", cursor, sizeof cursor) ||
		    !db_job_cursor_valid(cursor)) {
			http_resp_error(req, 400, "invalid_field", "cursor",
					"cursor must be a next_cursor from an earlier page");
			goto out;
		}
		q.after = cursor;
	}
	err = db_job_list(t->db, &q, &json);
	if (err == AIGW_OK)
		http_resp_raw(req, 200, json, strlen(json));
	else
		http_resp_from_err(req, err);
out:
	free(json);
}

void
jobs_types(struct http_thread *t, struct http_req *req, const struct route_args *args)
{
	const struct jobtype_registry *types = t->app->jobtypes;
	json_object *o = json_object_new_object(), *list = json_object_new_array();
	bool ok = o != NULL && list != NULL && add_owned(o, "success", json_object_new_boolean(1));

	(void)args;
	for (size_t i = 0; ok && i < jobtype_count(types); i++) {
		json_object *v = jobtype_public_json(jobtype_at(types, i));

		ok = v != NULL && json_object_array_add(list, v) == 0;
		if (!ok)
			json_object_put(v);
	}
	if (ok) {
		ok = add_owned(o, "jobtypes", list);
		list = NULL;
	}
	json_object_put(list);
	if (!ok) {
		json_object_put(o);
		http_resp_from_err(req, AIGW_ENOMEM);
		return;
	}
	http_resp_json(req, 200, o);
}
