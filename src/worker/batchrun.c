/*
 * batchrun.c: the batch runner: runs the batches of async providers inside
 * the worker's loop (see batchrun.h and provider.h's async contract).
 *
 * DESIGN. Chats and job steps hand the calls of an async provider to the
 * database as batch items. Every second a worker looks for waiting items
 * (of chats and jobs still waiting for them): those of one provider and
 * model form a batch when a batch is full or the oldest has waited
 * AIGW_BATCH_WINDOW_MS (db_batch_form claims it under a lease). A batch
 * runs as the adapter's chain of requests: each answer is parsed into a
 * step whose results are matched to their calls by a hash of the ids and
 * written a group (WRITE_GROUP) a turn of the loop, so that the loop goes
 * on renewing other leases meanwhile (into the item and its chat or job
 * step, once), and whose new state and provider id are stored before the
 * next request goes out, so the provider's id is stored before the first
 * poll and a worker that takes over a batch whose lease ran out resumes
 * from there. The request that creates the batch is recorded before it
 * goes out; when its answer is lost, or a worker takes over a batch whose
 * create went out unanswered, the batch is looked up at the provider (the
 * adapter's "find" state) before it is ever created again. Polls back off
 * from 1 s to AIGW_BATCH_POLL_MAX_S; failed requests are retried as the
 * transfer engine's classes say; a batch past AIGW_BATCH_DEADLINE_S is
 * cancelled at the provider. Calls the batch leaves without a result fail
 * with the reason. Every write is fenced by the batch's claim.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "db/batches.h"
#include "db/status.h"
#include "worker/batchrun.h"
#include "worker/batchturns.h"
#include "worker/itemindex.h"
#include "worker/resultjson.h"
#include "worker/results.h"

#define FORM_EVERY_MS 1000
#define POLL_FIRST_MS 1000
#define RETRY_BASE_MS 1000
#define RETRY_CAP_MS 60000
/* Polls of a batch that runs for hours may meet a few passing errors. */
#define REQUEST_FAILURES_MAX 5
/* Results written in one statement, one group a turn of the loop, so that
 * a batch of 50,000 calls never keeps the loop from renewing the leases of
 * the worker's other work. */
#define WRITE_GROUP 500


struct batch_run {
	struct batchrun *br;
	struct db_batch_claim c;
	const struct route *route;
	struct db_batch_item *items;
	struct prov_batch_item *calls;
	struct batch_turns turns;   /* the calls' conversations */
	size_t nitems;
	struct item_index index;    /* the items by id */
	struct prov_step step;      /* BATCH_WRITE: the answer read, its results written */
	size_t step_pos;            /* BATCH_WRITE: its results written so far */
	size_t unknown;             /* BATCH_WRITE: its results for no call of the batch */
	enum batch_state state;
	int64_t due_ms;
	int64_t deadline_ms;
	int64_t poll_delay_ms;
	int64_t renew_ms;
	int64_t resume_due_ms;      /* BATCH_SAVE: when to send once saved */
	int64_t loaded_ms;          /* when its items were read (their waited_ms) */
	int failures;               /* requests failed in a row */
	int polls_unsaved;
	bool cancelling;
	bool creating;              /* the request out creates the batch */
	bool finding;               /* looking the batch up before creating it again */
	char *find_state;           /* the lookup's state (its page of the list) */
	long long submit_sent_s;    /* when a create first went out; 0: never */
	enum db_status end_status;  /* BATCH_FINISH: done, failed or cancelled */
	char *end_error;            /* BATCH_FINISH: why calls left fail */
	struct xfer *xfer;
	struct batch_run *next;
};

struct batchrun {
	struct worker_ctx *w;
	struct batch_run *batches;
	int n;
	bool calls_waiting;        /* the last look found calls without a batch */
	int64_t next_form_ms;
};

/* ---- life cycle ---- */

static void
batch_free(struct task_engine *te, struct batch_run *b)
{
	xfer_cancel(te->xe, b->xfer);
	batch_turns_free(&b->turns);
	db_batch_items_free(b->items, b->nitems);
	free(b->calls);
	item_index_free(&b->index);
	prov_step_free(&b->step);
	free(b->end_error);
	free(b->find_state);
	free(b->c.provider);
	free(b->c.model);
	free(b->c.state);
	free(b->c.external_id);
	free(b);
}

