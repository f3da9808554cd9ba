/*
 * jobrun.h: the job runner: runs claimed jobs step by step inside the
 * worker's loop (the design is at the top of jobrun.c).
 *
 * Owns its jobs (private to jobrun.c). A write the database cannot take is
 * tried again after WRITE_RETRY_MS and nothing moves on before it is
 * stored; a write the fence refuses drops the job with its transfers; a
 * job that cannot be taken on for lack of memory is left to its lease.
 * Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_JOBRUN_H
#define AIGW_WORKER_JOBRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/states.h"
#include "worker/work.h"

#define JOBS_MAX 64                 /* jobs held at once by one worker */

struct jobrun;

/* NULL on ENOMEM. */
struct jobrun *jobrun_new(struct worker_ctx *w);
/* Frees every job without a write (after jobrun_hand_back). */
void jobrun_free(struct jobrun *jr);
/* Jobs held. */
int jobrun_count(const struct jobrun *jr);

/* Claims up to JOBS_MAX minus those held; returns how many. */
size_t jobrun_claim(struct jobrun *jr, int64_t now);
/* Moves every job on; returns the time of the next thing due. */
int64_t jobrun_turn(struct jobrun *jr, int64_t now);
/* Hands every job back (lease ended) and frees them. */
void jobrun_hand_back(struct jobrun *jr);
/* A job was cancelled (NOTIFY aigw_cancel): drops it if held here. */
void jobrun_cancelled(struct jobrun *jr, const char *job_id);
/* A job step got an answer from a batch (NOTIFY aigw_step): looks at once. */
void jobrun_step_answered(struct jobrun *jr, const char *job_id);

#endif
