/* chats.c: typed access to chat_results (see chats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/chats.h"
#include "db/cols.h"
#include "db/sql.h"
#include "db/status.h"
#include "db/views_sql.h"

/* What a worker needs to run a claimed chat (alias r). */
#define CHAT_CLAIM_COLUMNS \
	" r.chat_id, r.attempts, r.message, r.system_prompt, r.max_tokens," \
	"  r.websearch, r.location, r.models::text, r.results::text, r.messages::text"

static void
copy_field(char *dst, size_t size, const PGresult *res, int row, int col)
{
	snprintf(dst, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* $1 ids: an array literal. How many of these chats are stored: after
 * an insert's connection was lost, whether the server committed it. */
static const struct db_stmt stmt_chat_stored = {
	.name = "chat_stored",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT count(*) FROM chat_results WHERE chat_id = ANY($1::uuid[])",
};

/* How many of the chats of ids (an array literal) are stored. */
static enum aigw_err
chats_stored(struct db *db, const char *ids, long *count)
{
	const char *values[1] = { ids };
	char *text = NULL;
	enum aigw_err err = db_exec_text(db, &stmt_chat_stored, values, 0, &text);

	*count = text != NULL ? strtol(text, NULL, 10) : 0;
	free(text);
	return err;
}

/* $1 ids $2 users $3 orgs $4 messages $5 system prompts $6 max tokens
 * $7 websearch $8 locations $9 models $10 ttl_s $11 conversations $12 apis
 * $13 API requests $14 webhook URLs $15 submitting keys: array literals, one element a chat.
 * Many submits, one statement and one commit. */
static const struct db_stmt stmt_chat_insert = {
	.name = "chat_insert",
	.nparams = 15,
	.idempotent = false,
	.sql = "INSERT INTO chat_results (chat_id, owner_user, owner_org, message,"
	       " system_prompt, max_tokens, websearch, location, models, expires_at,"
	       " messages, api, api_request, webhook_url, webhook_key)"
	       " SELECT id, u, o, m, sp, mt, ws, loc, mo, now() + ttl * interval '1 second',"
	       "  conv, api, areq, wh, whk"
	       " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],"
	       "  $7::bool[], $8::text[], $9::jsonb[], $10::int[], $11::jsonb[], $12::text[],"
	       "  $13::jsonb[], $14::text[], $15::text[])"
	       "  AS x(id, u, o, m, sp, mt, ws, loc, mo, ttl, conv, api, areq, wh, whk)",
};

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
	err = db_exec(db, &stmt_chat_insert, arrays, &res);
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
	enum { NCOLS = 15 };
	const char **items[NCOLS] = { NULL };
	char *arrays[NCOLS] = { NULL };
	char (*numbers)[2][24] = calloc(n ? n : 1, sizeof *numbers);
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	if (numbers == NULL || !db_cols_new(items, NCOLS, n))
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
		items[10][i] = in->messages_json;
		items[11][i] = in->api != NULL ? in->api : "chat";
		items[12][i] = in->api_request_json;
		items[13][i] = in->webhook_url;
		items[14][i] = in->webhook_key;
	}
	err = db_cols_literals(items, NCOLS, n, arrays);
	if (err == AIGW_OK)
		err = db_exec(db, &stmt_chat_insert, (const char *const *)arrays, &res);
	if (err == AIGW_EDB && db_connection_lost(db))
		err = insert_settle(db, (const char *const *)arrays, n);
out:
	PQclear(res);
	db_cols_free(items, arrays, NCOLS);
	free(numbers);
	return err;
}

/* $1 id $2 owner: the providers still answering show their text so far. */
static const struct db_stmt stmt_chat_status = {
	.name = "chat_status",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT" CHAT_VIEW_COLUMNS(PIECES_WITH_TEXT)
	       " FROM chat_results r WHERE r.chat_id = $1 AND r.owner_user = $2"
	       " AND r.expires_at > now()",
};

