/* task.c: one provider call and its retries (see task.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/log.h"
#include "core/util.h"
#include "db/ratelimit.h"
#include "db/status.h"
#include "jobtype/output.h"
#include "worker/rate.h"
#include "worker/resultjson.h"
#include "worker/states.h"
#include "worker/task.h"

/* Waits until due (it may wait already: then only the time moves). */
static void
wait_until(struct task *t, int64_t due)
{
	if (t->state != TASK_WAITING)
		task_state_move(&t->state, TASK_WAITING, t->ops->log_id(t));
	t->due_ms = due;
}

/* ---- timing rules ---- */

uint32_t
task_rand32(uint64_t *rng)
{
	*rng ^= *rng >> 12;
	*rng ^= *rng << 25;
	*rng ^= *rng >> 27;
	return (uint32_t)((*rng * 2685821657736338717ULL) >> 32);
}

int64_t
task_retry_at(int64_t now, int attempts, long retry_after_s, uint64_t *rng)
{
	return now + xfer_retry_delay_ms(attempts, retry_after_s, TASK_RETRY_BASE_MS,
					 TASK_RETRY_CAP_MS, task_rand32(rng));
}

int64_t
task_first_due(int64_t now, bool mock, long mock_delay_ms)
{
	return now + (mock ? mock_delay_ms : 0);
}

long
task_attempt_timeout_s(const struct aigw_config *cfg)
{
	return cfg->provider_timeout_s;
}

bool
task_streams(const struct aigw_config *cfg, enum prov_kind kind)
{
	return cfg->stream && kind != PROV_ASYNC;
}

int64_t
task_write_retry_at(int64_t now)
{
	return now + WRITE_RETRY_MS;
}

int64_t
task_lease_next(int64_t now, long lease_s)
{
	return now + (int64_t)lease_s * 1000 / 3;
}

bool
task_lease_due_soon(int64_t renew_ms, int64_t now, long lease_s)
{
	return renew_ms <= now + (int64_t)lease_s * 1000 / 3 / 2;
}

int64_t
task_rate_hold(const struct route *rt, int64_t now)
{
	if (rt->rpm == 0 && rt->tpm == 0)
		return -1;
	return now < rt->rate_open_ms ? rt->rate_open_ms - now : 0;
}

int64_t
task_rate_waited(const struct task *t, int64_t now)
{
	return t->rate_waiting ? now - t->rate_since_ms : -1;
}

bool
task_rate_settle(struct route *rt, struct task *t, int64_t wait, int64_t now)
{
	if (wait <= 0) {
		t->rate_waiting = false;
		return true;
	}
	rt->rate_open_ms = now + wait;
	if (!t->rate_waiting) {
		t->rate_waiting = true;
		t->rate_since_ms = now;
	}
	wait_until(t, now + wait);
	return false;
}

bool
task_pause_settle(const struct route *rt, struct task *t, int64_t now)
{
	if (rate_pause_wait(rt->pause_until_ms, now) == 0)
		return true;
	wait_until(t, rt->pause_until_ms);
	return false;
}

/* ---- results ---- */
static char *
result_json(const struct task *t, const struct prov_result *pr, int64_t latency_ms)
{
	/* A provider answered by the built-in mock says so; mock itself is
	 * just the mock. */
	bool routed_mock = t->route != NULL && t->route->mock;
	bool mock = routed_mock && t->route->desc->kind != PROV_BUILTIN;

	return worker_result_json(routed_mock ? "mock" : t->provider, t->model, mock,
				  pr, latency_ms, t->attempts);
}

