/* migrate.c: the database side of migrations, their runner (see migrate.h);
 * the command is cli/migrate.c. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "db/migrate.h"

#define MIGRATION_MAX_BYTES (4L << 20)
/* Any constant works; it only has to be the same in every aigw. */
#define MIGRATE_LOCK_KEY "7391000001"

static int
is_sql_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

static enum aigw_err
read_file(const char *path, struct buf *out)
{
	char chunk[8192];
	FILE *f = fopen(path, "r");
	enum aigw_err err = AIGW_OK;
	size_t n;

	if (f == NULL) {
		log_error("migrate", NULL, "cannot open %s: %s", path, strerror(errno));
		return AIGW_EIO;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		err = buf_append(out, chunk, n);
		if (err != AIGW_OK)
			break;
	}
	if (err == AIGW_OK && ferror(f))
		err = AIGW_EIO;
	fclose(f);
	if (err != AIGW_OK)
		log_error("migrate", NULL, "cannot read %s: %s", path, aigw_strerror(err));
	return err;
}

static enum aigw_err
exec_ok(PGconn *conn, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	enum aigw_err err = AIGW_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_error("migrate", NULL, "%s: %.500s", what, PQerrorMessage(conn));
		err = AIGW_EDB;
	}
	PQclear(res);
	return err;
}

static enum aigw_err
is_applied(PGconn *conn, const char *version, int *applied)
{
	const char *values[1] = { version };
	PGresult *res = PQexecParams(conn,
		"SELECT 1 FROM schema_migrations WHERE version = $1",
		1, NULL, values, NULL, NULL, 0);
	enum aigw_err err = AIGW_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("migrate", NULL, "while reading schema_migrations: %.300s",
			  PQerrorMessage(conn));
		err = AIGW_EDB;
	} else {
		*applied = PQntuples(res) > 0;
	}
	PQclear(res);
	return err;
}

static enum aigw_err
apply_one(PGconn *conn, const char *dir, const char *file, int *applied)
{
	char path[4096], version[256];
	const char *values[1] = { version };
	struct buf sql;
	enum aigw_err err;
	int done = 0;
	size_t n = strlen(file) - 4;

	buf_init(&sql, MIGRATION_MAX_BYTES);
	if (n >= sizeof version || (size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) {
		log_error("migrate", NULL, "name too long: %s", file);
		return AIGW_EIO;
	}
	memcpy(version, file, n);
	version[n] = '\0';
	err = is_applied(conn, version, &done);
	if (err != AIGW_OK || done)
		goto out;
	err = read_file(path, &sql);
	if (err != AIGW_OK)
		goto out;
	err = exec_ok(conn, PQexec(conn, "BEGIN"), "BEGIN");
	if (err != AIGW_OK)
		goto out;
	err = exec_ok(conn, PQexec(conn, sql.data ? sql.data : ""), file);
	if (err == AIGW_OK)
		err = exec_ok(conn, PQexecParams(conn,
			"INSERT INTO schema_migrations (version) VALUES ($1)",
			1, NULL, values, NULL, NULL, 0), "while recording the migration");
	if (err == AIGW_OK)
		err = exec_ok(conn, PQexec(conn, "COMMIT"), "COMMIT");
	if (err != AIGW_OK) {
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	log_info("migrate", NULL, "applied %s", version);
	(*applied)++;
out:
	buf_free(&sql);
	return err;
}

enum aigw_err
db_migrate(struct db *db, const char *dir, int *applied)
{
	struct dirent **files = NULL;
	PGconn *conn;
	enum aigw_err err;
	int nfiles, locked = 0;

	*applied = 0;
	err = db_connect(db);
	if (err != AIGW_OK)
		return err;
	conn = db_conn(db);
	nfiles = scandir(dir, &files, is_sql_file, alphasort);
	if (nfiles < 0) {
		log_error("migrate", NULL, "cannot list %s: %s", dir, strerror(errno));
		return AIGW_EIO;
	}
	err = exec_ok(conn, PQexec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"),
		      "while taking the migration lock");
	if (err != AIGW_OK)
		goto out;
	locked = 1;
	err = exec_ok(conn, PQexec(conn,
		"SET client_min_messages = warning;"
		"CREATE TABLE IF NOT EXISTS schema_migrations ("
		" version text PRIMARY KEY,"
		" applied_at timestamptz NOT NULL DEFAULT now())"),
		"while creating schema_migrations");
	for (int i = 0; err == AIGW_OK && i < nfiles; i++)
		err = apply_one(conn, dir, files[i]->d_name, applied);
out:
	if (locked)
		PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return err;
}
