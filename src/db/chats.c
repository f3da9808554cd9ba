/* chats.c: typed access to chat_results (see chats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/chats.h"

static void
copy_field(char *dst, size_t size, const PGresult *res, int row, int col)
{
	snprintf(dst, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* The array literals of columns items[0..ncols) over n rows; arrays[k]
 * malloc'd, all NULL on ENOMEM. */
static enum aigw_err
array_literals(const char **items[], size_t ncols, size_t n, char *arrays[])
{
	for (size_t k = 0; k < ncols; k++) {
		arrays[k] = db_array_literal(items[k], n);
		if (arrays[k] == NULL) {
			for (size_t j = 0; j < k; j++) {
				free(arrays[j]);
				arrays[j] = NULL;
			}
			return AIGW_ENOMEM;
		}
	}
	return AIGW_OK;
}

/* ncols arrays of n item pointers each; false (none left) on ENOMEM. */
static bool
items_new(const char **items[], size_t ncols, size_t n)
{
	bool ok = true;

	for (size_t k = 0; k < ncols; k++) {
		items[k] = calloc(n, sizeof *items[k]);
		ok = ok && items[k] != NULL;
	}
	if (!ok)
		for (size_t k = 0; k < ncols; k++) {
			free(items[k]);
			items[k] = NULL;
		}
	return ok;
}

static void
columns_free(const char **items[], char *arrays[], size_t ncols)
{
	for (size_t k = 0; k < ncols; k++) {
		free(items[k]);
		free(arrays[k]);
	}
}

/* How many of the chats of ids (an array literal) are stored. */
static enum aigw_err
chats_stored(struct db *db, const char *ids, long *count)
{
	const char *values[1] = { ids };
	char *text = NULL;
	enum aigw_err err = db_exec_text(db, DB_CHAT_STORED, values, 0, &text);

	*count = text != NULL ? strtol(text, NULL, 10) : 0;
	free(text);
	return err;
}

/*
 * The connection of an insert was lost: the server may have committed it
 * before, or never seen it. The rows' ids, made before the insert, tell:
 * when they are stored the insert is done; when none is, it is sent once
 * more (should the first one still commit late, the ids keep the second
 * out, so no chat is stored twice). AIGW_EDB when the database cannot say.
 */
static enum aigw_err
insert_settle(struct db *db, const char *const *arrays, size_t n)
{
	PGresult *res = NULL;
	long count = 0;
	enum aigw_err err = chats_stored(db, arrays[0], &count);

	if (err != AIGW_OK)
		return err;
	if (count == (long)n) {
		log_info("db", NULL, "the connection was lost after an insert of %zu chat%s;"
			 " they are stored", n, n == 1 ? "" : "s");
		return AIGW_OK;
	}
	if (count != 0)
		return AIGW_EDB; /* one statement stores all or none: not ours */
	err = db_exec(db, DB_CHAT_INSERT, arrays, &res);
	PQclear(res);
	return err;
}

enum aigw_err
db_chat_stored(struct db *db, const char *chat_id, bool *stored)
{
	const char *ids[1] = { chat_id };
	char *literal = db_array_literal(ids, 1);
	long count = 0;
	enum aigw_err err = AIGW_ENOMEM;

	*stored = false;
	if (literal != NULL)
		err = chats_stored(db, literal, &count);
	free(literal);
	*stored = err == AIGW_OK && count == 1;
	return err;
}

enum aigw_err
db_chat_insert(struct db *db, const struct db_chat_new *const *rows, size_t n)
{
	enum { NCOLS = 10 };
	const char **items[NCOLS] = { NULL };
	char *arrays[NCOLS] = { NULL };
	char (*numbers)[2][24] = calloc(n ? n : 1, sizeof *numbers);
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	if (numbers == NULL || !items_new(items, NCOLS, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct db_chat_new *in = rows[i];

		snprintf(numbers[i][0], sizeof numbers[i][0], "%d", in->max_tokens);
		snprintf(numbers[i][1], sizeof numbers[i][1], "%ld", in->ttl_s);
		items[0][i] = in->chat_id;
		items[1][i] = in->owner_user;
		items[2][i] = in->owner_org;
		items[3][i] = in->message;
		items[4][i] = in->system;
		items[5][i] = numbers[i][0];
		items[6][i] = in->websearch ? "t" : "f";
		items[7][i] = in->location;
		items[8][i] = in->models_json;
		items[9][i] = numbers[i][1];
	}
	err = array_literals(items, NCOLS, n, arrays);
	if (err == AIGW_OK)
		err = db_exec(db, DB_CHAT_INSERT, (const char *const *)arrays, &res);
	if (err == AIGW_EDB && db_connection_lost(db))
		err = insert_settle(db, (const char *const *)arrays, n);
out:
	PQclear(res);
	columns_free(items, arrays, NCOLS);
	free(numbers);
	return err;
}

enum aigw_err
db_chat_status(struct db *db, const char *id, const char *owner, struct db_chat_view *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, DB_CHAT_STATUS, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		err = AIGW_ENOTFOUND;
		goto out;
	}
	copy_field(out->chat_id, sizeof out->chat_id, res, 0, 0);
	copy_field(out->status, sizeof out->status, res, 0, 1);
	out->version = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	out->results_json = db_value_dup(res, 0, 3);
	out->pending_json = db_value_dup(res, 0, 4);
	copy_field(out->created_at, sizeof out->created_at, res, 0, 5);
	copy_field(out->completed_at, sizeof out->completed_at, res, 0, 6);
	copy_field(out->expires_at, sizeof out->expires_at, res, 0, 7);
	if (out->results_json == NULL || out->pending_json == NULL) {
		db_chat_view_free(out);
		err = AIGW_ENOMEM;
	}
out:
	PQclear(res);
	return err;
}

