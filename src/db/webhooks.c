/* webhooks.c: the webhook outbox, the worker's side (see webhooks.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/sql.h"
#include "db/webhooks.h"

#define PENDING_ROW "delivered_at IS NULL AND gave_up_at IS NULL"

/* $1 limit $2 lease_s. The secret is read at each attempt: a key's
 * secret is the one it has now. */
static const struct db_stmt stmt_webhook_claim = {
	.name = "webhook_claim",
	.nparams = 2,
	.idempotent = false,
	.sql = "UPDATE webhook_deliveries d SET attempts = d.attempts + 1,"
	       " lease_until = now() + $2::int * interval '1 second'"
	       " FROM (SELECT delivery_id FROM webhook_deliveries"
	       "  WHERE " PENDING_ROW " AND next_at <= now()"
	       "  AND (lease_until IS NULL OR lease_until < now())"
	       "  ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED) c"
	       " WHERE d.delivery_id = c.delivery_id"
	       " RETURNING d.delivery_id, d.kind, d.object_id, d.owner_user, d.event, d.url,"
	       "  (SELECT k.webhook_secret FROM api_keys k WHERE k.key_id = d.key_id),"
	       "  d.body, " TS("d.created_at") ", d.attempts",
};

void
db_webhooks_free(struct db_webhook *w, size_t n)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(w[i].owner_user);
		free(w[i].event);
		free(w[i].url);
		free(w[i].key_secret);
		free(w[i].body);
	}
	free(w);
}

enum aigw_err
db_webhook_claim(struct db *db, int limit, long lease_s, struct db_webhook **out, size_t *n)
{
	char lim[16], lease[24];
	const char *values[2] = { lim, lease };
	PGresult *res = NULL;
	struct db_webhook *w = NULL;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	snprintf(lim, sizeof lim, "%d", limit);
	snprintf(lease, sizeof lease, "%ld", lease_s);
	err = db_exec(db, &stmt_webhook_claim, values, &res);
	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	if (rows > 0 && (w = calloc((size_t)rows, sizeof *w)) == NULL) {
		PQclear(res);
		return AIGW_ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		struct db_webhook *d = &w[i];

		snprintf(d->delivery_id, sizeof d->delivery_id, "%s", PQgetvalue(res, i, 0));
		snprintf(d->kind, sizeof d->kind, "%s", PQgetvalue(res, i, 1));
		snprintf(d->object_id, sizeof d->object_id, "%s", PQgetvalue(res, i, 2));
		d->owner_user = db_value_dup(res, i, 3);
		d->event = db_value_dup(res, i, 4);
		d->url = db_value_dup(res, i, 5);
		d->key_secret = db_value_dup(res, i, 6);
		d->body = db_value_dup(res, i, 7);
		snprintf(d->event_time, sizeof d->event_time, "%s", PQgetvalue(res, i, 8));
		d->attempt = (int)strtol(PQgetvalue(res, i, 9), NULL, 10);
		if (d->owner_user == NULL || d->event == NULL || d->url == NULL ||
		    (d->key_secret == NULL && !PQgetisnull(res, i, 6)) ||
		    (d->body == NULL && !PQgetisnull(res, i, 7)))
			err = AIGW_ENOMEM;
	}
	PQclear(res);
	if (err != AIGW_OK) {
		/* Their leases run out and another turn takes them. */
		db_webhooks_free(w, (size_t)rows);
		return err;
	}
	*out = w;
	*n = (size_t)rows;
	return AIGW_OK;
}

/* $1 id $2 attempt $3 body */
static const struct db_stmt stmt_webhook_set_body = {
	.name = "webhook_set_body",
	.nparams = 3,
	.idempotent = true,
	.sql = "UPDATE webhook_deliveries SET body = coalesce(body, $3)"
	       " WHERE delivery_id = $1 AND attempts = $2 RETURNING body",
};

