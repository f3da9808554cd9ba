/* runner.c: the worker's event loop and the chat runner (see runner.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "core/log.h"
#include "core/util.h"
#include "db/batches.h"
#include "db/chats.h"
#include "db/db.h"
#include "db/listen.h"
#include "db/ratelimit.h"
#include "db/reap.h"
#include "db/workers.h"
#include "jobs/output.h"
#include "providers/provider.h"
#include "worker/pace.h"
#include "worker/rate.h"
#include "worker/runner.h"
#include "worker/work.h"
#include "worker/xfer.h"

#define CLAIM_POLL_MS 2000          /* fallback when a NOTIFY was missed */
#define LISTEN_RETRY_MS 5000        /* between tries to get the LISTEN back */
#define RETRY_BASE_MS 500
#define RETRY_CAP_MS 30000
#define TURN_MAX_MS 1000
#define REAP_EVERY_MS 60000
#define CHAT_WRITE_MAX 512          /* results stored by one statement */

struct chat_run {
	struct runner *r;
	struct db_chat_claim c;
	json_object *models;
	struct task *tasks;
	size_t ntasks;
	size_t open;               /* tasks not DONE */
	int64_t renew_ms;
	int64_t finish_retry_ms;   /* 0: not tried yet */
	struct chat_run *next;
};

static uint32_t
rand32(struct runner *r)
{
	/* xorshift64*: jitter needs spread, not secrecy */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (uint32_t)((r->rng * 2685821657736338717ULL) >> 32);
}

/* ---- provider routes ---- */

static bool
valid_base_url(const char *s)
{
	return str_has_prefix_ci(s, "http://") || str_has_prefix_ci(s, "https://");
}

static int
routes_init(struct runner *r)
{
	const struct prov_desc *all = prov_all(&r->nroutes);

	r->routes = calloc(r->nroutes, sizeof *r->routes);
	if (r->routes == NULL)
		return 1;
	for (size_t i = 0; i < r->nroutes; i++) {
		struct route *rt = &r->routes[i];
		const char *key = all[i].key_env ? getenv(all[i].key_env) : NULL;
		const char *base = all[i].base_env ? getenv(all[i].base_env) : NULL;
		const struct config_rate *limit;
		size_t n;

		rt->desc = &all[i];
		switch (prov_state_decide(&all[i], key, r->cfg->mock)) {
		case PROV_CONFIGURED:
			break;
		case PROV_MOCK:
			log_warn("worker", NULL, "%s: %s is not set; the built-in mock answers its"
				 " calls (AIGW_MOCK=on)", all[i].name, all[i].key_env);
			rt->mock = true;
			continue;
		case PROV_MISSING:
			log_info("worker", NULL, "%s: %s is not set; its calls fail", all[i].name,
				 all[i].key_env);
			rt->missing = true;
			continue;
		}
		if (all[i].kind == PROV_BUILTIN) {
			rt->mock = true;
			continue;
		}
		if (base == NULL || *base == '\0')
			base = all[i].default_base;
		if (!valid_base_url(base)) {
			log_error("worker", NULL, "%s: expected an http:// or https:// URL",
				  all[i].base_env);
			return 2;
		}
		rt->base_url = strdup(base);
		if (rt->base_url == NULL)
			return 1;
		n = strlen(rt->base_url);
		while (n > 0 && rt->base_url[n - 1] == '/')
			rt->base_url[--n] = '\0';
		rt->pc.api_key = key;
		rt->pc.base_url = rt->base_url;
		limit = config_rate_limit(r->cfg, all[i].name);
		if (limit != NULL) {
			rt->rpm = limit->rpm;
			rt->tpm = limit->tpm;
		}
	}
	return 0;
}

const struct route *
route_find(const struct runner *r, const char *name)
{
	for (size_t i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].desc->name, name) == 0)
			return &r->routes[i];
	return NULL;
}

/* ---- results ---- */

