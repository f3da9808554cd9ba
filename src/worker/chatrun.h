/*
 * chatrun.h: the chat runner: the chats this worker claimed, one task per
 * provider, their results written together once a turn (one statement for
 * every chat), the leases renewed together, and the chat finished by the
 * write of its last result.
 *
 * Owns its chats (private to chatrun.c). A write the database cannot take
 * is kept and tried again after WRITE_RETRY_MS; a chat whose lease was
 * lost is dropped without further writes; a chat that cannot be taken on
 * for lack of memory is left to its lease. The calls' streamed text is
 * written with every chat's in one statement at most every
 * AIGW_STREAM_FLUSH_MS (worker/pieces.h). Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_CHATRUN_H
#define AIGW_WORKER_CHATRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/states.h"
#include "worker/work.h"

struct chatrun;

/* NULL on ENOMEM. */
struct chatrun *chatrun_new(struct worker_ctx *w);
/* Frees every chat without a write (after chatrun_hand_back). */
void chatrun_free(struct chatrun *cr);
/* Chats held. */
int chatrun_count(const struct chatrun *cr);

/* Claims up to want chats; returns how many it took on. */
size_t chatrun_claim(struct chatrun *cr, long want, int64_t now);
/* Renews the leases due, writes the results that came in, and moves every
 * chat on; returns the time of the next thing due (at most next). */
int64_t chatrun_turn(struct chatrun *cr, int64_t now, int64_t next);
/* A chat was cancelled (NOTIFY aigw_cancel): the usage its streams in
 * flight reported is added to the results the cancel stored (best effort:
 * logged and dropped when the database is away), then its calls held here
 * end at once and it is dropped. Unknown ids: nothing. */
void chatrun_cancelled(struct chatrun *cr, const char *chat_id);
/* Hands every chat with calls still open back (lease ended) and frees them. */
void chatrun_hand_back(struct chatrun *cr);

#endif
