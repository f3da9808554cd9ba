/* jobs.c: typed access to jobs and job_steps (see jobs.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/jobs.h"

#define LIST_RESPONSE_MAX (32L << 20)

enum aigw_err
db_job_find_by_key(struct db *db, const char *owner, const char *key, const char *fingerprint,
		   enum db_job_insert_outcome *outcome, char **json)
{
	const char *expire[2] = { owner, key };
	const char *values[3] = { owner, key, fingerprint };
	PGresult *res = NULL;
	enum aigw_err err;
	int rows;

	*json = NULL;
	err = db_exec_rows(db, DB_JOB_KEY_EXPIRE, expire, &rows);
	if (err == AIGW_OK)
		err = db_exec(db, DB_JOB_BY_KEY, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		err = AIGW_ENOTFOUND;
	} else if (PQgetvalue(res, 0, 0)[0] != 't') {
		*outcome = DB_JOB_KEY_REUSED;
	} else {
		*outcome = DB_JOB_REPLAYED;
		*json = db_value_dup(res, 0, 1);
		if (*json == NULL)
			err = AIGW_ENOMEM;
	}
	PQclear(res);
	return err;
}

enum aigw_err
db_job_accepted(struct db *db, const char *id, char **json)
{
	const char *values[1] = { id };
	enum aigw_err err = db_exec_text(db, DB_JOB_ACCEPTED, values, 0, json);

	if (err == AIGW_OK && *json == NULL)
		err = AIGW_ENOTFOUND;
	return err;
}

enum aigw_err
db_job_insert(struct db *db, const char *id, const struct db_job_new *in,
	      enum db_job_insert_outcome *outcome, char **json)
{
	char attempts[16], timeout[24];
	const char *values[11];
	enum aigw_err err;

	*json = NULL;
	*outcome = DB_JOB_CREATED;
	if (in->idempotency_key != NULL) {
		const char *kv[2] = { in->owner_user, in->idempotency_key };
		int rows;

		err = db_exec_rows(db, DB_JOB_KEY_EXPIRE, kv, &rows);
		if (err != AIGW_OK)
			return err;
	}
	snprintf(attempts, sizeof attempts, "%d", in->max_attempts);
	snprintf(timeout, sizeof timeout, "%ld", in->timeout_s);
	values[0] = id;
	values[1] = in->type;
	values[2] = in->owner_user;
	values[3] = in->owner_org;
	values[4] = in->decision_id;
	values[5] = in->input_json;
	values[6] = attempts;
	values[7] = timeout;
	values[8] = in->idempotency_key;
	values[9] = in->idempotency_key ? in->fingerprint : NULL;
	values[10] = in->steps_json;
	err = db_exec_text(db, DB_JOB_INSERT, values, 0, json);
	if (err == AIGW_EDB && db_connection_lost(db)) {
		/* The server may have committed the job before the connection
		 * went: found by its id, it is the answer. */
		enum aigw_err found = db_job_accepted(db, id, json);

		if (found == AIGW_OK || found == AIGW_ENOMEM)
			return found;
		return AIGW_EDB;
	}
	if (err != AIGW_OK || *json != NULL)
		return err;
	if (in->idempotency_key == NULL)
		return AIGW_EDB; /* only a taken key keeps the row out */
	/* The key is taken: a concurrent insert with it has committed (ON
	 * CONFLICT waited for it), so a fresh statement sees that job. When
	 * it expired between the two statements, the client's retry is the
	 * answer. */
	err = db_job_find_by_key(db, in->owner_user, in->idempotency_key, in->fingerprint,
				 outcome, json);
	return err == AIGW_ENOTFOUND ? AIGW_ECONFLICT : err;
}

enum aigw_err
db_job_get(struct db *db, const char *id, const char *owner, bool with_output, char **json)
{
	const char *values[2] = { id, owner };
	enum aigw_err err;

	err = db_exec_text(db, with_output ? DB_JOB_GET : DB_JOB_STATUS, values, 0, json);
	if (err == AIGW_OK && *json == NULL)
		err = AIGW_ENOTFOUND;
	return err;
}

enum aigw_err
db_job_status_view(struct db *db, const char *id, const char *owner, struct db_job_view *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, DB_JOB_STATUS, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		err = AIGW_ENOTFOUND;
		goto out;
	}
	out->json = db_value_dup(res, 0, 0);
	if (out->json == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	out->version = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 2));
out:
	PQclear(res);
	return err;
}

enum aigw_err
db_job_result(struct db *db, const char *id, const char *owner, struct db_job_result *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, DB_JOB_RESULT, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return AIGW_ENOTFOUND;
	}
	snprintf(out->status, sizeof out->status, "%s", PQgetvalue(res, 0, 0));
	out->output_json = db_value_dup(res, 0, 1);
	out->error = db_value_dup(res, 0, 2);
	out->status_json = db_value_dup(res, 0, 3);
	if ((out->output_json == NULL && !PQgetisnull(res, 0, 1)) ||
	    (out->error == NULL && !PQgetisnull(res, 0, 2)) || out->status_json == NULL) {
		db_job_result_free(out);
		err = AIGW_ENOMEM;
	}
	PQclear(res);
	return err;
}

