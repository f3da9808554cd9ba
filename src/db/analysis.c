/* analysis.c: the database side of prompt analysis (see analysis.h); its HTTP
 * side is http/analysis.c, its command line cli/analysis.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/analysis.h"
#include "db/sql.h"
#include "db/status.h"

/* An analysis batch (alias b) summed over the analyses of owner $1. */
#define ANALYSIS_BATCH_JSON \
	"(SELECT json_build_object('batch_id', b.batch_id, 'run_date', b.run_date," \
	"  'created_at', " TS("b.created_at") ", 'complete', b.complete," \
	"  'prompts', count(*)," \
	"  " SQL_PENDING ", count(*) FILTER (WHERE a.status = " SQL_PENDING ")," \
	"  " SQL_RUNNING ", count(*) FILTER (WHERE a.status = " SQL_RUNNING ")," \
	"  " SQL_COMPLETED ", count(*) FILTER (WHERE a.status = " SQL_COMPLETED ")," \
	"  " SQL_PARTIAL ", count(*) FILTER (WHERE a.status = " SQL_PARTIAL ")," \
	"  " SQL_FAILED ", count(*) FILTER (WHERE a.status = " SQL_FAILED ")," \
	"  " SQL_CANCELLED ", count(*) FILTER (WHERE a.status = " SQL_CANCELLED ")," \
	"  'platforms', coalesce(sum(a.total_platforms), 0)," \
	"  'platforms_completed', coalesce(sum(a.completed_platforms), 0)," \
	"  'platforms_failed', coalesce(sum(a.failed_platforms), 0)," \
	"  'tokens_used', (SELECT coalesce(sum(r.tokens_used), 0) FROM ai_responses r" \
	"   WHERE r.batch_id = b.batch_id AND r.analysis_id IN (SELECT a2.analysis_id" \
	"    FROM analysis_jobs a2 WHERE a2.batch_id = b.batch_id AND a2.owner_user = $1))," \
	"  'cost_usd', (SELECT coalesce(sum(r.cost_usd), 0) FROM ai_responses r" \
	"   WHERE r.batch_id = b.batch_id AND r.analysis_id IN (SELECT a2.analysis_id" \
	"    FROM analysis_jobs a2 WHERE a2.batch_id = b.batch_id AND a2.owner_user = $1)))" \
	" FROM analysis_jobs a WHERE a.batch_id = b.batch_id AND a.owner_user = $1)"

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

/* $1 id $2 project $3 user $4 org $5 text $6 platforms (JSON array of
 * strings) $7 websearch $8 location */
static const struct db_stmt stmt_prompt_add = {
	.name = "prompt_add",
	.nparams = 8,
	.idempotent = false,
	.sql = "INSERT INTO prompt_tracking (prompt_id, project, owner_user, owner_org, prompt_text,"
	       " platforms, websearch, location)"
	       " VALUES ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)),"
	       " $7, $8)",
};

enum aigw_err
db_prompt_add(struct db *db, const struct db_prompt *p, char id[UUID_STR_LEN + 1])
{
	const char *values[8] = { id, p->project, p->user, p->org, p->text, p->platforms_json,
				  p->websearch ? "true" : "false", p->location };
	int rows = 0;

	if (uuid_new(id) != AIGW_OK)
		return AIGW_EIO;
	return db_exec_rows(db, &stmt_prompt_add, values, &rows);
}

/* $1 project (NULL: all) $2 with inactive ones too */
static const struct db_stmt stmt_prompt_list = {
	.name = "prompt_list",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT prompt_id, project, CASE WHEN active THEN 'yes' ELSE 'no' END,"
	       " array_to_string(platforms, ','),"
	       " CASE WHEN websearch THEN coalesce(location, 'yes') ELSE '-' END,"
	       " CASE WHEN owner_org = '' THEN owner_user ELSE owner_user || '@' || owner_org END,"
	       " prompt_text"
	       " FROM prompt_tracking WHERE ($1::text IS NULL OR project = $1::text)"
	       " AND (active OR $2::boolean) ORDER BY project, created_at, prompt_id",
};

enum aigw_err
db_prompt_list(struct db *db, const char *project, bool all, FILE *f)
{
	const char *values[2] = { project, all ? "true" : "false" };
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, &stmt_prompt_list, values, &res);

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

/* $1 id */
static const struct db_stmt stmt_prompt_deactivate = {
	.name = "prompt_deactivate",
	.nparams = 1,
	.idempotent = false,
	.sql = "UPDATE prompt_tracking SET active = false, updated_at = now()"
	       " WHERE prompt_id = $1 AND active",
};

enum aigw_err
db_prompt_deactivate(struct db *db, const char *id)
{
	const char *values[1] = { id };
	int rows = 0;
	enum aigw_err err = db_exec_rows(db, &stmt_prompt_deactivate, values, &rows);

	if (err == AIGW_OK && rows != 1)
		err = AIGW_ENOTFOUND;
	return err;
}

