/*
 * jobrun.c: the job runner: runs claimed jobs step by step inside the
 * worker's loop (see jobrun.h).
 *
 * DESIGN. A job goes through its type's steps in order. For each step the
 * templates are rendered from the input and the outputs of earlier steps,
 * the step is marked running (a fenced write that also shows its status
 * message), and one task is started per call that no earlier attempt
 * answered (a fan-out runs them all at once). Each answer is stored in the
 * step's results at the turn after it arrives, with every other job's
 * (worker/results.h). When every call is settled, the step's
 * output and the job's progress are stored in one fenced write, or the job
 * fails; the last step's write finishes the job. A write refused by the
 * fence means the job is no longer this attempt's (lease lost, or
 * cancelled): it is dropped with its transfers. A write the database could
 * not take is tried again after WRITE_RETRY_MS, and nothing moves on
 * before it is stored, so a finished step is never run again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/log.h"
#include "core/util.h"
#include "db/batches.h"
#include "db/jobs.h"
#include "db/pieces.h"
#include "jobtype/output.h"
#include "jobtype/template.h"
#include "db/status.h"
#include "worker/jobrun.h"
#include "worker/results.h"

#define STEP_CHECK_MS 2000          /* a slow look for answers from batches */


struct job_run {
	struct db_job_claim c;
	const struct jobtype *type;
	json_object *input;
	json_object **outputs;     /* per step: its output once it has ended */
	json_object **stored;      /* per step: results stored by earlier attempts */
	size_t step;
	enum job_state state;
	int64_t due_ms;            /* when the state's next write is due */
	int progress;
	char *fail_msg;            /* JOB_FAILING: the job's error */
	char *prompt;              /* the current step's rendered templates */
	char *system;
	char location[3];          /* the current step's location, "" for none:
				    * its tasks' call.location points here */
	struct task *tasks;
	size_t ntasks;
	size_t open;               /* tasks not settled */
	json_object *results;      /* the current step's results by provider */
	int64_t renew_ms;
	int64_t check_ms;          /* when to look for answers from batches */
	struct job_run *next;
};

struct jobrun {
	struct worker_ctx *w;
	struct job_run *jobs;
	int n;
	struct results_queue results;  /* the turn's results, written together */
	int64_t pieces_hold_ms;        /* no piece write before (the database was away) */
	uint64_t pieces_writes;        /* piece writes so far: each one's number */
};

/* ---- life cycle ---- */

static void
step_reset(struct task_engine *te, struct job_run *j)
{
	for (size_t i = 0; i < j->ntasks; i++)
		task_abandon(te, &j->tasks[i]);
	free(j->tasks);
	j->tasks = NULL;
	j->ntasks = j->open = 0;
	free(j->prompt);
	free(j->system);
	j->prompt = j->system = NULL;
	j->location[0] = '\0';
	json_object_put(j->results);
	j->results = NULL;
}

static void
job_free(struct task_engine *te, struct job_run *j)
{
	step_reset(te, j);
	for (size_t i = 0; j->type != NULL && i < j->type->nsteps; i++) {
		if (j->outputs != NULL)
			json_object_put(j->outputs[i]);
		if (j->stored != NULL)
			json_object_put(j->stored[i]);
	}
	free(j->outputs);
	free(j->stored);
	json_object_put(j->input);
	free(j->fail_msg);
	free(j->c.type);
	free(j->c.input_json);
	free(j->c.steps_json);
	free(j);
}

static void
job_remove(struct jobrun *jr, struct job_run *j)
{
	for (struct job_run **p = &jr->jobs; *p != NULL; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			jr->n--;
			break;
		}
	}
	job_free(&jr->w->te, j);
}

