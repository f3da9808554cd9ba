/*
 * batchrun.h: the batch runner: forms batches of the calls queued for an
 * async provider, claims batches whose worker is gone, and drives each
 * through its provider's chain of requests (the design is at the top of
 * batchrun.c). Results go into the batch items and their chats and steps.
 *
 * Owns its batches (private to batchrun.c). Every write is fenced by the
 * batch's claim; a write the database cannot take is tried again after
 * WRITE_RETRY_MS; a batch that cannot be taken on (ENOMEM, the database)
 * is left to its lease. Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_BATCHRUN_H
#define AIGW_WORKER_BATCHRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/states.h"
#include "worker/work.h"

#define BATCHES_MAX 16              /* batches driven at once by one worker */

struct batchrun;

/* NULL on ENOMEM. */
struct batchrun *batchrun_new(struct worker_ctx *w);
/* Frees every batch without a write (after batchrun_hand_back). */
void batchrun_free(struct batchrun *br);
/* Batches held. */
int batchrun_count(const struct batchrun *br);
/* Whether the last look found calls this worker could batch waiting. */
bool batchrun_calls_waiting(const struct batchrun *br);

/* Forms batches of waiting calls that are due (a full batch, or the oldest
 * call past AIGW_BATCH_WINDOW_MS) and claims batches whose worker is gone,
 * at most every second; returns how many it took on. */
size_t batchrun_claim(struct batchrun *br, int64_t now);
/* Moves every batch on; returns the time of the next thing due. */
int64_t batchrun_turn(struct batchrun *br, int64_t now);
/* Hands every batch back (lease ended) and frees them. */
void batchrun_hand_back(struct batchrun *br);

#endif
