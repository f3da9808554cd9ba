/*
 * pieces_view.h: what an event stream reads of a chat or a job at once:
 * its state (the /status body without the streaming text, its version and
 * state_version, migrations/0012) and the pieces of streamed answers after
 * the client's last event, up to that version, from one snapshot, so that
 * no piece is sent before the state that precedes it and none above the
 * version read is seen. The pieces' writes are the worker's (db/pieces.h).
 *
 * Structs returned here own their strings; free them with the matching
 * _free (safe on zeroed ones). Errors: AIGW_EDB, AIGW_ENOMEM,
 * AIGW_ENOTFOUND (no such row, expired, or another owner's).
 */
#ifndef AIGW_DB_PIECES_VIEW_H
#define AIGW_DB_PIECES_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "db/chats.h"
#include "db/db.h"

/* Provider names are short words of a fixed set (providers/provider.h). */
#define DB_PIECE_PROVIDER_MAX 32

/* One piece: new text of a provider's answer, or a reset of it. */
struct db_piece {
	long seq;                         /* the row's version it took */
	int step;                         /* a job's step index; 0 for a chat */
	char provider[DB_PIECE_PROVIDER_MAX];
	bool reset;                       /* voids the provider's text so far */
	char *text;                       /* "" for a reset */
};

/* The pieces of one read, in rising seq, and where the read stops. */
struct db_pieces {
	struct db_piece *v;
	size_t n;
	long state_version;               /* the last state change's version */
	long upto;                        /* every seq up to here was read: the
					   * version, or the last piece's when
					   * the bound cut the read short */
	bool cut;                         /* the bound was hit: read again */
};
void db_pieces_free(struct db_pieces *p);

/* The chat as /events shows it (its streaming providers as
 * {"ok": null, "streaming": true}) and its pieces with after < seq <=
 * version, at most limit of them. view->version is the row's version. */
enum aigw_err db_chat_stream_read(struct db *db, const char *id, const char *owner, long after,
				  long limit, struct db_chat_view *view,
				  struct db_pieces *out) AIGW_MUSTCHECK;

/* The same for a job: *json is its /status body as of its last state
 * change (its "version" is the state_version; the running step's
 * streaming providers without text), *version the row's version, status
 * its status; the pieces carry their step. The caller frees *json. */
enum aigw_err db_job_stream_read(struct db *db, const char *id, const char *owner, long after,
				 long limit, char **json, long *version, char status[16],
				 struct db_pieces *out) AIGW_MUSTCHECK;

#endif
