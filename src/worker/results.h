/*
 * results.h: the one way a task's final result is written. The task engine
 * leaves a final result UNWRITTEN; its owner (the chat or job runner)
 * queues the results due at its turn here, and results_flush writes them
 * with one grouped statement per kind (chats: db_chat_write_results; job
 * steps: db_job_step_results; calls a batch answered: db_batch_results),
 * however many chats and jobs they belong to. Each row then says what became of it: stored, kept out by the fence
 * (the lease moved on, or stored already), or held: the database is away
 * and every result of that write is tried again after WRITE_RETRY_MS.
 * The owner does its own bookkeeping for each row and calls
 * results_written for the tasks of those no longer held (a batch's rows
 * have none: the batch keeps its answers until they are stored).
 *
 * Owns the queue's rows (never the tasks or strings, borrowed until the
 * flush). results_add fails on ENOMEM only; the flush holds the rows
 * when it cannot write them. Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_RESULTS_H
#define AIGW_WORKER_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "worker/task.h"

/* Whose result: a chat's call, a job step's call (both fenced by their
 * claim), or a call a batch answered (the batch item's id: stored into the
 * item and, once, into its chat or job step, by db_batch_results). */
enum result_kind { RESULT_CHAT, RESULT_JOB_STEP, RESULT_BATCH_ITEM };

/* What the flush did with a row. */
enum result_outcome {
	RESULT_HELD,      /* not written: tried again (the database is away) */
	RESULT_STORED,    /* stored */
	RESULT_FENCED,    /* refused: the claim moved on, or stored already */
};

struct result_row {
	enum result_kind kind;
	struct task *task;         /* held on a failed write; NULL for a batch
				    * item (the batch holds its own) */
	const char *provider;      /* chats and job steps */
	const char *result_json;
	const char *id;            /* the chat's, job's or batch item's id */
	int attempt;               /* its claim's attempt: the fence */
	int step;                  /* RESULT_JOB_STEP: the step */
	bool finish;               /* RESULT_CHAT: its last call; a chat's rows
				    * are queued together */
	/* Set by results_flush: */
	enum result_outcome outcome;
	char status[16];           /* RESULT_CHAT: the chat's status after it */
};

/* A turn's results, in the order they were queued. */
struct results_queue {
	struct result_row *rows;
	size_t n, cap;
};

/* Whether t's result is waiting to be written and due at now. */
bool results_due(const struct task *t, int64_t now);
/* How many of tasks[0..n) have a result due at now. */
size_t results_count(const struct task *tasks, size_t n, int64_t now);
/* The write of ts[0..n) was not taken (the database is away): each is
 * tried again at WRITE_RETRY_MS after now. */
void results_hold(struct task *const *ts, size_t n, int64_t now);
/* The same for every result due at now among tasks[0..n). */
void results_hold_due(struct task *tasks, size_t n, int64_t now);
/* t's result was written (or the fence kept it out): t is settled and its
 * result freed. The owner's settled op is not called: the owner that wrote
 * it does its own bookkeeping. */
void results_written(struct task *t);

/* Queues r (copied). false on ENOMEM: the result stays due, for a later
 * turn. */
bool results_add(struct results_queue *q, const struct result_row *r);
/* Writes every queued row: one statement per kind that has rows; sets each
 * row's outcome (and status). Rows of a write the database did not take
 * are held (results_hold). The rows stay queued for the owner to read. */
void results_flush(struct db *db, struct results_queue *q, int64_t now);
/* Empties q for the next turn (keeps its memory). */
void results_clear(struct results_queue *q);
/* Frees q's memory. */
void results_queue_free(struct results_queue *q);

#endif