/* One scheduler at a time: two would race for the same prompts. */
static const struct db_stmt stmt_schedule_lock = {
	.name = "schedule_lock",
	.nparams = 0,
	.idempotent = false,
	.sql = "SELECT pg_try_advisory_lock(hashtextextended('aigw schedule', 0))",
};

enum aigw_err
db_schedule_lock(struct db *db, bool *got)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, &stmt_schedule_lock, NULL, &res);

	*got = err == AIGW_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return err;
}

static const struct db_stmt stmt_schedule_unlock = {
	.name = "schedule_unlock",
	.nparams = 0,
	.idempotent = false,
	.sql = "SELECT pg_advisory_unlock(hashtextextended('aigw schedule', 0))",
};

void
db_schedule_unlock(struct db *db)
{
	PGresult *res = NULL;

	/* Ending the session releases it too, so a failure here is harmless. */
	if (db_exec(db, &stmt_schedule_unlock, NULL, &res) == AIGW_OK)
		PQclear(res);
}

/* $1 new id $2 forced: today's batch, made now (or forced), or the one
 * made earlier today: its id, whether it is complete, whether new. */
static const struct db_stmt stmt_schedule_batch = {
	.name = "schedule_batch",
	.nparams = 2,
	.idempotent = false,
	.sql = "WITH b AS (INSERT INTO analysis_batches (batch_id, run_date, forced)"
	       " VALUES ($1, current_date, $2) ON CONFLICT (run_date) WHERE NOT forced DO NOTHING"
	       " RETURNING batch_id, complete)"
	       " SELECT batch_id, complete, true FROM b"
	       " UNION ALL SELECT batch_id, complete, false FROM analysis_batches"
	       "  WHERE run_date = current_date AND NOT forced AND NOT EXISTS (SELECT 1 FROM b)",
};

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
	err = db_exec(db, &stmt_schedule_batch, values, &res);
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

/* $1 batch $2 the last prompt id of the previous page (NULL: none) $3
 * page size $4 job type $5 attempts $6 timeout_s $7 the type's step
 * names (JSON array): one job, its steps and its analysis row for each
 * active prompt of the page that the batch has no job for yet.
 * Returns the prompts looked at, the jobs made, the page's last id. */
static const struct db_stmt stmt_schedule_page = {
	.name = "schedule_page",
	.nparams = 7,
	.idempotent = false,
	.sql = "WITH p AS (SELECT prompt_id, project, owner_user, owner_org, prompt_text, platforms,"
	       "  websearch, location FROM prompt_tracking WHERE active"
	       "  AND ($2::uuid IS NULL OR prompt_id > $2::uuid) ORDER BY prompt_id LIMIT $3),"
	       " n AS (SELECT gen_random_uuid() AS id, p.* FROM p WHERE NOT EXISTS (SELECT 1"
	       "  FROM analysis_jobs a WHERE a.batch_id = $1 AND a.prompt_id = p.prompt_id)),"
	       " j AS (INSERT INTO jobs (job_id, type, owner_user, owner_org, input, max_attempts,"
	       "  timeout_s, status_message, analysis_batch)"
	       "  SELECT id, $4, owner_user, owner_org, jsonb_strip_nulls(jsonb_build_object("
	       "   'prompt', prompt_text, 'platforms', to_jsonb(platforms),"
	       "   'websearch', websearch, 'location', location)), $5, $6, 'Queued', $1 FROM n),"
	       " s AS (INSERT INTO job_steps (job_id, step_index, name)"
	       "  SELECT n.id, e.ord - 1, e.name"
	       "  FROM n, jsonb_array_elements_text($7::jsonb) WITH ORDINALITY AS e(name, ord)),"
	       " a AS (INSERT INTO analysis_jobs (analysis_id, batch_id, prompt_id, owner_user,"
	       "  owner_org, project, prompt_text, platforms, total_platforms)"
	       "  SELECT id, $1, prompt_id, owner_user, owner_org, project, prompt_text, platforms,"
	       "  cardinality(platforms) FROM n)"
	       " SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM n),"
	       "  (SELECT prompt_id FROM p ORDER BY prompt_id DESC LIMIT 1)",
};

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
	err = db_exec(db, &stmt_schedule_page, values, &res);
	if (err != AIGW_OK)
		return err;
	*seen = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*made = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	if (*seen > 0)
		snprintf(cursor, UUID_STR_LEN + 1, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return AIGW_OK;
}

/* $1 batch */
static const struct db_stmt stmt_schedule_done = {
	.name = "schedule_done",
	.nparams = 1,
	.idempotent = true,
	.sql = "UPDATE analysis_batches SET complete = true WHERE batch_id = $1",
};

enum aigw_err
db_schedule_done(struct db *db, const char *batch_id)
{
	const char *values[1] = { batch_id };
	int rows = 0;

	return db_exec_rows(db, &stmt_schedule_done, values, &rows);
}

