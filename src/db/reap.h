/*
 * reap.h: the database side of the reaper, its statements (the command is
 * cli/reap.c; docs/architecture.md): fail work no worker picked up,
 * fail work whose attempts are spent (its worker died or it ran past its
 * timeout), put work that ran past its timeout with attempts left back in
 * the queue, and delete expired chats, and jobs and finished batches past
 * their keeping time (AIGW_KEEP_DONE_DAYS, AIGW_KEEP_FAILED_DAYS), and the
 * pieces of streamed answers of chats and jobs finished more than 60 s ago
 * (their final results hold the text).
 *
 * Each statement is one UPDATE or DELETE, fenced by status like every
 * other write, so it is safe beside running workers and other reapers.
 * Deletes take at most 5,000 rows a run (pieces: those of 500 chats and
 * 500 jobs). Errors: AIGW_EDB, with the
 * statements already run kept (each is complete on its own).
 */
#ifndef AIGW_DB_REAP_H
#define AIGW_DB_REAP_H

#include <stdbool.h>

#include "core/config.h"
#include "core/err.h"
#include "db/db.h"

struct db_reap_limits {
	long pending_timeout_s;  /* pending longer than this fails */
	long max_attempts;       /* a chat's attempts (jobs carry their own) */
	long chat_timeout_s;     /* a chat attempt running longer is over */
	long keep_done_days;
	long keep_failed_days;
};

/* The limits the configuration sets (AIGW_PENDING_TIMEOUT_S,
 * AIGW_MAX_ATTEMPTS, the chat timeout, AIGW_KEEP_*_DAYS). Cannot fail. */
struct db_reap_limits db_reap_limits_of(const struct aigw_config *cfg);

struct db_reap_counts {
	long chats_unclaimed, chats_spent, chats_requeued, chats_deleted;
	long jobs_unclaimed, jobs_spent, jobs_requeued, jobs_deleted;
	long batches_deleted;
	long chat_pieces_deleted, job_pieces_deleted;  /* of streams finished 60 s ago */
};

/* Takes the reaper's turn for processes that reap on their own: *due is
 * false when someone reaped less than min_interval_s ago. Recording the run
 * is what a turn is, so db_reap callers by hand take one with 0. */
enum aigw_err db_reap_turn(struct db *db, long min_interval_s, bool *due) AIGW_MUSTCHECK;

enum aigw_err db_reap(struct db *db, const struct db_reap_limits *l,
		      struct db_reap_counts *out) AIGW_MUSTCHECK;

#endif
