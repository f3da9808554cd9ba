/*
 * pieces.h: the worker's writes of streamed text (migrations/0012): the new
 * pieces of many chats' (or jobs') streams in one statement, each chat's
 * pieces numbered on from its version in the order given, fenced by the
 * claim like a result write; and what a claim that follows a dead worker
 * must void (the providers whose text so far came from that worker).
 *
 * What can fail: the database (AIGW_EDB: nothing written, the caller keeps
 * its pieces and tries again, in order) and memory (AIGW_ENOMEM). Borrows
 * every string. Single connection, like struct db.
 */
#ifndef AIGW_DB_PIECES_H
#define AIGW_DB_PIECES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

struct db_piece {
	const char *id;            /* the chat's or job's id */
	int attempt;               /* its claim's attempt: the fence */
	int step;                  /* jobs: the step's index */
	const char *provider;
	bool reset;                /* voids the provider's text so far (text "") */
	const char *text;          /* new text, valid UTF-8 without NUL */
	bool written;              /* set: stored (false: the fence kept it out) */
};

/*
 * Stores rows[0..n) (a chat's rows in their order; chats may interleave)
 * in one statement: each chat whose claim is still attempt and processing
 * gets version += its count, pieces_seq = version, and its pieces the seqs
 * between; then one notification per chat on aigw_chat, as a result write
 * sends. The job form does the same for jobs (running) into job_pieces,
 * notifying aigw_job. write_no must rise with every write of the caller
 * (below 2^40): a row whose last write had a number as high (a write the
 * caller gave up on that reached the database late) keeps out this one,
 * which is then not written (migrations/0014).
 */
enum aigw_err db_chat_pieces_write(struct db *db, struct db_piece *rows, size_t n,
				   uint64_t write_no) AIGW_MUSTCHECK;
enum aigw_err db_job_pieces_write(struct db *db, struct db_piece *rows, size_t n,
				  uint64_t write_no) AIGW_MUSTCHECK;

/*
 * The providers of chat id (of job id's step) whose text so far is not
 * empty: they have a piece with text after their last reset. *out is a
 * malloc'd array of *n malloc'd names (freed with db_pieces_names_free).
 */
enum aigw_err db_chat_pieces_open(struct db *db, const char *id, char ***out,
				  size_t *n) AIGW_MUSTCHECK;
enum aigw_err db_job_pieces_open(struct db *db, const char *id, int step, char ***out,
				 size_t *n) AIGW_MUSTCHECK;
void db_pieces_names_free(char **names, size_t n);

#endif
