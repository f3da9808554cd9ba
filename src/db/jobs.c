/* jobs.c: the database side of jobs, jobs and job_steps (see jobs.h); the
 * HTTP side is http/jobs.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/cols.h"
#include "db/jobs.h"
#include "db/sql.h"
#include "db/status.h"
#include "db/views_sql.h"

#define JOB_ACCEPTED_JSON \
	"json_build_object('id', j.job_id, 'job_id', j.job_id, 'type', j.type, 'status', j.status," \
	" 'progress', j.progress, 'created_at', " TS("j.created_at") ")::text"
/* Later writes of a claimed job: this attempt's, and only while it runs. */
#define JOB_FENCE "job_id = $1 AND attempts = $2 AND status = " SQL_RUNNING
/* A job a worker may take: new, or left by a worker whose lease ran out. */
#define JOB_CLAIMABLE \
	"status = " SQL_PENDING " OR (status = " SQL_RUNNING " AND lease_until < now()" \
	" AND attempts < max_attempts)"
/* What a worker needs to run a claimed job (alias j), with the steps
 * earlier attempts finished. */
#define JOB_CLAIM_COLUMNS \
	" j.job_id, j.attempts, j.type, j.input::text, j.progress," \
	"  (SELECT coalesce(json_agg(json_build_object('status', s.status," \
	"    'results', s.results, 'output', s.output) ORDER BY s.step_index), '[]'::json)" \
	"   FROM job_steps s WHERE s.job_id = j.job_id)::text"
/* Takes the jobs of c ($2 lease_s, $3 the claim's token) and returns
 * JOB_CLAIM_COLUMNS. */
#define JOB_CLAIM_UPDATE \
	" UPDATE jobs j SET status = " SQL_RUNNING ", attempts = j.attempts + 1," \
	"  lease_until = now() + $2 * interval '1 second', worker = $3," \
	"  started_at = coalesce(j.started_at, now()), attempt_at = now()," \
	"  version = j.version + 1, updated_at = now()" \
	" FROM c WHERE j.job_id = c.job_id" \
	" RETURNING" JOB_CLAIM_COLUMNS ", pg_notify('aigw_job', j.job_id::text)"

#define LIST_RESPONSE_MAX (32L << 20)

/* $1 owner $2 key: a key is remembered for 24 hours. */
static const struct db_stmt stmt_job_key_expire = {
	.name = "job_key_expire",
	.nparams = 2,
	.idempotent = true,
	.sql = "UPDATE jobs SET idempotency_key = NULL WHERE owner_user = $1"
	       " AND idempotency_key = $2 AND created_at < now() - interval '24 hours'",
};

/* $1 owner $2 key $3 fingerprint */
static const struct db_stmt stmt_job_by_key = {
	.name = "job_by_key",
	.nparams = 3,
	.idempotent = true,
	.sql = "SELECT j.request_hash IS NOT DISTINCT FROM"
	       "  encode(sha256(convert_to($3::text, 'UTF8')), 'hex'), " JOB_ACCEPTED_JSON
	       " FROM jobs j WHERE j.owner_user = $1 AND j.idempotency_key = $2",
};

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
	err = db_exec_rows(db, &stmt_job_key_expire, expire, &rows);
	if (err == AIGW_OK)
		err = db_exec(db, &stmt_job_by_key, values, &res);
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

/* $1 id: a job's 202 body, as &stmt_job_insert returns it, when the job
 * is stored (after an insert's or commit's connection was lost). */
static const struct db_stmt stmt_job_accepted = {
	.name = "job_accepted",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT " JOB_ACCEPTED_JSON " FROM jobs j WHERE j.job_id = $1",
};

enum aigw_err
db_job_accepted(struct db *db, const char *id, char **json)
{
	const char *values[1] = { id };
	enum aigw_err err = db_exec_text(db, &stmt_job_accepted, values, 0, json);

	if (err == AIGW_OK && *json == NULL)
		err = AIGW_ENOTFOUND;
	return err;
}

