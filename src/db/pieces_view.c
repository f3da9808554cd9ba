/* pieces_view.c: one read of a watched chat or job with its new pieces (see
 * pieces_view.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pieces_view.h"
#include "db/sql.h"
#include "db/status.h"
#include "db/views_sql.h"

/*
 * The state and the pieces in one statement, so one snapshot: a piece
 * write adds its pieces and raises version in one commit, so every piece
 * up to the version read is there, and none above it is read. The state
 * is the first row (k = 0), the pieces follow in seq order, each row
 * with the other's columns NULL, so the state's text is not repeated.
 */
/* The state's JSON only when it changed after the client's last id ($3,
 * with r or j the row): a stream wakes at every piece write, and building
 * the state (the streaming providers among all the pieces) at each wake
 * made the reads cost the square of a chat's pieces; a state not newer
 * than $3 is never sent (rt_merge). */
#define STATE_IF_NEW(json) \
	"CASE WHEN state_version > $3::int THEN " json " ELSE '{}' END"
#define PIECE_COLUMNS(step) " p.seq, " step ", p.provider, p.reset, p.text"
#define PIECE_NULLS " NULL::int AS seq, NULL::int AS step, NULL::text AS provider," \
	" NULL::bool AS reset, NULL::text AS text"

/* $1 id $2 owner $3 after $4 limit. Columns: CHAT_VIEW_COLUMNS (0-7),
 * state_version (8), the piece (9-13), k (14). */
static const struct db_stmt stmt_chat_stream = {
	.name = "chat_stream",
	.nparams = 4,
	.idempotent = true,
	.sql = "WITH v (chat_id, status, version, results, pending, created_at, completed_at,"
	       "  expires_at, state_version) AS ("
	       " SELECT" CHAT_VIEW_COLUMNS_OF(STATE_IF_NEW("(" CHAT_RESULTS_SHOWN(PIECES_NO_TEXT) ")::text"))
	       ", r.state_version"
	       " FROM chat_results r WHERE r.chat_id = $1 AND r.owner_user = $2"
	       "  AND r.expires_at > now())"
	       " SELECT v.*," PIECE_NULLS ", 0 AS k FROM v"
	       " UNION ALL (SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
	       PIECE_COLUMNS("0") ", 1 FROM v JOIN chat_pieces p ON p.chat_id = v.chat_id"
	       "  AND p.seq > $3::int AND p.seq <= v.version ORDER BY p.seq LIMIT $4::int)"
	       " ORDER BY k, seq",
};

/* $1 id $2 owner $3 after $4 limit. Columns: json (0), version (1),
 * status (2), state_version (3), the piece (4-8), k (9). */
static const struct db_stmt stmt_job_stream = {
	.name = "job_stream",
	.nparams = 4,
	.idempotent = true,
	.sql = "WITH v (json, version, status, state_version) AS ("
	       " SELECT " STATE_IF_NEW(JOB_EVENT_JSON) ", j.version, j.status, j.state_version"
	       " FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2)"
	       " SELECT v.*," PIECE_NULLS ", 0 AS k FROM v"
	       " UNION ALL (SELECT NULL, NULL, NULL, NULL," PIECE_COLUMNS("p.step_index")
	       ", 1 FROM v JOIN job_pieces p ON p.job_id = $1 AND p.seq > $3::int"
	       "  AND p.seq <= v.version ORDER BY p.seq LIMIT $4::int)"
	       " ORDER BY k, seq",
};

void
db_pieces_free(struct db_pieces *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].text);
	free(p->v);
	memset(p, 0, sizeof *p);
}

/* The pieces of res's rows after the first (the state), their columns
 * from col; version is the state's, limit the read's bound. */
static enum aigw_err
pieces_from(const PGresult *res, int col, long version, long state_version, long limit,
	    struct db_pieces *out)
{
	int rows = PQntuples(res);

	memset(out, 0, sizeof *out);
	out->state_version = state_version;
	out->upto = version;
	if (rows <= 1)
		return AIGW_OK;
	out->v = calloc((size_t)rows - 1, sizeof *out->v);
	if (out->v == NULL)
		return AIGW_ENOMEM;
	for (int row = 1; row < rows; row++) {
		struct db_piece *p = &out->v[out->n];

		p->seq = strtol(PQgetvalue(res, row, col), NULL, 10);
		p->step = (int)strtol(PQgetvalue(res, row, col + 1), NULL, 10);
		snprintf(p->provider, sizeof p->provider, "%s", PQgetvalue(res, row, col + 2));
		p->reset = PQgetvalue(res, row, col + 3)[0] == 't';
		p->text = db_value_dup(res, row, col + 4);
		if (p->text == NULL) {
			db_pieces_free(out);
			return AIGW_ENOMEM;
		}
		out->n++;
	}
	/* A full read may have left pieces out: it covers only up to its
	 * last piece, and the caller reads again from there. */
	if ((long)out->n >= limit) {
		out->cut = true;
		out->upto = out->v[out->n - 1].seq;
	}
	return AIGW_OK;
}

static enum aigw_err
stream_exec(struct db *db, const struct db_stmt *stmt, const char *id, const char *owner,
	    long after, long limit, PGresult **res)
{
	char after_s[24], limit_s[24];
	const char *values[4] = { id, owner, after_s, limit_s };
	enum aigw_err err;

	/* seq is an int column: an id above any stored one reads no piece. */
	snprintf(after_s, sizeof after_s, "%ld", after < 0 ? -1 : after > 2147483647L ? 2147483647L : after);
	snprintf(limit_s, sizeof limit_s, "%ld", limit < 1 ? 1 : limit);
	err = db_exec(db, stmt, values, res);
	if (err == AIGW_OK && PQntuples(*res) < 1) {
		PQclear(*res);
		*res = NULL;
		err = AIGW_ENOTFOUND;
	}
	return err;
}

enum aigw_err
db_chat_stream_read(struct db *db, const char *id, const char *owner, long after, long limit,
		    struct db_chat_view *view, struct db_pieces *out)
{
	PGresult *res = NULL;
	enum aigw_err err;

	memset(view, 0, sizeof *view);
	memset(out, 0, sizeof *out);
	err = stream_exec(db, &stmt_chat_stream, id, owner, after, limit, &res);
	if (err == AIGW_OK)
		err = db_chat_view_from(res, 0, view);
	if (err == AIGW_OK) {
		err = pieces_from(res, 9, view->version, strtol(PQgetvalue(res, 0, 8), NULL, 10),
				  limit, out);
		if (err != AIGW_OK)
			db_chat_view_free(view);
	}
	PQclear(res);
	return err;
}

enum aigw_err
db_job_stream_read(struct db *db, const char *id, const char *owner, long after, long limit,
		   char **json, long *version, char status[16], struct db_pieces *out)
{
	PGresult *res = NULL;
	enum aigw_err err;

	*json = NULL;
	memset(out, 0, sizeof *out);
	err = stream_exec(db, &stmt_job_stream, id, owner, after, limit, &res);
	if (err != AIGW_OK)
		return err;
	*version = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(status, 16, "%s", PQgetvalue(res, 0, 2));
	*json = db_value_dup(res, 0, 0);
	err = *json == NULL ? AIGW_ENOMEM
			    : pieces_from(res, 4, *version, strtol(PQgetvalue(res, 0, 3), NULL, 10),
					  limit, out);
	if (err != AIGW_OK) {
		free(*json);
		*json = NULL;
	}
	PQclear(res);
	return err;
}
