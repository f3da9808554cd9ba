/* results.c: how a final result is written (see results.h). */
#include <stdlib.h>
#include <string.h>

#include "db/batches.h"
#include "db/chats.h"
#include "db/jobs.h"
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

/* ---- the turn's queue ---- */

bool
results_add(struct results_queue *q, const struct result_row *r)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		struct result_row *rows = reallocarray(q->rows, cap, sizeof *rows);

		if (rows == NULL)
			return false;
		q->rows = rows;
		q->cap = cap;
	}
	q->rows[q->n] = *r;
	q->rows[q->n].outcome = RESULT_HELD;
	q->rows[q->n].status[0] = '\0';
	q->n++;
	return true;
}

/* The queued rows of one kind, and their tasks. */
struct picked {
	struct result_row **rows;
	struct task **tasks;       /* those that have one */
	size_t n, ntasks;
};

static void
picked_free(struct picked *p)
{
	free(p->rows);
	free(p->tasks);
}

/* false on ENOMEM (nothing left to free). */
static bool
pick(struct results_queue *q, enum result_kind kind, struct picked *p)
{
	p->n = p->ntasks = 0;
	p->rows = calloc(q->n ? q->n : 1, sizeof *p->rows);
	p->tasks = calloc(q->n ? q->n : 1, sizeof *p->tasks);
	if (p->rows == NULL || p->tasks == NULL) {
		picked_free(p);
		return false;
	}
	for (size_t i = 0; i < q->n; i++) {
		if (q->rows[i].kind != kind)
			continue;
		p->rows[p->n++] = &q->rows[i];
		if (q->rows[i].task != NULL)
			p->tasks[p->ntasks++] = q->rows[i].task;
	}
	return true;
}

static enum aigw_err
write_chats(struct db *db, const struct picked *p)
{
	struct db_chat_result *rows = calloc(p->n, sizeof *rows);
	enum aigw_err err;

	if (rows == NULL)
		return AIGW_ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		const struct result_row *r = p->rows[i];

		rows[i] = (struct db_chat_result){
			.chat_id = r->id, .attempt = r->attempt, .provider = r->provider,
			.result_json = r->result_json, .finish = r->finish,
		};
	}
	err = db_chat_write_results(db, rows, p->n);
	for (size_t i = 0; err == AIGW_OK && i < p->n; i++) {
		p->rows[i]->outcome = rows[i].written ? RESULT_STORED : RESULT_FENCED;
		memcpy(p->rows[i]->status, rows[i].status, sizeof p->rows[i]->status);
	}
	free(rows);
	return err;
}

static enum aigw_err
write_job_steps(struct db *db, const struct picked *p)
{
	struct db_job_step_result_row *rows = calloc(p->n, sizeof *rows);
	enum aigw_err err;

	if (rows == NULL)
		return AIGW_ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		const struct result_row *r = p->rows[i];

		rows[i] = (struct db_job_step_result_row){
			.job_id = r->id, .attempt = r->attempt, .step = r->step,
			.provider = r->provider, .result_json = r->result_json,
		};
	}
	err = db_job_step_results(db, rows, p->n);
	for (size_t i = 0; err == AIGW_OK && i < p->n; i++)
		p->rows[i]->outcome = rows[i].written ? RESULT_STORED : RESULT_FENCED;
	free(rows);
	return err;
}

/* Each stored once, into the item and its chat or job step; an item
 * answered already is passed over, which a batch's rows cannot tell. */
static enum aigw_err
write_batch_items(struct db *db, const struct picked *p)
{
	const char **ids = calloc(p->n, sizeof *ids);
	const char **jsons = calloc(p->n, sizeof *jsons);
	enum aigw_err err = AIGW_ENOMEM;

	if (ids != NULL && jsons != NULL) {
		for (size_t i = 0; i < p->n; i++) {
			ids[i] = p->rows[i]->id;
			jsons[i] = p->rows[i]->result_json;
		}
		err = db_batch_results(db, ids, jsons, p->n);
	}
	for (size_t i = 0; err == AIGW_OK && i < p->n; i++)
		p->rows[i]->outcome = RESULT_STORED;
	free(ids);
	free(jsons);
	return err;
}

void
results_flush(struct db *db, struct results_queue *q, int64_t now)
{
	static enum aigw_err (*const write[])(struct db *, const struct picked *) = {
		[RESULT_CHAT] = write_chats, [RESULT_JOB_STEP] = write_job_steps,
		[RESULT_BATCH_ITEM] = write_batch_items,
	};

	for (size_t kind = 0; kind < sizeof write / sizeof write[0]; kind++) {
		struct picked p;

		/* Without memory to gather them, the rows stay due: next turn. */
		if (q->n == 0 || !pick(q, (enum result_kind)kind, &p))
			continue;
		/* One statement for every row of the kind; when the database
		 * did not take it, all of them wait WRITE_RETRY_MS. */
		if (p.n > 0 && write[kind](db, &p) != AIGW_OK)
			results_hold(p.tasks, p.ntasks, now);
		picked_free(&p);
	}
}

void
results_clear(struct results_queue *q)
{
	q->n = 0;
}

void
results_queue_free(struct results_queue *q)
{
	free(q->rows);
	q->rows = NULL;
	q->n = q->cap = 0;
}
