/*
 * batch.c: the batch engine: runs the batches of async providers inside
 * the worker's loop (see work.h and provider.h's async contract).
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
#include "worker/work.h"

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

enum batch_phase {
	B_SEND,      /* the next request is due at due_ms */
	B_INFLIGHT,  /* a request is out */
	B_WRITE,     /* writing an answer's results, a group a turn */
	B_SAVE,      /* the step's state must be stored before going on */
	B_FINISH,    /* failing the calls left and storing the end */
	B_GONE,      /* ended, or no longer ours: removed at the next turn */
	B_PHASE__MAX
};

struct batch_run {
	struct runner *r;
	struct db_batch_claim c;
	const struct route *route;
	struct db_batch_item *items;
	struct prov_batch_item *calls;
	size_t nitems;
	size_t *slots;              /* item index + 1 by the hash of its id; 0: free */
	size_t nslots;              /* a power of two, more than twice nitems */
	struct prov_step step;      /* B_WRITE: the answer read, its results written */
	size_t step_pos;            /* B_WRITE: its results written so far */
	size_t unknown;             /* B_WRITE: its results for no call of the batch */
	enum batch_phase phase;
	int64_t due_ms;
	int64_t deadline_ms;
	int64_t poll_delay_ms;
	int64_t renew_ms;
	int64_t resume_due_ms;      /* B_SAVE: when to send once saved */
	int64_t loaded_ms;          /* when its items were read (their waited_ms) */
	int failures;               /* requests failed in a row */
	int polls_unsaved;
	bool cancelling;
	bool creating;              /* the request out creates the batch */
	bool finding;               /* looking the batch up before creating it again */
	char *find_state;           /* the lookup's state (its page of the list) */
	long long submit_sent_s;    /* when a create first went out; 0: never */
	const char *end_status;     /* B_FINISH: done, failed or cancelled */
	char *end_error;            /* B_FINISH: why calls left fail */
	struct xfer *xfer;
	struct batch_run *next;
};

/* ---- life cycle ---- */

static void
batch_free(struct runner *r, struct batch_run *b)
{
	xfer_cancel(r->xe, b->xfer);
	db_batch_items_free(b->items, b->nitems);
	free(b->calls);
	free(b->slots);
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
batch_remove(struct runner *r, struct batch_run *b)
{
	for (struct batch_run **p = &r->batches; *p != NULL; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			r->nbatches--;
			break;
		}
	}
	batch_free(r, b);
}