static void job_fail_later(struct job_run *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
job_fail_later(struct job_run *j, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(j->fail_msg);
	j->fail_msg = xstrdup(msg);
	job_state_move(&j->state, JOB_FAILING, j->c.job_id);
	j->due_ms = 0;
}

/* ---- tasks of a step ---- */

static void
job_task_settled(struct task_engine *te, struct task *t, int64_t now)
{
	struct job_run *j = t->owner;
	json_object *res = NULL;

	(void)te;
	(void)now;
	if (t->result_json != NULL)
		res = json_tokener_parse(t->result_json);
	if (res == NULL)
		/* Without memory for the result, the call counts as failed. */
		res = json_tokener_parse("{\"ok\":false,\"error\":\"the result was lost (out of memory)\"}");
	if (res == NULL || json_object_object_add(j->results, t->provider, res) != 0)
		json_object_put(res);
	if (--j->open == 0) {
		job_state_move(&j->state, JOB_END_STEP, j->c.job_id);
		j->due_ms = 0;
	}
}

static const char *
job_task_log_id(const struct task *t)
{
	return ((const struct job_run *)t->owner)->c.job_id;
}

static enum aigw_err
job_task_delegate(struct task_engine *te, struct task *t, int64_t now)
{
	struct job_run *j = t->owner;
	struct db_batch_call c = {
		.provider = t->provider, .model = t->model, .job_id = j->c.job_id,
		.step = (int)j->step, .message = t->call.message, .system = t->call.system,
		.max_tokens = t->call.max_tokens, .websearch = t->call.websearch,
		.location = t->call.location, .json_output = t->call.json_output,
	};
	enum aigw_err err = db_batch_item_add(te->db, &c);

	if (err == AIGW_OK)
		j->check_ms = now + STEP_CHECK_MS;
	return err;
}

static const struct task_ops job_task_ops = {
	.lost = job_task_settled, .log_id = job_task_log_id, .delegate = job_task_delegate,
};

/*
 * Stores the steps' results that came in since the last turn, of every
 * job, in one statement, before any step moves on. While the database is
 * away they wait, all of them, WRITE_RETRY_MS.
 */
static void
jobs_write(struct jobrun *jr, int64_t now)
{
	struct results_queue *q = &jr->results;

	for (struct job_run *j = jr->jobs; j != NULL; j = j->next) {
		for (size_t i = 0; j->state == JOB_CALLING && i < j->ntasks; i++) {
			struct task *t = &j->tasks[i];
			struct result_row r = {
				.kind = RESULT_JOB_STEP, .task = t, .provider = t->provider,
				.result_json = t->result_json, .id = j->c.job_id,
				.attempt = j->c.attempt, .step = (int)j->step,
			};

			if (results_due(t, now) && !results_add(q, &r))
				goto write; /* out of memory: the rest next turn */
		}
	}
write:
	results_flush(jr->w->te.db, q, now);
	for (size_t i = 0; i < q->n; i++) {
		struct task *t = q->rows[i].task;
		struct job_run *j = t->owner;

		if (q->rows[i].outcome == RESULT_HELD)
			continue;
		if (q->rows[i].outcome == RESULT_FENCED)
			log_info("worker", j->c.job_id,
				 "step %s, %s: result not stored (stored already, or the job moved on)",
				 j->type->steps[j->step].name, t->provider);
		job_task_settled(&jr->w->te, t, now);
		results_written(t);
	}
	results_clear(q);
}

/*
 * Calls handed to a batch are answered in the step's row by the batch
 * (a NOTIFY aigw_step says so; a slow look every STEP_CHECK_MS covers a
 * lost one). Settles those that have been answered.
 */
static void
check_delegated(struct task_engine *te, struct job_run *j, int64_t now)
{
	json_object *stored = NULL, *v;
	char *text = NULL;

	j->check_ms = now + STEP_CHECK_MS;
	if (db_job_step_read(te->db, j->c.job_id, (int)j->step, &text) != AIGW_OK)
		return;
	stored = json_tokener_parse(text);
	for (size_t i = 0; stored != NULL && i < j->ntasks; i++) {
		struct task *t = &j->tasks[i];

		if (t->state != TASK_DELEGATED || !json_object_object_get_ex(stored, t->provider, &v))
			continue;
		t->result_json = xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		task_state_move(&t->state, TASK_DONE, t->ops->log_id(t));
		log_info("worker", j->c.job_id, "step %s, %s: answered by its batch",
			 j->type->steps[j->step].name, t->provider);
		job_task_settled(te, t, now);
		free(t->result_json);
		t->result_json = NULL;
	}
	json_object_put(stored);
	free(text);
}

static bool
has_delegated(const struct job_run *j)
{
	for (size_t i = 0; i < j->ntasks; i++)
		if (j->tasks[i].state == TASK_DELEGATED)
			return true;
	return false;
}

void
jobrun_step_answered(struct jobrun *jr, const char *job_id)
{
	for (struct job_run *j = jr->jobs; j != NULL; j = j->next)
		if (strcmp(j->c.job_id, job_id) == 0)
			j->check_ms = 0;
}

/* ---- phases ---- */

static enum aigw_err
render(const struct template *tpl, json_object *ctx, char **out, const char *what,
       struct job_run *j)
{
	char why[512];
	enum aigw_err err;

	*out = NULL;
	if (tpl == NULL)
		return AIGW_OK;
	err = template_render(tpl, ctx, out, why, sizeof why);
	if (err != AIGW_OK) {
		char where[256];

		snprintf(where, sizeof where, "step %s: cannot render the %s",
			 j->type->steps[j->step].name, what);
		job_fail_later(j, "%s: %s", where, err == AIGW_ENOMEM ? "out of memory" : why);
	}
	return err;
}

/* A step run again after a worker died may hold that worker's text: each
 * call with text so far starts with a reset (all when the database cannot
 * say). */
static void
step_resume_pieces(struct task_engine *te, struct job_run *j)
{
	char **names = NULL;
	size_t n = 0;
	bool all = db_job_pieces_open(te->db, j->c.job_id, (int)j->step, &names, &n) != AIGW_OK;

	for (size_t i = 0; i < j->ntasks; i++) {
		bool open = all;

		for (size_t k = 0; k < n && !open; k++)
			open = strcmp(names[k], j->tasks[i].provider) == 0;
		if (open)
			pieces_mark_written(&j->tasks[i].pieces);
	}
	db_pieces_names_free(names, n);
}

static void
begin_step(struct task_engine *te, struct job_run *j, int64_t now)
{
	const struct jobtype_step *s = &j->type->steps[j->step];
	json_object *ctx = NULL;
	char *system = NULL;
	bool ours = false;
	enum aigw_err err;

	step_reset(te, j);
	if (jobs_context(j->type, j->input, j->outputs, &ctx) != AIGW_OK) {
		j->due_ms = task_write_retry_at(now);
		return;
	}
	if (render(s->prompt, ctx, &j->prompt, "prompt", j) != AIGW_OK ||
	    render(s->system, ctx, &system, "system prompt", j) != AIGW_OK)
		goto out;
	if (s->output_json) {
		j->system = jobs_json_system(system);
		free(system);
		system = NULL;
		if (j->system == NULL) {
			job_fail_later(j, "step %s: %s", s->name, "out of memory");
			goto out;
		}
	} else {
		j->system = system;
		system = NULL;
	}
	err = db_job_step_start(te->db, j->c.job_id, j->c.attempt, (int)j->step, s->status_message,
				&ours);
	if (err != AIGW_OK) {
		j->due_ms = task_write_retry_at(now);
		goto out;
	}
	if (!ours) {
		log_info("worker", j->c.job_id, "no longer ours (cancelled, or the lease moved on)");
		job_state_move(&j->state, JOB_GONE, j->c.job_id);
		goto out;
	}
	/* Answers an earlier attempt stored are kept, never asked again. */
	j->results = j->stored[j->step] ? json_object_get(j->stored[j->step]) : json_object_new_object();
	j->tasks = calloc(s->ncalls, sizeof *j->tasks);
	if (j->results == NULL || j->tasks == NULL) {
		job_fail_later(j, "step %s: %s", s->name, "out of memory");
		goto out;
	}
	jobs_step_location(s, j->input, j->location);
	for (size_t i = 0; i < s->ncalls; i++) {
		struct task *t = &j->tasks[j->ntasks];

		/* Left out by the input's platforms: never started, so never
		 * waited for (jobs_step_output passes over it too). */
		if (!jobs_step_runs(s, j->input, i) ||
		    json_object_object_get_ex(j->results, s->calls[i].provider, NULL))
			continue;
		task_init(te, t, &job_task_ops, j, s->calls[i].provider, s->calls[i].model, now);
		t->call.message = j->prompt;
		t->call.system = j->system;
		t->call.max_tokens = s->max_tokens;
		t->call.json_output = s->output_json;
		t->call.websearch = jobs_step_websearch(s, j->input);
		t->call.location = j->location[0] != '\0' ? j->location : NULL;
		j->ntasks++;
	}
	j->open = j->ntasks;
	if (j->c.attempt > 1 && j->ntasks > 0 && te->cfg->stream)
		step_resume_pieces(te, j);
	if (te->cfg->log_prompts) {
		const struct log_attr prompt[] = { LOG_STR("prompt", j->prompt) };

		log_event(LOG_INFO, "worker", j->c.job_id, prompt, 1, "step %s started (%zu call%s)",
			  s->name, j->ntasks, j->ntasks == 1 ? "" : "s");
	} else {
		log_info("worker", j->c.job_id, "step %s started (%zu call%s)", s->name, j->ntasks,
			 j->ntasks == 1 ? "" : "s");
	}
	job_state_move(&j->state, j->open > 0 ? JOB_CALLING : JOB_END_STEP, j->c.job_id);
	j->due_ms = 0;
out:
	free(system);
	json_object_put(ctx);
}

static void
end_step(struct task_engine *te, struct job_run *j, int64_t now)
{
	const struct jobtype_step *s = &j->type->steps[j->step];
	bool last = j->step + 1 == j->type->nsteps, ours = false;
	json_object *out = NULL, *job_out = NULL;
	struct db_job_step_end e;
	char why[1024], error[1200];
	enum aigw_err err;

	memset(&e, 0, sizeof e);
	e.step = (int)j->step;
	err = jobs_step_output(s, j->input, j->results, &out, why, sizeof why);
	if (err == AIGW_ENOMEM)
		goto retry;
	if (err != AIGW_OK) {
		snprintf(error, sizeof error, "step %s failed: %s", s->name, why);
		e.step_status = db_status_name(DB_STATUS_FAILED);
		e.step_error = why;
		e.progress = j->progress;
		e.final_status = db_status_name(DB_STATUS_FAILED);
		e.job_error = error;
	} else {
		e.step_status = db_status_name(DB_STATUS_COMPLETED);
		e.step_output_json = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
		e.progress = jobs_progress_after(j->type, j->step, j->progress);
		if (last) {
			size_t o = j->type->output_step;

			job_out = jobs_job_output(&j->type->steps[o], o == j->step ? out : j->outputs[o]);
			if (job_out == NULL)
				goto retry;
			e.final_status = db_status_name(DB_STATUS_COMPLETED);
			e.job_output_json = json_object_to_json_string_ext(job_out, JSON_C_TO_STRING_PLAIN);
		}
		if (e.step_output_json == NULL || (last && e.job_output_json == NULL))
			goto retry;
	}
	err = db_job_step_end(te->db, j->c.job_id, j->c.attempt, &e, &ours);
	if (err != AIGW_OK)
		goto retry;
	if (!ours) {
		log_info("worker", j->c.job_id, "no longer ours (cancelled, or the lease moved on)");
		job_state_move(&j->state, JOB_GONE, j->c.job_id);
		goto done;
	}
	log_info("worker", j->c.job_id, "step %s %s", s->name, e.step_status);
	if (e.final_status != NULL) {
		log_info("worker", j->c.job_id, "job %s", e.final_status);
		job_state_move(&j->state, JOB_GONE, j->c.job_id);
		goto done;
	}
	j->progress = e.progress;
	j->outputs[j->step] = out;
	out = NULL;
	j->step++;
	job_state_move(&j->state, JOB_BEGIN_STEP, j->c.job_id);
	j->due_ms = 0;
	step_reset(te, j);
	goto done;
retry:
	/* The database is away (or memory short): the same write, later. */
	j->due_ms = task_write_retry_at(now);
done:
	json_object_put(out);
	json_object_put(job_out);
}

static void
fail_job(struct task_engine *te, struct job_run *j, int64_t now)
{
	const char *msg = j->fail_msg ? j->fail_msg : "the job failed (out of memory)";
	bool ours = false;

	if (db_job_fail(te->db, j->c.job_id, j->c.attempt, msg, &ours) != AIGW_OK) {
		j->due_ms = task_write_retry_at(now);
		return;
	}
	if (ours)
		log_info("worker", j->c.job_id, "job failed: %s", msg);
	job_state_move(&j->state, JOB_GONE, j->c.job_id);
}

/* ---- claiming ---- */

/* Takes ownership of the claim's strings. */
static enum aigw_err
job_add(struct jobrun *jr, struct db_job_claim *c, int64_t now)
{
	struct job_run *j = calloc(1, sizeof *j);
	json_object *steps = NULL;
	enum aigw_err err = AIGW_OK;

	if (j == NULL)
		return AIGW_ENOMEM;
	j->c = *c;
	memset(c, 0, sizeof *c);
	j->next = jr->jobs;
	jr->jobs = j;
	jr->n++;
	j->renew_ms = task_lease_next(now, jr->w->te.cfg->lease_s);
	j->progress = j->c.progress;
	j->state = JOB_BEGIN_STEP;
	j->type = jobtype_find(jr->w->jobtypes, j->c.type);
	if (j->type == NULL) {
		job_fail_later(j, "unknown job type '%.*s' (not declared where the worker runs)",
			       (int)utf8_cut(j->c.type, NAME_SHOWN_MAX), j->c.type);
		return AIGW_OK;
	}
	j->input = json_tokener_parse(j->c.input_json);
	steps = json_tokener_parse(j->c.steps_json);
	j->outputs = calloc(j->type->nsteps, sizeof *j->outputs);
	j->stored = calloc(j->type->nsteps, sizeof *j->stored);
	if (j->outputs == NULL || j->stored == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	if (!json_object_is_type(j->input, json_type_object) ||
	    !json_object_is_type(steps, json_type_array) ||
	    json_object_array_length(steps) != j->type->nsteps) {
		job_fail_later(j, "the stored job does not match its type %s (were its steps changed?)",
			       j->type->name);
		goto out;
	}
	j->step = j->type->nsteps;
	for (size_t i = 0; i < j->type->nsteps; i++) {
		json_object *st = json_object_array_get_idx(steps, i), *v;

		if (json_object_object_get_ex(st, "results", &v) &&
		    json_object_is_type(v, json_type_object) && json_object_object_length(v) > 0)
			j->stored[i] = json_object_get(v);
		if (json_object_object_get_ex(st, "status", &v) &&
		    db_status_is(json_object_get_string(v), DB_STATUS_COMPLETED) &&
		    json_object_object_get_ex(st, "output", &v) && json_object_is_type(v, json_type_object))
			j->outputs[i] = json_object_get(v);
		else if (j->step == j->type->nsteps)
			j->step = i;
	}
	if (j->step == j->type->nsteps) {
		/* Every step ended but the job did not: end the last one again
		 * from what it stored. */
		j->step = j->type->nsteps - 1;
		json_object_put(j->outputs[j->step]);
		j->outputs[j->step] = NULL;
	}
	if (j->step > 0)
		log_info("worker", j->c.job_id, "resuming at step %s",
			 j->type->steps[j->step].name);
out:
	json_object_put(steps);
	if (err != AIGW_OK)
		job_remove(jr, j);
	return err;
}

/* Starts running the claimed jobs and frees the array. */
static void
add_claimed(struct jobrun *jr, struct db_job_claim *claims, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		char id[UUID_STR_LEN + 1];

		memcpy(id, claims[i].job_id, sizeof id);
		log_info("worker", id, "claimed job %s (attempt %d)", claims[i].type, claims[i].attempt);
		if (job_add(jr, &claims[i], now) != AIGW_OK)
			log_error("worker", id, "out of memory; left to its lease");
	}
	db_job_claims_free(claims, n);
}

size_t
jobrun_claim(struct jobrun *jr, int64_t now)
{
	const struct aigw_config *cfg = jr->w->te.cfg;
	struct db *db = jr->w->te.db;
	struct db_job_claim *claims = NULL;
	size_t n = 0, more = 0;

	if (jr->n >= JOBS_MAX)
		return 0;
	if (db_job_claim(db, JOBS_MAX - jr->n, cfg->lease_s, jr->w->name, &claims, &n) != AIGW_OK)
		return 0;
	add_claimed(jr, claims, n, now);
	if (jr->n >= JOBS_MAX)
		return n;
	claims = NULL;
	if (db_job_claim_analysis(db, JOBS_MAX - jr->n, cfg->analysis_concurrency, cfg->lease_s,
				  jr->w->name, &claims, &more) != AIGW_OK)
		return n;
	add_claimed(jr, claims, more, now);
	return n + more;
}

/* ---- the turn ---- */

static void
renew(struct task_engine *te, struct job_run *j, int64_t now)
{
	bool ours = true;

	if (now < j->renew_ms || j->state == JOB_GONE)
		return;
	if (db_job_renew(te->db, j->c.job_id, j->c.attempt, te->cfg->lease_s, &ours) == AIGW_OK &&
	    !ours) {
		log_warn("worker", j->c.job_id, "lease lost or job cancelled; dropping the job");
		job_state_move(&j->state, JOB_GONE, j->c.job_id);
		return;
	}
	j->renew_ms = task_lease_next(now, te->cfg->lease_s);
}

/* ---- streamed text (as the chat runner's, worker/chatrun.c) ---- */

static int64_t
jobs_pieces_due(const struct jobrun *jr)
{
	int64_t due = PIECES_NEVER;
	long flush_ms = jr->w->te.cfg->stream_flush_ms;

	for (const struct job_run *j = jr->jobs; j != NULL; j = j->next) {
		for (size_t i = 0; j->state == JOB_CALLING && i < j->ntasks; i++) {
			int64_t d = pieces_due(&j->tasks[i].pieces, flush_ms);

			if (d < due)
				due = d;
		}
	}
	return due == PIECES_NEVER ? due : pieces_flush_at(due, jr->pieces_hold_ms);
}

/* The waiting text of every running step's calls, in one statement, once
 * the oldest has waited its AIGW_STREAM_FLUSH_MS. */
static void
jobs_pieces_flush(struct jobrun *jr, int64_t now)
{
	struct pieces_flush f;

	if (jobs_pieces_due(jr) > now)
		return;
	pieces_flush_init(&f);
	for (struct job_run *j = jr->jobs; j != NULL; j = j->next) {
		for (size_t i = 0; j->state == JOB_CALLING && i < j->ntasks; i++) {
			struct task *t = &j->tasks[i];
			const struct db_piece base = { .id = j->c.job_id, .attempt = j->c.attempt,
						       .step = (int)j->step, .provider = t->provider };

			pieces_flush_add(&f, &t->pieces, &base);
		}
	}
	jr->pieces_hold_ms = pieces_flush_write(&f, jr->w->te.db, db_job_pieces_write,
						&jr->pieces_writes)
			     ? 0 : task_write_retry_at(now);
}

int64_t
jobrun_turn(struct jobrun *jr, int64_t now)
{
	struct task_engine *te = &jr->w->te;
	int64_t next = INT64_MAX;
	struct job_run *j, *nextj;

	for (j = jr->jobs; j != NULL; j = j->next)
		renew(te, j, now);
	jobs_pieces_flush(jr, now);
	jobs_write(jr, now);
	for (j = jr->jobs; j != NULL; j = nextj) {
		nextj = j->next;
		/* Each pass moves the job on or schedules a retry; a job can
		 * go through at most every step's begin and end in one turn. */
		for (size_t pass = 0; pass <= 2 * JOBTYPE_MAX_STEPS + 1 && now >= j->due_ms; pass++) {
			if (j->state == JOB_BEGIN_STEP)
				begin_step(te, j, now);
			else if (j->state == JOB_END_STEP)
				end_step(te, j, now);
			else if (j->state == JOB_FAILING)
				fail_job(te, j, now);
			else
				break;
		}
		if (j->state == JOB_CALLING) {
			for (size_t i = 0; i < j->ntasks; i++)
				task_turn(te, &j->tasks[i], now, &next);
			if (j->state == JOB_CALLING && has_delegated(j)) {
				if (now >= j->check_ms)
					check_delegated(te, j, now);
				if (j->check_ms < next)
					next = j->check_ms;
			}
		}
		if (j->state == JOB_GONE) {
			job_remove(jr, j);
			continue;
		}
		if (j->state != JOB_CALLING && j->due_ms < next)
			next = j->due_ms;
		if (j->renew_ms < next)
			next = j->renew_ms;
	}
	{
		int64_t due = jobs_pieces_due(jr);

		if (due < next)
			next = due;
	}
	return next;
}

void
jobrun_cancelled(struct jobrun *jr, const char *job_id)
{
	for (struct job_run *j = jr->jobs; j != NULL; j = j->next) {
		if (strcmp(j->c.job_id, job_id) != 0)
			continue;
		log_info("worker", j->c.job_id, "cancelled; abandoning %zu call%s in flight", j->open,
			 j->open == 1 ? "" : "s");
		job_remove(jr, j);
		return;
	}
}

void
jobrun_hand_back(struct jobrun *jr)
{
	while (jr->jobs != NULL) {
		struct job_run *j = jr->jobs;

		if (j->state != JOB_GONE &&
		    db_job_release(jr->w->te.db, j->c.job_id, j->c.attempt) == AIGW_OK)
			log_info("worker", j->c.job_id, "handed back");
		job_remove(jr, j);
	}
}

struct jobrun *
jobrun_new(struct worker_ctx *w)
{
	struct jobrun *jr = calloc(1, sizeof *jr);

	if (jr != NULL)
		jr->w = w;
	return jr;
}

void
jobrun_free(struct jobrun *jr)
{
	if (jr == NULL)
		return;
	while (jr->jobs != NULL)
		job_remove(jr, jr->jobs);
	results_queue_free(&jr->results);
	free(jr);
}

int
jobrun_count(const struct jobrun *jr)
{
	return jr->n;
}
