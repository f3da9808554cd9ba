/*
 * pieces.h: one call's streamed text on its way to the database: the text
 * not yet written and whether a reset must precede it, and the pure timing
 * rules of the coalescing. New text waits at most AIGW_STREAM_FLUSH_MS
 * from its arrival; then the runner writes the waiting text of ALL its
 * streams in one statement (db/pieces.h), so the statements a second stay
 * bounded by the flush interval whatever the number of streams or the
 * token rate. A flush writes at most two pieces a stream: its reset, then
 * its new text.
 *
 * A new attempt voids the text of the one before: a reset is written
 * before the new text when any of it was written (by this worker, or by a
 * dead one: pieces_mark_written). When the final result comes, the last
 * text of a complete answer whose text was being written is written at
 * once (before its result, so that its pieces add up to it); otherwise what
 * waits is dropped: the result supersedes it (an answer that came whole
 * within one interval costs no piece, and a long-poll wakes with its
 * result).
 *
 * What can fail: pieces_add, when the waiting text would pass
 * PROV_STREAM_TEXT_MAX (AIGW_ETOOBIG) or memory runs out. Time is an
 * argument. Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_PIECES_H
#define AIGW_WORKER_PIECES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "db/pieces.h"

#define PIECES_NEVER INT64_MAX

struct pieces {
	struct buf text;           /* new text not yet written */
	struct buf all;            /* the attempt's text so far */
	bool reset;                /* a reset goes before text */
	bool written;              /* text of this attempt may be stored */
	int64_t since_ms;          /* the oldest change not written; PIECES_NEVER */
	bool last;                 /* the answer is complete: due at once */
};

void pieces_init(struct pieces *p);
void pieces_free(struct pieces *p);
/* s[0..n) arrived at now. AIGW_ETOOBIG, AIGW_ENOMEM: nothing added. */
enum aigw_err pieces_add(struct pieces *p, const char *s, size_t n, int64_t now) AIGW_MUSTCHECK;
/* A new attempt starts at now: the text so far is void. */
void pieces_restart(struct pieces *p, int64_t now);
/* Stored text of this call may exist that this worker did not write (a
 * claim after a dead worker): the next attempt resets it. */
void pieces_mark_written(struct pieces *p);
/* The final result came at now: a complete answer's (ok) waiting text is
 * due at once when some of its text was written; else it is dropped. */
void pieces_end(struct pieces *p, bool ok, int64_t now);
/* The pieces a flush of p writes (0, 1 or 2). */
size_t pieces_count(const struct pieces *p);
/* The write of p's waiting pieces was stored (or refused by the fence:
 * they are void then too). */
void pieces_written(struct pieces *p);

/* Appends p's waiting pieces (pieces_count of them) to rows as copies of
 * base with their reset or text (borrowed from p until pieces_written),
 * and p to streams at the same places; returns how many. */
size_t pieces_rows(struct pieces *p, const struct db_piece *base, struct db_piece *rows,
		   struct pieces **streams);
/* The write of rows made by pieces_rows into streams[0..n) was stored (or
 * refused by the fence): each stream's pieces are written. */
void pieces_rows_written(struct pieces **streams, size_t n);
/* That write failed without an answer (the database is away): it may have
 * been stored all the same, so each stream whose text it held will write
 * a reset and the attempt's whole text so far instead: right either way,
 * never a text doubled. */
void pieces_rows_held(struct pieces **streams, size_t n);

/* One flush of a runner: the rows of every stream's waiting pieces, for
 * one statement. */
struct pieces_flush {
	struct db_piece *rows;
	struct pieces **streams;   /* the stream of each row */
	size_t n, cap;
	bool failed;               /* memory ran out: nothing is written */
};

typedef enum aigw_err (*pieces_write_fn)(struct db *db, struct db_piece *rows, size_t n,
					 uint64_t write_no);

/* Cannot fail. */
void pieces_flush_init(struct pieces_flush *f);
/* Adds p's waiting pieces as copies of base (pieces_rows). Out of memory,
 * f fails as a whole: its streams keep their pieces. */
void pieces_flush_add(struct pieces_flush *f, struct pieces *p, const struct db_piece *base);
/* Writes f's rows in one statement with write, numbered by *writes (raised
 * for each write: db/pieces.h says why), (none: nothing to do) and
 * settles their streams: written (or refused by the fence), else held
 * (pieces_rows_held). Frees what f holds. false when the rows were not
 * stored (memory, or the database away): the caller holds its flushes a
 * while. */
bool pieces_flush_write(struct pieces_flush *f, struct db *db, pieces_write_fn write,
			uint64_t *writes);

/* When p's waiting text must be written at the latest; PIECES_NEVER. */
int64_t pieces_due(const struct pieces *p, long flush_ms);
/* When the runner flushes, given the earliest due of its streams and a
 * hold after a write the database refused (0: none). */
int64_t pieces_flush_at(int64_t earliest_due, int64_t hold_until);

#endif