static void finish(struct batch_run *b, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Ends the batch: the calls without a result fail with the sentence. */
static void
finish(struct batch_run *b, const char *status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(b->end_error);
	b->end_error = xstrdup(msg);
	b->end_status = status;
	b->phase = B_FINISH;
	b->due_ms = 0;
	log_info("batch", b->c.batch_id, "%s: %s", status, msg);
}

/* ---- results and state ---- */

static size_t
hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* Indexes the items by id, so a result finds its call at once. false on
 * ENOMEM. */
static bool
index_items(struct batch_run *b)
{
	size_t n = 16;

	while (n <= 2 * b->nitems)
		n *= 2;
	if ((b->slots = calloc(n, sizeof *b->slots)) == NULL)
		return false;
	b->nslots = n;
	for (size_t i = 0; i < b->nitems; i++) {
		size_t k = hash_id(b->items[i].item_id) & (n - 1);

		while (b->slots[k] != 0)
			k = (k + 1) & (n - 1);
		b->slots[k] = i + 1;
	}
	return true;
}

static struct db_batch_item *
item_by_id(struct batch_run *b, const char *custom_id)
{
	if (b->nslots == 0)
		return NULL;
	for (size_t k = hash_id(custom_id) & (b->nslots - 1); b->slots[k] != 0;
	     k = (k + 1) & (b->nslots - 1))
		if (strcmp(b->items[b->slots[k] - 1].item_id, custom_id) == 0)
			return &b->items[b->slots[k] - 1];
	return NULL;
}

/* Writes n calls' results in one statement and marks them answered (the
 * caller marked them already, so that a group holds a call once); on
 * failure (the database is away, ENOMEM) none is written and the marks
 * are undone, to be tried again. */
static bool
write_group(struct batch_run *b, struct db_batch_item **its, const struct prov_result *const *prs,
	    size_t n)
{
	const char **ids = calloc(n, sizeof *ids);
	char **jsons = calloc(n, sizeof *jsons);
	int64_t since_load = time_mono_ms() - b->loaded_ms;
	enum aigw_err err = AIGW_ENOMEM;

	if (ids == NULL || jsons == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ids[i] = its[i]->item_id;
		/* Latency: from the call's queueing to its result, as a user waits. */
		jsons[i] = worker_result_json(b->c.provider, b->c.model, false, prs[i],
					      its[i]->waited_ms + since_load, b->c.attempt);
		if (jsons[i] == NULL)
			goto out;
	}
	err = db_batch_results(b->r->db, ids, (const char *const *)jsons, n);
out:
	for (size_t i = 0; jsons != NULL && i < n; i++)
		free(jsons[i]);
	free(jsons);
	free(ids);
	if (err != AIGW_OK)
		for (size_t i = 0; i < n; i++)
			its[i]->answered = false;
	return err == AIGW_OK;
}

/* Stores the batch's progress. false when it must be tried again (the
 * database is away) or the batch is no longer ours (then B_GONE). */
static bool
save(struct batch_run *b, const char *status, const char *error)
{
	bool ours = false;

	if (db_batch_save(b->r->db, b->c.batch_id, b->c.attempt, status, b->c.state,
			  b->c.external_id, error, b->polls_unsaved, &ours) != AIGW_OK)
		return false;
	if (!ours) {
		log_warn("batch", b->c.batch_id, "no longer ours (lease lost); dropping it");
		b->phase = B_GONE;
		return false;
	}
	b->polls_unsaved = 0;
	return true;
}

static const char *
running_status(const struct batch_run *b)
{
	return b->c.external_id != NULL ? "running" : "submitting";
}

/* ---- requests ---- */

static void on_done(void *arg, const struct xfer_result *res);
static bool found(struct batch_run *b, struct prov_step *step);

/* Records that the create goes out, before it does: whoever runs the batch
 * next looks it up first. false when it must not go (yet). */
static bool
mark_submitting(struct batch_run *b)
{
	bool ours = false;
	long long sent = 0;

	if (db_batch_submitting(b->r->db, b->c.batch_id, b->c.attempt, &ours, &sent) != AIGW_OK) {
		b->due_ms = time_mono_ms() + WRITE_RETRY_MS;
		return false;
	}
	if (!ours) {
		log_warn("batch", b->c.batch_id, "no longer ours (lease lost); dropping it");
		b->phase = B_GONE;
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
send_next(struct runner *r, struct batch_run *b)
{
	const struct prov_async_ops *ops = b->route->desc->async;
	struct prov_http req;
	enum aigw_err err;

	memset(&req, 0, sizeof req);
	if (b->finding && b->find_state == NULL &&
	    prov_async_find_state(b->calls, b->nitems, b->submit_sent_s, &b->find_state) != AIGW_OK) {
		b->due_ms = time_mono_ms() + RETRY_BASE_MS;
		return;
	}
	err = ops->build(&b->route->pc, b->c.model, b->finding ? b->find_state : b->c.state,
			 b->calls, b->nitems, &req);
	if (err != AIGW_OK) {
		finish(b, "failed", "%s: cannot build the next request: %s", b->c.provider,
		       aigw_strerror(err));
		return;
	}
	b->creating = req.creates && !b->finding;
	if (b->creating && !mark_submitting(b)) {
		prov_http_free(&req);
		return;
	}
	err = xfer_start(r->xe, &req, r->cfg->provider_timeout_s, on_done, b, &b->xfer);
	prov_http_free(&req);
	if (err != AIGW_OK) {
		b->due_ms = time_mono_ms() + RETRY_BASE_MS;
		return;
	}
	b->phase = B_INFLIGHT;
}

static void
start_cancel(struct runner *r, struct batch_run *b)
{
	const struct prov_async_ops *ops = b->route->desc->async;
	struct prov_http req;
	enum aigw_err err;

	xfer_cancel(r->xe, b->xfer);
	b->xfer = NULL;
	b->cancelling = true;
	memset(&req, 0, sizeof req);
	err = ops->build_cancel(&b->route->pc, b->c.state, &req);
	if (err == AIGW_OK)
		err = xfer_start(r->xe, &req, r->cfg->provider_timeout_s, on_done, b, &b->xfer);
	prov_http_free(&req);
	if (err == AIGW_OK) {
		b->phase = B_INFLIGHT;
		return;
	}
	finish(b, "cancelled", "the batch did not finish within %ld s", r->cfg->batch_deadline_s);
}

static void
handle_failure(struct batch_run *b, enum prov_errclass cls, const char *error, long retry_after_s)
{
	b->failures++;
	if (prov_err_retryable(cls) && b->failures < REQUEST_FAILURES_MAX) {
		int64_t delay = xfer_retry_delay_ms(b->failures, retry_after_s, RETRY_BASE_MS,
						    RETRY_CAP_MS, (uint32_t)time_mono_ms());

		log_info("batch", b->c.batch_id, "%s (%s); trying again in %lld ms", error,
			 prov_errclass_name(cls), (long long)delay);
		b->phase = B_SEND;
		b->due_ms = time_mono_ms() + delay;
		return;
	}
	finish(b, "failed", "%s", error);
}

/* The answer's results are all written: takes its state and id, and goes
 * on as its kind says. */
static void
apply_step(struct batch_run *b)
{
	struct runner *r = b->r;
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
		b->resume_due_ms = time_mono_ms() + b->poll_delay_ms;
		b->poll_delay_ms = b->poll_delay_ms * 3 / 2;
		if (b->poll_delay_ms > r->cfg->batch_poll_max_s * 1000)
			b->poll_delay_ms = r->cfg->batch_poll_max_s * 1000;
		break;
	case PROV_STEP_DONE:
		prov_step_free(step);
		finish(b, "done", "%s ended the batch without a result for this call", b->c.provider);
		return;
	default:
		b->resume_due_ms = time_mono_ms();
		break;
	}
	prov_step_free(step);
	/* The state (and the provider's id) is stored before anything else
	 * is sent for the batch. */
	b->phase = B_SAVE;
	b->due_ms = 0;
}

/* B_WRITE: one group of the answer's results. */
static void
write_turn(struct batch_run *b)
{
	struct db_batch_item *its[WRITE_GROUP];
	const struct prov_result *prs[WRITE_GROUP];
	size_t n = 0, pos = b->step_pos;

	for (; pos < b->step.nresults && n < WRITE_GROUP; pos++) {
		struct db_batch_item *it = item_by_id(b, b->step.ids[pos]);

		if (it == NULL) {
			b->unknown++;
		} else if (!it->answered) {
			it->answered = true;
			its[n] = it;
			prs[n++] = &b->step.results[pos];
		}
	}
	if (n > 0 && !write_group(b, its, prs, n)) {
		/* the database is away: the results wait in memory */
		b->due_ms = time_mono_ms() + WRITE_RETRY_MS;
		return;
	}
	b->step_pos = pos;
	if (pos < b->step.nresults)
		b->due_ms = time_mono_ms();
	else
		apply_step(b);
}

static void
on_done(void *arg, const struct xfer_result *res)
{
	struct batch_run *b = arg;
	struct runner *r = b->r;
	struct prov_step step;
	enum aigw_err err;

	b->xfer = NULL;
	if (b->cancelling) {
		finish(b, "cancelled", "the batch did not finish within %ld s; cancelled at %s",
		       r->cfg->batch_deadline_s, b->c.provider);
		return;
	}
	if (res->neterr != PROV_ERR_NONE) {
		/* the provider may have accepted it before the answer was lost */
		if (b->creating && prov_err_retryable(res->neterr))
			look_up_next(b, res->neterr_text);
		handle_failure(b, res->neterr, res->neterr_text, -1);
		return;
	}
	memset(&step, 0, sizeof step);
	err = b->route->desc->async->parse(b->finding ? b->find_state : b->c.state,
					   res->http_status, res->body, res->len, &step);
	if (err != AIGW_OK) {
		prov_step_free(&step);
		if (b->creating)
			look_up_next(b, "out of memory while reading it");
		handle_failure(b, PROV_ERR_BAD_BODY, "out of memory while reading the answer", -1);
		return;
	}
	if (step.kind == PROV_STEP_FAILED) {
		char msg[600];

		snprintf(msg, sizeof msg, "%s: %s", b->c.provider, step.error ? step.error : "failed");
		/* a 5xx, or a body that cannot be read, says nothing of whether
		 * the batch was made; a 4xx refused it */
		if (b->creating && prov_err_retryable(step.errclass))
			look_up_next(b, msg);
		handle_failure(b, step.errclass, msg, res->retry_after_s);
		prov_step_free(&step);
		return;
	}
	if (b->finding && !found(b, &step))
		return;
	b->failures = 0;
	/* Its results are written a group a turn, then the rest is taken. */
	prov_step_free(&b->step);
	b->step = step;
	b->step_pos = 0;
	b->unknown = 0;
	b->phase = B_WRITE;
	b->due_ms = 0;
}

/* The answer to a lookup: false when it is all taken care of (the next
 * page, or nothing found: the create goes out again), true when the batch
 * was found, to be taken as a create's answer. */
static bool
found(struct batch_run *b, struct prov_step *step)
{
	b->failures = 0;
	if (step->kind == PROV_STEP_NEXT && step->state != NULL) {
		free(b->find_state);
		b->find_state = step->state;
		step->state = NULL;
		prov_step_free(step);
		b->phase = B_SEND;
		b->due_ms = time_mono_ms();
		return false;
	}
	b->finding = false;
	free(b->find_state);
	b->find_state = NULL;
	if (step->kind == PROV_STEP_ABSENT || step->external_id == NULL) {
		prov_step_free(step);
		if (time_mono_ms() >= b->deadline_ms) {
			finish(b, "cancelled", "the batch did not finish within %ld s",
			       b->r->cfg->batch_deadline_s);
			return false;
		}
		log_info("batch", b->c.batch_id, "%s has no such batch; creating it", b->c.provider);
		b->phase = B_SEND;
		b->due_ms = time_mono_ms();
		return false;
	}
	log_info("batch", b->c.batch_id, "found at %s as %.128s; not created again", b->c.provider,
		 step->external_id);
	return true;
}

/* ---- the turn ---- */

/* B_FINISH: the calls without a result fail with the reason, a group a
 * turn; then the end is stored. */
static void
end_turn(struct batch_run *b)
{
	char fallback[] = "the batch ended without a result";
	struct db_batch_item *its[WRITE_GROUP];
	const struct prov_result *prs[WRITE_GROUP];
	struct prov_result pr;
	size_t n = 0;

	memset(&pr, 0, sizeof pr);
	pr.errclass = strcmp(b->end_status, "done") == 0 ? PROV_ERR_BAD_BODY : PROV_ERR_SERVER;
	pr.error = b->end_error ? b->end_error : fallback;
	for (size_t i = 0; i < b->nitems && n < WRITE_GROUP; i++) {
		if (b->items[i].answered)
			continue;
		b->items[i].answered = true;
		its[n] = &b->items[i];
		prs[n++] = &pr;
	}
	if (n > 0) {
		b->due_ms = time_mono_ms() + (write_group(b, its, prs, n) ? 0 : WRITE_RETRY_MS);
		return;
	}
	if (!save(b, b->end_status, strcmp(b->end_status, "done") == 0 ? NULL : b->end_error)) {
		if (b->phase != B_GONE)
			b->due_ms = time_mono_ms() + WRITE_RETRY_MS;
		return;
	}
	b->phase = B_GONE;
}

int64_t
batches_turn(struct runner *r, int64_t now)
{
	int64_t next = INT64_MAX;
	struct batch_run *b, *nextb;

	for (b = r->batches; b != NULL; b = nextb) {
		nextb = b->next;
		if (b->phase != B_GONE && now >= b->renew_ms) {
			bool ours = true;

			if (db_batch_renew(r->db, b->c.batch_id, b->c.attempt, r->cfg->lease_s,
					   &ours) == AIGW_OK && !ours) {
				log_warn("batch", b->c.batch_id, "lease lost; dropping it");
				b->phase = B_GONE;
			}
			b->renew_ms = now + r->cfg->lease_s * 1000 / 3;
		}
		/* A create still out may have been accepted: it is abandoned
		 * and looked up like a lost one. A batch being looked up is
		 * cancelled once it is found (or, not found, is not created). */
		if (!b->cancelling && b->creating && b->phase == B_INFLIGHT &&
		    now >= b->deadline_ms) {
			xfer_cancel(r->xe, b->xfer);
			b->xfer = NULL;
			b->creating = false;
			look_up_next(b, "the deadline came first");
			b->phase = B_SEND;
			b->due_ms = now;
		}
		if (!b->cancelling && !b->finding && now >= b->deadline_ms &&
		    (b->phase == B_SEND || b->phase == B_INFLIGHT || b->phase == B_SAVE))
			start_cancel(r, b);
		if (b->phase == B_SAVE && now >= b->due_ms) {
			if (save(b, running_status(b), NULL)) {
				b->phase = B_SEND;
				b->due_ms = b->resume_due_ms;
			} else if (b->phase != B_GONE) {
				b->due_ms = now + WRITE_RETRY_MS;
			}
		}
		if (b->phase == B_SEND && now >= b->due_ms)
			send_next(r, b);
		if (b->phase == B_WRITE && now >= b->due_ms)
			write_turn(b);
		if (b->phase == B_FINISH && now >= b->due_ms)
			end_turn(b);
		if (b->phase == B_GONE) {
			batch_remove(r, b);
			continue;
		}
		if (b->phase != B_INFLIGHT && b->due_ms < next)
			next = b->due_ms;
		if (b->renew_ms < next)
			next = b->renew_ms;
		if (!b->cancelling && !b->finding && b->deadline_ms < next)
			next = b->deadline_ms;
	}
	return next;
}

/* ---- forming and claiming ---- */

/* Takes ownership of the claim's strings. */
static enum aigw_err
batch_add(struct runner *r, struct db_batch_claim *c, int64_t now)
{
	struct batch_run *b = calloc(1, sizeof *b);
	enum aigw_err err;

	if (b == NULL)
		return AIGW_ENOMEM;
	b->r = r;
	b->c = *c;
	memset(c, 0, sizeof *c);
	b->route = route_find(r, b->c.provider);
	b->deadline_ms = now + b->c.deadline_in_ms;
	b->submit_sent_s = b->c.submit_sent_s;
	/* a create went out and its answer was never stored */
	b->finding = b->c.submit_sent_s > 0 && b->c.external_id == NULL;
	b->poll_delay_ms = POLL_FIRST_MS;
	/* renewed at the next turn, before anything is sent: loading a large
	 * batch's calls takes some of its lease */
	b->renew_ms = 0;
	b->loaded_ms = now;
	b->phase = B_SEND;
	b->next = r->batches;
	r->batches = b;
	r->nbatches++;
	err = db_batch_items(r->db, b->c.batch_id, &b->items, &b->nitems);
	if (err == AIGW_OK && b->nitems > 0 &&
	    ((b->calls = calloc(b->nitems, sizeof *b->calls)) == NULL || !index_items(b)))
		err = AIGW_ENOMEM;
	if (err != AIGW_OK) {
		/* Left to its lease: another worker (or this one) takes it. */
		batch_remove(r, b);
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
	if (b->route == NULL || b->route->mock || b->route->missing ||
	    b->route->desc->async == NULL)
		finish(b, "failed", "%s cannot be reached from this worker (is its key set?)",
		       b->c.provider);
	else if (b->nitems == 0)
		finish(b, "done", "no calls");
	else
		log_info("batch", b->c.batch_id, "%s %s/%s with %zu call%s (attempt %d)",
			 b->c.state ? "resuming" : "sending", b->c.provider, b->c.model, b->nitems,
			 b->nitems == 1 ? "" : "s", b->c.attempt);
	return AIGW_OK;
}

static size_t
form(struct runner *r, int64_t now)
{
	struct db_batch_group *groups = NULL;
	size_t ngroups = 0, taken = 0;

	if (db_batch_groups(r->db, &groups, &ngroups) != AIGW_OK)
		return 0;
	r->batch_calls_waiting = false;
	for (size_t g = 0; g < ngroups; g++) {
		const struct route *rt = route_find(r, groups[g].provider);
		size_t max;

		/* Only a worker that reaches the provider forms its batches. */
		if (rt == NULL || rt->mock || rt->missing || rt->desc->async == NULL)
			continue;
		r->batch_calls_waiting = true;
		max = rt->desc->async->max_items;
		if ((size_t)groups[g].count < max && groups[g].oldest_ms < r->cfg->batch_window_ms)
			continue;
		while (r->nbatches < BATCHES_MAX) {
			struct db_batch_claim c;
			size_t count = 0;

			memset(&c, 0, sizeof c);
			if (uuid_new(c.batch_id) != AIGW_OK ||
			    db_batch_form(r->db, c.batch_id, groups[g].provider, groups[g].model, max,
					  rt->desc->async->max_bytes, r->cfg->batch_deadline_s,
					  r->name, r->cfg->lease_s, &count) != AIGW_OK || count == 0)
				break;
			c.attempt = 1;
			c.provider = xstrdup(groups[g].provider);
			c.model = xstrdup(groups[g].model);
			c.deadline_in_ms = r->cfg->batch_deadline_s * 1000;
			if (c.provider == NULL || c.model == NULL ||
			    batch_add(r, &c, now) != AIGW_OK) {
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
batches_claim(struct runner *r, int64_t now)
{
	struct db_batch_claim *claims = NULL;
	size_t n = 0, taken;

	if (*r->stop || now < r->next_form_ms)
		return 0;
	r->next_form_ms = now + FORM_EVERY_MS;
	taken = form(r, now);
	if (r->nbatches >= BATCHES_MAX ||
	    db_batch_claim(r->db, BATCHES_MAX - r->nbatches, r->cfg->lease_s, r->name, &claims,
			   &n) != AIGW_OK)
		return taken;
	for (size_t i = 0; i < n; i++) {
		char id[UUID_STR_LEN + 1];

		memcpy(id, claims[i].batch_id, sizeof id);
		if (batch_add(r, &claims[i], now) != AIGW_OK)
			log_error("batch", id, "out of memory; left to its lease");
		else
			taken++;
	}
	db_batch_claims_free(claims, n);
	return taken;
}

void
batches_hand_back(struct runner *r)
{
	while (r->batches != NULL) {
		struct batch_run *b = r->batches;

		if (b->phase != B_GONE &&
		    db_batch_release(r->db, b->c.batch_id, b->c.attempt) == AIGW_OK)
			log_info("batch", b->c.batch_id, "handed back");
		batch_remove(r, b);
	}
}
