/* batches.c: batch items and batches (see batches.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/batches.h"

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

enum aigw_err
db_batch_item_add(struct db *db, const struct db_batch_call *c)
{
	char id[UUID_STR_LEN + 1], step[16], tokens[16];
	const char *values[12];
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
	return db_exec_rows(db, DB_BATCH_ITEM_ADD, values, &rows);
}

enum aigw_err
db_batch_groups(struct db *db, struct db_batch_group **out, size_t *n)
{
	struct db_batch_group *g = NULL;
	PGresult *res = NULL;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	err = db_exec(db, DB_BATCH_GROUPS, NULL, &res);
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
	err = db_exec_rows(db, DB_BATCH_FORM, values, &rows);
	*count = err == AIGW_OK ? (size_t)rows : 0;
	return err;
}

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
	err = db_exec(db, DB_BATCH_CLAIM, values, &res);
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
	err = db_exec(db, DB_BATCH_ITEMS, values, &res);
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
		    !dup_optional(res, i, 5, &it[i].location))
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
	}
	free(it);
}

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
	err = db_exec_rows(db, DB_BATCH_SAVE, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

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
	err = db_exec(db, DB_BATCH_SUBMITTING, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1) {
		*ours = true;
		*sent_s = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_batch_renew(struct db *db, const char *batch_id, int attempt, long lease_s, bool *ours)
{
	char lease[24];

	snprintf(lease, sizeof lease, "%ld", lease_s);
	return db_exec_fenced(db, DB_BATCH_RENEW, batch_id, attempt, lease, ours);
}

enum aigw_err
db_batch_release(struct db *db, const char *batch_id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, DB_BATCH_RELEASE, batch_id, attempt, NULL, &ours);
}

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
	err = db_exec(db, DB_BATCH_RESULT, values, &res);
	PQclear(res);
out:
	free(ids);
	free(res_arr);
	return err;
}

enum aigw_err
db_job_step_read(struct db *db, const char *job_id, int step, char **results_json)
{
	char st[16];
	const char *values[2] = { job_id, st };
	PGresult *res = NULL;
	enum aigw_err err;

	*results_json = NULL;
	snprintf(st, sizeof st, "%d", step);
	err = db_exec(db, DB_JOB_STEP_READ, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1 && (*results_json = strdup(PQgetvalue(res, 0, 0))) == NULL)
		err = AIGW_ENOMEM;
	else if (PQntuples(res) != 1)
		err = AIGW_ENOTFOUND;
	PQclear(res);
	return err;
}