/* $1 id $2 type $3 user $4 org $5 decision $6 input $7 max attempts
 * $8 timeout_s $9 key $10 fingerprint $11 step names (JSON array)
 * $12 webhook URL $13 the submitting key (docs/webhooks.md).
 * No row back when the key is taken: the caller reads that job. */
static const struct db_stmt stmt_job_insert = {
	.name = "job_insert",
	.nparams = 13,
	.idempotent = false,
	.sql = "WITH j AS ("
	       " INSERT INTO jobs (job_id, type, owner_user, owner_org, decision_id, input,"
	       "  max_attempts, timeout_s, idempotency_key, request_hash, status_message,"
	       "  webhook_url, webhook_key)"
	       " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9,"
	       "  encode(sha256(convert_to($10::text, 'UTF8')), 'hex'), 'Queued', $12, $13)"
	       " ON CONFLICT (owner_user, idempotency_key) WHERE idempotency_key IS NOT NULL"
	       " DO NOTHING RETURNING *),"
	       " s AS (INSERT INTO job_steps (job_id, step_index, name)"
	       "  SELECT j.job_id, e.ord - 1, e.name"
	       "  FROM j, jsonb_array_elements_text($11::jsonb) WITH ORDINALITY AS e(name, ord))"
	       " SELECT " JOB_ACCEPTED_JSON " FROM j",
};

enum aigw_err
db_job_insert(struct db *db, const char *id, const struct db_job_new *in,
	      enum db_job_insert_outcome *outcome, char **json)
{
	char attempts[16], timeout[24];
	const char *values[13];
	enum aigw_err err;