void
db_chat_view_free(struct db_chat_view *v)
{
	if (v == NULL)
		return;
	free(v->results_json);
	free(v->pending_json);
	v->results_json = NULL;
	v->pending_json = NULL;
}

/* The claimed rows of res (CHAT_CLAIM_COLUMNS) as a new array. */
static enum aigw_err
claims_from(PGresult *res, struct db_chat_claim **out, size_t *n)
{
	int rows = PQntuples(res);
	struct db_chat_claim *claims;

	if (rows == 0)
		return AIGW_OK;
	claims = calloc((size_t)rows, sizeof *claims);
	if (claims == NULL)
		return AIGW_ENOMEM;
	for (int i = 0; i < rows; i++) {
		struct db_chat_claim *c = &claims[i];

		copy_field(c->chat_id, sizeof c->chat_id, res, i, 0);
		c->attempt = (int)strtol(PQgetvalue(res, i, 1), NULL, 10);
		c->message = db_value_dup(res, i, 2);
		c->system = db_value_dup(res, i, 3);
		c->max_tokens = (int)strtol(PQgetvalue(res, i, 4), NULL, 10);
		c->websearch = PQgetvalue(res, i, 5)[0] == 't';
		c->location = db_value_dup(res, i, 6);
		c->models_json = db_value_dup(res, i, 7);
		c->results_json = db_value_dup(res, i, 8);
		if (c->message == NULL || c->models_json == NULL || c->results_json == NULL ||
		    (c->system == NULL && !PQgetisnull(res, i, 3)) ||
		    (c->location == NULL && !PQgetisnull(res, i, 6))) {
			/* The rows stay claimed; their lease runs out and another
			 * attempt takes them. */
			db_chat_claims_free(claims, (size_t)rows);
			return AIGW_ENOMEM;
		}
	}
	*out = claims;
	*n = (size_t)rows;
	return AIGW_OK;
}

enum aigw_err
db_chat_claim(struct db *db, int limit, long lease_s, const char *worker,
	      long max_attempts, struct db_chat_claim **out, size_t *n)
{
	char lim[16], lease[24], attempts[24], token[DB_CLAIM_TOKEN_MAX];
	const char *values[4] = { lim, lease, token, attempts };
	PGresult *res = NULL;
	enum aigw_err err;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	snprintf(attempts, sizeof attempts, "%ld", max_attempts);
	db_claim_token(worker, token, sizeof token);
	err = db_exec(db, DB_CHAT_CLAIM, values, &res);
	if (err == AIGW_EDB && db_connection_lost(db)) {
		/* The server may have committed the claim: its rows, found by
		 * the claim's token, are ours to run, not orphans until their
		 * lease runs out (each such wait costs the chat an attempt). */
		err = db_exec(db, DB_CHAT_CLAIMED, values + 2, &res);
		if (err == AIGW_OK && PQntuples(res) > 0)
			log_info("db", NULL, "the connection was lost after a claim of %d chat%s;"
				 " running them", PQntuples(res), PQntuples(res) == 1 ? "" : "s");
	}
	if (err == AIGW_OK)
		err = claims_from(res, out, n);
	PQclear(res);
	return err;
}

void
db_chat_claims_free(struct db_chat_claim *c, size_t n)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].message);
		free(c[i].system);
		free(c[i].location);
		free(c[i].models_json);
		free(c[i].results_json);
	}
	free(c);
}

/* Sends the notifications of a committed write whose rows are (..., chat
 * id, ...). Best effort: listeners that miss one answer at their
 * deadline with what is stored. */
