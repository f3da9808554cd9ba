/* pieces.c: the worker's writes of streamed text (see pieces.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/log.h"
#include "db/cols.h"
#include "db/pieces.h"
#include "db/sql.h"

/*
 * The pieces x(id, att, [step,] provider, reset, text, ord), one a row, a
 * row's pieces in their order, go into table pieces (columns cols) for the
 * rows of table parent (key id) still claimed by att in status running:
 * each such row's version rises by its count and its pieces take the seqs
 * between, unless the write's number (the claim's attempt above the
 * writer's write_no, migrations/0014) is not above the row's last: a write
 * given up on that arrives late is refused. Only new rows are inserted:
 * the text so far is never rewritten (that would cost the square of an
 * answer's length). A row written: its id.
 */
#define PIECES_FENCE_SHIFT "40"
#define PIECES_WRITE_SQL(unnest, write_no, pieces, cols, step, parent, id, running) \
	"WITH x AS (SELECT * FROM " unnest ")," \
	" g AS (SELECT id, min(att) AS att, count(*)::int AS n," \
	"  (min(att)::bigint << " PIECES_FENCE_SHIFT ") | " write_no "::bigint AS fence" \
	"  FROM x GROUP BY id)," \
	" u AS (UPDATE " parent " r SET version = r.version + g.n, pieces_seq = r.version + g.n," \
	"  pieces_fence = g.fence" \
	"  FROM g WHERE r." id " = g.id AND r.attempts = g.att AND r.status = " running \
	"  AND r.pieces_fence < g.fence" \
	"  RETURNING r." id ", r.version - g.n AS base)," \
	" i AS (INSERT INTO " pieces " (" id ", seq, " cols "provider, reset, text)" \
	"  SELECT x.id, u.base + row_number() OVER (PARTITION BY x.id ORDER BY x.ord)," \
	"   " step "x.provider, x.reset, x.text FROM x JOIN u ON u." id " = x.id)" \
	" SELECT " id "::text FROM u"

/* $1 ids $2 attempts $3 providers $4 resets $5 texts: array literals, one
 * element a piece; $6 the write's number. */
static const struct db_stmt stmt_chat_pieces_write = {
	.name = "chat_pieces_write",
	.nparams = 6,
	.idempotent = false,
	.sql = PIECES_WRITE_SQL("unnest($1::uuid[], $2::int[], $3::text[], $4::bool[], $5::text[])"
				" WITH ORDINALITY AS x(id, att, provider, reset, text, ord)", "$6",
				"chat_pieces", "", "", "chat_results", "chat_id", SQL_PROCESSING),
};

/* $1 ids $2 attempts $3 steps $4 providers $5 resets $6 texts $7 the
 * write's number: as above, for jobs still running under the claim. */
static const struct db_stmt stmt_job_pieces_write = {
	.name = "job_pieces_write",
	.nparams = 7,
	.idempotent = false,
	.sql = PIECES_WRITE_SQL("unnest($1::uuid[], $2::int[], $3::int[], $4::text[], $5::bool[],"
				" $6::text[]) WITH ORDINALITY AS x(id, att, step, provider, reset,"
				" text, ord)", "$7",
				"job_pieces", "step_index, ", "x.step, ", "jobs", "job_id", SQL_RUNNING),
};

/*
 * $1 channel $2 ids: the notifications of a committed write, in a
 * transaction of their own that does not wait for the disk (see the
 * result writes in db/chats.c for why). Best effort: a listener that
 * misses one reads the pieces at its deadline.
 */
static const struct db_stmt stmt_pieces_notify = {
	.name = "pieces_notify",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT set_config('synchronous_commit', 'off', true),"
	       " count(pg_notify($1, x.id)) FROM unnest($2::text[]) AS x(id)",
};

static void
notify_written(struct db *db, const char *channel, const PGresult *written)
{
	int n = PQntuples(written);
	const char **ids[1] = { NULL };
	char *array[1] = { NULL };
	PGresult *res = NULL;

	if (n == 0 || !db_cols_new(ids, 1, (size_t)n))
		return;
	for (int i = 0; i < n; i++)
		ids[0][i] = PQgetvalue(written, i, 0);
	if (db_cols_literals(ids, 1, (size_t)n, array) == AIGW_OK) {
		const char *values[2] = { channel, array[0] };

		if (db_exec(db, &stmt_pieces_notify, values, &res) != AIGW_OK)
			log_warn("db", NULL, "pieces stored, their notifications not sent");
	}
	PQclear(res);
	db_cols_free(ids, array, 1);
}

