/*
 * work.h: what the worker's loop (runner.c) shares with the job runner
 * (jobrun.c). Internal to src/worker/.
 *
 * A task is one provider call of a chat or of a job step, with its
 * retries. Its owner fills a struct prov_call whose strings it keeps alive
 * while the task lives, and gives ops that store the final result and hear
 * that the task is settled. Callbacks only record: owners change state (and
 * free tasks) in their own turn, never under a caller's feet. Single
 * threaded, like the loop.
 */
#ifndef AIGW_WORKER_WORK_H
#define AIGW_WORKER_WORK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "db/db.h"
#include "db/listen.h"
#include "jobs/jobtype.h"
#include "providers/provider.h"
#include "worker/xfer.h"

#define WRITE_RETRY_MS 1000         /* results kept while the database is away */

/* How each provider is reached in this process: its own API; the built-in
 * mock when its key is not set and AIGW_MOCK is on; else not at all. */
struct route {
	const struct prov_desc *desc;
	struct prov_config pc;
	char *base_url;
	bool mock;
	bool missing;              /* no key, no mock: every call fails at once */
	long rpm, tpm;             /* shared limits; 0 = none (always for the mock) */
	int64_t rate_open_ms;      /* the window was full: no request asks before */
	int64_t pause_until_ms;    /* paused (a 429 with Retry-After) until then */
};

/* DELEGATED: an async provider's call, queued for a batch (batch.c), whose
 * result the batch writes to the chat or step itself. */
enum task_state { TASK_WAITING, TASK_RUNNING, TASK_UNWRITTEN, TASK_DELEGATED, TASK_DONE };

struct runner;
struct task;

struct task_ops {
	/* Stores t->result_json, fenced. AIGW_EDB: kept and tried again. */
	enum aigw_err (*store)(struct runner *r, struct task *t);
	/* The task is over: its result stored, or lost (t->result_json NULL
	 * when it could not even be built). Must not free the task. */
	void (*settled)(struct runner *r, struct task *t);
	/* The chat or job id, for log lines. */
	const char *(*log_id)(const struct task *t);
	/* Queues the call of an async provider for a batch and records that
	 * it waits. AIGW_EDB: tried again later. */
	enum aigw_err (*delegate)(struct runner *r, struct task *t);
};

struct task {
	const struct task_ops *ops;
	void *owner;
	struct runner *runner;
	const struct route *route;
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
};

struct chat_run;
struct job_run;
struct batch_run;

struct runner {
	const struct aigw_config *cfg;
	const struct jobtype_registry *jobtypes;
	volatile sig_atomic_t *stop;
	struct db *db;
	struct xfer_engine *xe;
	struct route *routes;
	size_t nroutes;
	struct chat_run *chats;
	int nchats;
	struct job_run *jobs;
	int njobs;
	struct batch_run *batches;
	int nbatches;
	bool batch_calls_waiting;  /* the last look found calls without a batch */
	int64_t next_form_ms;
	bool pauses_read;          /* the providers' shared pauses were read ... */
	int64_t pauses_read_ms;    /* ... at this time */
	/* LISTEN has a connection of its own, past any pooler
	 * (AIGW_LISTEN_DATABASE_URL). */
	struct db *listen_db;
	unsigned long listening;   /* db_connection_id LISTEN was issued on; 0: none */
	struct db_ping ping;       /* of the LISTEN connection */
	int64_t listen_retry_ms;   /* when to try to LISTEN again */
	bool wake;
	int slot;
	long pid;
	char host[64];
	char name[96];
	int64_t next_claim_ms;
	long claim_limit;          /* chats one claim takes at most (worker/pace.h) */
	int64_t next_heartbeat_ms;
	int64_t idle_since_ms;
	int64_t next_reap_ms;
	int64_t stop_deadline_ms;   /* 0 until SIGTERM */
	uint64_t rng;
};

/* ---- tasks (runner.c) ---- */

/* A provider's result as stored and shown: {"ok", "text", "model",
 * "latencyMs", "usage", "costUsd", "citations"} or {"ok": false, "error",
 * "errorClass"}, with "attempts" (and "mock" when the built-in mock stood
 * in for provider). malloc'd; NULL on ENOMEM. */
char *worker_result_json(const char *provider, const char *model, bool mock,
			 const struct prov_result *pr, int64_t latency_ms, int attempts);

const struct route *route_find(const struct runner *r, const char *name);

/* Prepares a waiting task. A provider this process cannot reach (no
 * route) is failed at its first turn. Cannot fail. */
void task_init(struct runner *r, struct task *t, const struct task_ops *ops, void *owner,
	       const char *provider, const char *model);
/* Starts or stores t when it is due; lowers *next to its next due time. */
void task_turn(struct runner *r, struct task *t, int64_t now, int64_t *next);
/* Abandons the transfer in flight, if any, and frees what t owns. The
 * callbacks of t never run after this. */
void task_abandon(struct runner *r, struct task *t);

/* ---- jobs (jobrun.c) ---- */

#define JOBS_MAX 64                 /* jobs held at once by one worker */

/* Claims up to JOBS_MAX - njobs jobs; returns how many. */
size_t jobs_claim(struct runner *r);
/* Moves every job on; returns the time of the next thing due. */
int64_t jobs_turn(struct runner *r, int64_t now);
/* A job was cancelled (NOTIFY aigw_cancel): drops it if held here. */
void jobs_cancelled(struct runner *r, const char *job_id);
/* Hands every job back (lease ended) and frees them. */
void jobs_hand_back(struct runner *r);

/* ---- batches (batch.c) ---- */

#define BATCHES_MAX 16              /* batches driven at once by one worker */

/* Forms batches of waiting calls that are due (a full batch, or the oldest
 * call past AIGW_BATCH_WINDOW_MS) and claims batches whose worker is gone;
 * returns how many it took on. */
size_t batches_claim(struct runner *r, int64_t now);
/* Moves every batch on; returns the time of the next thing due. */
int64_t batches_turn(struct runner *r, int64_t now);
/* Hands every batch back (lease ended) and frees them. */
void batches_hand_back(struct runner *r);
/* A job step got an answer from a batch (NOTIFY aigw_step). */
void jobs_step_answered(struct runner *r, const char *job_id);

#endif