static void
batch_remove(struct batchrun *br, struct batch_run *b)
{
	for (struct batch_run **p = &br->batches; *p != NULL; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			br->n--;
			break;
		}
	}
	batch_free(&br->w->te, b);
}

static void finish(struct batch_run *b, enum db_status status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Ends the batch: the calls without a result fail with the sentence. */
static void
finish(struct batch_run *b, enum db_status status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(b->end_error);
	b->end_error = xstrdup(msg);
	b->end_status = status;
	batch_state_move(&b->state, BATCH_FINISH, b->c.batch_id);
	b->due_ms = 0;
	log_info("batch", b->c.batch_id, "%s: %s", db_status_name(status), msg);
}

/* ---- results and state ---- */

/* Writes n calls' results by the one write path (worker/results.h), in one
 * statement that marks the items answered too (the caller marked them
 * already, so that a group holds a call once); on failure (the database is
 * away, ENOMEM) none is written and the marks are undone, to be tried
 * again. */
static bool
write_group(struct batch_run *b, struct db_batch_item **its, const struct prov_result *const *prs,
	    size_t n, int64_t now)
{
	struct results_queue q = { 0 };
	char **jsons = calloc(n, sizeof *jsons);
	int64_t since_load = now - b->loaded_ms;
	bool ok = jsons != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		struct result_row r = { .kind = RESULT_BATCH_ITEM, .id = its[i]->item_id };

		/* Latency: from the call's queueing to its result, as a user waits. */
		jsons[i] = worker_result_json(b->c.provider, b->c.model, false, prs[i],
					      its[i]->waited_ms + since_load, b->c.attempt);
		r.result_json = jsons[i];
		ok = jsons[i] != NULL && results_add(&q, &r);
	}
	if (ok) {
		results_flush(b->br->w->te.db, &q, now);
		ok = q.rows[0].outcome == RESULT_STORED;
	}
	for (size_t i = 0; jsons != NULL && i < n; i++)
		free(jsons[i]);
	free(jsons);
	results_queue_free(&q);
	if (!ok)
		for (size_t i = 0; i < n; i++)
			its[i]->answered = false;
	return ok;
}

/* Stores the batch's progress. false when it must be tried again (the
 * database is away) or the batch is no longer ours (then BATCH_GONE). */
static bool
save(struct batch_run *b, enum db_status status, const char *error)
{
	bool ours = false;

	if (db_batch_save(b->br->w->te.db, b->c.batch_id, b->c.attempt, db_status_name(status),
			  b->c.state, b->c.external_id, error, b->polls_unsaved, &ours) != AIGW_OK)
		return false;
	if (!ours) {
		log_warn("batch", b->c.batch_id, "no longer ours (lease lost); dropping it");
		batch_state_move(&b->state, BATCH_GONE, b->c.batch_id);
		return false;
	}
	b->polls_unsaved = 0;
	return true;
}

static enum db_status
running_status(const struct batch_run *b)
{
	return b->c.external_id != NULL ? DB_STATUS_RUNNING : DB_STATUS_SUBMITTING;
}

/* ---- requests ---- */

static void on_done(void *arg, const struct xfer_result *res);
static bool found(struct batch_run *b, struct prov_step *step, int64_t now);

/* Records that the create goes out, before it does: whoever runs the batch
 * next looks it up first. false when it must not go (yet). */
static bool
mark_submitting(struct batch_run *b, int64_t now)
{
	bool ours = false;
	long long sent = 0;

	if (db_batch_submitting(b->br->w->te.db, b->c.batch_id, b->c.attempt, &ours, &sent) != AIGW_OK) {
		b->due_ms = task_write_retry_at(now);
		return false;
	}
	if (!ours) {
		log_warn("batch", b->c.batch_id, "no longer ours (lease lost); dropping it");
		batch_state_move(&b->state, BATCH_GONE, b->c.batch_id);
		return false;
	}
	b->submit_sent_s = sent;
	return true;
}