	*json = NULL;
	*outcome = DB_JOB_CREATED;
	if (in->idempotency_key != NULL) {
		const char *kv[2] = { in->owner_user, in->idempotency_key };
		int rows;

		err = db_exec_rows(db, &stmt_job_key_expire, kv, &rows);
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
	values[11] = in->webhook_url;
	values[12] = in->webhook_key;
	err = db_exec_text(db, &stmt_job_insert, values, 0, json);
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

/* $1 id $2 owner */
static const struct db_stmt stmt_job_get = {
	.name = "job_get",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT " JOB_FULL_JSON " FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2",
};

/* $1 id $2 owner */
static const struct db_stmt stmt_job_status = {
	.name = "job_status",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT " JOB_STATUS_JSON ", j.version, j.status"
	       " FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2",
};

enum aigw_err
db_job_get(struct db *db, const char *id, const char *owner, bool with_output, char **json)
{
	const char *values[2] = { id, owner };
	enum aigw_err err;

	err = db_exec_text(db, with_output ? &stmt_job_get : &stmt_job_status, values, 0, json);
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
	err = db_exec(db, &stmt_job_status, values, &res);
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

/* $1 id $2 owner */
static const struct db_stmt stmt_job_result = {
	.name = "job_result",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT j.status, j.output::text, j.error, " JOB_STATUS_JSON
	       " FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2",
};

enum aigw_err
db_job_result(struct db *db, const char *id, const char *owner, struct db_job_result *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, &stmt_job_result, values, &res);
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

/* $1 id $2 owner. The worker holding the job hears aigw_cancel and
 * abandons its transfers; its fenced writes find the job cancelled. */
static const struct db_stmt stmt_job_cancel = {
	.name = "job_cancel",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE jobs SET status = " SQL_CANCELLED ", status_message = 'Cancelled',"
	       "  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
	       " WHERE job_id = $1 AND owner_user = $2 AND status IN (" SQL_PENDING ", " SQL_RUNNING ")"
	       " RETURNING job_id, version),"
	       " s AS (UPDATE job_steps SET status = " SQL_CANCELLED " FROM u"
	       "  WHERE job_steps.job_id = u.job_id AND job_steps.status IN (" SQL_PENDING ", " SQL_RUNNING "))"
	       " SELECT pg_notify('aigw_cancel', job_id::text), " JOB_NOTIFY " FROM u",
};

enum aigw_err
db_job_cancel(struct db *db, const char *id, const char *owner)
{
	const char *values[2] = { id, owner };
	char *json = NULL;
	int rows = 0;
	enum aigw_err err;

	err = db_exec_rows(db, &stmt_job_cancel, values, &rows);
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

/* $1 owner $2 status $3 type $4 limit $5 cursor time (microseconds since
 * the epoch) $6 cursor id. Keyset pagination, newest first. */
static const struct db_stmt stmt_job_list = {
	.name = "job_list",
	.nparams = 6,
	.idempotent = true,
	.sql = "SELECT " JOB_STATUS_JSON ","
	       " (extract(epoch FROM j.created_at) * 1000000)::bigint::text || '.' || j.job_id::text"
	       " FROM jobs j WHERE j.owner_user = $1"
	       " AND ($2::text IS NULL OR j.status = $2::text)"
	       " AND ($3::text IS NULL OR j.type = $3::text)"
	       " AND ($5::bigint IS NULL OR (j.created_at, j.job_id) <"
	       "  (to_timestamp(0) + $5::bigint * interval '1 microsecond', $6::uuid))"
	       " ORDER BY j.created_at DESC, j.job_id DESC LIMIT $4",
};

/* $1 limit $2 lease_s $3 worker name: jobs of analysis batches are
 * claimed by &stmt_job_claim_analysis, under their own cap. */
static const struct db_stmt stmt_job_claim = {
	.name = "job_claim",
	.nparams = 3,
	.idempotent = false,
	.sql = "WITH c AS ("
	       " SELECT job_id FROM jobs WHERE status IN (" SQL_PENDING ", " SQL_RUNNING ")"
	       "  AND (" JOB_CLAIMABLE ") AND analysis_batch IS NULL"
	       " ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
	       JOB_CLAIM_UPDATE,
};

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
	err = db_exec(db, &stmt_job_list, values, &res);
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

/* The claimed rows of res (&stmt_job_claim's columns) as a new array. */
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

/* $1 a claim's token: as DB_CHAT_CLAIMED, the jobs that claim took. */
static const struct db_stmt stmt_job_claimed = {
	.name = "job_claimed",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT" JOB_CLAIM_COLUMNS " FROM jobs j"
	       " WHERE j.status IN (" SQL_PENDING ", " SQL_RUNNING ") AND j.status = " SQL_RUNNING
	       " AND j.worker = $1",
};

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
	err = db_exec(db, &stmt_job_claim, values, &res);
	if (err == AIGW_EDB && db_connection_lost(db))
		err = db_claimed_after_loss(db, &stmt_job_claimed, token, "job", &res);
	if (err == AIGW_OK)
		err = claims_from(res, out, n);
	PQclear(res);
	return err;
}

static const struct db_stmt stmt_analysis_claimable = {
	.name = "analysis_claimable",
	.nparams = 0,
	.idempotent = true,
	.sql = "SELECT EXISTS (SELECT 1 FROM jobs WHERE analysis_batch IS NOT NULL"
	       " AND status IN (" SQL_PENDING ", " SQL_RUNNING ") AND (" JOB_CLAIMABLE "))",
};

/* Taken before &stmt_job_claim_analysis in one transaction, so that the
 * running count it reads includes every claim made before it. */
static const struct db_stmt stmt_analysis_claim_lock = {
	.name = "analysis_claim_lock",
	.nparams = 0,
	.idempotent = false,
	.sql = "SELECT pg_advisory_xact_lock(hashtextextended('aigw analysis claim', 0))",
};

/* $1 limit $2 lease_s $3 worker name $4 most analysis jobs running */
static const struct db_stmt stmt_job_claim_analysis = {
	.name = "job_claim_analysis",
	.nparams = 4,
	.idempotent = false,
	.sql = "WITH c AS ("
	       " SELECT job_id FROM jobs WHERE analysis_batch IS NOT NULL"
	       "  AND status IN (" SQL_PENDING ", " SQL_RUNNING ") AND (" JOB_CLAIMABLE ")"
	       " ORDER BY created_at LIMIT least($1::int, greatest(0, $4::int - ("
	       "  SELECT count(*) FROM jobs WHERE analysis_batch IS NOT NULL"
	       "   AND status = " SQL_RUNNING " AND lease_until >= now())))"
	       " FOR UPDATE SKIP LOCKED)"
	       JOB_CLAIM_UPDATE,
};

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
	err = db_exec(db, &stmt_analysis_claimable, NULL, &res);
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
	err = db_exec(db, &stmt_analysis_claim_lock, NULL, &res);
	PQclear(res);
	res = NULL;
	if (err == AIGW_OK)
		err = db_exec(db, &stmt_job_claim_analysis, values, &res);
	if (err == AIGW_OK) {
		err = db_commit(db);
		if (err == AIGW_EDB && db_connection_lost(db))
			err = db_claimed_after_loss(db, &stmt_job_claimed, token, "job", &res);
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

/* $1 id $2 attempt $3 step $4 status message */
static const struct db_stmt stmt_job_step_start = {
	.name = "job_step_start",
	.nparams = 4,
	.idempotent = false,
	.sql = "WITH j AS ("
	       " UPDATE jobs SET status_message = $4, version = version + 1, updated_at = now()"
	       " WHERE " JOB_FENCE " RETURNING job_id, version),"
	       " s AS (UPDATE job_steps SET status = " SQL_RUNNING ", attempts = job_steps.attempts + 1,"
	       "  started_at = coalesce(job_steps.started_at, now())"
	       "  FROM j WHERE job_steps.job_id = j.job_id AND job_steps.step_index = $3::int)"
	       " SELECT version, " JOB_NOTIFY " FROM j",
};

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
	err = db_exec_rows(db, &stmt_job_step_start, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

/* $1 ids $2 attempts $3 steps $4 providers $5 results: array literals,
 * one element a result. Every result that came in a turn, in one
 * statement, each fenced by its job's claim and stored once per provider
 * (a result already stored wins, also over one written meanwhile): a row
 * per result stored, its position in the arrays. A step's results are
 * merged before its row is updated, as a row is updated once a statement. */
static const struct db_stmt stmt_job_step_results = {
	.name = "job_step_results",
	.nparams = 5,
	.idempotent = false,
	.sql = "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[],"
	       "  $5::jsonb[]) WITH ORDINALITY AS x(id, att, step, provider, result, ord)),"
	       " w AS (SELECT x.* FROM x JOIN jobs j ON j.job_id = x.id AND j.attempts = x.att"
	       "  AND j.status = " SQL_RUNNING " JOIN job_steps s ON s.job_id = x.id"
	       "  AND s.step_index = x.step WHERE NOT s.results ? x.provider),"
	       " u AS (UPDATE job_steps s SET results = g.add || s.results"
	       "  FROM (SELECT id, step, jsonb_object_agg(provider, result) AS add FROM w"
	       "   GROUP BY id, step) g"
	       "  WHERE s.job_id = g.id AND s.step_index = g.step RETURNING s.job_id, s.step_index)"
	       " SELECT w.ord FROM w JOIN u ON u.job_id = w.id AND u.step_index = w.step",
};

enum aigw_err
db_job_step_results(struct db *db, struct db_job_step_result_row *rows, size_t n)
{
	struct db_fenced_cols c;
	char (*steps)[16] = NULL;
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	for (size_t i = 0; i < n; i++)
		rows[i].written = false;
	if (n == 0)
		return AIGW_OK;
	if (!db_fenced_cols_new(&c, 5, n))
		return AIGW_ENOMEM;
	if ((steps = calloc(n, sizeof *steps)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		db_fenced_cols_row(&c, i, rows[i].job_id, rows[i].attempt);
		snprintf(steps[i], sizeof steps[i], "%d", rows[i].step);
		c.items[2][i] = steps[i];
		c.items[3][i] = rows[i].provider;
		c.items[4][i] = rows[i].result_json;
	}
	err = db_cols_literals(c.items, c.ncols, n, c.arrays);
	if (err == AIGW_OK)
		err = db_exec(db, &stmt_job_step_results, (const char *const *)c.arrays, &res);
	if (err != AIGW_OK)
		goto out;
	for (int row = 0; row < PQntuples(res); row++) {
		long pos = strtol(PQgetvalue(res, row, 0), NULL, 10) - 1;

		if (pos >= 0 && (size_t)pos < n)
			rows[pos].written = true;
	}
out:
	PQclear(res);
	free(steps);
	db_fenced_cols_free(&c);
	return err;
}

/* $1 id $2 attempt $3 step $4 step status $5 step output $6 step error
 * $7 progress $8 final status (NULL: the job goes on) $9 job output
 * $10 job error */
static const struct db_stmt stmt_job_step_end = {
	.name = "job_step_end",
	.nparams = 10,
	.idempotent = false,
	.sql = "WITH j AS ("
	       " UPDATE jobs SET status = coalesce($8::text, status),"
	       "  progress = CASE WHEN $8::text = " SQL_COMPLETED " THEN 100"
	       "   WHEN $8::text IS NULL THEN greatest(progress, $7::int) ELSE progress END,"
	       "  output = CASE WHEN $8::text IS NULL THEN output ELSE $9::jsonb END,"
	       "  error = CASE WHEN $8::text IS NULL THEN error ELSE $10::text END,"
	       "  status_message = CASE WHEN $8::text = " SQL_COMPLETED " THEN 'Completed'"
	       "   WHEN $8::text = " SQL_FAILED " THEN 'Failed' ELSE status_message END,"
	       "  completed_at = CASE WHEN $8::text IS NULL THEN NULL ELSE now() END,"
	       "  lease_until = CASE WHEN $8::text IS NULL THEN lease_until ELSE NULL END,"
	       "  version = version + 1, updated_at = now()"
	       " WHERE " JOB_FENCE " RETURNING job_id, version),"
	       " s AS (UPDATE job_steps SET status = $4::text, output = $5::jsonb, error = $6::text,"
	       "  completed_at = now()"
	       "  FROM j WHERE job_steps.job_id = j.job_id AND job_steps.step_index = $3::int)"
	       " SELECT version, " JOB_NOTIFY " FROM j",
};

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
	err = db_exec_rows(db, &stmt_job_step_end, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

/* $1 id $2 attempt $3 error */
static const struct db_stmt stmt_job_fail = {
	.name = "job_fail",
	.nparams = 3,
	.idempotent = false,
	.sql = "WITH j AS ("
	       " UPDATE jobs SET status = " SQL_FAILED ", error = $3, status_message = 'Failed',"
	       "  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
	       " WHERE " JOB_FENCE " RETURNING job_id, version)"
	       " SELECT version, " JOB_NOTIFY " FROM j",
};

enum aigw_err
db_job_fail(struct db *db, const char *id, int attempt, const char *error, bool *ours)
{
	return db_exec_fenced(db, &stmt_job_fail, id, attempt, error, ours);
}

/* $1 id $2 attempt $3 lease_s */
static const struct db_stmt stmt_job_renew = {
	.name = "job_renew",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE jobs SET lease_until = now() + $3 * interval '1 second' WHERE " JOB_FENCE,
};

enum aigw_err
db_job_renew(struct db *db, const char *id, int attempt, long lease_s, bool *ours)
{
	char lease[24];

	snprintf(lease, sizeof lease, "%ld", lease_s);
	return db_exec_fenced(db, &stmt_job_renew, id, attempt, lease, ours);
}

/* $1 id $2 attempt: hands a job back so another worker takes it now. */
static const struct db_stmt stmt_job_release = {
	.name = "job_release",
	.nparams = 2,
	.idempotent = true,
	.sql = "UPDATE jobs SET lease_until = now() WHERE " JOB_FENCE,
};

enum aigw_err
db_job_release(struct db *db, const char *id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, &stmt_job_release, id, attempt, NULL, &ours);
}
