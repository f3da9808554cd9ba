/* batches.c: batch items and batches (see batches.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/batches.h"
#include "db/sql.h"
#include "db/status.h"

/* A batch item whose chat or job still waits for it (t: the item's
 * alias): the calls of a cancelled or failed job, or of a chat already
 * finished, are never sent. */
#define BATCH_ITEM_LIVE(t) \
	"(" t ".chat_id IS NULL OR EXISTS (SELECT 1 FROM chat_results c" \
	" WHERE c.chat_id = " t ".chat_id AND c.status IN (" SQL_PENDING ", " SQL_PROCESSING ")))" \
	" AND (" t ".job_id IS NULL OR EXISTS (SELECT 1 FROM jobs j" \
	" WHERE j.job_id = " t ".job_id AND j.status IN (" SQL_PENDING ", " SQL_RUNNING ")))"

/* A column that must be there: false when it is NULL in the row or could
 * not be copied. */
static bool
dup_required(const PGresult *res, int row, int col, char **out)
{
	*out = db_value_dup(res, row, col);
	return *out != NULL;
}

/* An optional column: false only when it was there and could not be copied. */
static bool
dup_optional(const PGresult *res, int row, int col, char **out)
{
	*out = db_value_dup(res, row, col);
	return *out != NULL || PQgetisnull(res, row, col);
}

/* $1 item $2 provider $3 model $4 chat $5 job $6 step $7 message
 * $8 system $9 max_tokens $10 websearch $11 location $12 json_output
 * $13 messages: a call waits for a batch, once however often it is asked. */
static const struct db_stmt stmt_batch_item_add = {
	.name = "batch_item_add",
	.nparams = 13,
	.idempotent = false,
	.sql = "INSERT INTO batch_items (item_id, provider, model, chat_id, job_id, step_index,"
	       " message, system_prompt, max_tokens, websearch, location, json_output, messages)"
	       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)"
	       " ON CONFLICT DO NOTHING",
};

enum aigw_err
db_batch_item_add(struct db *db, const struct db_batch_call *c)
{
	char id[UUID_STR_LEN + 1], step[16], tokens[16];
	const char *values[13];
	int rows = 0;
	enum aigw_err err;

	err = uuid_new(id);
	if (err != AIGW_OK)
		return err;
	snprintf(step, sizeof step, "%d", c->step);
	snprintf(tokens, sizeof tokens, "%d", c->max_tokens);
	values[0] = id;
	values[1] = c->provider;
	values[2] = c->model;
	values[3] = c->chat_id;
	values[4] = c->job_id;
	values[5] = c->job_id ? step : NULL;
	values[6] = c->message;
	values[7] = c->system;
	values[8] = tokens;
	values[9] = c->websearch ? "true" : "false";
	values[10] = c->location;
	values[11] = c->json_output ? "true" : "false";
	values[12] = c->messages_json;
	return db_exec_rows(db, &stmt_batch_item_add, values, &rows);
}

/* Calls waiting for a batch, by provider and model, with the age of
 * the oldest in milliseconds. */
static const struct db_stmt stmt_batch_groups = {
	.name = "batch_groups",
	.nparams = 0,
	.idempotent = true,
	.sql = "SELECT provider, model, count(*),"
	       " (extract(epoch FROM now() - min(queued_at)) * 1000)::bigint"
	       " FROM batch_items i WHERE batch_id IS NULL AND result IS NULL"
	       " AND " BATCH_ITEM_LIVE("i")
	       " GROUP BY provider, model",
};