/* After a create whose answer leaves a doubt, the next request is a lookup. */
static void
look_up_next(struct batch_run *b, const char *why)
{
	free(b->find_state);
	b->find_state = NULL;
	b->finding = true;
	log_warn("batch", b->c.batch_id, "the create's answer was lost (%s); the batch is looked up "
		 "at %s before it is created again", why, b->c.provider);
}

static void
send_next(struct task_engine *te, struct batch_run *b, int64_t now)
{
	const struct prov_async_ops *ops = b->route->desc->async;
	struct prov_http req;
	enum aigw_err err;

	memset(&req, 0, sizeof req);
	if (b->finding && b->find_state == NULL &&
	    prov_async_find_state(b->calls, b->nitems, b->submit_sent_s, &b->find_state) != AIGW_OK) {
		b->due_ms = now + RETRY_BASE_MS;
		return;
	}
	err = ops->build(&b->route->pc, b->c.model, b->finding ? b->find_state : b->c.state,
			 b->calls, b->nitems, &req);
	if (err != AIGW_OK) {
		finish(b, DB_STATUS_FAILED, "%s: cannot build the next request: %s", b->c.provider,
		       aigw_strerror(err));
		return;
	}
	b->creating = req.creates && !b->finding;
	if (b->creating && !mark_submitting(b, now)) {
		prov_http_free(&req);
		return;
	}
	err = xfer_start(te->xe, &req, te->cfg->provider_timeout_s, on_done, b, &b->xfer);
	prov_http_free(&req);
	if (err != AIGW_OK) {
		b->due_ms = now + RETRY_BASE_MS;
		return;
	}
	batch_state_move(&b->state, BATCH_INFLIGHT, b->c.batch_id);
}

static void
start_cancel(struct task_engine *te, struct batch_run *b)
{
	const struct prov_async_ops *ops = b->route->desc->async;
	struct prov_http req;
	enum aigw_err err;

	xfer_cancel(te->xe, b->xfer);
	b->xfer = NULL;
	b->cancelling = true;
	memset(&req, 0, sizeof req);
	err = ops->build_cancel(&b->route->pc, b->c.state, &req);
	if (err == AIGW_OK)
		err = xfer_start(te->xe, &req, te->cfg->provider_timeout_s, on_done, b, &b->xfer);
	prov_http_free(&req);
	if (err == AIGW_OK) {
		batch_state_move(&b->state, BATCH_INFLIGHT, b->c.batch_id);
		return;
	}
	finish(b, DB_STATUS_CANCELLED, "the batch did not finish within %ld s",
	       te->cfg->batch_deadline_s);
}

static void
handle_failure(struct batch_run *b, enum prov_errclass cls, const char *error, long retry_after_s,
	       int64_t now)
{
	b->failures++;
	if (prov_err_retryable(cls) && b->failures < REQUEST_FAILURES_MAX) {
		int64_t delay = xfer_retry_delay_ms(b->failures, retry_after_s, RETRY_BASE_MS,
						    RETRY_CAP_MS, task_rand32(&b->br->w->te.rng));

		log_info("batch", b->c.batch_id, "%s (%s); trying again in %lld ms", error,
			 prov_errclass_name(cls), (long long)delay);
		batch_state_move(&b->state, BATCH_SEND, b->c.batch_id);
		b->due_ms = now + delay;
		return;
	}
	finish(b, DB_STATUS_FAILED, "%s", error);
}

/* The answer's results are all written: takes its state and id, and goes
 * on as its kind says. */
