/* keys.c: the database side of API keys, and active-work counts (see keys.h);
 * the command line of keys is cli/keys.c. */
#include <stdlib.h>
#include <string.h>

#include "db/keys.h"
#include "db/sql.h"
#include "db/status.h"

/* $1 key id $2 SHA-256 hex $3 user $4 org $5 name $6 webhook URL
 * $7 webhook secret */
static const struct db_stmt stmt_key_create = {
	.name = "key_create",
	.nparams = 7,
	.idempotent = false,
	.sql = "INSERT INTO api_keys (key_id, key_hash, owner_user, owner_org, name,"
	       " webhook_url, webhook_secret) VALUES ($1, $2, $3, $4, $5, $6, $7)",
};

enum aigw_err
db_key_create(struct db *db, const struct db_key_new *k)
{
	const char *values[7] = { k->key_id, k->hash_hex, k->user, k->org, k->name,
				  k->webhook_url, k->webhook_secret };
	int rows = 0;

	return db_exec_rows(db, &stmt_key_create, values, &rows);
}

/* $1 key id */
static const struct db_stmt stmt_key_lookup = {
	.name = "key_lookup",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT key_hash, owner_user, owner_org, revoked_at IS NOT NULL"
	       " FROM api_keys WHERE key_id = $1",
};

enum aigw_err
db_key_lookup(struct db *db, const char *key_id, struct db_key *out)
{
	const char *values[1] = { key_id };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, &stmt_key_lookup, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		err = AIGW_ENOTFOUND;
	} else if (strlen(PQgetvalue(res, 0, 0)) != SECRET_HASH_HEX_LEN ||
		   strlen(PQgetvalue(res, 0, 1)) >= sizeof out->user ||
		   strlen(PQgetvalue(res, 0, 2)) >= sizeof out->org) {
		/* Never made by aigw keys create: treated as no key. */
		err = AIGW_ENOTFOUND;
	} else {
		memcpy(out->hash_hex, PQgetvalue(res, 0, 0), SECRET_HASH_HEX_LEN + 1);
		memcpy(out->user, PQgetvalue(res, 0, 1), strlen(PQgetvalue(res, 0, 1)) + 1);
		memcpy(out->org, PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)) + 1);
		out->revoked = PQgetvalue(res, 0, 3)[0] == 't';
	}
	PQclear(res);
	return err;
}

static const struct db_stmt stmt_key_list = {
	.name = "key_list",
	.nparams = 0,
	.idempotent = true,
	.sql = "SELECT key_id, owner_user, owner_org, coalesce(name, ''), " TS("created_at") ","
	       " coalesce(" TS("revoked_at") ", ''), coalesce(webhook_url, '')"
	       " FROM api_keys ORDER BY created_at, key_id",
};

enum aigw_err
db_key_list(struct db *db, FILE *f)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, &stmt_key_list, NULL, &res);

	if (err != AIGW_OK)
		return err;
	fprintf(f, "%-16s  %-20s  %-20s  %-20s  %-20s  %-20s  %s\n", "ID", "USER", "ORG",
		"CREATED", "REVOKED", "NAME", "WEBHOOK");
	for (int i = 0; i < PQntuples(res); i++)
		fprintf(f, "%-16s  %-20s  %-20s  %-20s  %-20s  %-20s  %s\n", PQgetvalue(res, i, 0),
			PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5)[0] ? PQgetvalue(res, i, 5) : "-",
			PQgetvalue(res, i, 3)[0] ? PQgetvalue(res, i, 3) : "-",
			PQgetvalue(res, i, 6)[0] ? PQgetvalue(res, i, 6) : "-");
	PQclear(res);
	return AIGW_OK;
}

/* $1 key id */
static const struct db_stmt stmt_key_revoke = {
	.name = "key_revoke",
	.nparams = 1,
	.idempotent = false,
	.sql = "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
};

enum aigw_err
db_key_revoke(struct db *db, const char *key_id)
{
	const char *values[1] = { key_id };
	int rows = 0;
	enum aigw_err err = db_exec_rows(db, &stmt_key_revoke, values, &rows);

	if (err == AIGW_OK && rows != 1)
		err = AIGW_ENOTFOUND;
	return err;
}

/* $1 org ('' for none) $2 user $3 decision (NULL for none): held to the
 * end of the submit's transaction, so that counting and inserting are
 * one step for everyone sharing an org, a user or a decision. Always
 * in this order, so that two submits cannot deadlock. A decision
 * belongs to its tenant (the org, or the user when there is none), so
 * its lock and count are the tenant's: another tenant that learns the
 * UUID neither waits on nor fills it. */
static const struct db_stmt stmt_active_lock = {
	.name = "active_lock",
	.nparams = 3,
	.idempotent = false,
	.sql = "SELECT (SELECT count(pg_advisory_xact_lock(hashtextextended('aigw org ' || $1::text, 0)))"
	       "  FROM (SELECT 1 WHERE $1::text <> '') o),"
	       " pg_advisory_xact_lock(hashtextextended('aigw user ' || $2::text, 0)),"
	       " (SELECT count(pg_advisory_xact_lock(hashtextextended('aigw decision ' || $3::text"
	       "   || CASE WHEN $1::text = '' THEN ' user ' || $2::text ELSE ' org ' || $1::text END,"
	       "   0)))"
	       "  FROM (SELECT 1 WHERE $3::text IS NOT NULL) d)",
};

/* $1 org $2 user $3 decision: chats and jobs pending or running (the
 * decision's within its tenant, as locked above); scheduled analysis
 * jobs have a cap of their own instead. */
static const struct db_stmt stmt_active_count = {
	.name = "active_count",
	.nparams = 3,
	.idempotent = true,
	.sql = "SELECT CASE WHEN $1::text = '' THEN 0 ELSE"
	       "  (SELECT count(*) FROM chat_results WHERE owner_org = $1::text"
	       "   AND status IN (" SQL_PENDING ", " SQL_PROCESSING "))"
	       "  + (SELECT count(*) FROM jobs WHERE owner_org = $1::text"
	       "   AND status IN (" SQL_PENDING ", " SQL_RUNNING ") AND analysis_batch IS NULL) END,"
	       " (SELECT count(*) FROM chat_results WHERE owner_user = $2::text"
	       "  AND status IN (" SQL_PENDING ", " SQL_PROCESSING "))"
	       " + (SELECT count(*) FROM jobs WHERE owner_user = $2::text"
	       "  AND status IN (" SQL_PENDING ", " SQL_RUNNING ") AND analysis_batch IS NULL),"
	       " CASE WHEN $3::text IS NULL THEN 0 ELSE"
	       "  (SELECT count(*) FROM jobs WHERE decision_id = $3::uuid"
	       "   AND owner_org = $1::text AND ($1::text <> '' OR owner_user = $2::text)"
	       "   AND status IN (" SQL_PENDING ", " SQL_RUNNING ")) END",
};

enum aigw_err
db_active_lock_count(struct db *db, const char *org, const char *user, const char *decision,
		     struct db_active *out)
{
	const char *values[3] = { org, user, decision };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, &stmt_active_lock, values, &res);
	PQclear(res);
	res = NULL;
	if (err != AIGW_OK)
		return err;
	/* A statement of its own: its snapshot is taken after the locks, so
	 * it sees every submit that held them before. */
	err = db_exec(db, &stmt_active_count, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1) {
		out->org = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		out->user = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		out->decision = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	} else {
		err = AIGW_EDB;
	}
	PQclear(res);
	return err;
}