static void
task_complete(struct task_engine *te, struct task *t, const struct prov_result *pr,
	      int64_t latency_ms, int64_t now)
{
	const char *id = t->ops->log_id(t);

	pieces_end(&t->pieces, pr->ok, now);
	t->result_json = result_json(t, pr, latency_ms);
	if (t->result_json == NULL) {
		/* Out of memory: the owner hears of a lost result. */
		log_error("worker", id, "%s: cannot build the result", t->provider);
		task_state_move(&t->state, TASK_DONE, t->ops->log_id(t));
		if (t->ops->lost != NULL)
			t->ops->lost(te, t, now);
		return;
	}
	{
		const struct log_attr attrs[] = {
			LOG_STR("provider", t->provider), LOG_STR("model", t->model),
			LOG_STR("status", pr->ok ? "ok" : db_status_name(DB_STATUS_FAILED)), LOG_NUM("attempts", t->attempts),
			LOG_NUM("duration_ms", latency_ms),
		};

		if (pr->ok)
			log_event(LOG_INFO, "worker", id, attrs, sizeof attrs / sizeof attrs[0],
				  "%s: ok after %d attempt%s, %lld ms", t->provider, t->attempts,
				  t->attempts == 1 ? "" : "s", (long long)latency_ms);
		else
			log_event(LOG_INFO, "worker", id, attrs, sizeof attrs / sizeof attrs[0],
				  "%s: failed after %d attempt%s: %.300s", t->provider, t->attempts,
				  t->attempts == 1 ? "" : "s", pr->error ? pr->error : "?");
	}
	/* Written by its owner at its turn, with the others that came. */
	task_state_move(&t->state, TASK_UNWRITTEN, t->ops->log_id(t));
	t->due_ms = now;
}

static void
fail_task(struct task_engine *te, struct task *t, enum prov_errclass cls, const char *fmt,
	  const char *what, int64_t now)
{
	struct prov_result pr;
	char msg[512];

	memset(&pr, 0, sizeof pr);
	snprintf(msg, sizeof msg, fmt, t->provider, what);
	pr.errclass = cls;
	pr.error = msg;
	task_complete(te, t, &pr, 0, now);
}

/*
 * An answer that had to be one JSON object and is not gets one more try
 * at once (models often comply the second time); after that it is a
 * failure of its own. Returns true when a retry was scheduled.
 */
static bool
json_retry(struct task *t, struct prov_result *pr, int64_t now)
{
	json_object *v;
	char *msg;

	if (!pr->ok || !t->call.json_output)
		return false;
	v = jobs_answer_json(pr->text);
	if (v != NULL) {
		json_object_put(v);
		return false;
	}
	if (!t->json_retried) {
		t->json_retried = true;
		log_info("worker", t->ops->log_id(t), "%s: the answer is not JSON; asking again",
			 t->provider);
		wait_until(t, now);
		return true;
	}
	msg = xstrdup("the answer is not one JSON object, twice");
	free(pr->text);
	pr->text = NULL;
	free(pr->error);
	pr->error = msg;
	pr->ok = false;
	pr->errclass = PROV_ERR_BAD_BODY;
	t->bad_body_retried = true; /* the one retry is spent */
	return false;
}

/*
 * A 429 with Retry-After pauses the provider for every worker on every
 * host (shared in the database): the fleet backs off together instead of
 * each call learning it alone. Written once per pause, not per refusal.
 */
static void
pause_provider(struct task_engine *te, struct task *t, const struct xfer_result *res, int64_t now)
{
	struct route *rt = t->route;
	int64_t left = 0;
	int64_t end = rate_pause_end(res->http_status, res->retry_after_s, now);

	if (end <= rt->pause_until_ms)
		return;
	rt->pause_until_ms = end;
	if (db_provider_pause(te->db, rt->desc->name, end - now, &left) != AIGW_OK)
		log_debug("worker", t->ops->log_id(t), "%s: cannot share the pause; this worker"
			  " keeps it", t->provider);
	rt->pause_until_ms = rate_pause_merge(rt->pause_until_ms, left, now);
	{
		const struct log_attr attrs[] = {
			LOG_STR("provider", t->provider),
			LOG_NUM("pause_ms", rt->pause_until_ms - now),
		};

		log_event(LOG_WARN, "worker", t->ops->log_id(t), attrs, 2,
			  "%s: 429 with Retry-After %ld s; every worker's calls to %s wait %lld ms",
			  t->provider, res->retry_after_s, t->provider,
			  (long long)(rt->pause_until_ms - now));
	}
}

/* Reads the pauses other workers set, at most every RATE_PAUSE_READ_MS;
 * while the database cannot say, this worker goes on with what it knows
 * (a pause spares the provider; it is no limit to keep blindly). */