static enum aigw_err
pieces_write(struct db *db, bool job, struct db_piece *rows, size_t n, uint64_t write_no)
{
	struct db_fenced_cols c;
	const char *values[DB_FENCED_COLS_MAX + 1];
	char write_no_s[24];
	char (*steps)[16] = NULL;
	size_t k;
	PGresult *res = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	for (size_t i = 0; i < n; i++)
		rows[i].written = false;
	if (n == 0)
		return AIGW_OK;
	if (!db_fenced_cols_new(&c, job ? 6 : 5, n))
		return AIGW_ENOMEM;
	if (job && (steps = calloc(n, sizeof *steps)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		db_fenced_cols_row(&c, i, rows[i].id, rows[i].attempt);
		k = 2;
		if (job) {
			snprintf(steps[i], sizeof steps[i], "%d", rows[i].step);
			c.items[k++][i] = steps[i];
		}
		c.items[k++][i] = rows[i].provider;
		c.items[k++][i] = rows[i].reset ? "t" : "f";
		c.items[k][i] = rows[i].reset ? "" : rows[i].text;
	}
	err = db_cols_literals(c.items, c.ncols, n, c.arrays);
	if (err == AIGW_OK) {
		/* The number keeps below the claim's attempt (PIECES_FENCE_SHIFT). */
		snprintf(write_no_s, sizeof write_no_s, "%llu",
			 (unsigned long long)(write_no & ((1ULL << 40) - 1)));
		for (k = 0; k < c.ncols; k++)
			values[k] = c.arrays[k];
		values[c.ncols] = write_no_s;
		err = db_exec(db, job ? &stmt_job_pieces_write : &stmt_chat_pieces_write, values,
			      &res);
	}
	if (err != AIGW_OK)
		goto out;
	for (int row = 0; row < PQntuples(res); row++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].id, PQgetvalue(res, row, 0)) == 0)
				rows[i].written = true;
	notify_written(db, job ? "aigw_job" : "aigw_chat", res);
out:
	PQclear(res);
	free(steps);
	db_fenced_cols_free(&c);
	return err;
}

enum aigw_err
db_chat_pieces_write(struct db *db, struct db_piece *rows, size_t n, uint64_t write_no)
{
	return pieces_write(db, false, rows, n, write_no);
}

enum aigw_err
db_job_pieces_write(struct db *db, struct db_piece *rows, size_t n, uint64_t write_no)
{
	return pieces_write(db, true, rows, n, write_no);
}

/* Of the pieces (alias p) grouped by provider: those with text after
 * their last reset. */
#define PIECES_OPEN_HAVING \
	" GROUP BY p.provider HAVING max(p.seq) FILTER (WHERE p.text <> '')" \
	"  > coalesce(max(p.seq) FILTER (WHERE p.reset), 0)"

/* $1 id: the providers with text after their last reset. */
static const struct db_stmt stmt_chat_pieces_open = {
	.name = "chat_pieces_open",
	.nparams = 1,
	.idempotent = true,
	.sql = "SELECT p.provider FROM chat_pieces p WHERE p.chat_id = $1" PIECES_OPEN_HAVING,
};

/* $1 id $2 step: the same for a job's step. */
static const struct db_stmt stmt_job_pieces_open = {
	.name = "job_pieces_open",
	.nparams = 2,
	.idempotent = true,
	.sql = "SELECT p.provider FROM job_pieces p WHERE p.job_id = $1 AND p.step_index = $2"
	       PIECES_OPEN_HAVING,
};

void
db_pieces_names_free(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

static enum aigw_err
pieces_open(struct db *db, const struct db_stmt *stmt, const char *const *values, char ***out,
	    size_t *n)
{
	PGresult *res = NULL;
	char **names;
	enum aigw_err err;
	int rows;

	*out = NULL;
	*n = 0;
	if ((err = db_exec(db, stmt, values, &res)) != AIGW_OK)
		return err;
	rows = PQntuples(res);
	names = calloc(rows > 0 ? (size_t)rows : 1, sizeof *names);
	if (names == NULL) {
		PQclear(res);
		return AIGW_ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		if ((names[i] = db_value_dup(res, i, 0)) == NULL) {
			db_pieces_names_free(names, (size_t)i);
			PQclear(res);
			return AIGW_ENOMEM;
		}
	}
	PQclear(res);
	*out = names;
	*n = (size_t)rows;
	return AIGW_OK;
}

enum aigw_err
db_chat_pieces_open(struct db *db, const char *id, char ***out, size_t *n)
{
	const char *values[1] = { id };

	return pieces_open(db, &stmt_chat_pieces_open, values, out, n);
}

enum aigw_err
db_job_pieces_open(struct db *db, const char *id, int step, char ***out, size_t *n)
{
	char st[16];
	const char *values[2] = { id, st };

	snprintf(st, sizeof st, "%d", step);
	return pieces_open(db, &stmt_job_pieces_open, values, out, n);
}