enum aigw_err
db_chat_view_from(const PGresult *res, int row, struct db_chat_view *out)
{
	memset(out, 0, sizeof *out);
	copy_field(out->chat_id, sizeof out->chat_id, res, row, 0);
	copy_field(out->status, sizeof out->status, res, row, 1);
	out->version = strtol(PQgetvalue(res, row, 2), NULL, 10);
	out->results_json = db_value_dup(res, row, 3);
	out->pending_json = db_value_dup(res, row, 4);
	copy_field(out->created_at, sizeof out->created_at, res, row, 5);
	copy_field(out->completed_at, sizeof out->completed_at, res, row, 6);
	copy_field(out->expires_at, sizeof out->expires_at, res, row, 7);
	if (out->results_json == NULL || out->pending_json == NULL) {
		db_chat_view_free(out);
		return AIGW_ENOMEM;
	}
	return AIGW_OK;
}

enum aigw_err
db_chat_status(struct db *db, const char *id, const char *owner, struct db_chat_view *out)
{
	const char *values[2] = { id, owner };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, &stmt_chat_status, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		err = db_chat_view_from(res, 0, out);
	else
		err = AIGW_ENOTFOUND;
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

/* $1 id $2 owner. The worker holding the chat hears aigw_cancel and
 * abandons its calls; its fenced writes find the chat cancelled. The text
 * a provider streamed is kept as its answer. */
static const struct db_stmt stmt_chat_cancel = {
	.name = "chat_cancel",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE chat_results r SET status = " SQL_CANCELLED ", completed_at = now(),"
	       "  lease_until = NULL, version = r.version + 1, results = r.results || coalesce(("
	       "   SELECT jsonb_object_agg(k, CASE WHEN t.text IS NOT NULL"
	       "    THEN jsonb_build_object('ok', true, 'cancelled', true, 'text', t.text,"
	       "     'model', r.models ->> k, 'attempts', r.attempts)"
	       "    ELSE jsonb_build_object('ok', false, 'cancelled', true,"
	       "     'error', 'cancelled before it answered', 'errorClass', 'cancelled',"
	       "     'model', r.models ->> k, 'attempts', r.attempts) END)"
	       "   FROM jsonb_object_keys(r.models) k LEFT JOIN "
	       PIECES_TEXT_SO_FAR("chat_pieces", "p.chat_id = r.chat_id")
	       "    t ON t.provider = k"
	       "   WHERE NOT r.results ? k), '{}'::jsonb)"
	       " WHERE r.chat_id = $1 AND r.owner_user = $2 AND r.expires_at > now()"
	       "  AND r.status IN (" SQL_PENDING ", " SQL_PROCESSING ")"
	       " RETURNING r.chat_id)"
	       " SELECT pg_notify('aigw_cancel', chat_id::text), " CHAT_NOTIFY " FROM u",
};

enum aigw_err
db_chat_cancel(struct db *db, const char *id, const char *owner)
{
	const char *values[2] = { id, owner };
	struct db_chat_view v;
	int rows = 0;
	enum aigw_err err;

	err = db_exec_rows(db, &stmt_chat_cancel, values, &rows);
	if (err != AIGW_OK || rows == 1)
		return err;
	/* Nothing to cancel: finished already, or not this owner's chat. */
	err = db_chat_status(db, id, owner, &v);
	db_chat_view_free(&v);
	return err;
}

/* $1 id $2 attempt $3 providers $4 usages: array literals. */
static const struct db_stmt stmt_chat_cancel_usage = {
	.name = "chat_cancel_usage",
	.nparams = 4,
	.idempotent = false,
	.sql = "WITH v AS (SELECT x.p, x.u FROM unnest($3::text[], $4::jsonb[]) AS x(p, u)),"
	       " u AS ("
	       " UPDATE chat_results r SET version = r.version + 1, results = r.results || ("
	       "   SELECT jsonb_object_agg(v.p, (r.results -> v.p) || v.u) FROM v"
	       "   WHERE (r.results -> v.p) ? 'cancelled')"
	       " WHERE r.chat_id = $1 AND r.attempts = $2 AND r.status = " SQL_CANCELLED
	       "  AND EXISTS (SELECT 1 FROM v WHERE (r.results -> v.p) ? 'cancelled')"
	       " RETURNING r.chat_id)"
	       " SELECT " CHAT_NOTIFY " FROM u",
};

enum aigw_err
db_chat_cancel_usage(struct db *db, const char *id, int attempt, const struct db_chat_usage *rows,
		     size_t n)
{
	const char **items[2];
	char *arrays[2] = { NULL, NULL };
	char att[16];
	int changed = 0;
	enum aigw_err err;

	if (n == 0)
		return AIGW_OK;
	if (!db_cols_new(items, 2, n))
		return AIGW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		items[0][i] = rows[i].provider;
		items[1][i] = rows[i].usage_json;
	}
	snprintf(att, sizeof att, "%d", attempt);
	err = db_cols_literals(items, 2, n, arrays);
	if (err == AIGW_OK) {
		const char *values[4] = { id, att, arrays[0], arrays[1] };

		err = db_exec_rows(db, &stmt_chat_cancel_usage, values, &changed);
	}
	db_cols_free(items, arrays, 2);
	return err;
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
		c->messages_json = db_value_dup(res, i, 9);
		if (c->message == NULL || c->models_json == NULL || c->results_json == NULL ||
		    (c->messages_json == NULL && !PQgetisnull(res, i, 9)) ||
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

/* $1 limit $2 lease_s $3 worker name $4 max attempts */
static const struct db_stmt stmt_chat_claim = {
	.name = "chat_claim",
	.nparams = 4,
	.idempotent = false,
	.sql = "WITH c AS ("
	       " SELECT chat_id FROM chat_results"
	       " WHERE (status = " SQL_PENDING " OR (status = " SQL_PROCESSING " AND lease_until < now()"
	       "  AND attempts < $4)) AND expires_at > now()"
	       " ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
	       " UPDATE chat_results r SET status = " SQL_PROCESSING ", attempts = r.attempts + 1,"
	       "  lease_until = now() + $2 * interval '1 second', worker = $3,"
	       "  started_at = coalesce(r.started_at, now()), attempt_at = now(),"
	       "  version = r.version + 1"
	       " FROM c WHERE r.chat_id = c.chat_id"
	       " RETURNING" CHAT_CLAIM_COLUMNS ", pg_notify('aigw_chat', r.chat_id::text)",
};

/* $1 a claim's token: the chats that claim took, when its connection
 * was lost and the server may have committed it. The claim's token
 * is its own, so these rows are its and no other's. */
static const struct db_stmt stmt_chat_claimed = {
	.name = "chat_claimed",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT" CHAT_CLAIM_COLUMNS " FROM chat_results r"
	       " WHERE r.status IN (" SQL_PENDING ", " SQL_PROCESSING ") AND r.status = " SQL_PROCESSING
	       " AND r.worker = $1",
};

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
	err = db_exec(db, &stmt_chat_claim, values, &res);
	if (err == AIGW_EDB && db_connection_lost(db))
		err = db_claimed_after_loss(db, &stmt_chat_claimed, token, "chat", &res);
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
		free(c[i].messages_json);
	}
	free(c);
}