static void
notify_written(struct db *db, const PGresult *written)
{
	int n = PQntuples(written);
	const char **ids[1] = { NULL };
	char *array[1] = { NULL };
	PGresult *res = NULL;

	if (n == 0 || !items_new(ids, 1, (size_t)n))
		return;
	for (int i = 0; i < n; i++)
		ids[0][i] = PQgetvalue(written, i, 2);
	if (array_literals(ids, 1, (size_t)n, array) == AIGW_OK &&
	    db_exec(db, DB_CHAT_NOTIFY, (const char *const *)array, &res) != AIGW_OK)
		log_warn("db", NULL, "results stored, their notifications not sent");
	PQclear(res);
	columns_free(ids, array, 1);
}

enum aigw_err
db_chat_write_results(struct db *db, struct db_chat_result *rows, size_t n)
{
	enum { NCOLS = 5 };
	const char **items[NCOLS] = { NULL };
	char *arrays[NCOLS] = { NULL };
	char (*att)[16] = NULL;
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	for (size_t i = 0; i < n; i++) {
		rows[i].written = false;
		rows[i].status[0] = '\0';
	}
	if (n == 0)
		return AIGW_OK;
	att = calloc(n, sizeof *att);
	if (att == NULL || !items_new(items, NCOLS, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(att[i], sizeof att[i], "%d", rows[i].attempt);
		items[0][i] = rows[i].chat_id;
		items[1][i] = att[i];
		items[2][i] = rows[i].provider;
		items[3][i] = rows[i].result_json;
		items[4][i] = rows[i].finish ? "t" : "f";
	}
	err = array_literals(items, NCOLS, n, arrays);
	if (err == AIGW_OK)
		err = db_exec(db, DB_CHAT_WRITE_RESULTS, (const char *const *)arrays, &res);
	if (err != AIGW_OK)
		goto out;
	for (int row = 0; row < PQntuples(res); row++) {
		/* The chat's first element, counted from 1; its others follow. */
		long first = strtol(PQgetvalue(res, row, 0), NULL, 10) - 1;

		if (first < 0 || (size_t)first >= n)
			continue;
		for (size_t i = (size_t)first;
		     i < n && strcmp(rows[i].chat_id, rows[first].chat_id) == 0; i++) {
			rows[i].written = true;
			copy_field(rows[i].status, sizeof rows[i].status, res, row, 1);
		}
	}
	notify_written(db, res);
out:
	PQclear(res);
	columns_free(items, arrays, NCOLS);
	free(att);
	return err;
}

enum aigw_err
db_chat_finish(struct db *db, const char *id, int attempt, char status[16])
{
	char att[16];
	const char *values[2] = { id, att };
	PGresult *res = NULL;
	enum aigw_err err;

	status[0] = '\0';
	snprintf(att, sizeof att, "%d", attempt);
	err = db_exec(db, DB_CHAT_FINISH, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		snprintf(status, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_chat_renew(struct db *db, struct db_chat_lease *rows, size_t n, long lease_s)
{
	enum { NCOLS = 2 };
	const char **items[NCOLS] = { NULL };
	char *arrays[NCOLS] = { NULL };
	char (*att)[16] = calloc(n ? n : 1, sizeof *att);
	char lease[24];
	const char *values[3];
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	if (att == NULL || !items_new(items, NCOLS, n))
		goto out;
	for (size_t i = 0; i < n; i++) {
		snprintf(att[i], sizeof att[i], "%d", rows[i].attempt);
		items[0][i] = rows[i].chat_id;
		items[1][i] = att[i];
		rows[i].ours = false;
	}
	err = array_literals(items, NCOLS, n, arrays);
	if (err != AIGW_OK)
		goto out;
	snprintf(lease, sizeof lease, "%ld", lease_s);
	values[0] = arrays[0];
	values[1] = arrays[1];
	values[2] = lease;
	err = db_exec(db, DB_CHAT_RENEW, values, &res);
	if (err != AIGW_OK)
		goto out;
	for (int row = 0; row < PQntuples(res); row++) {
		long ord = strtol(PQgetvalue(res, row, 0), NULL, 10);

		if (ord >= 1 && (size_t)ord <= n)
			rows[ord - 1].ours = true;
	}
out:
	PQclear(res);
	columns_free(items, arrays, NCOLS);
	free(att);
	return err;
}

enum aigw_err
db_chat_release(struct db *db, const char *id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, DB_CHAT_RELEASE, id, attempt, NULL, &ours);
}

enum aigw_err
db_health(struct db *db, long stale_s, long *queue_depth, long *workers)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, DB_HEALTH, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return AIGW_EDB;
	}
	*queue_depth = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*workers = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}
