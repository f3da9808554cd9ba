/* keys.c: API keys and active-work counts (see keys.h). */
#include <stdlib.h>
#include <string.h>

#include "db/keys.h"

enum aigw_err
db_key_create(struct db *db, const char *key_id, const char *hash_hex, const char *user,
	      const char *org, const char *name)
{
	const char *values[5] = { key_id, hash_hex, user, org, name };
	int rows = 0;

	return db_exec_rows(db, DB_KEY_CREATE, values, &rows);
}

enum aigw_err
db_key_lookup(struct db *db, const char *key_id, struct db_key *out)
{
	const char *values[1] = { key_id };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, DB_KEY_LOOKUP, values, &res);
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

enum aigw_err
db_key_list(struct db *db, FILE *f)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, DB_KEY_LIST, NULL, &res);

	if (err != AIGW_OK)
		return err;
	fprintf(f, "%-16s  %-20s  %-20s  %-20s  %-20s  %s\n", "ID", "USER", "ORG", "CREATED",
		"REVOKED", "NAME");
	for (int i = 0; i < PQntuples(res); i++)
		fprintf(f, "%-16s  %-20s  %-20s  %-20s  %-20s  %s\n", PQgetvalue(res, i, 0),
			PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5)[0] ? PQgetvalue(res, i, 5) : "-", PQgetvalue(res, i, 3));
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_key_revoke(struct db *db, const char *key_id)
{
	const char *values[1] = { key_id };
	int rows = 0;
	enum aigw_err err = db_exec_rows(db, DB_KEY_REVOKE, values, &rows);

	if (err == AIGW_OK && rows != 1)
		err = AIGW_ENOTFOUND;
	return err;
}

enum aigw_err
db_active_lock_count(struct db *db, const char *org, const char *user, const char *decision,
		     struct db_active *out)
{
	const char *values[3] = { org, user, decision };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = db_exec(db, DB_ACTIVE_LOCK, values, &res);
	PQclear(res);
	res = NULL;
	if (err != AIGW_OK)
		return err;
	/* A statement of its own: its snapshot is taken after the locks, so
	 * it sees every submit that held them before. */
	err = db_exec(db, DB_ACTIVE_COUNT, values, &res);
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