/*
 * $1 chat ids: an array literal. The notifications of a
 * write, sent once it is committed and in a transaction of their own
 * that does not wait for the disk: every transaction that notifies
 * holds one database-wide lock from its NOTIFY to the end of its
 * commit, so a notifying durable write would keep every other one
 * waiting through its disk flush. A notification lost in a crash
 * costs a long-poll its wait, never a result.
 */
static const struct db_stmt stmt_chat_notify = {
	.name = "chat_notify",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT set_config('synchronous_commit', 'off', true),"
	       " count(pg_notify('aigw_chat', x.id)) FROM unnest($1::text[]) AS x(id)",
};

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

	if (n == 0 || !db_cols_new(ids, 1, (size_t)n))
		return;
	for (int i = 0; i < n; i++)
		ids[0][i] = PQgetvalue(written, i, 2);
	if (db_cols_literals(ids, 1, (size_t)n, array) == AIGW_OK &&
	    db_exec(db, &stmt_chat_notify, (const char *const *)array, &res) != AIGW_OK)
		log_warn("db", NULL, "results stored, their notifications not sent");
	PQclear(res);
	db_cols_free(ids, array, 1);
}

/*
 * $1 ids $2 attempts $3 providers $4 results $5 finish: array
 * literals, one element a result. Stores the results of many chats in
 * one statement (one commit, one notification per chat): a result
 * stored before is kept (a late answer racing a retry), and a chat
 * whose elements say finish is finished as &stmt_chat_finish does. A row
 * per chat written: the position of its first element, its status.
 */