static void
apply_step(struct batch_run *b, int64_t now)
{
	const struct aigw_config *cfg = b->br->w->te.cfg;
	struct prov_step *step = &b->step;

	if (b->unknown > 0)
		log_warn("batch", b->c.batch_id, "%zu result%s for no call of the batch; ignored",
			 b->unknown, b->unknown == 1 ? "" : "s");
	if (step->state != NULL) {
		free(b->c.state);
		b->c.state = step->state;
		step->state = NULL;
	}
	if (step->external_id != NULL) {
		if (b->c.external_id == NULL)
			log_info("batch", b->c.batch_id, "accepted by %s as %.128s", b->c.provider,
				 step->external_id);
		free(b->c.external_id);
		b->c.external_id = step->external_id;
		step->external_id = NULL;
	}
	switch (step->kind) {
	case PROV_STEP_WAIT:
		b->polls_unsaved++;
		b->resume_due_ms = now + b->poll_delay_ms;
		b->poll_delay_ms = b->poll_delay_ms * 3 / 2;
		if (b->poll_delay_ms > cfg->batch_poll_max_s * 1000)
			b->poll_delay_ms = cfg->batch_poll_max_s * 1000;
		break;
	case PROV_STEP_DONE:
		prov_step_free(step);
		finish(b, DB_STATUS_DONE, "%s ended the batch without a result for this call", b->c.provider);
		return;
	default:
		b->resume_due_ms = now;
		break;
	}
	prov_step_free(step);
	/* The state (and the provider's id) is stored before anything else
	 * is sent for the batch. */
	batch_state_move(&b->state, BATCH_SAVE, b->c.batch_id);
	b->due_ms = 0;
}

/* BATCH_WRITE: one group of the answer's results. */
static void
write_turn(struct batch_run *b, int64_t now)
{
	struct db_batch_item *its[WRITE_GROUP];
	const struct prov_result *prs[WRITE_GROUP];
	size_t n = 0, pos = b->step_pos;

	for (; pos < b->step.nresults && n < WRITE_GROUP; pos++) {
		struct db_batch_item *it = item_index_find(&b->index, b->items, b->step.ids[pos]);

		if (it == NULL) {
			b->unknown++;
		} else if (!it->answered) {
			it->answered = true;
			its[n] = it;
			prs[n++] = &b->step.results[pos];
		}
	}
	if (n > 0 && !write_group(b, its, prs, n, now)) {
		/* the database is away: the results wait in memory */
		b->due_ms = task_write_retry_at(now);
		return;
	}
	b->step_pos = pos;
	if (pos < b->step.nresults)
		b->due_ms = now;
	else
		apply_step(b, now);
}

static void
on_done(void *arg, const struct xfer_result *res)
{
	struct batch_run *b = arg;
	struct task_engine *te = &b->br->w->te;
	/* A callback of the transfer engine: the clock is read once. */
	int64_t now = time_mono_ms();
	struct prov_step step;
	enum aigw_err err;

	b->xfer = NULL;
	if (b->cancelling) {
		finish(b, DB_STATUS_CANCELLED, "the batch did not finish within %ld s; cancelled at %s",
		       te->cfg->batch_deadline_s, b->c.provider);
		return;
	}
	if (res->neterr != PROV_ERR_NONE) {
		/* the provider may have accepted it before the answer was lost */
		if (b->creating && prov_err_retryable(res->neterr))
			look_up_next(b, res->neterr_text);
		handle_failure(b, res->neterr, res->neterr_text, -1, now);
		return;
	}
	memset(&step, 0, sizeof step);
	err = b->route->desc->async->parse(b->finding ? b->find_state : b->c.state,
					   res->http_status, res->body, res->len, &step);
	if (err != AIGW_OK) {
		prov_step_free(&step);
		if (b->creating)
			look_up_next(b, "out of memory while reading it");
		handle_failure(b, PROV_ERR_BAD_BODY, "out of memory while reading the answer", -1,
			       now);
		return;
	}
	if (step.kind == PROV_STEP_FAILED) {
		char msg[600];

		snprintf(msg, sizeof msg, "%s: %s", b->c.provider,
			 step.error ? step.error : db_status_name(DB_STATUS_FAILED));
		/* a 5xx, or a body that cannot be read, says nothing of whether
		 * the batch was made; a 4xx refused it */
		if (b->creating && prov_err_retryable(step.errclass))
			look_up_next(b, msg);
		handle_failure(b, step.errclass, msg, res->retry_after_s, now);
		prov_step_free(&step);
		return;
	}
	if (b->finding && !found(b, &step, now))
		return;
	b->failures = 0;
	/* Its results are written a group a turn, then the rest is taken. */
	prov_step_free(&b->step);
	b->step = step;
	b->step_pos = 0;
	b->unknown = 0;
	batch_state_move(&b->state, BATCH_WRITE, b->c.batch_id);
	b->due_ms = 0;
}

