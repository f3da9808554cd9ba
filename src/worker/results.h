/*
 * results.h: the one way a task's final result is written. The task engine
 * leaves a final result UNWRITTEN; its owner gathers the results that are
 * due at its turn, writes them together (chats: one statement for every
 * chat; job steps: one statement each, as db/jobs.h offers), and reports
 * the write here: stored (or refused by the fence), the task is settled and
 * its result freed; not taken because the database is away, every result
 * of the write is held and tried again after WRITE_RETRY_MS.
 *
 * Nothing here fails or allocates. Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_RESULTS_H
#define AIGW_WORKER_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/task.h"

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

#endif