enum aigw_err
db_batch_groups(struct db *db, struct db_batch_group **out, size_t *n)
{
	struct db_batch_group *g = NULL;
	PGresult *res = NULL;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	err = db_exec(db, &stmt_batch_groups, NULL, &res);
	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	if (rows > 0 && (g = calloc((size_t)rows, sizeof *g)) == NULL)
		err = AIGW_ENOMEM;
	for (int i = 0; err == AIGW_OK && i < rows; i++) {
		if (!dup_required(res, i, 0, &g[i].provider) || !dup_required(res, i, 1, &g[i].model))
			err = AIGW_ENOMEM;
		g[i].count = strtol(PQgetvalue(res, i, 2), NULL, 10);
		g[i].oldest_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
	}
	PQclear(res);
	if (err != AIGW_OK) {
		db_batch_groups_free(g, (size_t)rows);
		return err;
	}
	*out = g;
	*n = (size_t)rows;
	return AIGW_OK;
}

void
db_batch_groups_free(struct db_batch_group *g, size_t n)
{
	for (size_t i = 0; g != NULL && i < n; i++) {
		free(g[i].provider);
		free(g[i].model);
	}
	free(g);
}

/* $1 batch $2 provider $3 model $4 max items $5 deadline_s $6 worker
 * $7 lease_s $8 max bytes (0: any): a new batch of the oldest waiting
 * calls, claimed. */
static const struct db_stmt stmt_batch_form = {
	.name = "batch_form",
	.nparams = 8,
	.idempotent = false,
	.sql = "WITH w AS (SELECT item_id, queued_at,"
	       "  2 * (octet_length(message) + coalesce(octet_length(system_prompt), 0)"
	       "   + coalesce(octet_length(messages::text), 0)) + 1024 AS size"
	       "  FROM batch_items w WHERE batch_id IS NULL AND result IS NULL"
	       "  AND provider = $2 AND model = $3 AND " BATCH_ITEM_LIVE("w")
	       "  ORDER BY queued_at LIMIT $4 FOR UPDATE OF w SKIP LOCKED),"
	       /* the oldest calls that fit in the provider's size; the first
	        * always goes (alone, it fails as too large) */
	       " i AS (SELECT item_id FROM (SELECT item_id,"
	       "  sum(size) OVER (ORDER BY queued_at, item_id) AS total,"
	       "  row_number() OVER (ORDER BY queued_at, item_id) AS k FROM w) s"
	       "  WHERE $8::bigint = 0 OR total <= $8::bigint OR k = 1),"
	       " b AS (INSERT INTO batches (batch_id, provider, model, deadline, attempts,"
	       "  lease_until, worker)"
	       /* the lease from when the calls are chosen, not from when the
	        * statement began: choosing 50,000 takes a while */
	       "  SELECT $1, $2, $3, now() + $5::int * interval '1 second', 1,"
	       "   clock_timestamp() + $7::int * interval '1 second', $6"
	       "   WHERE EXISTS (SELECT 1 FROM i)"
	       "  RETURNING batch_id)"
	       " UPDATE batch_items SET batch_id = b.batch_id FROM i, b"
	       " WHERE batch_items.item_id = i.item_id RETURNING batch_items.item_id",
};

enum aigw_err
db_batch_form(struct db *db, const char *batch_id, const char *provider, const char *model,
	      size_t max, size_t max_bytes, long deadline_s, const char *worker, long lease_s,
	      size_t *count)
{
	char maxs[24], deadline[24], lease[24], bytes[24];
	const char *values[8] = { batch_id, provider, model, maxs, deadline, worker, lease, bytes };
	int rows = 0;
	enum aigw_err err;

	snprintf(maxs, sizeof maxs, "%zu", max);
	snprintf(bytes, sizeof bytes, "%zu", max_bytes);
	snprintf(deadline, sizeof deadline, "%ld", deadline_s);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	err = db_exec_rows(db, &stmt_batch_form, values, &rows);
	*count = err == AIGW_OK ? (size_t)rows : 0;
	return err;
}