static const struct db_stmt stmt_chat_write_results = {
	.name = "chat_write_results",
	.nparams = 5,
	.idempotent = false,
	.sql = "WITH v AS ("
	       " SELECT x.id AS chat_id, min(x.att) AS att, min(x.ord) AS ord, bool_or(x.fin) AS fin,"
	       "  jsonb_object_agg(x.provider, x.result) AS results"
	       " FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::bool[])"
	       "  WITH ORDINALITY AS x(id, att, provider, result, fin, ord)"
	       " GROUP BY x.id),"
	       " u AS ("
	       " UPDATE chat_results r SET results = v.results || r.results, version = r.version + 1,"
	       "  status = CASE WHEN v.fin AND " CHAT_ALL_ANSWERED("v.results || r.results")
	       "   THEN " CHAT_FINAL_STATUS_OF("v.results || r.results") " ELSE r.status END,"
	       "  completed_at = CASE WHEN v.fin AND " CHAT_ALL_ANSWERED("v.results || r.results")
	       "   THEN now() ELSE r.completed_at END,"
	       "  lease_until = CASE WHEN v.fin THEN NULL ELSE r.lease_until END"
	       " FROM v WHERE r.chat_id = v.chat_id AND r.attempts = v.att AND r.status = " SQL_PROCESSING
	       " RETURNING v.ord, r.chat_id, r.version, r.status)"
	       " SELECT ord, status, chat_id FROM u",
};

enum aigw_err
db_chat_write_results(struct db *db, struct db_chat_result *rows, size_t n)
{
	struct db_fenced_cols c;
	PGresult *res = NULL;
	enum aigw_err err;

	for (size_t i = 0; i < n; i++) {
		rows[i].written = false;
		rows[i].status[0] = '\0';
	}
	if (n == 0)
		return AIGW_OK;
	if (!db_fenced_cols_new(&c, 5, n))
		return AIGW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		db_fenced_cols_row(&c, i, rows[i].chat_id, rows[i].attempt);
		c.items[2][i] = rows[i].provider;
		c.items[3][i] = rows[i].result_json;
		c.items[4][i] = rows[i].finish ? "t" : "f";
	}
	err = db_cols_literals(c.items, c.ncols, n, c.arrays);
	if (err == AIGW_OK)
		err = db_exec(db, &stmt_chat_write_results, (const char *const *)c.arrays, &res);
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
	db_fenced_cols_free(&c);
	return err;
}