static int
add(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

/* A token count, or null when the provider did not say (json-c's null
 * is the NULL pointer, which add() would take for a failed allocation). */
static int
add_count(json_object *o, const char *key, long n)
{
	return n >= 0 ? add(o, key, json_object_new_int64(n)) : json_object_object_add(o, key, NULL);
}

char *
worker_result_json(const char *provider, const char *model, bool mock,
		   const struct prov_result *pr, int64_t latency_ms, int attempts)
{
	json_object *o = json_object_new_object();
	char *out = NULL;
	int rc = 0;

	if (o == NULL)
		return NULL;
	if (pr->ok) {
		json_object *usage = json_object_new_object();
		double cost = prov_cost_usd(provider, model, pr->input_tokens, pr->output_tokens);

		rc |= add(o, "ok", json_object_new_boolean(1));
		rc |= add(o, "text", json_object_new_string(pr->text ? pr->text : ""));
		rc |= add(o, "model", json_object_new_string(pr->model ? pr->model : model));
		if (usage != NULL) {
			rc |= add_count(usage, "inputTokens", pr->input_tokens);
			rc |= add_count(usage, "outputTokens", pr->output_tokens);
		}
		rc |= add(o, "usage", usage);
		if (cost >= 0) {
			/* Eight decimals: a cost, not a float's noise. */
			char text[32];

			snprintf(text, sizeof text, "%.8f", cost);
			rc |= add(o, "costUsd", json_object_new_double_s(cost, text));
		} else {
			rc |= json_object_object_add(o, "costUsd", NULL);
		}
		if (pr->citations != NULL)
			rc |= add(o, "citations", json_object_get(pr->citations));
	} else {
		rc |= add(o, "ok", json_object_new_boolean(0));
		rc |= add(o, "error", json_object_new_string(pr->error ? pr->error : "failed"));
		rc |= add(o, "errorClass", json_object_new_string(prov_errclass_name(pr->errclass)));
	}
	/* A failure's time is worth seeing too: a timeout, or a quick refusal. */
	rc |= add(o, "latencyMs", json_object_new_int64(latency_ms));
	rc |= add(o, "attempts", json_object_new_int(attempts));
	if (mock)
		rc |= add(o, "mock", json_object_new_boolean(1));
	if (rc == 0)
		out = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}

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

/* Stores a final result; kept for later when the database is away. An
 * owner without a store op writes its results itself, many at a time. */
static void
task_flush(struct runner *r, struct task *t)
{
	if (t->ops->store == NULL)
		return;
	if (t->ops->store(r, t) == AIGW_EDB) {
		t->due_ms = time_mono_ms() + WRITE_RETRY_MS;
		return;
	}
	t->state = TASK_DONE;
	t->ops->settled(r, t);
	free(t->result_json);
	t->result_json = NULL;
}

static void
task_complete(struct runner *r, struct task *t, const struct prov_result *pr, int64_t latency_ms)
{
	const char *id = t->ops->log_id(t);

	t->result_json = result_json(t, pr, latency_ms);
	if (t->result_json == NULL) {
		/* Out of memory: the owner hears of a lost result. */
		log_error("worker", id, "%s: cannot build the result", t->provider);
		t->state = TASK_DONE;
		t->ops->settled(r, t);
		return;
	}
	{
		const struct log_attr attrs[] = {
			LOG_STR("provider", t->provider), LOG_STR("model", t->model),
			LOG_STR("status", pr->ok ? "ok" : "failed"), LOG_NUM("attempts", t->attempts),
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
	t->state = TASK_UNWRITTEN;
	task_flush(r, t);
}

static void
fail_task(struct runner *r, struct task *t, enum prov_errclass cls, const char *fmt, const char *what)
{
	struct prov_result pr;
	char msg[512];

	memset(&pr, 0, sizeof pr);
	snprintf(msg, sizeof msg, fmt, t->provider, what);
	pr.errclass = cls;
	pr.error = msg;
	task_complete(r, t, &pr, 0);
}

/*
 * An answer that had to be one JSON object and is not gets one more try
 * at once (models often comply the second time); after that it is a
 * failure of its own. Returns true when a retry was scheduled.
 */
static bool
json_retry(struct task *t, struct prov_result *pr)
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
		t->state = TASK_WAITING;
		t->due_ms = time_mono_ms();
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
pause_provider(struct runner *r, struct task *t, const struct xfer_result *res)
{
	struct route *rt = &r->routes[t->route - r->routes];
	int64_t now = time_mono_ms(), left = 0;
	int64_t end = rate_pause_end(res->http_status, res->retry_after_s, now);

	if (end <= rt->pause_until_ms)
		return;
	rt->pause_until_ms = end;
	if (db_provider_pause(r->db, rt->desc->name, end - now, &left) != AIGW_OK)
		log_debug("worker", t->ops->log_id(t), "%s: cannot share the pause; this worker"
			  " keeps it", t->provider);
	rt->pause_until_ms = rate_pause_merge(rt->pause_until_ms, left, time_mono_ms());
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
pauses_refresh(struct runner *r, int64_t now)
{
	const char **names = calloc(r->nroutes, sizeof *names);
	int64_t *left = calloc(r->nroutes, sizeof *left);

	r->pauses_read = true;
	r->pauses_read_ms = now;
	if (names == NULL || left == NULL)
		goto out;
	for (size_t i = 0; i < r->nroutes; i++)
		names[i] = r->routes[i].desc->name;
	if (db_provider_pauses(r->db, names, r->nroutes, left) != AIGW_OK) {
		log_debug("worker", NULL, "cannot read the providers' pauses; asking again in %d ms",
			  RATE_PAUSE_READ_MS);
		goto out;
	}
	now = time_mono_ms();
	for (size_t i = 0; i < r->nroutes; i++) {
		struct route *rt = &r->routes[i];
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

/* False when t's provider is paused: t waits until the pause ends, which
 * is neither an attempt nor a failure. */
static bool
pause_admit(struct runner *r, struct task *t)
{
	const struct route *rt = t->route;
	int64_t now = time_mono_ms();

	if (rate_pause_read_due(r->pauses_read, r->pauses_read_ms, now))
		pauses_refresh(r, now);
	now = time_mono_ms();
	if (rate_pause_wait(rt->pause_until_ms, now) == 0)
		return true;
	t->state = TASK_WAITING;
	t->due_ms = rt->pause_until_ms;
	return false;
}

static void
on_transfer_done(void *arg, const struct xfer_result *res)
{
	struct task *t = arg;
	struct runner *r = t->runner;
	struct prov_result pr;
	bool retry;

	t->xfer = NULL;
	memset(&pr, 0, sizeof pr);
	if (res->neterr != PROV_ERR_NONE) {
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
	if (res->neterr == PROV_ERR_NONE && pr.errclass == PROV_ERR_RATE_LIMIT)
		pause_provider(r, t, res);
	if (json_retry(t, &pr)) {
		prov_result_free(&pr);
		return;
	}
	retry = !pr.ok && prov_err_retryable(pr.errclass) && t->attempts < r->cfg->max_attempts &&
		!(pr.errclass == PROV_ERR_BAD_BODY && t->bad_body_retried);
	if (retry) {
		int64_t delay = xfer_retry_delay_ms(t->attempts, res->retry_after_s, RETRY_BASE_MS,
						    RETRY_CAP_MS, rand32(r));

		if (pr.errclass == PROV_ERR_BAD_BODY)
			t->bad_body_retried = true;
		log_info("worker", t->ops->log_id(t), "%s: attempt %d failed (%s), retrying in %lld ms",
			 t->provider, t->attempts, prov_errclass_name(pr.errclass), (long long)delay);
		t->state = TASK_WAITING;
		t->due_ms = time_mono_ms() + delay;
	} else {
		task_complete(r, t, &pr, res->elapsed_ms);
	}
	prov_result_free(&pr);
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
rate_admit(struct runner *r, struct task *t)
{
	struct route *rt = &r->routes[t->route - r->routes];
	int64_t now = time_mono_ms(), wait = 0;
	enum aigw_err err;

	if (rt->rpm == 0 && rt->tpm == 0)
		return true;
	if (now < rt->rate_open_ms) {
		wait = rt->rate_open_ms - now;
	} else {
		err = db_rate_reserve(r->db, rt->desc->name, rt->rpm, rt->tpm,
				      (long)rate_call_tokens(&t->call),
				      t->rate_waiting ? now - t->rate_since_ms : -1, &wait);
		now = time_mono_ms();
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
		if (wait > 0)
			rt->rate_open_ms = now + wait;
	}
	if (wait == 0) {
		t->rate_waiting = false;
		return true;
	}
	if (!t->rate_waiting) {
		t->rate_waiting = true;
		t->rate_since_ms = now;
	}
	t->state = TASK_WAITING;
	t->due_ms = now + wait;
	return false;
}

static void
task_start(struct runner *r, struct task *t)
{
	struct prov_http req;
	enum aigw_err err;

	if (t->route->missing) {
		/* Nothing a retry could change: fail now, with the remedy. */
		char why[160];

		t->attempts++;
		prov_not_configured_text(t->route->desc, why, sizeof why);
		fail_task(r, t, PROV_ERR_NOT_CONFIGURED, "%.0s%s", why);
		return;
	}
	if (t->route->desc->kind == PROV_ASYNC && !t->route->mock) {
		/* Queued for a batch, which writes the result itself. */
		if (t->ops->delegate(r, t) != AIGW_OK) {
			t->due_ms = time_mono_ms() + WRITE_RETRY_MS;
			return;
		}
		t->state = TASK_DELEGATED;
		log_info("worker", t->ops->log_id(t), "%s: queued for a batch", t->provider);
		return;
	}
	if (!t->route->mock && (!pause_admit(r, t) || !rate_admit(r, t)))
		return;
	t->attempts++;
	if (t->route->mock) {
		struct prov_result pr;

		memset(&pr, 0, sizeof pr);
		if (prov_mock_answer(&t->call, &pr) != AIGW_OK) {
			fail_task(r, t, PROV_ERR_SERVER, "%s: %s", "out of memory");
			return;
		}
		if (!json_retry(t, &pr))
			task_complete(r, t, &pr, r->cfg->mock_delay_ms);
		prov_result_free(&pr);
		return;
	}
	memset(&req, 0, sizeof req);
	err = t->route->desc->build(&t->route->pc, &t->call, &req);
	if (err != AIGW_OK) {
		fail_task(r, t, PROV_ERR_CLIENT, "%s: cannot build the request: %s",
			  aigw_strerror(err));
		return;
	}
	err = xfer_start(r->xe, &req, r->cfg->provider_timeout_s, on_transfer_done, t, &t->xfer);
	prov_http_free(&req);
	if (err != AIGW_OK) {
		fail_task(r, t, PROV_ERR_NETWORK, "%s: cannot start the request: %s",
			  aigw_strerror(err));
		return;
	}
	t->state = TASK_RUNNING;
	log_debug("worker", t->ops->log_id(t), "%s: attempt %d sent", t->provider, t->attempts);
}

void
task_init(struct runner *r, struct task *t, const struct task_ops *ops, void *owner,
	  const char *provider, const char *model)
{
	t->ops = ops;
	t->owner = owner;
	t->runner = r;
	t->provider = provider;
	t->model = model;
	t->call.model = model;
	t->route = route_find(r, provider);
	t->state = TASK_WAITING;
	t->rate_waiting = false;
	/* The built-in mock answers after its delay, as a provider would. */
	t->due_ms = time_mono_ms() + (t->route && t->route->mock ? r->cfg->mock_delay_ms : 0);
}

void
task_turn(struct runner *r, struct task *t, int64_t now, int64_t *next)
{
	if (t->state == TASK_WAITING && now >= t->due_ms) {
		if (t->route == NULL)
			fail_task(r, t, PROV_ERR_CLIENT, "%s: %s", "unknown provider");
		else
			task_start(r, t);
	} else if (t->state == TASK_UNWRITTEN && now >= t->due_ms) {
		task_flush(r, t);
	}
	if ((t->state == TASK_WAITING || t->state == TASK_UNWRITTEN) && t->due_ms < *next)
		*next = t->due_ms;
}

void
task_abandon(struct runner *r, struct task *t)
{
	xfer_cancel(r->xe, t->xfer);
	t->xfer = NULL;
	free(t->result_json);
	t->result_json = NULL;
}

/* ---- chats ---- */

static void chat_maybe_finish(struct runner *r, struct chat_run *ch);

static void
chat_task_settled(struct runner *r, struct task *t)
{
	struct chat_run *ch = t->owner;

	/* A result that could not even be built is left to another attempt
	 * after the lease: finishing without it would call it failed. */
	if (t->result_json == NULL)
		return;
	ch->open--;
	chat_maybe_finish(r, ch);
}

static const char *
chat_task_log_id(const struct task *t)
{
	return ((const struct chat_run *)t->owner)->c.chat_id;
}

static enum aigw_err
chat_task_delegate(struct runner *r, struct task *t)
{
	struct chat_run *ch = t->owner;
	struct db_batch_call c = {
		.provider = t->provider, .model = t->model, .chat_id = ch->c.chat_id,
		.message = t->call.message, .system = t->call.system,
		.max_tokens = t->call.max_tokens, .websearch = t->call.websearch,
		.location = t->call.location, .json_output = t->call.json_output,
	};
	enum aigw_err err = db_batch_item_add(r->db, &c);

	if (err != AIGW_OK)
		return err;
	/* The chat's worker is done with this call: finishing the chat now
	 * leaves it awaiting the batch, which finishes it. */
	ch->open--;
	chat_maybe_finish(r, ch);
	return AIGW_OK;
}

/* No store: chats_write stores the results of every chat together. */
static const struct task_ops chat_task_ops = {
	NULL, chat_task_settled, chat_task_log_id, chat_task_delegate,
};

static void
chat_free(struct runner *r, struct chat_run *ch)
{
	for (size_t i = 0; i < ch->ntasks; i++)
		task_abandon(r, &ch->tasks[i]);
	free(ch->tasks);
	json_object_put(ch->models);
	free(ch->c.message);
	free(ch->c.system);
	free(ch->c.location);
	free(ch->c.models_json);
	free(ch->c.results_json);
	free(ch);
}

static void
chat_remove(struct runner *r, struct chat_run *ch)
{
	for (struct chat_run **p = &r->chats; *p != NULL; p = &(*p)->next) {
		if (*p == ch) {
			*p = ch->next;
			r->nchats--;
			break;
		}
	}
	chat_free(r, ch);
}

/* The chat's final write is done (status "" when the fence kept it out). */
static void
chat_finished(struct chat_run *ch, const char *status)
{
	if (strcmp(status, "processing") == 0)
		log_info("worker", ch->c.chat_id, "chat awaits its batch results");
	else if (status[0] != '\0')
		log_info("worker", ch->c.chat_id, "chat %s", status);
	/* Removal happens in the loop, never under a caller's feet. */
	ch->finish_retry_ms = -1;
}

static void
chat_maybe_finish(struct runner *r, struct chat_run *ch)
{
	char status[16];

	if (ch->open > 0 || ch->finish_retry_ms == -1)
		return;
	if (db_chat_finish(r->db, ch->c.chat_id, ch->c.attempt, status) != AIGW_OK) {
		ch->finish_retry_ms = time_mono_ms() + WRITE_RETRY_MS;
		return;
	}
	chat_finished(ch, status);
}

/*
 * Stores the chats' results that came in since the last turn, all in one
 * statement: one commit and one notification per chat, however many
 * answers arrived at once. A chat whose last open call is among them is
 * finished by the same statement.
 */
static void
chats_write(struct runner *r)
{
	struct db_chat_result *rows = NULL;
	struct task **tasks = NULL;
	int64_t now = time_mono_ms();
	size_t n = 0, waiting = 0;

	for (struct chat_run *ch = r->chats; ch != NULL && waiting < CHAT_WRITE_MAX; ch = ch->next)
		for (size_t i = 0; i < ch->ntasks; i++)
			waiting += ch->tasks[i].state == TASK_UNWRITTEN && ch->tasks[i].due_ms <= now;
	if (waiting == 0)
		return;
	if (waiting > CHAT_WRITE_MAX)
		waiting = CHAT_WRITE_MAX;
	rows = calloc(waiting, sizeof *rows);
	tasks = calloc(waiting, sizeof *tasks);
	if (rows == NULL || tasks == NULL)
		goto out; /* tried again next turn */
	for (struct chat_run *ch = r->chats; ch != NULL; ch = ch->next) {
		size_t due = 0;

		for (size_t i = 0; i < ch->ntasks; i++)
			due += ch->tasks[i].state == TASK_UNWRITTEN && ch->tasks[i].due_ms <= now;
		if (due == 0 || ch->finish_retry_ms == -1)
			continue;
		if (n + due > waiting)
			break; /* the rest next turn, which comes at once */
		for (size_t i = 0; i < ch->ntasks; i++) {
			struct task *t = &ch->tasks[i];

			if (t->state != TASK_UNWRITTEN || t->due_ms > now)
				continue;
			rows[n] = (struct db_chat_result){
				.chat_id = ch->c.chat_id, .attempt = ch->c.attempt,
				.provider = t->provider, .result_json = t->result_json,
				.finish = ch->open == due,
			};
			tasks[n++] = t;
		}
	}
	if (db_chat_write_results(r->db, rows, n) != AIGW_OK) {
		for (size_t i = 0; i < n; i++)
			tasks[i]->due_ms = now + WRITE_RETRY_MS;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct task *t = tasks[i];
		struct chat_run *ch = t->owner;

		if (!rows[i].written)
			log_info("worker", ch->c.chat_id, "%s: result not stored (the lease moved on)",
				 t->provider);
		t->state = TASK_DONE;
		free(t->result_json);
		t->result_json = NULL;
		ch->open--;
		if (rows[i].finish && (i + 1 == n || tasks[i + 1]->owner != ch))
			chat_finished(ch, rows[i].status);
	}
out:
	free(rows);
	free(tasks);
}

/* Takes ownership of the claim's strings. */
static enum aigw_err
chat_add(struct runner *r, struct db_chat_claim *c)
{
	struct chat_run *ch = calloc(1, sizeof *ch);
	json_object *done = NULL;
	size_t n = 0;

	if (ch == NULL)
		return AIGW_ENOMEM;
	ch->r = r;
	ch->c = *c;
	memset(c, 0, sizeof *c);
	ch->renew_ms = time_mono_ms() + r->cfg->lease_s * 1000 / 3;
	ch->models = json_tokener_parse(ch->c.models_json);
	done = json_tokener_parse(ch->c.results_json);
	ch->next = r->chats;
	r->chats = ch;
	r->nchats++;
	if (!json_object_is_type(ch->models, json_type_object) ||
	    !json_object_is_type(done, json_type_object)) {
		/* Nothing can be run: finishing it with no results fails it. */
		log_error("worker", ch->c.chat_id, "stored models or results are not JSON objects");
		json_object_put(done);
		chat_maybe_finish(r, ch);
		return AIGW_EINVAL;
	}
	ch->tasks = calloc((size_t)json_object_object_length(ch->models) + 1, sizeof *ch->tasks);
	if (ch->tasks == NULL) {
		/* Left to its lease: another attempt takes it. */
		json_object_put(done);
		chat_remove(r, ch);
		return AIGW_ENOMEM;
	}
	json_object_object_foreach(ch->models, provider, model) {
		struct task *t = &ch->tasks[n];

		/* A result stored by an earlier attempt is never redone. */
		if (json_object_object_get_ex(done, provider, NULL))
			continue;
		task_init(r, t, &chat_task_ops, ch, provider, json_object_get_string(model));
		t->call.message = ch->c.message;
		t->call.system = ch->c.system;
		t->call.max_tokens = ch->c.max_tokens;
		t->call.websearch = ch->c.websearch;
		t->call.location = ch->c.location;
		n++;
	}
	json_object_put(done);
	ch->ntasks = n;
	ch->open = n;
	chat_maybe_finish(r, ch);
	return AIGW_OK;
}

/* Returns how many chats were claimed. */
static size_t
claim(struct runner *r)
{
	struct db_chat_claim *claims = NULL;
	size_t n = 0;
	long want;
	enum aigw_err err;

	r->wake = false;
	r->next_claim_ms = time_mono_ms() + CLAIM_POLL_MS;
	if (*r->stop)
		return 0;
	/* Calls already waiting for room at a provider host: more chats
	 * would only wait too, while another worker could run them. */
	if (r->nchats >= r->cfg->worker_chats_max || xfer_waiting(r->xe) > 0)
		return jobs_claim(r);
	want = r->cfg->worker_chats_max - r->nchats;
	if (want > r->claim_limit)
		want = r->claim_limit;
	err = db_chat_claim(r->db, (int)want, r->cfg->lease_s, r->name, r->cfg->max_attempts,
			    &claims, &n);
	if (err != AIGW_OK)
		return jobs_claim(r);
	for (size_t i = 0; i < n; i++) {
		char id[UUID_STR_LEN + 1];

		memcpy(id, claims[i].chat_id, sizeof id);
		if (r->cfg->log_prompts) {
			const struct log_attr prompt[] = { LOG_STR("prompt", claims[i].message) };

			log_event(LOG_INFO, "worker", id, prompt, 1, "claimed (attempt %d)",
				  claims[i].attempt);
		} else {
			log_info("worker", id, "claimed (attempt %d)", claims[i].attempt);
		}
		if (chat_add(r, &claims[i]) == AIGW_ENOMEM)
			log_error("worker", id, "out of memory; left to its lease");
	}
	db_chat_claims_free(claims, n);
	return n + jobs_claim(r);
}

/* ---- the loop ---- */

static void
listen_if_needed(struct runner *r, int64_t now)
{
	static const enum db_channel channels[] = { DB_CHANNEL_WORK, DB_CHANNEL_CANCEL,
						    DB_CHANNEL_STEP };

	if (r->listening != 0 || now < r->listen_retry_ms)
		return;
	/* Connecting may take up to AIGW_DB_TIMEOUT_S: not at every turn. */
	r->listen_retry_ms = now + LISTEN_RETRY_MS;
	if (db_listen(r->listen_db, channels, sizeof channels / sizeof channels[0]) != AIGW_OK) {
		db_reset(r->listen_db);
		return;
	}
	r->listening = db_connection_id(r->listen_db);
	db_ping_start(&r->ping, r->listen_db, now);
	/* Anything submitted while we were not listening is found now. */
	r->wake = true;
}

static void
heard(void *arg, enum db_channel kind, const char *payload)
{
	struct runner *r = arg;

	if (kind == DB_CHANNEL_CANCEL)
		jobs_cancelled(r, payload);
	else if (kind == DB_CHANNEL_STEP)
		jobs_step_answered(r, payload);
	else
		r->wake = true;
}

/* Reads the notifications that came, and keeps the LISTEN connection
 * honest; *next is lowered to the next ping. */
static void
drain_notifications(struct runner *r, int64_t now, int64_t *next)
{
	int64_t ping_next;

	if (r->listening == 0)
		return;
	if (db_notifications(r->listen_db, heard, r) != AIGW_OK ||
	    db_ping(r->listen_db, &r->ping, now, &ping_next) != AIGW_OK) {
		log_warn("worker", NULL, "lost the database connection that listens; polling meanwhile");
		db_reset(r->listen_db);
		r->listening = 0;
		return;
	}
	if (ping_next < *next)
		*next = ping_next;
}

static void
heartbeat(struct runner *r, int64_t now)
{
	bool ok = false;

	if (now < r->next_heartbeat_ms)
		return;
	r->next_heartbeat_ms = now + WORKER_SLOT_HEARTBEAT_MS;
	if (r->slot == 0 || db_slot_heartbeat(r->db, r->slot, r->pid, r->host, &ok) != AIGW_OK || ok)
		return;
	/* Our heartbeat went stale (the database was away) and the slot went
	 * to another worker: take another, or stop claiming once done. */
	log_warn("worker", NULL, "worker slot %d was taken over", r->slot);
	r->slot = 0;
	if (db_slot_reserve(r->db, r->cfg->workers_max, r->pid, r->host, &r->slot) == AIGW_OK &&
	    r->slot == 0)
		r->idle_since_ms = 0;
}

/*
 * Renews every chat lease due within the next half of a renewal period, in
 * one statement, before anything else a turn does: claims and writes must
 * never make a lease wait. Leases renewed together fall due together, so a
 * worker sends about three of these a lease however many chats it holds.
 */
static void
chats_renew(struct runner *r, int64_t now)
{
	int64_t period = r->cfg->lease_s * 1000 / 3, soon = now + period / 2;
	struct db_chat_lease *rows = NULL;
	struct chat_run **owners = NULL;
	size_t n = 0, due = 0;

	for (struct chat_run *ch = r->chats; ch != NULL; ch = ch->next)
		due += ch->finish_retry_ms != -1 && ch->renew_ms <= soon;
	if (due == 0)
		return;
	rows = calloc(due, sizeof *rows);
	owners = calloc(due, sizeof *owners);
	if (rows == NULL || owners == NULL)
		goto out; /* tried again next turn */
	for (struct chat_run *ch = r->chats; ch != NULL && n < due; ch = ch->next) {
		if (ch->finish_retry_ms == -1 || ch->renew_ms > soon)
			continue;
		rows[n] = (struct db_chat_lease){ .chat_id = ch->c.chat_id, .attempt = ch->c.attempt };
		owners[n++] = ch;
	}
	if (db_chat_renew(r->db, rows, n, r->cfg->lease_s) != AIGW_OK) {
		/* The database is away: ask again soon, while the leases last. */
		for (size_t i = 0; i < n; i++)
			owners[i]->renew_ms = now + WRITE_RETRY_MS;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i].ours) {
			owners[i]->renew_ms = now + period;
			continue;
		}
		log_warn("worker", owners[i]->c.chat_id, "lease lost; dropping the chat");
		chat_remove(r, owners[i]);
	}
out:
	free(rows);
	free(owners);
}

static int64_t
turn(struct runner *r)
{
	int64_t now, next;
	struct chat_run *ch, *nextch;

	chats_renew(r, time_mono_ms());
	chats_write(r);
	now = time_mono_ms();
	next = now + TURN_MAX_MS;
	for (ch = r->chats; ch != NULL; ch = nextch) {
		nextch = ch->next;
		if (ch->finish_retry_ms == -1) {
			chat_remove(r, ch);
			continue;
		}
		if (ch->open == 0 && ch->finish_retry_ms > 0 && now >= ch->finish_retry_ms)
			chat_maybe_finish(r, ch);
		if (ch->finish_retry_ms == -1) {
			chat_remove(r, ch);
			continue;
		}
		if (ch->renew_ms < next)
			next = ch->renew_ms;
		if (ch->open == 0 && ch->finish_retry_ms > 0 && ch->finish_retry_ms < next)
			next = ch->finish_retry_ms;
		for (size_t i = 0; i < ch->ntasks; i++)
			task_turn(r, &ch->tasks[i], now, &next);
		if (ch->finish_retry_ms == -1) {
			chat_remove(r, ch);
			continue;
		}
	}
	{
		int64_t jobs_next = jobs_turn(r, now), batches_next = batches_turn(r, now);

		if (jobs_next < next)
			next = jobs_next;
		if (batches_next < next)
			next = batches_next;
	}
	if (batches_claim(r, now) > 0)
		return now;
	/* New work has tasks due now: turn again at once. */
	if ((r->wake || now >= r->next_claim_ms) && claim(r) > 0)
		return now;
	if (r->next_claim_ms < next)
		next = r->next_claim_ms;
	return next;
}

static void
hand_back(struct runner *r)
{
	while (r->chats != NULL) {
		struct chat_run *ch = r->chats;

		if (ch->open > 0 && db_chat_release(r->db, ch->c.chat_id, ch->c.attempt) == AIGW_OK)
			log_info("worker", ch->c.chat_id, "handed back");
		chat_remove(r, ch);
	}
	jobs_hand_back(r);
	batches_hand_back(r);
}

static int
take_slot(struct runner *r)
{
	bool ok = false;

	if (r->slot > 0) {
		if (db_slot_take(r->db, r->slot, r->pid, r->host, &ok) != AIGW_OK)
			return 1;
		if (!ok) {
			log_info("worker", NULL, "slot %d is no longer reserved for us", r->slot);
			return 1;
		}
		return 0;
	}
	if (db_slot_reserve(r->db, r->cfg->workers_max, r->pid, r->host, &r->slot) != AIGW_OK)
		return 1;
	if (r->slot == 0) {
		log_info("worker", NULL, "all %ld worker slots are taken", r->cfg->workers_max);
		return 1;
	}
	return 0;
}

static bool
idle_exit(struct runner *r, int64_t now)
{
	if (r->nchats > 0 || r->njobs > 0 || r->nbatches > 0 || r->batch_calls_waiting ||
	    xfer_in_flight(r->xe) > 0) {
		r->idle_since_ms = now;
		return false;
	}
	if (now - r->idle_since_ms < r->cfg->worker_idle_s * 1000)
		return false;
	/* Free the slot first, then look once more: work submitted while we
	 * still held the slot got no worker of its own. Work submitted after
	 * the release found the slot free and started a worker; if that worker
	 * has the slot already, the work is its, and we must not claim without
	 * a slot or one more worker than AIGW_WORKERS_MAX would run. */
	if (r->slot > 0 && db_slot_release(r->db, r->slot, r->pid, r->host) == AIGW_OK)
		r->slot = 0;
	if (r->slot == 0) {
		long waiting = 0;

		if (db_queue_waiting(r->db, r->cfg->max_attempts, r->cfg->analysis_concurrency,
				     &waiting) == AIGW_OK &&
		    waiting == 0)
			return true;
		if (db_slot_reserve(r->db, r->cfg->workers_max, r->pid, r->host, &r->slot) !=
		    AIGW_OK || r->slot == 0) {
			r->slot = 0;
			return true;
		}
	}
	r->idle_since_ms = now;
	return false;
}

/*
 * After SIGTERM: nothing new is claimed (claim() looks at *stop), and what
 * is held may finish for AIGW_WORKER_STOP_S. Returns false when it is time
 * to hand the rest back and exit; lowers *next to the deadline.
 */
static bool
stopping(struct runner *r, int64_t now, int64_t *next)
{
	if (r->stop_deadline_ms == 0) {
		r->stop_deadline_ms = now + r->cfg->worker_stop_s * 1000;
		log_info("worker", NULL, "stopping: finishing %d chat%s and %d job%s for up to %ld s",
			 r->nchats, r->nchats == 1 ? "" : "s", r->njobs, r->njobs == 1 ? "" : "s",
			 r->cfg->worker_stop_s);
	}
	if ((r->nchats == 0 && r->njobs == 0) || now >= r->stop_deadline_ms)
		return false;
	if (r->stop_deadline_ms < *next)
		*next = r->stop_deadline_ms;
	return true;
}

/*
 * The reaper's cheap statements, once a minute over all the workers that
 * share the database (the turn is a row in it), so that a deployment with
 * no timer still heals. Failures wait for the next minute.
 */
static void
reap(struct runner *r, int64_t now)
{
	struct db_reap_limits limits = {
		.pending_timeout_s = r->cfg->pending_timeout_s,
		.max_attempts = r->cfg->max_attempts,
		.chat_timeout_s = config_chat_timeout_s(r->cfg),
		.keep_done_days = r->cfg->keep_done_days,
		.keep_failed_days = r->cfg->keep_failed_days,
	};
	struct db_reap_counts c;
	bool due = false;

	if (now < r->next_reap_ms)
		return;
	r->next_reap_ms = now + REAP_EVERY_MS;
	if (db_reap_turn(r->db, REAP_EVERY_MS / 1000 - 5, &due) != AIGW_OK || !due ||
	    db_reap(r->db, &limits, &c) != AIGW_OK)
		return;
	if (c.chats_unclaimed + c.chats_spent + c.chats_requeued + c.chats_deleted +
	    c.jobs_unclaimed + c.jobs_spent + c.jobs_requeued + c.jobs_deleted +
	    c.batches_deleted > 0)
		log_info("worker", NULL, "reaped: chats %ld unclaimed, %ld spent, %ld requeued,"
			 " %ld deleted; jobs %ld unclaimed, %ld spent, %ld requeued, %ld deleted;"
			 " batches %ld deleted",
			 c.chats_unclaimed, c.chats_spent, c.chats_requeued, c.chats_deleted,
			 c.jobs_unclaimed, c.jobs_spent, c.jobs_requeued, c.jobs_deleted,
			 c.batches_deleted);
	if (c.chats_requeued + c.jobs_requeued > 0)
		r->wake = true;
}

/*
 * Every provider call in flight holds a connection: a worker with its
 * chats' calls and the jobs' open needs far more descriptors than the
 * usual soft limit of 1024. Raised towards the hard limit (curl waits on
 * poll(), which has no FD_SETSIZE bound); a lower limit only queues calls
 * in curl, so failing to raise it is worth a warning, not an exit.
 */
static void
raise_fd_limit(const struct runner *r)
{
	/* Three calls a chat, the jobs' fan-outs, and the database. */
	rlim_t want = (rlim_t)r->cfg->worker_chats_max * 3 + JOBS_MAX * JOBTYPE_MAX_FANOUT + 64;
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= want)
		return;
	lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max > want ? want : lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
		log_warn("worker", NULL, "open files limited to %llu; calls past it wait their turn",
			 (unsigned long long)lim.rlim_cur);
}

int
runner_run(const struct aigw_config *cfg, const struct jobtype_registry *jobtypes, int slot,
	   volatile sig_atomic_t *stop)
{
	struct runner r;
	int rc = 1;

	memset(&r, 0, sizeof r);
	r.cfg = cfg;
	r.jobtypes = jobtypes;
	r.stop = stop;
	r.slot = slot;
	r.pid = (long)getpid();
	if (gethostname(r.host, sizeof r.host) != 0)
		snprintf(r.host, sizeof r.host, "localhost");
	r.host[sizeof r.host - 1] = '\0';
	snprintf(r.name, sizeof r.name, "%s:%ld", r.host, r.pid);
	if (getrandom(&r.rng, sizeof r.rng, 0) != (ssize_t)sizeof r.rng || r.rng == 0)
		r.rng = (uint64_t)time_mono_ms() | 1;

	rc = routes_init(&r);
	if (rc != 0)
		goto out;
	rc = 1;
	r.db = db_open(cfg, DB_USE_WORK);
	r.listen_db = db_open(cfg, DB_USE_LISTEN);
	raise_fd_limit(&r);
	r.xe = xfer_engine_new(cfg->provider_connections, cfg->provider_window_start);
	if (r.db == NULL || r.listen_db == NULL || r.xe == NULL) {
		log_error("worker", NULL, "cannot start: out of memory or curl failed");
		goto out;
	}
	xfer_engine_set_download_max(r.xe, (long long)cfg->batch_download_max_mb << 20);
	if (take_slot(&r) != 0)
		goto out;
	log_info("worker", NULL, "started in slot %d", r.slot);
	r.idle_since_ms = time_mono_ms();
	r.wake = true;
	r.claim_limit = pace_claim_start(cfg->worker_chats_max);
	for (;;) {
		int64_t next, now, turn_start;
		int fd = -1;

		listen_if_needed(&r, time_mono_ms());
		/* The slot's heartbeat first: a long turn must not let it go
		 * stale. */
		turn_start = time_mono_ms();
		heartbeat(&r, turn_start);
		next = turn(&r);
		now = time_mono_ms();
		r.claim_limit = pace_claim_next(r.claim_limit, now - turn_start, cfg->lease_s,
						cfg->worker_chats_max);
		reap(&r, now);
		if (*stop && !stopping(&r, now, &next))
			break;
		if (!*stop && idle_exit(&r, now))
			break;
		drain_notifications(&r, now, &next);
		if (r.listening != 0)
			fd = PQsocket(db_conn(r.listen_db));
		if (xfer_wait(r.xe, fd, (int)(next > now ? next - now : 0)) != AIGW_OK)
			break;
		xfer_run(r.xe);
		drain_notifications(&r, time_mono_ms(), &next);
	}
	if (r.nchats > 0 || r.njobs > 0)
		log_info("worker", NULL, "handing back %d chat%s and %d job%s", r.nchats,
			 r.nchats == 1 ? "" : "s", r.njobs, r.njobs == 1 ? "" : "s");
	hand_back(&r);
	if (r.slot > 0 && db_slot_release(r.db, r.slot, r.pid, r.host) != AIGW_OK)
		log_warn("worker", NULL, "slot %d not released; it frees itself when stale", r.slot);
	log_info("worker", NULL, "exiting");
	rc = 0;
out:
	xfer_engine_free(r.xe);
	db_free(r.listen_db);
	db_free(r.db);
	for (size_t i = 0; i < r.nroutes && r.routes != NULL; i++)
		free(r.routes[i].base_url);
	free(r.routes);
	return rc;
}