/* $1 limit $2 lease_s $3 worker: batches whose worker is gone. */
static const struct db_stmt stmt_batch_claim = {
	.name = "batch_claim",
	.nparams = 3,
	.idempotent = false,
	.sql = "WITH c AS (SELECT batch_id FROM batches WHERE status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")"
	       "  AND lease_until < now() ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
	       " UPDATE batches b SET attempts = b.attempts + 1,"
	       "  lease_until = now() + $2::int * interval '1 second', worker = $3, updated_at = now()"
	       " FROM c WHERE b.batch_id = c.batch_id"
	       " RETURNING b.batch_id, b.attempts, b.provider, b.model, b.state, b.external_id,"
	       "  greatest(0, (extract(epoch FROM b.deadline - now()) * 1000)::bigint),"
	       "  coalesce(extract(epoch FROM b.submit_sent_at)::bigint, 0)",
};

enum aigw_err
db_batch_claim(struct db *db, int limit, long lease_s, const char *worker,
	       struct db_batch_claim **out, size_t *n)
{
	char lim[16], lease[24];
	const char *values[3] = { lim, lease, worker };
	struct db_batch_claim *c = NULL;
	PGresult *res = NULL;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	err = db_exec(db, &stmt_batch_claim, values, &res);
	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	if (rows > 0 && (c = calloc((size_t)rows, sizeof *c)) == NULL)
		err = AIGW_ENOMEM;
	for (int i = 0; err == AIGW_OK && i < rows; i++) {
		snprintf(c[i].batch_id, sizeof c[i].batch_id, "%s", PQgetvalue(res, i, 0));
		c[i].attempt = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);
		c[i].deadline_in_ms = strtoll(PQgetvalue(res, i, 6), NULL, 10);
		c[i].submit_sent_s = strtoll(PQgetvalue(res, i, 7), NULL, 10);
		if (!dup_required(res, i, 2, &c[i].provider) || !dup_required(res, i, 3, &c[i].model) ||
		    !dup_optional(res, i, 4, &c[i].state) || !dup_optional(res, i, 5, &c[i].external_id))
			err = AIGW_ENOMEM;
	}
	PQclear(res);
	if (err != AIGW_OK) {
		/* Claimed but not held: their lease runs out and they are
		 * claimed again. */
		db_batch_claims_free(c, (size_t)rows);
		return err;
	}
	*out = c;
	*n = (size_t)rows;
	return AIGW_OK;
}

void
db_batch_claims_free(struct db_batch_claim *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++) {
		free(c[i].provider);
		free(c[i].model);
		free(c[i].state);
		free(c[i].external_id);
	}
	free(c);
}

/* $1 batch: its calls, and whether each has its result */
static const struct db_stmt stmt_batch_items = {
	.name = "batch_items",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT item_id, message, system_prompt, max_tokens, websearch, location, json_output,"
	       " result IS NOT NULL, (extract(epoch FROM now() - queued_at) * 1000)::bigint,"
	       " messages::text"
	       " FROM batch_items WHERE batch_id = $1 ORDER BY queued_at, item_id",
};

enum aigw_err
db_batch_items(struct db *db, const char *batch_id, struct db_batch_item **out, size_t *n)
{
	const char *values[1] = { batch_id };
	struct db_batch_item *it = NULL;
	PGresult *res = NULL;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	err = db_exec(db, &stmt_batch_items, values, &res);
	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	if (rows > 0 && (it = calloc((size_t)rows, sizeof *it)) == NULL)
		err = AIGW_ENOMEM;
	for (int i = 0; err == AIGW_OK && i < rows; i++) {
		snprintf(it[i].item_id, sizeof it[i].item_id, "%s", PQgetvalue(res, i, 0));
		it[i].max_tokens = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
		it[i].websearch = PQgetvalue(res, i, 4)[0] == 't';
		it[i].json_output = PQgetvalue(res, i, 6)[0] == 't';
		it[i].answered = PQgetvalue(res, i, 7)[0] == 't';
		it[i].waited_ms = strtoll(PQgetvalue(res, i, 8), NULL, 10);
		if (!dup_required(res, i, 1, &it[i].message) || !dup_optional(res, i, 2, &it[i].system) ||
		    !dup_optional(res, i, 5, &it[i].location) || !dup_optional(res, i, 9, &it[i].messages_json))
			err = AIGW_ENOMEM;
	}
	PQclear(res);
	if (err != AIGW_OK) {
		db_batch_items_free(it, (size_t)rows);
		return err;
	}
	*out = it;
	*n = (size_t)rows;
	return AIGW_OK;
}