void
db_job_result_free(struct db_job_result *r)
{
	if (r == NULL)
		return;
	free(r->output_json);
	free(r->error);
	free(r->status_json);
	r->output_json = r->error = r->status_json = NULL;
}

enum aigw_err
db_job_cancel(struct db *db, const char *id, const char *owner)
{
	const char *values[2] = { id, owner };
	char *json = NULL;
	int rows = 0;
	enum aigw_err err;

	err = db_exec_rows(db, DB_JOB_CANCEL, values, &rows);
	if (err != AIGW_OK || rows == 1)
		return err;
	/* Nothing to cancel: finished already, or not this owner's job. */
	err = db_job_get(db, id, owner, false, &json);
	free(json);
	return err;
}

bool
db_job_cursor_valid(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	return digits > 0 && digits <= 18 && s[digits] == '.' && uuid_is_valid(s + digits + 1);
}

enum aigw_err
db_job_list(struct db *db, const struct db_job_list *q, char **json)
{
	char limit[16], micros[24], after_id[UUID_STR_LEN + 1];
	const char *values[6];
	PGresult *res = NULL;
	struct buf b;
	enum aigw_err err;
	int rows, shown;

	*json = NULL;
	if (q->limit < 1 || (q->after != NULL && !db_job_cursor_valid(q->after)))
		return AIGW_EINVAL;
	/* One more than asked tells whether another page follows. */
	snprintf(limit, sizeof limit, "%d", q->limit + 1);
	values[0] = q->owner;
	values[1] = q->status;
	values[2] = q->type;
	values[3] = limit;
	values[4] = NULL;
	values[5] = NULL;
	if (q->after != NULL) {
		size_t digits = strcspn(q->after, ".");

		snprintf(micros, sizeof micros, "%.*s", (int)digits, q->after);
		snprintf(after_id, sizeof after_id, "%s", q->after + digits + 1);
		values[4] = micros;
		values[5] = after_id;
	}
	err = db_exec(db, DB_JOB_LIST, values, &res);
	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	shown = rows > q->limit ? q->limit : rows;
	buf_init(&b, LIST_RESPONSE_MAX);
	err = buf_puts(&b, "{\"jobs\":[");
	for (int i = 0; err == AIGW_OK && i < shown; i++) {
		if (i > 0)
			err = buf_puts(&b, ",");
		if (err == AIGW_OK)
			err = buf_puts(&b, PQgetvalue(res, i, 0));
	}
	if (err == AIGW_OK && rows > q->limit)
		/* The cursor is digits, a dot and a UUID: nothing to escape. */
		err = buf_printf(&b, "],\"next_cursor\":\"%s\"}", PQgetvalue(res, shown - 1, 1));
	else if (err == AIGW_OK)
		err = buf_puts(&b, "],\"next_cursor\":null}");
	if (err == AIGW_OK)
		err = buf_steal(&b, json);
	buf_free(&b);
	PQclear(res);
	return err == AIGW_ETOOBIG ? AIGW_ENOMEM : err;
}

/* ---- the worker's side ---- */

/* The claimed rows of res (DB_JOB_CLAIM's columns) as a new array. */
static enum aigw_err
claims_from(PGresult *res, struct db_job_claim **out, size_t *n)
{
	int rows = PQntuples(res);
	struct db_job_claim *claims;

	if (rows == 0)
		return AIGW_OK;
	claims = calloc((size_t)rows, sizeof *claims);
	if (claims == NULL)
		return AIGW_ENOMEM;
	for (int i = 0; i < rows; i++) {
		struct db_job_claim *c = &claims[i];

		snprintf(c->job_id, sizeof c->job_id, "%s", PQgetvalue(res, i, 0));
		c->attempt = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);
		c->type = db_value_dup(res, i, 2);
		c->input_json = db_value_dup(res, i, 3);
		c->progress = (int)strtol(PQgetvalue(res, i, 4), NULL, 10);
		c->steps_json = db_value_dup(res, i, 5);
		if (c->type == NULL || c->input_json == NULL || c->steps_json == NULL) {
			/* The rows stay claimed; their lease runs out and another
			 * attempt takes them. */
			db_job_claims_free(claims, (size_t)rows);
			return AIGW_ENOMEM;
		}
	}
	*out = claims;
	*n = (size_t)rows;
	return AIGW_OK;
}

/* The server may have committed a claim whose connection was lost: its
 * jobs, found by the claim's token, are ours to run, not orphans until
 * their lease runs out (each such wait costs the job an attempt). */
