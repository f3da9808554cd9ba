/*
 * states.h: the life cycles of the four kinds of work the worker runs: a
 * task (one provider call), a chat, a job and a batch. One enum per kind,
 * and one function per kind that moves a state: it logs old -> new at
 * debug level, and refuses (logs a warning, returns false, leaves the
 * state as it was) a move the life cycle does not allow.
 *
 * Pure apart from the log lines: nothing here can fail otherwise.
 * Thread-safe.
 */
#ifndef AIGW_WORKER_STATES_H
#define AIGW_WORKER_STATES_H

#include <stdbool.h>

enum task_state {
	TASK_WAITING,    /* the next attempt starts at due_ms (a retry, a rate limit, a pause) */
	TASK_INFLIGHT,   /* an attempt is out: xfer is set */
	TASK_UNWRITTEN,  /* final: result_json waits to be stored, next try at due_ms */
	TASK_DELEGATED,  /* an async provider's call, queued for a batch that stores it */
	TASK_DONE,       /* settled: its result stored (or lost); nothing more happens */
	TASK_STATE_COUNT
};

enum chat_state {
	CHAT_OPEN,       /* calls open, or the chat not yet finished: tasks turn */
	CHAT_FINISHING,  /* every call settled, the finishing write failed: again at finish_ms */
	CHAT_GONE,       /* finished, or not ours any more: removed at the turn */
	CHAT_STATE_COUNT
};

enum job_state {
	JOB_BEGIN_STEP,  /* render the current step and mark it running (due at due_ms) */
	JOB_CALLING,     /* the step's calls are in flight or with a batch */
	JOB_END_STEP,    /* store the step's output (and finish the job after the last) */
	JOB_FAILING,     /* store a failure that no step caused */
	JOB_GONE,        /* finished or no longer ours: removed at the turn */
	JOB_STATE_COUNT
};

enum batch_state {
	BATCH_SEND,      /* the next request is due at due_ms */
	BATCH_INFLIGHT,  /* a request is out */
	BATCH_WRITE,     /* writing an answer's results, a group a turn */
	BATCH_SAVE,      /* the step's state must be stored before going on */
	BATCH_FINISH,    /* failing the calls left and storing the end */
	BATCH_GONE,      /* ended, or no longer ours: removed at the turn */
	BATCH_STATE_COUNT
};

/* id names the chat, job or batch in the log lines (NULL: none). */
bool task_state_move(enum task_state *state, enum task_state to, const char *id);
bool chat_state_move(enum chat_state *state, enum chat_state to, const char *id);
bool job_state_move(enum job_state *state, enum job_state to, const char *id);
bool batch_state_move(enum batch_state *state, enum batch_state to, const char *id);

/* The name of a state in log lines ("waiting", ...; "?" when out of range). */
const char *task_state_name(enum task_state s);
const char *chat_state_name(enum chat_state s);
const char *job_state_name(enum job_state s);
const char *batch_state_name(enum batch_state s);

#endif