/* $1 batch: a row per prompt and platform, answered or not. */
static const struct db_stmt stmt_analysis_show = {
	.name = "analysis_show",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT a.project, a.prompt_text, p.platform,"
	       " coalesce(r.status, a.status), coalesce(r.tokens_used::text, '-'),"
	       " coalesce(r.cost_usd::text, '-'), coalesce(r.execution_time_ms::text, '-'),"
	       " coalesce(r.tokens_used, 0), coalesce(r.cost_usd, 0)::text,"
	       " coalesce(r.execution_time_ms, 0), coalesce(r.error_message, '')"
	       " FROM analysis_jobs a CROSS JOIN LATERAL unnest(a.platforms) AS p(platform)"
	       " LEFT JOIN ai_responses r ON r.analysis_id = a.analysis_id AND r.platform = p.platform"
	       " WHERE a.batch_id = $1 ORDER BY a.project, a.prompt_id, p.platform",
};

enum aigw_err
db_analysis_show(struct db *db, const char *batch_id, FILE *f)
{
	const char *values[1] = { batch_id };
	PGresult *res = NULL;
	long tokens = 0, ms = 0, ok = 0, failed = 0;
	double cost = 0;
	int rows;
	enum aigw_err err = db_exec(db, &stmt_analysis_show, values, &res);

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
json_column(struct db *db, const struct db_stmt *stmt, const char *const *values, char **json)
{
	enum aigw_err err = db_exec_text(db, stmt, values, 0, json);

	return err == AIGW_OK && *json == NULL ? AIGW_ENOTFOUND : err;
}

/* $1 owner $2 limit: the newest batches with analyses of this owner,
 * summed over those alone. */
static const struct db_stmt stmt_analysis_batches = {
	.name = "analysis_batches",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT json_build_object('success', true, 'batches',"
	       " coalesce(json_agg(x.o ORDER BY x.created_at DESC, x.batch_id DESC), '[]'))::text"
	       " FROM (SELECT b.created_at, b.batch_id, " ANALYSIS_BATCH_JSON " AS o"
	       "  FROM analysis_batches b WHERE b.batch_id IN (SELECT DISTINCT a.batch_id"
	       "   FROM analysis_jobs a WHERE a.owner_user = $1)"
	       "  ORDER BY b.created_at DESC, b.batch_id DESC LIMIT $2) x",
};

enum aigw_err
db_analysis_batches(struct db *db, const char *user, long limit, char **json)
{
	char lim[24];
	const char *values[2] = { user, lim };

	snprintf(lim, sizeof lim, "%ld", limit);
	return json_column(db, &stmt_analysis_batches, values, json);
}

/* $1 owner $2 batch: its summary and every analysis of this owner with
 * its responses; no row when the owner has none in it. */
static const struct db_stmt stmt_analysis_batch = {
	.name = "analysis_batch",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT json_build_object('success', true, 'batch', " ANALYSIS_BATCH_JSON ", 'prompts',"
	       " (SELECT coalesce(json_agg(json_build_object('analysis_id', a.analysis_id,"
	       "   'job_id', a.analysis_id, 'prompt_id', a.prompt_id, 'project', a.project,"
	       "   'prompt', a.prompt_text, 'status', a.status, 'error', a.error,"
	       "   'platforms', a.platforms, 'total_platforms', a.total_platforms,"
	       "   'completed_platforms', a.completed_platforms,"
	       "   'failed_platforms', a.failed_platforms,"
	       "   'started_at', " TS("a.started_at") ", 'completed_at', " TS("a.completed_at") ","
	       "   'responses', (SELECT coalesce(json_agg(json_build_object("
	       "     'platform', r.platform, 'model', r.model_version, 'status', r.status,"
	       "     'text', r.response_text, 'input_tokens', r.input_tokens,"
	       "     'output_tokens', r.output_tokens, 'tokens_used', r.tokens_used,"
	       "     'cost_usd', r.cost_usd, 'execution_time_ms', r.execution_time_ms,"
	       "     'citations', r.citations, 'error', r.error_message,"
	       "     'created_at', " TS("r.created_at") ") ORDER BY r.platform), '[]')"
	       "    FROM ai_responses r WHERE r.analysis_id = a.analysis_id))"
	       "  ORDER BY a.project, a.prompt_id), '[]')"
	       "  FROM analysis_jobs a WHERE a.batch_id = b.batch_id AND a.owner_user = $1))::text"
	       " FROM analysis_batches b WHERE b.batch_id = $2"
	       " AND EXISTS (SELECT 1 FROM analysis_jobs a WHERE a.batch_id = b.batch_id"
	       "  AND a.owner_user = $1)",
};

enum aigw_err
db_analysis_batch(struct db *db, const char *user, const char *batch_id, char **json)
{
	const char *values[2] = { user, batch_id };

	return json_column(db, &stmt_analysis_batch, values, json);
}