static enum aigw_err
claimed_after_loss(struct db *db, const char *token, PGresult **res)
{
	const char *values[1] = { token };
	enum aigw_err err;

	PQclear(*res);
	*res = NULL;
	err = db_exec(db, DB_JOB_CLAIMED, values, res);
	if (err == AIGW_OK && PQntuples(*res) > 0)
		log_info("db", NULL, "the connection was lost after a claim of %d job%s; running them",
			 PQntuples(*res), PQntuples(*res) == 1 ? "" : "s");
	return err;
}

enum aigw_err
db_job_claim(struct db *db, int limit, long lease_s, const char *worker,
	     struct db_job_claim **out, size_t *n)
{
	char lim[16], lease[24], token[DB_CLAIM_TOKEN_MAX];
	const char *values[3] = { lim, lease, token };
	PGresult *res = NULL;
	enum aigw_err err;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	db_claim_token(worker, token, sizeof token);
	err = db_exec(db, DB_JOB_CLAIM, values, &res);
	if (err == AIGW_EDB && db_connection_lost(db))
		err = claimed_after_loss(db, token, &res);
	if (err == AIGW_OK)
		err = claims_from(res, out, n);
	PQclear(res);
	return err;
}

enum aigw_err
db_job_claim_analysis(struct db *db, int limit, long most_running, long lease_s,
		      const char *worker, struct db_job_claim **out, size_t *n)
{
	char lim[16], lease[24], most[24], token[DB_CLAIM_TOKEN_MAX];
	const char *values[4] = { lim, lease, token, most };
	PGresult *res = NULL;
	enum aigw_err err;

	*out = NULL;
	*n = 0;
	err = db_exec(db, DB_ANALYSIS_CLAIMABLE, NULL, &res);
	if (err != AIGW_OK || strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		goto out;
	PQclear(res);
	res = NULL;
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	snprintf(most, sizeof most, "%ld", most_running);
	db_claim_token(worker, token, sizeof token);
	if ((err = db_begin(db)) != AIGW_OK)
		goto out;
	err = db_exec(db, DB_ANALYSIS_CLAIM_LOCK, NULL, &res);
	PQclear(res);
	res = NULL;
	if (err == AIGW_OK)
		err = db_exec(db, DB_JOB_CLAIM_ANALYSIS, values, &res);
	if (err == AIGW_OK) {
		err = db_commit(db);
		if (err == AIGW_EDB && db_connection_lost(db))
			err = claimed_after_loss(db, token, &res);
	} else {
		db_rollback(db);
	}
	/* Claimed rows are only ours once committed. */
	if (err == AIGW_OK)
		err = claims_from(res, out, n);
out:
	PQclear(res);
	return err;
}

void
db_job_claims_free(struct db_job_claim *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].type);
		free(c[i].input_json);
		free(c[i].steps_json);
	}
	free(c);
}

enum aigw_err
db_job_step_start(struct db *db, const char *id, int attempt, int step,
		  const char *status_message, bool *ours)
{
	char att[16], st[16];
	const char *values[4] = { id, att, st, status_message };
	int rows = 0;
	enum aigw_err err;

	snprintf(att, sizeof att, "%d", attempt);
	snprintf(st, sizeof st, "%d", step);
	err = db_exec_rows(db, DB_JOB_STEP_START, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

enum aigw_err
db_job_step_result(struct db *db, const char *id, int attempt, int step, const char *provider,
		   const char *result_json, bool *written)
{
	char att[16], st[16];
	const char *values[5] = { id, att, st, provider, result_json };
	int rows = 0;
	enum aigw_err err;

	snprintf(att, sizeof att, "%d", attempt);
	snprintf(st, sizeof st, "%d", step);
	err = db_exec_rows(db, DB_JOB_STEP_RESULT, values, &rows);
	*written = err == AIGW_OK && rows == 1;
	return err;
}

enum aigw_err
db_job_step_end(struct db *db, const char *id, int attempt, const struct db_job_step_end *e,
		bool *ours)
{
	char att[16], st[16], progress[16];
	const char *values[10] = {
		id, att, st, e->step_status, e->step_output_json, e->step_error, progress,
		e->final_status, e->job_output_json, e->job_error,
	};
	int rows = 0;
	enum aigw_err err;

	snprintf(att, sizeof att, "%d", attempt);
	snprintf(st, sizeof st, "%d", e->step);
	snprintf(progress, sizeof progress, "%d", e->progress);
	err = db_exec_rows(db, DB_JOB_STEP_END, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

enum aigw_err
db_job_fail(struct db *db, const char *id, int attempt, const char *error, bool *ours)
{
	return db_exec_fenced(db, DB_JOB_FAIL, id, attempt, error, ours);
}

enum aigw_err
db_job_renew(struct db *db, const char *id, int attempt, long lease_s, bool *ours)
{
	char lease[24];

	snprintf(lease, sizeof lease, "%ld", lease_s);
	return db_exec_fenced(db, DB_JOB_RENEW, id, attempt, lease, ours);
}

enum aigw_err
db_job_release(struct db *db, const char *id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, DB_JOB_RELEASE, id, attempt, NULL, &ours);
}