static void
pauses_refresh(struct task_engine *te, int64_t now)
{
	const char **names = calloc(te->routes.n, sizeof *names);
	int64_t *left = calloc(te->routes.n, sizeof *left);

	te->pauses_read = true;
	te->pauses_read_ms = now;
	if (names == NULL || left == NULL)
		goto out;
	for (size_t i = 0; i < te->routes.n; i++)
		names[i] = te->routes.all[i].desc->name;
	if (db_provider_pauses(te->db, names, te->routes.n, left) != AIGW_OK) {
		log_debug("worker", NULL, "cannot read the providers' pauses; asking again in %d ms",
			  RATE_PAUSE_READ_MS);
		goto out;
	}
	for (size_t i = 0; i < te->routes.n; i++) {
		struct route *rt = &te->routes.all[i];
		int64_t until = rate_pause_merge(rt->pause_until_ms, left[i], now);

		if (until == rt->pause_until_ms)
			continue;
		if (rate_pause_wait(rt->pause_until_ms, now) == 0)
			log_info("worker", NULL, "%s: paused by another worker for %lld ms",
				 rt->desc->name, (long long)(until - now));
		rt->pause_until_ms = until;
	}
out:
	free(names);
	free(left);
}

/* False when t's provider is paused: t waits until the pause ends. */
static bool
pause_admit(struct task_engine *te, struct task *t, int64_t now)
{
	if (rate_pause_read_due(te->pauses_read, te->pauses_read_ms, now))
		pauses_refresh(te, now);
	return task_pause_settle(t->route, t, now);
}

static void
on_transfer_done(void *arg, const struct xfer_result *res)
{
	struct task *t = arg;
	struct task_engine *te = t->te;
	/* A callback of the transfer engine: the one place a task reads the
	 * clock, once, for everything the answer decides. */
	int64_t now = time_mono_ms();
	struct prov_result pr;
	bool retry;

	t->xfer = NULL;
	memset(&pr, 0, sizeof pr);
	if (t->stream != NULL && (res->refused || (res->neterr == PROV_ERR_NONE &&
						   res->http_status < 400) ||
				  (res->neterr != PROV_ERR_NONE && prov_stream_finished(t->stream)))) {
		/* The stream's own verdict: complete, or why not. */
		if (prov_stream_end(t->stream, &pr) != AIGW_OK) {
			prov_result_free(&pr);
			memset(&pr, 0, sizeof pr);
			pr.errclass = PROV_ERR_BAD_BODY;
			pr.error = xstrdup("out of memory while reading the stream");
		}
	} else if (res->neterr != PROV_ERR_NONE) {
		char msg[512];

		snprintf(msg, sizeof msg, "%s: %s", t->provider, res->neterr_text);
		pr.errclass = res->neterr;
		pr.error = xstrdup(msg);
	} else if (t->route->desc->parse(res->http_status, res->body, res->len, &pr) != AIGW_OK) {
		prov_result_free(&pr);
		memset(&pr, 0, sizeof pr);
		pr.errclass = PROV_ERR_BAD_BODY;
		pr.error = xstrdup("out of memory while parsing the answer");
	}
	prov_stream_free(t->stream);
	t->stream = NULL;
	prov_result_named(t->route->desc, &pr);
	if (res->neterr == PROV_ERR_NONE && pr.errclass == PROV_ERR_RATE_LIMIT)
		pause_provider(te, t, res, now);
	if (json_retry(t, &pr, now)) {
		prov_result_free(&pr);
		return;
	}
	retry = !pr.ok && prov_err_retryable(pr.errclass) && t->attempts < te->cfg->max_attempts &&
		!(pr.errclass == PROV_ERR_BAD_BODY && t->bad_body_retried);
	if (retry) {
		int64_t due = task_retry_at(now, t->attempts, res->retry_after_s, &te->rng);

		if (pr.errclass == PROV_ERR_BAD_BODY)
			t->bad_body_retried = true;
		log_info("worker", t->ops->log_id(t), "%s: attempt %d failed (%s), retrying in %lld ms",
			 t->provider, t->attempts, prov_errclass_name(pr.errclass),
			 (long long)(due - now));
		wait_until(t, due);
	} else {
		task_complete(te, t, &pr, res->elapsed_ms, now);
	}
	prov_result_free(&pr);
}

/* A streamed answer's next bytes: their new text joins the pieces. False
 * ends the attempt; the stream then says why (prov_stream_end). */