/* $1 id $2 attempt */
static const struct db_stmt stmt_chat_finish = {
	.name = "chat_finish",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH u AS ("
	       " UPDATE chat_results SET"
	       "  status = CASE WHEN " CHAT_ALL_ANSWERED("results") " THEN " CHAT_FINAL_STATUS
	       "   ELSE status END,"
	       "  completed_at = CASE WHEN " CHAT_ALL_ANSWERED("results") " THEN now() END,"
	       "  lease_until = NULL, version = version + 1"
	       " WHERE chat_id = $1 AND attempts = $2 AND status = " SQL_PROCESSING
	       " RETURNING chat_id, version, status)"
	       " SELECT status, " CHAT_NOTIFY " FROM u",
};

enum aigw_err
db_chat_finish(struct db *db, const char *id, int attempt, char status[16])
{
	char att[16];
	const char *values[2] = { id, att };
	PGresult *res = NULL;
	enum aigw_err err;

	status[0] = '\0';
	snprintf(att, sizeof att, "%d", attempt);
	err = db_exec(db, &stmt_chat_finish, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		snprintf(status, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return AIGW_OK;
}

/* $1 ids $2 attempts: array literals; $3 lease_s. Every lease a
 * worker holds that is due, in one statement: a row per lease still
 * ours, its position in the arrays. */
static const struct db_stmt stmt_chat_renew = {
	.name = "chat_renew",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE chat_results r SET lease_until = now() + $3 * interval '1 second'"
	       " FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS x(id, att, ord)"
	       " WHERE r.chat_id = x.id AND r.attempts = x.att AND r.status = " SQL_PROCESSING
	       " RETURNING x.ord",
};

enum aigw_err
db_chat_renew(struct db *db, struct db_chat_lease *rows, size_t n, long lease_s)
{
	struct db_fenced_cols c;
	char lease[24];
	const char *values[3];
	PGresult *res = NULL;
	enum aigw_err err;

	if (!db_fenced_cols_new(&c, 2, n))
		return AIGW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		db_fenced_cols_row(&c, i, rows[i].chat_id, rows[i].attempt);
		rows[i].ours = false;
	}
	err = db_cols_literals(c.items, c.ncols, n, c.arrays);
	if (err != AIGW_OK)
		goto out;
	snprintf(lease, sizeof lease, "%ld", lease_s);
	values[0] = c.arrays[0];
	values[1] = c.arrays[1];
	values[2] = lease;
	err = db_exec(db, &stmt_chat_renew, values, &res);
	if (err != AIGW_OK)
		goto out;
	for (int row = 0; row < PQntuples(res); row++) {
		long ord = strtol(PQgetvalue(res, row, 0), NULL, 10);

		if (ord >= 1 && (size_t)ord <= n)
			rows[ord - 1].ours = true;
	}
out:
	PQclear(res);
	db_fenced_cols_free(&c);
	return err;
}

/* $1 id $2 attempt: hands a chat back so another worker takes it now. */
static const struct db_stmt stmt_chat_release = {
	.name = "chat_release",
	.nparams = 2,
	.idempotent = true,
	.sql = "UPDATE chat_results SET lease_until = now()"
	       " WHERE chat_id = $1 AND attempts = $2 AND status = " SQL_PROCESSING,
};

enum aigw_err
db_chat_release(struct db *db, const char *id, int attempt)
{
	bool ours;

	return db_exec_fenced(db, &stmt_chat_release, id, attempt, NULL, &ours);
}

/* $1 stale_s */
static const struct db_stmt stmt_health = {
	.name = "health",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT (SELECT count(*) FROM chat_results WHERE status = " SQL_PENDING ")"
	       " + (SELECT count(*) FROM jobs WHERE status = " SQL_PENDING "),"
	       " (SELECT count(*) FROM worker_slots WHERE pid IS NOT NULL"
	       "  AND heartbeat_at > now() - $1 * interval '1 second')",
};

enum aigw_err
db_health(struct db *db, long stale_s, long *queue_depth, long *workers)
{
	char stale[24];
	const char *values[1] = { stale };
	PGresult *res = NULL;
	enum aigw_err err;

	snprintf(stale, sizeof stale, "%ld", stale_s);
	err = db_exec(db, &stmt_health, values, &res);
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
