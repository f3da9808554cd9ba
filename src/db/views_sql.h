/*
 * views_sql.h: the SQL of chats and jobs as the API shows them, with a
 * streamed answer's text so far (migrations/0012: chat_pieces, job_pieces),
 * shared by the status reads of chats.c and jobs.c and the event reads of
 * pieces_view.c, and the row reader of a chat's view. Private to src/db; the fragments are string
 * literals and the reader fails only with AIGW_ENOMEM.
 *
 * A provider's text so far is its pieces after its last reset, in seq
 * order; a provider with a final result, or with no text so far, shows
 * none (the final result replaces the pieces).
 */
#ifndef AIGW_DB_VIEWS_SQL_H
#define AIGW_DB_VIEWS_SQL_H

#include <libpq-fe.h>

#include "core/err.h"
#include "db/chats.h"
#include "db/sql.h"
#include "db/status.h"

/* The text of a streaming entry in results (WITH_TEXT) or not (NO_TEXT):
 * event streams send the text as deltas, not in their states. */
#define PIECES_WITH_TEXT ", 'text', g.text"
#define PIECES_NO_TEXT ""

/* {"provider": {"ok": null, "streaming": true[, "text": ...]}, ...} of the
 * pieces whose rows match cond (alias p), for the providers not in
 * results; table is chat_pieces or job_pieces, cond picks one chat's
 * pieces or one job step's. */
#define PIECES_STREAMING(table, cond, results, text) \
	"(SELECT coalesce(jsonb_object_agg(g.provider, jsonb_build_object('ok', NULL," \
	"  'streaming', true" text ")), '{}'::jsonb) FROM " \
	PIECES_TEXT_SO_FAR(table, cond " AND NOT (" results ") ? p.provider") " g)"

/* (provider, text) of every provider with text so far among the pieces
 * matching cond (alias p), as a subquery: one pass over them (a window
 * finds each provider's last reset), not one per piece. */
#define PIECES_TEXT_SO_FAR(table, cond) \
	"(SELECT x.provider, string_agg(x.text, '' ORDER BY x.seq) AS text FROM (" \
	" SELECT p.provider, p.seq, p.reset, p.text," \
	"  max(CASE WHEN p.reset THEN p.seq ELSE 0 END) OVER (PARTITION BY p.provider) AS cut" \
	" FROM " table " p WHERE " cond ") x" \
	" WHERE NOT x.reset AND x.seq > x.cut" \
	" GROUP BY x.provider HAVING string_agg(x.text, '') <> '')"

/* A chat's (alias r) results with its streaming providers' entries while
 * it is not finished. */
#define CHAT_RESULTS_SHOWN(text) \
	"CASE WHEN r.status IN (" SQL_PENDING ", " SQL_PROCESSING ") THEN r.results || " \
	PIECES_STREAMING("chat_pieces", "p.chat_id = r.chat_id", "r.results", text) \
	" ELSE r.results END"

/* A chat (alias r) as db_chat_view_from reads it: id, status, version,
 * results (the SQL expression given), pending, created, completed,
 * expires. */
#define CHAT_VIEW_COLUMNS_OF(results) \
	" r.chat_id, r.status, r.version, " results "," \
	" CASE WHEN r.status IN (" SQL_COMPLETED ", " SQL_FAILED ", " SQL_CANCELLED ") THEN '[]' ELSE" \
	"  (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)" \
	"   FROM jsonb_object_keys(r.models) k WHERE NOT r.results ? k)::text END, " \
	TS("r.created_at") ", " TS("r.completed_at") ", " TS("r.expires_at")
#define CHAT_VIEW_COLUMNS(text) CHAT_VIEW_COLUMNS_OF("(" CHAT_RESULTS_SHOWN(text) ")::text")

/* A job's running step (alias s) shows its results with its streaming
 * providers' entries; other steps show their name and status only. */
#define JOB_STEP_RESULTS_SHOWN(text) \
	"s.results || " PIECES_STREAMING("job_pieces", \
		"p.job_id = s.job_id AND p.step_index = s.step_index", "s.results", text)
#define JOB_STEPS_JSON(text) \
	"(SELECT coalesce(json_agg(CASE WHEN s.status = " SQL_RUNNING \
	"  THEN json_build_object('name', s.name, 'status', s.status, 'results', " \
	JOB_STEP_RESULTS_SHOWN(text) ") ELSE json_build_object('name', s.name, 'status', s.status) END" \
	" ORDER BY s.step_index), '[]'::json) FROM job_steps s WHERE s.job_id = j.job_id)"
/* A job as the API shows it, built by the database from the row (alias j). */
#define JOB_HEAD_FIELDS(text) \
	"'id', j.job_id, 'type', j.type, 'status', j.status, 'progress', j.progress," \
	" 'status_message', j.status_message, 'steps', " JOB_STEPS_JSON(text) ","
#define JOB_TAIL_FIELDS_OF(version) \
	" 'error', j.error, 'attempts', j.attempts, 'decision_id', j.decision_id," \
	" 'version', " version ", 'created_at', " TS("j.created_at") "," \
	" 'started_at', " TS("j.started_at") ", 'completed_at', " TS("j.completed_at")
#define JOB_TAIL_FIELDS JOB_TAIL_FIELDS_OF("j.version")
#define JOB_STATUS_JSON "json_build_object(" JOB_HEAD_FIELDS(PIECES_WITH_TEXT) JOB_TAIL_FIELDS ")::text"
#define JOB_FULL_JSON \
	"json_build_object(" JOB_HEAD_FIELDS(PIECES_WITH_TEXT) " 'output', j.output," JOB_TAIL_FIELDS ")::text"
/* A job as an event stream's state shows it: at its last state change
 * (the event's id), its streaming providers without their text. */
#define JOB_EVENT_JSON \
	"json_build_object(" JOB_HEAD_FIELDS(PIECES_NO_TEXT) JOB_TAIL_FIELDS_OF("j.state_version") ")::text"

/* Reads the CHAT_VIEW_COLUMNS of res's row into out (zeroed first).
 * AIGW_ENOMEM, with out freed. */
enum aigw_err db_chat_view_from(const PGresult *res, int row, struct db_chat_view *out);

#endif
