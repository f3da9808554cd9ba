/*
 * async_fixture.h: the fixture driver shared by the async provider tests
 * (openai-batch, anthropic-batch, snapshot), on top of prov_fixture.h.
 *
 * Fixtures live in $AIGW_SRCDIR/tests/fixtures/providers/<provider>/:
 *   batch.json                 the batch every case uses: {"api_key",
 *     "base_url", "model", "items": [{"custom_id", "message", "system",
 *     "location", "max_tokens", "websearch", "json_output"}]}
 *   <case>.build.json          a state in, the exact request out:
 *     {"state": {..}|null, "cancel": bool, "model": optional override,
 *      "method", "url", "headers": [..], "body": JSON|null,
 *      "body_file": a file holding the exact body bytes,
 *      "error": "EINVAL"|"ENOTFOUND" instead of a request}
 *   <case>.body + <case>.expect.json   an answer in, the step out:
 *     {"state": the state the request was built from, "status",
 *      "kind": "next"|"wait"|"done"|"failed", "state_after": {..}|null,
 *      "external_id", "errclass", "error" (when failed),
 *      "results": [{"id", "ok", "text", "model", "input_tokens",
 *                   "output_tokens", "citations"} | {"id", "ok": false,
 *                   "errclass", "error"}]}
 * Beyond the fixture itself every parse is held to what the engine relies
 * on: a consistent step, result ids among the batch's custom_ids, and a new
 * state that build (and build_cancel) accept. FX_ASYNC_CHAIN walks a whole
 * batch through recorded answers, each fed the state the one before made.
 */
#ifndef AIGW_TESTS_ASYNC_FIXTURE_H
#define AIGW_TESTS_ASYNC_FIXTURE_H

#include "prov_fixture.h"

struct fx_batch {
	json_object *root; /* batch.json: owns every string below */
	struct prov_config cfg;
	const char *model;
	struct prov_batch_item *items;
	size_t n;
};

static const char *const fx_kind_names[PROV_STEP__MAX] = {
	[PROV_STEP_NEXT] = "next",
	[PROV_STEP_WAIT] = "wait",
	[PROV_STEP_DONE] = "done",
	[PROV_STEP_FAILED] = "failed",
	[PROV_STEP_ABSENT] = "absent",
};

static inline const struct prov_async_ops *
fx_ops(void)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);

	assert_non_null(d);
	assert_int_equal(d->kind, PROV_ASYNC);
	assert_non_null(d->async);
	return d->async;
}

static inline void
fx_batch_load(struct fx_batch *b)
{
	json_object *items;

	memset(b, 0, sizeof *b);
	b->root = fx_json(FX_PROVIDER, "batch.json");
	b->cfg.api_key = fx_str(b->root, "api_key");
	b->cfg.base_url = fx_str(b->root, "base_url");
	b->model = fx_str(b->root, "model");
	assert_true(json_object_object_get_ex(b->root, "items", &items));
	b->n = json_object_array_length(items);
	b->items = calloc(b->n, sizeof *b->items);
	assert_non_null(b->items);
	for (size_t i = 0; i < b->n; i++) {
		json_object *it = json_object_array_get_idx(items, i);
		struct prov_config unused;

		fx_call(it, &unused, &b->items[i].call);
		b->items[i].call.model = b->model;
		b->items[i].custom_id = fx_str(it, "custom_id");
	}
}

static inline void
fx_batch_free(struct fx_batch *b)
{
	free(b->items);
	json_object_put(b->root);
	memset(b, 0, sizeof *b);
}

static inline bool
fx_batch_has(const struct fx_batch *b, const char *id)
{
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->items[i].custom_id, id) == 0)
			return true;
	return false;
}