static bool
on_stream_data(void *arg, const char *p, size_t n)
{
	struct task *t = arg;
	enum aigw_err err;

	buf_reset(&t->delta);
	err = prov_stream_feed(t->stream, p, n, &t->delta);
	if (err == AIGW_OK && t->delta.len > 0)
		err = pieces_add(&t->pieces, t->delta.data, t->delta.len, time_mono_ms());
	if (err != AIGW_OK && err != AIGW_EINVAL)
		log_warn("worker", t->ops->log_id(t), "%s: the stream could not be read: %s",
			 t->provider, aigw_strerror(err));
	return err == AIGW_OK;
}

/*
 * The mock's answer streams as time passes: the words due by now join the
 * pieces; once all are out the answer is complete, as a provider's would
 * be. due_ms is when the next word is.
 */
static void
mock_stream_turn(struct task_engine *te, struct task *t, int64_t now)
{
	const char *text = t->mock.text != NULL ? t->mock.text : "";
	size_t len = prov_mock_stream_len(text, now - t->mock_start_ms, te->cfg->mock_tokens_per_s);
	int64_t next;

	if (len > t->mock_sent &&
	    pieces_add(&t->pieces, text + t->mock_sent, len - t->mock_sent, now) == AIGW_OK)
		t->mock_sent = len;
	next = prov_mock_stream_next_ms(text, t->mock_sent, te->cfg->mock_tokens_per_s);
	if (next >= 0) {
		t->due_ms = t->mock_start_ms + next;
		if (t->due_ms <= now)
			t->due_ms = now + 1; /* memory was short: a little later */
		return;
	}
	t->mock_streaming = false;
	if (!json_retry(t, &t->mock, now))
		task_complete(te, t, &t->mock, te->cfg->mock_delay_ms + (now - t->mock_start_ms), now);
	prov_result_free(&t->mock);
	memset(&t->mock, 0, sizeof t->mock);
}

/*
 * Takes a place for t's next request under its provider's shared limits
 * (every attempt is a request). False when t must wait: it stays WAITING,
 * due when a place frees up, and its provider's other tasks in this worker
 * do not ask before then either, sparing the database a herd of refusals.
 * While the database cannot say, t waits and asks again: a limit is never
 * passed blindly.
 */
static bool
rate_admit(struct task_engine *te, struct task *t, int64_t now)
{
	struct route *rt = t->route;
	int64_t wait = task_rate_hold(rt, now);
	enum aigw_err err;

	if (wait < 0)
		return true;
	if (wait == 0) {
		err = db_rate_reserve(te->db, rt->desc->name, rt->rpm, rt->tpm,
				      (long)rate_call_tokens(&t->call), task_rate_waited(t, now),
				      &wait);
		if (err != AIGW_OK) {
			log_debug("worker", t->ops->log_id(t), "%s: cannot reserve under the rate"
				  " limit (%s); asking again in %d ms", t->provider,
				  aigw_strerror(err), RATE_DB_RETRY_MS);
			wait = RATE_DB_RETRY_MS;
		} else if (wait > 0) {
			log_debug("worker", t->ops->log_id(t), "%s: rate limit reached (%ld rpm,"
				  " %ld tpm); next request in %lld ms", t->provider, rt->rpm,
				  rt->tpm, (long long)wait);
		}
	}
	return task_rate_settle(rt, t, wait, now);
}