/* The answer to a lookup: false when it is all taken care of (the next
 * page, or nothing found: the create goes out again), true when the batch
 * was found, to be taken as a create's answer. */
static bool
found(struct batch_run *b, struct prov_step *step, int64_t now)
{
	b->failures = 0;
	if (step->kind == PROV_STEP_NEXT && step->state != NULL) {
		free(b->find_state);
		b->find_state = step->state;
		step->state = NULL;
		prov_step_free(step);
		batch_state_move(&b->state, BATCH_SEND, b->c.batch_id);
		b->due_ms = now;
		return false;
	}
	b->finding = false;
	free(b->find_state);
	b->find_state = NULL;
	if (step->kind == PROV_STEP_ABSENT || step->external_id == NULL) {
		prov_step_free(step);
		if (now >= b->deadline_ms) {
			finish(b, DB_STATUS_CANCELLED, "the batch did not finish within %ld s",
			       b->br->w->te.cfg->batch_deadline_s);
			return false;
		}
		log_info("batch", b->c.batch_id, "%s has no such batch; creating it", b->c.provider);
		batch_state_move(&b->state, BATCH_SEND, b->c.batch_id);
		b->due_ms = now;
		return false;
	}
	log_info("batch", b->c.batch_id, "found at %s as %.128s; not created again", b->c.provider,
		 step->external_id);
	return true;
}

/* ---- the turn ---- */

/* BATCH_FINISH: the calls without a result fail with the reason, a group a
 * turn; then the end is stored. */
static void
end_turn(struct batch_run *b, int64_t now)
{
	char fallback[] = "the batch ended without a result";
	struct db_batch_item *its[WRITE_GROUP];
	const struct prov_result *prs[WRITE_GROUP];
	struct prov_result pr;
	size_t n = 0;

	memset(&pr, 0, sizeof pr);
	pr.errclass = b->end_status == DB_STATUS_DONE ? PROV_ERR_BAD_BODY : PROV_ERR_SERVER;
	pr.error = b->end_error ? b->end_error : fallback;
	for (size_t i = 0; i < b->nitems && n < WRITE_GROUP; i++) {
		if (b->items[i].answered)
			continue;
		b->items[i].answered = true;
		its[n] = &b->items[i];
		prs[n++] = &pr;
	}
	if (n > 0) {
		b->due_ms = write_group(b, its, prs, n, now) ? now : task_write_retry_at(now);
		return;
	}
	if (!save(b, b->end_status, b->end_status == DB_STATUS_DONE ? NULL : b->end_error)) {
		if (b->state != BATCH_GONE)
			b->due_ms = task_write_retry_at(now);
		return;
	}
	batch_state_move(&b->state, BATCH_GONE, b->c.batch_id);
}

