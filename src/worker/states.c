/* states.c: the life cycles of tasks, chats, jobs and batches (see states.h). */
#include "core/log.h"
#include "worker/states.h"

static const char *const task_names[TASK_STATE_COUNT] = {
	[TASK_WAITING] = "waiting", [TASK_INFLIGHT] = "in-flight",
	[TASK_UNWRITTEN] = "unwritten", [TASK_DELEGATED] = "delegated", [TASK_DONE] = "settled",
};
static const char *const chat_names[CHAT_STATE_COUNT] = {
	[CHAT_OPEN] = "open", [CHAT_FINISHING] = "finishing", [CHAT_GONE] = "gone",
};
static const char *const job_names[JOB_STATE_COUNT] = {
	[JOB_BEGIN_STEP] = "begin-step", [JOB_CALLING] = "calling",
	[JOB_END_STEP] = "end-step", [JOB_FAILING] = "failing", [JOB_GONE] = "gone",
};
static const char *const batch_names[BATCH_STATE_COUNT] = {
	[BATCH_SEND] = "send", [BATCH_INFLIGHT] = "in-flight", [BATCH_WRITE] = "write",
	[BATCH_SAVE] = "save", [BATCH_FINISH] = "finish", [BATCH_GONE] = "gone",
};

static const char *
name_of(const char *const *names, unsigned count, unsigned s)
{
	return s < count ? names[s] : "?";
}

const char *
task_state_name(enum task_state s)
{
	return name_of(task_names, TASK_STATE_COUNT, (unsigned)s);
}

const char *
chat_state_name(enum chat_state s)
{
	return name_of(chat_names, CHAT_STATE_COUNT, (unsigned)s);
}

const char *
job_state_name(enum job_state s)
{
	return name_of(job_names, JOB_STATE_COUNT, (unsigned)s);
}

const char *
batch_state_name(enum batch_state s)
{
	return name_of(batch_names, BATCH_STATE_COUNT, (unsigned)s);
}

/* Logs a move decided by ok; true when it is to be made. */
static bool
judged(const char *area, const char *kind, const char *id, const char *from, const char *to,
       bool ok)
{
	if (!ok)
		log_warn(area, id, "%s refused to move %s -> %s", kind, from, to);
	else
		log_debug(area, id, "%s %s -> %s", kind, from, to);
	return ok;
}

bool
task_state_move(enum task_state *state, enum task_state to, const char *id)
{
	enum task_state from = *state;
	bool ok;

	switch (to) {
	case TASK_WAITING:     /* a failed attempt waits for its retry */
		ok = from == TASK_INFLIGHT;
		break;
	case TASK_INFLIGHT:    /* an attempt goes out */
	case TASK_DELEGATED:   /* handed to a batch instead of an attempt */
		ok = from == TASK_WAITING;
		break;
	case TASK_UNWRITTEN:   /* a final result, to be stored */
		ok = from == TASK_WAITING || from == TASK_INFLIGHT;
		break;
	case TASK_DONE:        /* stored, answered by its batch, or lost */
		ok = from < TASK_DONE;
		break;
	default:
		ok = false;
		break;
	}
	if (!judged("worker", "task", id, task_state_name(from), task_state_name(to), ok))
		return false;
	*state = to;
	return true;
}

bool
chat_state_move(enum chat_state *state, enum chat_state to, const char *id)
{
	enum chat_state from = *state;
	bool ok;

	switch (to) {
	case CHAT_FINISHING:   /* its finishing write must be tried again */
		ok = from == CHAT_OPEN;
		break;
	case CHAT_GONE:        /* finished, or the fence kept the write out */
		ok = from == CHAT_OPEN || from == CHAT_FINISHING;
		break;
	default:               /* nothing opens again */
		ok = false;
		break;
	}
	if (!judged("worker", "chat", id, chat_state_name(from), chat_state_name(to), ok))
		return false;
	*state = to;
	return true;
}

bool
job_state_move(enum job_state *state, enum job_state to, const char *id)
{
	enum job_state from = *state;
	bool ok;

	switch (to) {
	case JOB_BEGIN_STEP:   /* the step before it ended and was stored */
		ok = from == JOB_END_STEP;
		break;
	case JOB_CALLING:      /* the step's calls started */
		ok = from == JOB_BEGIN_STEP;
		break;
	case JOB_END_STEP:     /* every call settled, or none to make */
		ok = from == JOB_BEGIN_STEP || from == JOB_CALLING;
		break;
	case JOB_FAILING:      /* nothing a step could run: a template, memory, the type */
		ok = from == JOB_BEGIN_STEP;
		break;
	case JOB_GONE:         /* finished, or not ours any more */
		ok = from < JOB_GONE;
		break;
	default:
		ok = false;
		break;
	}
	if (!judged("worker", "job", id, job_state_name(from), job_state_name(to), ok))
		return false;
	*state = to;
	return true;
}

bool
batch_state_move(enum batch_state *state, enum batch_state to, const char *id)
{
	enum batch_state from = *state;
	bool ok;

	switch (to) {
	case BATCH_SEND:       /* a retry, a lookup's next page, or the state saved */
		ok = from == BATCH_INFLIGHT || from == BATCH_SAVE;
		break;
	case BATCH_INFLIGHT:   /* a request, or the cancel that replaces it */
		ok = from == BATCH_SEND || from == BATCH_SAVE || from == BATCH_INFLIGHT;
		break;
	case BATCH_WRITE:      /* an answer came */
		ok = from == BATCH_INFLIGHT;
		break;
	case BATCH_SAVE:       /* its results are written */
		ok = from == BATCH_WRITE;
		break;
	case BATCH_FINISH:     /* done, failed or cancelled: the calls left fail */
		ok = from < BATCH_FINISH;
		break;
	case BATCH_GONE:       /* ended, or not ours any more */
		ok = from < BATCH_GONE;
		break;
	default:
		ok = false;
		break;
	}
	if (!judged("batch", "batch", id, batch_state_name(from), batch_state_name(to), ok))
		return false;
	*state = to;
	return true;
}