static void
task_start(struct task_engine *te, struct task *t, int64_t now)
{
	struct prov_http req;
	enum aigw_err err;

	if (t->route->missing) {
		/* Nothing a retry could change: fail now, with the remedy. */
		char why[160];

		t->attempts++;
		prov_not_configured_text(t->route->desc, why, sizeof why);
		fail_task(te, t, PROV_ERR_NOT_CONFIGURED, "%.0s%s", why, now);
		return;
	}
	if (t->route->desc->kind == PROV_ASYNC && !t->route->mock) {
		/* Queued for a batch, which writes the result itself. */
		if (t->ops->delegate(te, t, now) != AIGW_OK) {
			t->due_ms = task_write_retry_at(now);
			return;
		}
		task_state_move(&t->state, TASK_DELEGATED, t->ops->log_id(t));
		log_info("worker", t->ops->log_id(t), "%s: queued for a batch", t->provider);
		return;
	}
	if (!t->route->mock && (!pause_admit(te, t, now) || !rate_admit(te, t, now)))
		return;
	t->attempts++;
	pieces_restart(&t->pieces, now);
	if (t->route->mock) {
		struct prov_result pr;

		memset(&pr, 0, sizeof pr);
		if (prov_mock_answer(&t->call, &pr) != AIGW_OK) {
			fail_task(te, t, PROV_ERR_SERVER, "%s: %s", "out of memory", now);
			return;
		}
		if (task_streams(te->cfg, t->route->desc->kind)) {
			t->mock = pr;
			t->mock_sent = 0;
			t->mock_start_ms = now;
			t->mock_streaming = true;
			task_state_move(&t->state, TASK_INFLIGHT, t->ops->log_id(t));
			mock_stream_turn(te, t, now);
			return;
		}
		if (!json_retry(t, &pr, now))
			task_complete(te, t, &pr, te->cfg->mock_delay_ms, now);
		prov_result_free(&pr);
		return;
	}
	memset(&req, 0, sizeof req);
	err = AIGW_ENOTFOUND;
	if (task_streams(te->cfg, t->route->desc->kind) &&
	    (err = prov_stream_build(prov_format(t->route->desc), &t->route->pc, &t->call,
				     &req)) == AIGW_OK &&
	    (err = prov_stream_new(prov_format(t->route->desc), &t->stream)) != AIGW_OK)
		prov_http_free(&req);
	if (err == AIGW_ENOTFOUND)
		err = t->route->desc->build(&t->route->pc, &t->call, &req);
	if (err != AIGW_OK) {
		fail_task(te, t, PROV_ERR_CLIENT, "%s: cannot build the request: %s",
			  aigw_strerror(err), now);
		return;
	}
	if (t->stream != NULL) {
		const struct xfer_stream st = { .data = on_stream_data,
						.idle_s = te->cfg->stream_idle_s };

		err = xfer_start_stream(te->xe, &req, task_attempt_timeout_s(te->cfg), &st,
					on_transfer_done, t, &t->xfer);
	} else {
		err = xfer_start(te->xe, &req, task_attempt_timeout_s(te->cfg), on_transfer_done, t,
				 &t->xfer);
	}
	prov_http_free(&req);
	if (err != AIGW_OK) {
		prov_stream_free(t->stream);
		t->stream = NULL;
		fail_task(te, t, PROV_ERR_NETWORK, "%s: cannot start the request: %s",
			  aigw_strerror(err), now);
		return;
	}
	task_state_move(&t->state, TASK_INFLIGHT, t->ops->log_id(t));
	log_debug("worker", t->ops->log_id(t), "%s: attempt %d sent", t->provider, t->attempts);
}

void
task_init(struct task_engine *te, struct task *t, const struct task_ops *ops, void *owner,
	  const char *provider, const char *model, int64_t now)
{
	t->ops = ops;
	t->owner = owner;
	t->te = te;
	t->provider = provider;
	t->model = model;
	t->call.model = model;
	t->route = route_find(&te->routes, provider);
	t->state = TASK_WAITING;
	t->rate_waiting = false;
	pieces_init(&t->pieces);
	buf_init(&t->delta, PROV_STREAM_TEXT_MAX);
	t->due_ms = task_first_due(now, t->route && t->route->mock, te->cfg->mock_delay_ms);
}

void
task_turn(struct task_engine *te, struct task *t, int64_t now, int64_t *next)
{
	if (t->state == TASK_INFLIGHT && t->mock_streaming && now >= t->due_ms)
		mock_stream_turn(te, t, now);
	if (t->state == TASK_WAITING && now >= t->due_ms) {
		if (t->route == NULL)
			fail_task(te, t, PROV_ERR_CLIENT, "%s: %s", "unknown provider", now);
		else
			task_start(te, t, now);
	}
	/* (a mock stream started this turn included) */
	if ((t->state == TASK_WAITING || t->state == TASK_UNWRITTEN ||
	     (t->state == TASK_INFLIGHT && t->mock_streaming)) && t->due_ms < *next)
		*next = t->due_ms;
}

void
task_abandon(struct task_engine *te, struct task *t)
{
	xfer_cancel(te->xe, t->xfer);
	t->xfer = NULL;
	free(t->result_json);
	t->result_json = NULL;
	prov_stream_free(t->stream);
	t->stream = NULL;
	buf_free(&t->delta);
	pieces_free(&t->pieces);
	if (t->mock_streaming)
		prov_result_free(&t->mock);
	t->mock_streaming = false;
}