void
db_batch_items_free(struct db_batch_item *it, size_t n)
{
	for (size_t i = 0; it != NULL && i < n; i++) {
		free(it[i].message);
		free(it[i].system);
		free(it[i].location);
		free(it[i].messages_json);
	}
	free(it);
}

/* $1 batch $2 attempt $3 status $4 state $5 external id $6 error
 * $7 polls to add */
static const struct db_stmt stmt_batch_save = {
	.name = "batch_save",
	.nparams = 7,
	.idempotent = false,
	.sql = "UPDATE batches SET status = $3, state = coalesce($4, state),"
	       " external_id = coalesce($5, external_id), error = $6, polls = polls + $7::int,"
	       " updated_at = now(),"
	       " completed_at = CASE WHEN $3 IN (" SQL_DONE ", " SQL_FAILED ", " SQL_CANCELLED ") THEN now() END,"
	       " lease_until = CASE WHEN $3 IN (" SQL_DONE ", " SQL_FAILED ", " SQL_CANCELLED ") THEN NULL"
	       "  ELSE lease_until END"
	       " WHERE batch_id = $1 AND attempts = $2 AND status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")",
};

enum aigw_err
db_batch_save(struct db *db, const char *batch_id, int attempt, const char *status,
	      const char *state, const char *external_id, const char *error, int polls, bool *ours)
{
	char att[16], pollss[16];
	const char *values[7] = { batch_id, att, status, state, external_id, error, pollss };
	int rows = 0;
	enum aigw_err err;

	snprintf(att, sizeof att, "%d", attempt);
	snprintf(pollss, sizeof pollss, "%d", polls);
	err = db_exec_rows(db, &stmt_batch_save, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

/* $1 batch $2 attempt: its create request goes out now (the first
 * such time is kept: a lookup searches from it) */
static const struct db_stmt stmt_batch_submitting = {
	.name = "batch_submitting",
	.nparams = 2,
	.idempotent = false,
	.sql = "UPDATE batches SET submit_sent_at = coalesce(submit_sent_at, now()), updated_at = now()"
	       " WHERE batch_id = $1 AND attempts = $2 AND status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")"
	       " RETURNING extract(epoch FROM submit_sent_at)::bigint",
};

enum aigw_err
db_batch_submitting(struct db *db, const char *batch_id, int attempt, bool *ours,
		    long long *sent_s)
{
	char att[16];
	const char *values[2] = { batch_id, att };
	PGresult *res = NULL;
	enum aigw_err err;

	*ours = false;
	*sent_s = 0;
	snprintf(att, sizeof att, "%d", attempt);
	err = db_exec(db, &stmt_batch_submitting, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1) {
		*ours = true;
		*sent_s = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return AIGW_OK;
}

/* $1 batch $2 attempt $3 lease_s */
static const struct db_stmt stmt_batch_renew = {
	.name = "batch_renew",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE batches SET lease_until = now() + $3::int * interval '1 second'"
	       " WHERE batch_id = $1 AND attempts = $2 AND status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")",
};

enum aigw_err
db_batch_renew(struct db *db, const char *batch_id, int attempt, long lease_s, bool *ours)
{
	char lease[24];

	snprintf(lease, sizeof lease, "%ld", lease_s);
	return db_exec_fenced(db, &stmt_batch_renew, batch_id, attempt, lease, ours);
}

/* $1 batch $2 attempt */
static const struct db_stmt stmt_batch_release = {
	.name = "batch_release",
	.nparams = 2,
	.idempotent = true,
	.sql = "UPDATE batches SET lease_until = now()"
	       " WHERE batch_id = $1 AND attempts = $2 AND status IN (" SQL_SUBMITTING ", " SQL_RUNNING ")",
};

enum aigw_err
db_batch_release(struct db *db, const char *batch_id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, &stmt_batch_release, batch_id, attempt, NULL, &ours);
}

