/*
 * task.h: the task engine: one provider call of a chat or of a job step,
 * with its retries: route, pause and rate-limit admission, build, transfer,
 * parse, retry, and the final result's JSON. It knows nothing of chats,
 * jobs or batches: its owner fills a struct prov_call whose strings it
 * keeps alive while the task lives, and writes the final result the task
 * leaves UNWRITTEN (worker/results.h).
 *
 * Callbacks only record: owners change state (and free tasks) in their own
 * turn, never under a caller's feet. Time is an argument (now, on
 * time_mono_ms's clock); the timing rules are pure functions below.
 * Failures of a call end up in its result ({"ok": false, ...}); a result
 * that cannot be built (ENOMEM) settles the task without one. Single
 * threaded, like the loop.
 *
 * Streaming (AIGW_STREAM on): a sync provider's attempt asks for its
 * streamed answer and reads it as it arrives (providers/stream.h); the
 * built-in mock streams its answer at AIGW_MOCK_TOKENS_PER_S. The new text
 * waits in the task's pieces (worker/pieces.h) for its owner to write; the
 * final result is the same as the whole answer's. A new attempt voids the
 * text of the one before (a reset).
 */
#ifndef AIGW_WORKER_TASK_H
#define AIGW_WORKER_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "providers/provider.h"
#include "providers/stream.h"
#include "worker/pieces.h"
#include "worker/provider_routes.h"
#include "worker/states.h"
#include "worker/xfer.h"

#define WRITE_RETRY_MS 1000         /* results kept while the database is away */
#define TASK_RETRY_BASE_MS 500      /* a failed attempt's backoff doubles from here ... */
#define TASK_RETRY_CAP_MS 30000     /* ... up to here (before Retry-After) */

/* What the task engine and its owners share: one per worker process. */
struct task_engine {
	const struct aigw_config *cfg;
	struct db *db;
	struct xfer_engine *xe;
	struct routes routes;
	uint64_t rng;              /* jitter; never 0 */
	bool pauses_read;          /* the providers' shared pauses were read ... */
	int64_t pauses_read_ms;    /* ... at this time */
};

struct task;

struct task_ops {
	/* The task is over without a result to write: it could not even be
	 * built (ENOMEM); NULL: nothing to do. (Results are written by the
	 * owner, worker/results.h.) Must not free the task. */
	void (*lost)(struct task_engine *te, struct task *t, int64_t now);
	/* The chat or job id, for log lines. */
	const char *(*log_id)(const struct task *t);
	/* Queues the call of an async provider for a batch and records that
	 * it waits. AIGW_EDB: tried again later. */
	enum aigw_err (*delegate)(struct task_engine *te, struct task *t, int64_t now);
};

struct task {
	const struct task_ops *ops;
	void *owner;
	struct task_engine *te;
	struct route *route;
	const char *provider;      /* borrowed from the owner */
	const char *model;         /* borrowed from the owner */
	struct prov_call call;     /* strings borrowed from the owner */
	enum task_state state;
	int attempts;
	bool bad_body_retried;
	bool json_retried;
	int64_t due_ms;            /* WAITING: when to start; UNWRITTEN: when to retry */
	bool rate_waiting;         /* held back by a rate limit since rate_since_ms */
	int64_t rate_since_ms;
	struct xfer *xfer;
	char *result_json;         /* UNWRITTEN: what to store */
	/* streaming */
	struct pieces pieces;      /* new text for the owner to write */
	struct prov_stream *stream; /* the attempt's stream, while in flight */
	struct buf delta;          /* a feed's new text */
	bool mock_streaming;       /* INFLIGHT without xfer: the mock streams mock */
	struct prov_result mock;   /* ... this answer, due_ms the next word */
	size_t mock_sent;          /* bytes of mock.text streamed */
	int64_t mock_start_ms;
};

/* Prepares a waiting task. A provider this process cannot reach (no
 * route) is failed at its first turn. Cannot fail. */
void task_init(struct task_engine *te, struct task *t, const struct task_ops *ops, void *owner,
	       const char *provider, const char *model, int64_t now);
/* Starts t when it is due; lowers *next to its next due time (a result
 * left to write included). */
void task_turn(struct task_engine *te, struct task *t, int64_t now, int64_t *next);
/* Abandons the transfer in flight, if any, and frees what t owns. The
 * callbacks of t never run after this. Also what a task_init'ed task
 * needs before its memory is freed. */
void task_abandon(struct task_engine *te, struct task *t);

/* ---- timing rules: pure, time is an argument ---- */

/* The next number of the jitter's generator (xorshift64*: spread, not
 * secrecy); *rng must not be 0. */
uint32_t task_rand32(uint64_t *rng);
/* When the attempt after `attempts` failed ones (>= 1) starts: full jitter
 * over a backoff doubling from TASK_RETRY_BASE_MS up to TASK_RETRY_CAP_MS,
 * never before a Retry-After the provider gave (retry_after_s >= 0). */
int64_t task_retry_at(int64_t now, int attempts, long retry_after_s, uint64_t *rng);
/* When a new task's first attempt is due: the built-in mock answers after
 * its delay, as a provider would; any other at once. */
int64_t task_first_due(int64_t now, bool mock, long mock_delay_ms);
/* How long one attempt of a call may take, in seconds (handed to the
 * transfer engine, which counts it from the start of the transfer): every
 * attempt, a retry as much as the first, gets the whole of
 * AIGW_PROVIDER_TIMEOUT_S; the retries' total is bounded by the attempts
 * and their backoff, not by cutting later attempts short. */
long task_attempt_timeout_s(const struct aigw_config *cfg);
/* Whether an attempt of a provider of kind streams under cfg (routed to the
 * mock or not): sync providers and the mock standing in for anything but
 * a batch provider, when AIGW_STREAM is on. */
bool task_streams(const struct aigw_config *cfg, enum prov_kind kind);
/* When a write the database could not take is tried again. */
int64_t task_write_retry_at(int64_t now);
/* A lease of lease_s is renewed every third of it: when the next renewal
 * is due after one at now. */
int64_t task_lease_next(int64_t now, long lease_s);
/* Whether a lease due at renew_ms is renewed by a grouped renewal at now:
 * when due within the next half of a renewal period, so that leases
 * renewed together stay together. */
bool task_lease_due_soon(int64_t renew_ms, int64_t now, long lease_s);

/* Rate-limit admission, before the database is asked: -1 when rt has no
 * limits (t goes), the wait (> 0) while the window this worker saw full
 * is closed, 0 when the database must be asked. */
int64_t task_rate_hold(const struct route *rt, int64_t now);
/* What the database is told t has waited for a place (-1: not waiting). */
int64_t task_rate_waited(const struct task *t, int64_t now);
/* Applies a rate-limit decision of wait ms taken at now: 0 admits t (true);
 * else t waits (WAITING, due at now + wait) and its provider's other tasks
 * in this worker do not ask before then either. */
bool task_rate_settle(struct route *rt, struct task *t, int64_t wait, int64_t now);
/* Pause admission: true when t's provider is not paused at now; else t
 * waits until the pause ends, which is neither an attempt nor a failure. */
bool task_pause_settle(const struct route *rt, struct task *t, int64_t now);

#endif