int64_t
batchrun_turn(struct batchrun *br, int64_t now)
{
	struct task_engine *te = &br->w->te;
	int64_t next = INT64_MAX;
	struct batch_run *b, *nextb;

	for (b = br->batches; b != NULL; b = nextb) {
		nextb = b->next;
		if (b->state != BATCH_GONE && now >= b->renew_ms) {
			bool ours = true;

			if (db_batch_renew(te->db, b->c.batch_id, b->c.attempt, te->cfg->lease_s,
					   &ours) == AIGW_OK && !ours) {
				log_warn("batch", b->c.batch_id, "lease lost; dropping it");
				batch_state_move(&b->state, BATCH_GONE, b->c.batch_id);
			}
			b->renew_ms = task_lease_next(now, te->cfg->lease_s);
		}
		/* A create still out may have been accepted: it is abandoned
		 * and looked up like a lost one. A batch being looked up is
		 * cancelled once it is found (or, not found, is not created). */
		if (!b->cancelling && b->creating && b->state == BATCH_INFLIGHT &&
		    now >= b->deadline_ms) {
			xfer_cancel(te->xe, b->xfer);
			b->xfer = NULL;
			b->creating = false;
			look_up_next(b, "the deadline came first");
			batch_state_move(&b->state, BATCH_SEND, b->c.batch_id);
			b->due_ms = now;
		}
		if (!b->cancelling && !b->finding && now >= b->deadline_ms &&
		    (b->state == BATCH_SEND || b->state == BATCH_INFLIGHT || b->state == BATCH_SAVE))
			start_cancel(te, b);
		if (b->state == BATCH_SAVE && now >= b->due_ms) {
			if (save(b, running_status(b), NULL)) {
				batch_state_move(&b->state, BATCH_SEND, b->c.batch_id);
				b->due_ms = b->resume_due_ms;
			} else if (b->state != BATCH_GONE) {
				b->due_ms = task_write_retry_at(now);
			}
		}
		if (b->state == BATCH_SEND && now >= b->due_ms)
			send_next(te, b, now);
		if (b->state == BATCH_WRITE && now >= b->due_ms)
			write_turn(b, now);
		if (b->state == BATCH_FINISH && now >= b->due_ms)
			end_turn(b, now);
		if (b->state == BATCH_GONE) {
			batch_remove(br, b);
			continue;
		}
		if (b->state != BATCH_INFLIGHT && b->due_ms < next)
			next = b->due_ms;
		if (b->renew_ms < next)
			next = b->renew_ms;
		if (!b->cancelling && !b->finding && b->deadline_ms < next)
			next = b->deadline_ms;
	}
	return next;
}

/* ---- forming and claiming ---- */

/* Whether this worker reaches rt's provider as a batch provider. */
static bool
batchable(const struct route *rt)
{
	return rt != NULL && !rt->mock && !rt->missing && rt->desc->async != NULL;
}

/* Takes ownership of the claim's strings. */
static enum aigw_err
batch_add(struct batchrun *br, struct db_batch_claim *c, int64_t now)
{
	struct batch_run *b = calloc(1, sizeof *b);
	enum aigw_err err;

	if (b == NULL)
		return AIGW_ENOMEM;
	b->br = br;
	b->c = *c;
	memset(c, 0, sizeof *c);
	b->route = route_find(&br->w->te.routes, b->c.provider);
	b->deadline_ms = now + b->c.deadline_in_ms;
	b->submit_sent_s = b->c.submit_sent_s;
	/* a create went out and its answer was never stored */
	b->finding = b->c.submit_sent_s > 0 && b->c.external_id == NULL;
	b->poll_delay_ms = POLL_FIRST_MS;
	/* renewed at the next turn, before anything is sent: loading a large
	 * batch's calls takes some of its lease */
	b->renew_ms = 0;
	b->loaded_ms = now;
	b->state = BATCH_SEND;
	b->next = br->batches;
	br->batches = b;
	br->n++;
	err = db_batch_items(br->w->te.db, b->c.batch_id, &b->items, &b->nitems);
	if (err == AIGW_OK && b->nitems > 0 &&
	    ((b->calls = calloc(b->nitems, sizeof *b->calls)) == NULL || !item_index_build(&b->index, b->items, b->nitems)))
		err = AIGW_ENOMEM;
	if (err != AIGW_OK) {
		/* Left to its lease: another worker (or this one) takes it. */
		batch_remove(br, b);
		return err;
	}
	for (size_t i = 0; i < b->nitems; i++) {
		struct prov_batch_item *call = &b->calls[i];
		const struct db_batch_item *it = &b->items[i];

		call->custom_id = it->item_id;
		call->call.model = b->c.model;
		call->call.message = it->message;
		call->call.system = it->system;
		call->call.max_tokens = it->max_tokens;
		call->call.websearch = it->websearch;
		call->call.location = it->location;
		call->call.json_output = it->json_output;
	}
	if (batch_turns_load(&b->turns, b->items, b->calls, b->nitems) != AIGW_OK) {
		batch_remove(br, b);
		return AIGW_ENOMEM;
	}
	if (!batchable(b->route))
		finish(b, DB_STATUS_FAILED, "%s cannot be reached from this worker (is its key set?)",
		       b->c.provider);
	else if (b->nitems == 0)
		finish(b, DB_STATUS_DONE, "no calls");
	else
		log_info("batch", b->c.batch_id, "%s %s/%s with %zu call%s (attempt %d)",
			 b->c.state ? "resuming" : "sending", b->c.provider, b->c.model, b->nitems,
			 b->nitems == 1 ? "" : "s", b->c.attempt);
	return AIGW_OK;
}