/* $1 items $2 results: array literals, one element a call. Each
 * result is stored once, into the item and its chat, which it finishes
 * when it was the last answer awaited (lease NULL: the chat's worker
 * has finished its own calls and left), or job step. A batch holds one
 * call of a chat or step at most, so no row is updated twice. */
static const struct db_stmt stmt_batch_result = {
	.name = "batch_result",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[]) AS x(item_id, result)),"
	       " it AS (UPDATE batch_items b SET result = x.result FROM x"
	       "  WHERE b.item_id = x.item_id AND b.result IS NULL"
	       "  RETURNING b.chat_id, b.job_id, b.step_index, b.provider, x.result),"
	       " c AS (UPDATE chat_results SET"
	       "  results = results || jsonb_build_object(it.provider, it.result),"
	       "  status = CASE WHEN status = " SQL_PROCESSING " AND lease_until IS NULL AND "
	       CHAT_ALL_ANSWERED("results || jsonb_build_object(it.provider, it.result)") " THEN"
	       "   CASE WHEN jsonb_path_exists(results || jsonb_build_object(it.provider, it.result),"
	       "    '$.* ? (@.ok == true)') THEN " SQL_COMPLETED " ELSE " SQL_FAILED " END ELSE status END,"
	       "  completed_at = CASE WHEN status = " SQL_PROCESSING " AND lease_until IS NULL AND "
	       CHAT_ALL_ANSWERED("results || jsonb_build_object(it.provider, it.result)")
	       "   THEN now() END,"
	       "  version = version + 1"
	       "  FROM it WHERE chat_results.chat_id = it.chat_id"
	       "  AND chat_results.status IN (" SQL_PENDING ", " SQL_PROCESSING ")"
	       "  AND NOT chat_results.results ? it.provider"
	       "  RETURNING chat_results.chat_id, chat_results.version),"
	       " s AS (UPDATE job_steps SET results = job_steps.results"
	       "  || jsonb_build_object(it.provider, it.result)"
	       "  FROM it WHERE job_steps.job_id = it.job_id AND job_steps.step_index = it.step_index"
	       "  AND NOT job_steps.results ? it.provider RETURNING job_steps.job_id)"
	       " SELECT (SELECT count(" CHAT_NOTIFY ") FROM c)"
	       " + (SELECT count(pg_notify('aigw_step', job_id::text)) FROM s)",
};

enum aigw_err
db_batch_results(struct db *db, const char *const *item_ids, const char *const *results,
		 size_t n)
{
	char *ids = NULL, *res_arr = NULL;
	const char *values[2];
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	if (n == 0)
		return AIGW_OK;
	if ((ids = db_array_literal(item_ids, n)) == NULL ||
	    (res_arr = db_array_literal(results, n)) == NULL)
		goto out;
	values[0] = ids;
	values[1] = res_arr;
	err = db_exec(db, &stmt_batch_result, values, &res);
	PQclear(res);
out:
	free(ids);
	free(res_arr);
	return err;
}

/* $1 job $2 step: the answers stored for a step so far */
static const struct db_stmt stmt_job_step_read = {
	.name = "job_step_read",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT results::text FROM job_steps WHERE job_id = $1 AND step_index = $2::int",
};

enum aigw_err
db_job_step_read(struct db *db, const char *job_id, int step, char **results_json)
{
	char st[16];
	const char *values[2] = { job_id, st };
	PGresult *res = NULL;
	enum aigw_err err;

	*results_json = NULL;
	snprintf(st, sizeof st, "%d", step);
	err = db_exec(db, &stmt_job_step_read, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1 && (*results_json = strdup(PQgetvalue(res, 0, 0))) == NULL)
		err = AIGW_ENOMEM;
	else if (PQntuples(res) != 1)
		err = AIGW_ENOTFOUND;
	PQclear(res);
	return err;
}
