/* analysis.c: typed access to the prompt analysis tables (see analysis.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/analysis.h"

/* Prompt text in a one-line table: the first width bytes of its first line,
 * cut on a UTF-8 character boundary. */
static void
print_excerpt(FILE *f, const char *s, int width)
{
	int n = 0;

	while (s[n] != '\0' && s[n] != '\n' && s[n] != '\r' && n < width)
		n++;
	while (n > 0 && s[n] != '\0' && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	fprintf(f, "%-*.*s", width, n, s);
}

enum aigw_err
db_prompt_add(struct db *db, const struct db_prompt *p, char id[UUID_STR_LEN + 1])
{
	const char *values[8] = { id, p->project, p->user, p->org, p->text, p->platforms_json,
				  p->websearch ? "true" : "false", p->location };
	int rows = 0;

	if (uuid_new(id) != AIGW_OK)
		return AIGW_EIO;
	return db_exec_rows(db, DB_PROMPT_ADD, values, &rows);
}

enum aigw_err
db_prompt_list(struct db *db, const char *project, bool all, FILE *f)
{
	const char *values[2] = { project, all ? "true" : "false" };
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, DB_PROMPT_LIST, values, &res);

	if (err != AIGW_OK)
		return err;
	fprintf(f, "%-36s  %-16s  %-6s  %-34s  %-9s  %-20s  %s\n", "ID", "PROJECT", "ACTIVE",
		"PLATFORMS", "WEBSEARCH", "OWNER", "PROMPT");
	for (int i = 0; i < PQntuples(res); i++) {
		fprintf(f, "%-36s  %-16s  %-6s  %-34s  %-9s  %-20s  ", PQgetvalue(res, i, 0),
			PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			PQgetvalue(res, i, 4), PQgetvalue(res, i, 5)[0] ? PQgetvalue(res, i, 5) : "-");
		print_excerpt(f, PQgetvalue(res, i, 6), 60);
		fputc('\n', f);
	}
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_prompt_deactivate(struct db *db, const char *id)
{
	const char *values[1] = { id };
	int rows = 0;
	enum aigw_err err = db_exec_rows(db, DB_PROMPT_DEACTIVATE, values, &rows);

	if (err == AIGW_OK && rows != 1)
		err = AIGW_ENOTFOUND;
	return err;
}

enum aigw_err
db_schedule_lock(struct db *db, bool *got)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, DB_SCHEDULE_LOCK, NULL, &res);

	*got = err == AIGW_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return err;
}

void
db_schedule_unlock(struct db *db)
{
	PGresult *res = NULL;

	/* Ending the session releases it too, so a failure here is harmless. */
	if (db_exec(db, DB_SCHEDULE_UNLOCK, NULL, &res) == AIGW_OK)
		PQclear(res);
}

enum aigw_err
db_schedule_batch(struct db *db, bool forced, struct db_schedule_batch *out)
{
	char id[UUID_STR_LEN + 1];
	const char *values[2] = { id, forced ? "true" : "false" };
	PGresult *res = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	if (uuid_new(id) != AIGW_OK)
		return AIGW_EIO;
	err = db_exec(db, DB_SCHEDULE_BATCH, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) != 1) {
		/* Made and deleted in between: too odd to go on. */
		PQclear(res);
		return AIGW_EDB;
	}
	snprintf(out->batch_id, sizeof out->batch_id, "%s", PQgetvalue(res, 0, 0));
	out->complete = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	out->created = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_schedule_page(struct db *db, const char *batch_id, const struct db_schedule_jobtype *type,
		 long limit, char cursor[UUID_STR_LEN + 1], long *seen, long *made)
{
	char lim[24], attempts[16], timeout[24];
	const char *values[7] = { batch_id, cursor[0] ? cursor : NULL, lim, type->name, attempts,
				  timeout, type->step_names_json };
	PGresult *res = NULL;
	enum aigw_err err;

	*seen = *made = 0;
	snprintf(lim, sizeof lim, "%ld", limit);
	snprintf(attempts, sizeof attempts, "%d", type->attempts);
	snprintf(timeout, sizeof timeout, "%ld", type->timeout_s);
	err = db_exec(db, DB_SCHEDULE_PAGE, values, &res);
	if (err != AIGW_OK)
		return err;
	*seen = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*made = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	if (*seen > 0)
		snprintf(cursor, UUID_STR_LEN + 1, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_schedule_done(struct db *db, const char *batch_id)
{
	const char *values[1] = { batch_id };
	int rows = 0;

	return db_exec_rows(db, DB_SCHEDULE_DONE, values, &rows);
}

enum aigw_err
db_analysis_show(struct db *db, const char *batch_id, FILE *f)
{
	const char *values[1] = { batch_id };
	PGresult *res = NULL;
	long tokens = 0, ms = 0, ok = 0, failed = 0;
	double cost = 0;
	int rows;
	enum aigw_err err = db_exec(db, DB_ANALYSIS_SHOW, values, &res);

	if (err != AIGW_OK)
		return err;
	rows = PQntuples(res);
	if (rows == 0) {
		PQclear(res);
		return AIGW_ENOTFOUND;
	}
	fprintf(f, "%-16s  %-40s  %-10s  %-9s  %8s  %12s  %8s\n", "PROJECT", "PROMPT", "PLATFORM",
		"STATUS", "TOKENS", "COST_USD", "MS");
	for (int i = 0; i < rows; i++) {
		const char *status = PQgetvalue(res, i, 3);

		fprintf(f, "%-16s  ", PQgetvalue(res, i, 0));
		print_excerpt(f, PQgetvalue(res, i, 1), 40);
		fprintf(f, "  %-10s  %-9s  %8s  %12s  %8s", PQgetvalue(res, i, 2), status,
			PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
		if (PQgetvalue(res, i, 10)[0] != '\0') {
			fputs("  ", f);
			print_excerpt(f, PQgetvalue(res, i, 10), 60);
		}
		fputc('\n', f);
		tokens += strtol(PQgetvalue(res, i, 7), NULL, 10);
		cost += strtod(PQgetvalue(res, i, 8), NULL);
		ms += strtol(PQgetvalue(res, i, 9), NULL, 10);
		ok += strcmp(status, "success") == 0;
		failed += strcmp(status, "error") == 0;
	}
	fprintf(f, "total: %d responses expected, %ld succeeded, %ld failed, %ld waiting;"
		   " %ld tokens, %.8f USD, %ld ms of provider time\n",
		rows, ok, failed, rows - ok - failed, tokens, cost, ms);
	PQclear(res);
	return AIGW_OK;
}

/* The statement's one JSON column; AIGW_ENOTFOUND with no row. */
static enum aigw_err
json_column(struct db *db, enum db_stmt stmt, const char *const *values, char **json)
{
	enum aigw_err err = db_exec_text(db, stmt, values, 0, json);

	return err == AIGW_OK && *json == NULL ? AIGW_ENOTFOUND : err;
}

enum aigw_err
db_analysis_batches(struct db *db, const char *user, long limit, char **json)
{
	char lim[24];
	const char *values[2] = { user, lim };

	snprintf(lim, sizeof lim, "%ld", limit);
	return json_column(db, DB_ANALYSIS_BATCHES, values, json);
}

enum aigw_err
db_analysis_batch(struct db *db, const char *user, const char *batch_id, char **json)
{
	const char *values[2] = { user, batch_id };

	return json_column(db, DB_ANALYSIS_BATCH, values, json);
}