static size_t
form(struct batchrun *br, int64_t now)
{
	const struct aigw_config *cfg = br->w->te.cfg;
	struct db *db = br->w->te.db;
	struct db_batch_group *groups = NULL;
	size_t ngroups = 0, taken = 0;

	if (db_batch_groups(db, &groups, &ngroups) != AIGW_OK)
		return 0;
	br->calls_waiting = false;
	for (size_t g = 0; g < ngroups; g++) {
		const struct route *rt = route_find(&br->w->te.routes, groups[g].provider);
		size_t max;

		/* Only a worker that reaches the provider forms its batches. */
		if (!batchable(rt))
			continue;
		br->calls_waiting = true;
		max = rt->desc->async->max_items;
		if ((size_t)groups[g].count < max && groups[g].oldest_ms < cfg->batch_window_ms)
			continue;
		while (br->n < BATCHES_MAX) {
			struct db_batch_claim c;
			size_t count = 0;

			memset(&c, 0, sizeof c);
			if (uuid_new(c.batch_id) != AIGW_OK ||
			    db_batch_form(db, c.batch_id, groups[g].provider, groups[g].model, max,
					  rt->desc->async->max_bytes, cfg->batch_deadline_s,
					  br->w->name, cfg->lease_s, &count) != AIGW_OK || count == 0)
				break;
			c.attempt = 1;
			c.provider = xstrdup(groups[g].provider);
			c.model = xstrdup(groups[g].model);
			c.deadline_in_ms = cfg->batch_deadline_s * 1000;
			if (c.provider == NULL || c.model == NULL ||
			    batch_add(br, &c, now) != AIGW_OK) {
				free(c.provider);
				free(c.model);
				log_error("batch", c.batch_id, "out of memory; left to its lease");
				break;
			}
			taken++;
			if (count < max)
				break;
		}
	}
	db_batch_groups_free(groups, ngroups);
	return taken;
}

size_t
batchrun_claim(struct batchrun *br, int64_t now)
{
	struct db_batch_claim *claims = NULL;
	size_t n = 0, taken;

	if (now < br->next_form_ms)
		return 0;
	br->next_form_ms = now + FORM_EVERY_MS;
	taken = form(br, now);
	if (br->n >= BATCHES_MAX ||
	    db_batch_claim(br->w->te.db, BATCHES_MAX - br->n, br->w->te.cfg->lease_s, br->w->name,
			   &claims, &n) != AIGW_OK)
		return taken;
	for (size_t i = 0; i < n; i++) {
		char id[UUID_STR_LEN + 1];

		memcpy(id, claims[i].batch_id, sizeof id);
		if (batch_add(br, &claims[i], now) != AIGW_OK)
			log_error("batch", id, "out of memory; left to its lease");
		else
			taken++;
	}
	db_batch_claims_free(claims, n);
	return taken;
}

void
batchrun_hand_back(struct batchrun *br)
{
	while (br->batches != NULL) {
		struct batch_run *b = br->batches;

		if (b->state != BATCH_GONE &&
		    db_batch_release(br->w->te.db, b->c.batch_id, b->c.attempt) == AIGW_OK)
			log_info("batch", b->c.batch_id, "handed back");
		batch_remove(br, b);
	}
}

struct batchrun *
batchrun_new(struct worker_ctx *w)
{
	struct batchrun *br = calloc(1, sizeof *br);

	if (br != NULL)
		br->w = w;
	return br;
}

void
batchrun_free(struct batchrun *br)
{
	if (br == NULL)
		return;
	while (br->batches != NULL)
		batch_remove(br, br->batches);
	free(br);
}

int
batchrun_count(const struct batchrun *br)
{
	return br->n;
}

bool
batchrun_calls_waiting(const struct batchrun *br)
{
	return br->calls_waiting;
}