/* The state of a fixture as the text the engine stores; NULL for null. */
static inline char *
fx_state_text(json_object *fixture, const char *key)
{
	json_object *st = NULL;
	char *s;

	if (!json_object_object_get_ex(fixture, key, &st) || st == NULL)
		return NULL;
	s = strdup(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
	assert_non_null(s);
	return s;
}

static inline void
fx_assert_state_equal(const char *got, const char *want, const char *what)
{
	json_object *g, *w;

	if (got == NULL || want == NULL) {
		if (got != want)
			fail_msg("%s: got %s, want %s", what, got ? got : "null", want ? want : "null");
		return;
	}
	g = json_tokener_parse(got);
	w = json_tokener_parse(want);
	assert_non_null(g);
	assert_non_null(w);
	fx_assert_json_equal(g, w, what);
	json_object_put(g);
	json_object_put(w);
}

/* What every step must look like, whatever the answer was. */
static inline void
fx_assert_step(const struct fx_batch *b, const struct prov_step *s)
{
	assert_true(s->kind >= PROV_STEP_NEXT && s->kind < PROV_STEP__MAX);
	if (s->kind == PROV_STEP_FAILED) {
		assert_non_null(s->error);
		assert_true(s->errclass > PROV_ERR_NONE && s->errclass < PROV_ERR__MAX);
		assert_null(strstr(s->error, FX_SECRET));
		assert_true(strlen(s->error) < 400);
		for (const char *p = s->error; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		assert_null(s->state);
		assert_null(s->external_id);
		assert_int_equal(s->nresults, 0);
	} else {
		assert_null(s->error);
		assert_int_equal(s->errclass, PROV_ERR_NONE);
	}
	if (s->kind == PROV_STEP_NEXT)
		assert_non_null(s->state);
	if (s->kind == PROV_STEP_DONE)
		assert_null(s->state);
	if (s->state != NULL) {
		json_object *st = json_tokener_parse(s->state);

		assert_true(json_object_is_type(st, json_type_object));
		json_object_put(st);
	}
	for (size_t i = 0; i < s->nresults; i++) {
		assert_non_null(s->ids[i]);
		if (b != NULL && !fx_batch_has(b, s->ids[i]))
			fail_msg("result %zu has id \"%s\", which is not in the batch", i, s->ids[i]);
		fx_assert_consistent(&s->results[i]);
	}
}

static inline void
fx_async_parse(const char *state, long status, const char *body, size_t len, struct prov_step *s)
{
	memset(s, 0xa5, sizeof *s); /* parse must initialise all of it */
	assert_int_equal(fx_ops()->parse(state, status, body, len, s), AIGW_OK);
	fx_assert_step(NULL, s);
}

/* The engine's next move is possible: the state a step leaves (or the old
 * one, kept) builds the next request and a cancel. A hostile answer may
 * leave a state that build refuses (EINVAL: a results URL on another host),
 * never one it crashes on: strict is false for those. */
static inline void
fx_assert_continues(const struct fx_batch *b, const char *old_state, const struct prov_step *s,
		    bool strict)
{
	const char *next = s->state != NULL ? s->state : old_state;
	struct prov_http h;
	enum aigw_err err;

	if (s->kind == PROV_STEP_DONE || s->kind == PROV_STEP_FAILED)
		return;
	assert_non_null(next);
	err = fx_ops()->build(&b->cfg, b->model, next, b->items, b->n, &h);
	if (err != AIGW_OK && (strict || err != AIGW_EINVAL))
		fail_msg("build from state %s: %s", next, aigw_strerror(err));
	if (err == AIGW_OK)
		assert_non_null(h.url);
	else
		assert_null(h.url);
	prov_http_free(&h);
	err = fx_ops()->build_cancel(&b->cfg, next, &h);
	assert_true(err == AIGW_OK || err == AIGW_ENOTFOUND);
	if (err == AIGW_OK)
		assert_non_null(h.url);
	else
		assert_null(h.url);
	prov_http_free(&h);
}

/* ---- <case>.build.json ---- */

static inline enum aigw_err
fx_err_named(const char *name)
{
	if (strcmp(name, "EINVAL") == 0)
		return AIGW_EINVAL;
	if (strcmp(name, "ENOTFOUND") == 0)
		return AIGW_ENOTFOUND;
	fail_msg("unknown error name %s", name);
	return AIGW_OK;
}

static inline void
fx_async_test_build(void **state)
{
	const char *name = *state;
	char file[256];
	struct fx_batch b;
	json_object *want, *v, *headers;
	char *st;
	const char *model, *errname;
	bool cancel;
	struct prov_http h;
	enum aigw_err err;
	size_t n;

	fx_batch_load(&b);
	snprintf(file, sizeof file, "%s.build.json", name);
	want = fx_json(FX_PROVIDER, file);
	st = fx_state_text(want, "state");
	model = fx_str(want, "model") ? fx_str(want, "model") : b.model;
	cancel = json_object_object_get_ex(want, "cancel", &v) && json_object_get_boolean(v);
	memset(&h, 0x5a, sizeof h);
	if (cancel)
		err = fx_ops()->build_cancel(&b.cfg, st, &h);
	else
		err = fx_ops()->build(&b.cfg, model, st, b.items, b.n, &h);
	if ((errname = fx_str(want, "error")) != NULL) {
		assert_int_equal(err, fx_err_named(errname));
		assert_null(h.url);
		assert_null(h.body);
		assert_int_equal(h.nheaders, 0);
		goto out;
	}
	if (err != AIGW_OK)
		fail_msg("build: %s", aigw_strerror(err));
	assert_string_equal(h.method ? h.method : "POST", fx_str(want, "method"));
	assert_string_equal(h.url, fx_str(want, "url"));
	assert_true(json_object_object_get_ex(want, "headers", &headers));
	n = json_object_array_length(headers);
	assert_int_equal(h.nheaders, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(h.headers[i],
				    json_object_get_string(json_object_array_get_idx(headers, i)));
	for (size_t i = n; i < PROV_MAX_HEADERS; i++)
		assert_null(h.headers[i]);
	if (fx_str(want, "body_file") != NULL) {
		size_t len;
		char *bytes = fx_read(FX_PROVIDER, fx_str(want, "body_file"), &len);

		assert_non_null(h.body);
		if (h.body_len != len || memcmp(h.body, bytes, len) != 0)
			fail_msg("body differs from %s\n got:  %.*s", fx_str(want, "body_file"),
				 (int)h.body_len, h.body);
		free(bytes);
	} else if (json_object_object_get_ex(want, "body", &v) && v != NULL) {
		json_object *got;

		assert_non_null(h.body);
		assert_int_equal(h.body_len, strlen(h.body));
		got = json_tokener_parse(h.body);
		assert_non_null(got);
		fx_assert_json_equal(got, v, "request body");
		json_object_put(got);
	} else {
		assert_null(h.body);
		assert_int_equal(h.body_len, 0);
	}
out:
	prov_http_free(&h);
	free(st);
	json_object_put(want);
	fx_batch_free(&b);
}

/* ---- <case>.body + <case>.expect.json ---- */

static inline void
fx_assert_result(const struct prov_result *r, const char *id, json_object *want, size_t i)
{
	json_object *v;

	if (strcmp(id, fx_str(want, "id")) != 0)
		fail_msg("result %zu is for %s, want %s", i, id, fx_str(want, "id"));
	assert_true(json_object_object_get_ex(want, "ok", &v));
	if (json_object_get_boolean(v) != r->ok)
		fail_msg("result %zu: ok is %d (error: %s)", i, r->ok, r->error ? r->error : "-");
	if (r->ok) {
		json_object *cites = NULL;

		assert_string_equal(r->text, fx_str(want, "text"));
		if (fx_str(want, "model") != NULL)
			assert_string_equal(r->model, fx_str(want, "model"));
		else
			assert_null(r->model);
		assert_true(json_object_object_get_ex(want, "input_tokens", &v));
		assert_int_equal(r->input_tokens, json_object_get_int64(v));
		assert_true(json_object_object_get_ex(want, "output_tokens", &v));
		assert_int_equal(r->output_tokens, json_object_get_int64(v));
		assert_true(json_object_object_get_ex(want, "citations", &cites));
		if (cites == NULL)
			assert_null(r->citations);
		else
			fx_assert_json_equal(r->citations, cites, "citations");
	} else {
		assert_string_equal(prov_errclass_name(r->errclass), fx_str(want, "errclass"));
		assert_string_equal(r->error, fx_str(want, "error"));
	}
}

/* Parses <name>.body in the state its expect file names and checks the
 * step; *step is left for the caller (prov_step_free it). */
static inline void
fx_async_case(const struct fx_batch *b, const char *name, struct prov_step *step)
{
	char file[256];
	char *body, *st, *after;
	size_t len, n = 0;
	json_object *want, *v, *results = NULL;

	snprintf(file, sizeof file, "%s.body", name);
	body = fx_read(FX_PROVIDER, file, &len);
	snprintf(file, sizeof file, "%s.expect.json", name);
	want = fx_json(FX_PROVIDER, file);
	st = fx_state_text(want, "state");
	assert_true(json_object_object_get_ex(want, "status", &v));
	fx_async_parse(st, json_object_get_int(v), body, len, step);
	fx_assert_step(b, step);
	if (strcmp(fx_kind_names[step->kind], fx_str(want, "kind")) != 0)
		fail_msg("%s: the step is %s, want %s (error: %s)", name, fx_kind_names[step->kind],
			 fx_str(want, "kind"), step->error ? step->error : "-");
	if (step->kind == PROV_STEP_FAILED) {
		assert_string_equal(prov_errclass_name(step->errclass), fx_str(want, "errclass"));
		assert_string_equal(step->error, fx_str(want, "error"));
	}
	after = fx_state_text(want, "state_after");
	fx_assert_state_equal(step->state, after, "state_after");
	if (fx_str(want, "external_id") != NULL)
		assert_string_equal(step->external_id, fx_str(want, "external_id"));
	else
		assert_null(step->external_id);
	if (json_object_object_get_ex(want, "results", &results) && results != NULL)
		n = json_object_array_length(results);
	if (step->nresults != n)
		fail_msg("%s: %zu results, want %zu", name, step->nresults, n);
	for (size_t i = 0; i < n; i++)
		fx_assert_result(&step->results[i], step->ids[i], json_object_array_get_idx(results, i), i);
	fx_assert_continues(b, st, step, true);
	free(after);
	free(st);
	json_object_put(want);
	free(body);
}

static inline void
fx_async_test_parse(void **state)
{
	struct fx_batch b;
	struct prov_step step;

	fx_batch_load(&b);
	fx_async_case(&b, *state, &step);
	prov_step_free(&step);
	fx_batch_free(&b);
}

/*
 * A whole batch, answer by answer: each case's recorded state must be the
 * one the case before it left (or kept, on WAIT), the request built from it
 * must be the one its <case>.build.json fixture names when there is one,
 * and at DONE every custom_id of the batch has exactly one result.
 */
static inline void
fx_async_test_chain(void **state)
{
	const char *const *names = *state;
	struct fx_batch b;
	char *current = NULL;
	size_t seen = 0;
	bool *has;

	fx_batch_load(&b);
	has = calloc(b.n, sizeof *has);
	assert_non_null(has);
	for (size_t k = 0; names[k] != NULL; k++) {
		char file[256];
		json_object *want;
		char *st;
		struct prov_step step;

		snprintf(file, sizeof file, "%s.expect.json", names[k]);
		want = fx_json(FX_PROVIDER, file);
		st = fx_state_text(want, "state");
		fx_assert_state_equal(st, current, names[k]);
		fx_async_case(&b, names[k], &step);
		assert_true(step.kind != PROV_STEP_FAILED);
		if (names[k + 1] == NULL)
			assert_int_equal(step.kind, PROV_STEP_DONE);
		else
			assert_true(step.kind != PROV_STEP_DONE);
		for (size_t i = 0; i < step.nresults; i++) {
			for (size_t j = 0; j < b.n; j++) {
				if (strcmp(step.ids[i], b.items[j].custom_id) == 0) {
					if (has[j])
						fail_msg("%s has a second result", step.ids[i]);
					has[j] = true;
					seen++;
				}
			}
		}
		if (step.state != NULL) {
			free(current);
			current = strdup(step.state);
			assert_non_null(current);
		}
		prov_step_free(&step);
		free(st);
		json_object_put(want);
	}
	assert_int_equal(seen, b.n);
	free(has);
	free(current);
	fx_batch_free(&b);
}

/* ---- hostile answers and states: never a crash, a leak or a bad step ---- */

static inline void
fx_async_test_hostile(void **state)
{
	static const long statuses[] = { 200, 200, 200, 202, 400, 401, 429, 500 };
	const char *name = *state;
	char file[256];
	struct fx_batch b;
	json_object *want;
	char *body, *st;
	size_t len, end;
	uint32_t seed = 4242;
	bool object_answer;
	struct prov_step s;

	fx_batch_load(&b);
	snprintf(file, sizeof file, "%s.body", name);
	body = fx_read(FX_PROVIDER, file, &len);
	snprintf(file, sizeof file, "%s.expect.json", name);
	want = fx_json(FX_PROVIDER, file);
	st = fx_state_text(want, "state");
	/* a JSON object answer cut short is never read as the answer */
	object_answer = body[0] == '{' && strcmp(fx_str(want, "kind"), "done") != 0;
	end = len;
	while (end > 0 && (body[end - 1] == '\n' || body[end - 1] == ' '))
		end--;
	for (size_t n = 0; n < end; n++) {
		char *copy = malloc(n ? n : 1); /* exact size, so ASan sees any overread */

		assert_non_null(copy);
		memcpy(copy, body, n);
		fx_async_parse(st, 200, copy, n, &s);
		fx_assert_step(&b, &s);
		if (object_answer) {
			assert_int_equal(s.kind, PROV_STEP_FAILED);
			assert_int_equal(s.errclass, PROV_ERR_BAD_BODY);
		}
		prov_step_free(&s);
		fx_async_parse(st, 503, copy, n, &s);
		assert_int_equal(s.kind, PROV_STEP_FAILED);
		assert_int_equal(s.errclass, PROV_ERR_SERVER);
		prov_step_free(&s);
		free(copy);
	}
	for (int i = 0; i < 2000; i++) {
		size_t n = i % 3 == 0 ? fx_rand(&seed) % 600 : len;
		char *copy = malloc(n ? n : 1);
		long status = statuses[i % 8];

		assert_non_null(copy);
		if (i % 3 == 0) {
			for (size_t j = 0; j < n; j++)
				copy[j] = (char)fx_rand(&seed);
		} else {
			memcpy(copy, body, n);
			for (int k = 0; k < 1 + i % 4; k++)
				copy[fx_rand(&seed) % n] = "{}[]\",:0a\\\n\x00\x01\xff"[fx_rand(&seed) % 15];
		}
		/* a mutated id is no longer the batch's: fx_async_parse checks the rest */
		fx_async_parse(st, status, copy, n, &s);
		if (status >= 400)
			assert_int_equal(s.kind, PROV_STEP_FAILED);
		fx_assert_continues(&b, st, &s, false);
		prov_step_free(&s);
		free(copy);
	}
	fx_async_parse(st, 200, NULL, 0, &s);
	prov_step_free(&s);
	fx_async_parse(st, 500, NULL, 0, &s);
	assert_int_equal(s.errclass, PROV_ERR_SERVER);
	prov_step_free(&s);
	free(st);
	json_object_put(want);
	free(body);
	fx_batch_free(&b);
}

/* States the adapter never wrote: build and cancel refuse them, parse
 * fails them without retrying (the stored state will not get better). */
static inline void
fx_async_test_bad_states(void **state)
{
	static const char *const bad[] = {
		"", "null", "1", "\"poll\"", "[]", "{}", "{\"step\":5}", "{\"step\":null}",
		"{\"step\":\"nonsense\",\"batch_id\":\"b\",\"snapshot_id\":\"s\"}",
		"{\"step\":\"poll\"}", "{\"step\":\"poll\",\"batch_id\":\"\",\"snapshot_id\":\"\"}",
		"{\"step\":\"poll\",\"batch_id\":7,\"snapshot_id\":7}",
		"{\"step\":\"poll\",\"batch_id\":\"b\"", "{\"step\":\"poll\"}}",
	};
	struct fx_batch b;
	struct prov_http h;
	struct prov_step s;

	(void)state;
	fx_batch_load(&b);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&h, 0x5a, sizeof h);
		assert_int_equal(fx_ops()->build(&b.cfg, b.model, bad[i], b.items, b.n, &h), AIGW_EINVAL);
		assert_null(h.url);
		memset(&h, 0x5a, sizeof h);
		assert_int_equal(fx_ops()->build_cancel(&b.cfg, bad[i], &h), AIGW_EINVAL);
		assert_null(h.url);
		fx_async_parse(bad[i], 200, "{}", 2, &s);
		assert_int_equal(s.kind, PROV_STEP_FAILED);
		assert_int_equal(s.errclass, PROV_ERR_CLIENT);
		prov_step_free(&s);
	}
	fx_batch_free(&b);
}

#define FX_ASYNC_BUILD(name) { "build " name, fx_async_test_build, NULL, NULL, (void *)(name) }
#define FX_ASYNC_PARSE(name) { "parse " name, fx_async_test_parse, NULL, NULL, (void *)(name) }
#define FX_ASYNC_HOSTILE(name) \
	{ "hostile " name, fx_async_test_hostile, NULL, NULL, (void *)(name) }
#define FX_ASYNC_CHAIN(names) { "chain " #names, fx_async_test_chain, NULL, NULL, (void *)(names) }

#endif
