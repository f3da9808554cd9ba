/* results.c: how a final result is written (see results.h). */
#include <stdlib.h>

#include "worker/results.h"
#include "worker/states.h"

bool
results_due(const struct task *t, int64_t now)
{
	return t->state == TASK_UNWRITTEN && t->due_ms <= now;
}

size_t
results_count(const struct task *tasks, size_t n, int64_t now)
{
	size_t due = 0;

	for (size_t i = 0; i < n; i++)
		due += results_due(&tasks[i], now);
	return due;
}

void
results_hold(struct task *const *ts, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++)
		ts[i]->due_ms = task_write_retry_at(now);
}

void
results_hold_due(struct task *tasks, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++)
		if (results_due(&tasks[i], now))
			tasks[i].due_ms = task_write_retry_at(now);
}

void
results_written(struct task *t)
{
	task_state_move(&t->state, TASK_DONE, t->ops->log_id(t));
	free(t->result_json);
	t->result_json = NULL;
}