enum aigw_err
db_webhook_set_body(struct db *db, const struct db_webhook *w, char **body, bool *ours)
{
	char att[16];
	const char *values[3] = { w->delivery_id, att, *body };
	char *stored = NULL;
	enum aigw_err err;

	*ours = false;
	snprintf(att, sizeof att, "%d", w->attempt);
	err = db_exec_text(db, &stmt_webhook_set_body, values, 0, &stored);
	if (err != AIGW_OK)
		return err;
	if (stored == NULL)
		return AIGW_OK; /* fenced out: the row is another claim's */
	*ours = true;
	free(*body);
	*body = stored;
	return AIGW_OK;
}

/* $1 id $2 attempt $3 outcome (0 delivered, 1 failed, 2 refused, 3 gone)
 * $4 HTTP status $5 why $6 retry_ms $7 retry_s. Metrics in the same
 * statement: an attempt and its outcome are counted once. */
static const struct db_stmt stmt_webhook_settle = {
	.name = "webhook_settle",
	.nparams = 7,
	.idempotent = false,
	.sql = "WITH u AS (UPDATE webhook_deliveries SET lease_until = NULL,"
	       "  last_status = $4::int, last_error = $5,"
	       "  delivered_at = CASE WHEN $3::int = 0 THEN now() END,"
	       "  gave_up_at = CASE WHEN $3::int IN (2, 3) OR ($3::int = 1 AND"
	       "   now() + $6::bigint * interval '1 millisecond'"
	       "   > created_at + $7::int * interval '1 second') THEN now() END,"
	       "  next_at = now() + $6::bigint * interval '1 millisecond'"
	       "  WHERE delivery_id = $1 AND attempts = $2 AND " PENDING_ROW
	       "  RETURNING gave_up_at IS NOT NULL AS gave_up),"
	       " m AS (SELECT aigw_metric_add('aigw_webhook_deliveries_total',"
	       "   aigw_label('outcome', o), 1) FROM u, LATERAL (VALUES"
	       "   (CASE $3::int WHEN 0 THEN 'delivered' WHEN 2 THEN 'refused'"
	       "    ELSE 'failed_attempt' END),"
	       "   (CASE WHEN u.gave_up AND $3::int <> 2 THEN 'gave_up' END)) AS x(o)"
	       "  WHERE o IS NOT NULL)"
	       " SELECT u.gave_up, (SELECT count(*) FROM m) FROM u",
};

enum aigw_err
db_webhook_settle(struct db *db, const struct db_webhook *w, enum db_webhook_outcome outcome,
		  long http_status, const char *why, long long retry_ms, long retry_s,
		  bool *gave_up)
{
	char att[16], oc[8], st[24], rms[24], rs[24];
	const char *values[7] = { w->delivery_id, att, oc, st, why, rms, rs };
	PGresult *res = NULL;
	enum aigw_err err;

	*gave_up = false;
	snprintf(att, sizeof att, "%d", w->attempt);
	snprintf(oc, sizeof oc, "%d", (int)outcome);
	snprintf(st, sizeof st, "%ld", http_status);
	snprintf(rms, sizeof rms, "%lld", retry_ms < 0 ? 0 : retry_ms);
	snprintf(rs, sizeof rs, "%ld", retry_s);
	err = db_exec(db, &stmt_webhook_settle, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1)
		*gave_up = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return AIGW_OK;
}

/* $1 days */
static const struct db_stmt stmt_webhook_prune = {
	.name = "webhook_prune",
	.nparams = 1,
	.idempotent = true,
	.sql = "DELETE FROM webhook_deliveries WHERE (delivered_at IS NOT NULL OR gave_up_at IS NOT NULL)"
	       " AND coalesce(delivered_at, gave_up_at) < now() - $1::int * interval '1 day'",
};

enum aigw_err
db_webhook_prune(struct db *db, long days, long *n)
{
	char d[24];
	const char *values[1] = { d };
	int rows = 0;
	enum aigw_err err;

	snprintf(d, sizeof d, "%ld", days);
	err = db_exec_rows(db, &stmt_webhook_prune, values, &rows);
	*n = rows;
	return err;
}
