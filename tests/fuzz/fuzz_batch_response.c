/*
 * fuzz_batch_response.c: the async providers' parse ops (openai-batch and
 * anthropic-batch JSONL result files, snapshot record arrays, batch
 * objects, list pages) on hostile answers, from every state the recorded
 * exchanges of tests/fixtures/providers/<provider>/ reach.
 *
 * Input: byte 0 picks the provider (among the async ones, in table order:
 * openai-batch, anthropic-batch, snapshot), byte 1 the state (the "state"
 * of the provider's *.expect.json fixtures in file name order, JSON null
 * standing for no state), bytes 2-3 are the HTTP status (big-endian), the
 * rest is the body, passed with its length and not NUL-terminated, as the
 * transfer engine hands it over.
 *
 * Beyond memory safety, the step must be what the engine relies on: a
 * known kind, a failure with its class and sentence, results whose ids and
 * texts are UTF-8 PostgreSQL accepts, and a new state that is a JSON
 * object the adapter's own build reads safely (with the fixtures' batch).
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/provider.h"

#define PROVIDERS_MAX 8
#define STATES_MAX 256

struct async_target {
	const struct prov_desc *desc;
	char *states[STATES_MAX];        /* NULL: no state (JSON null) */
	size_t nstates;
	json_object *batch;              /* batch.json: owns the strings below */
	struct prov_config cfg;
	const char *model;
	struct prov_batch_item items[16];
	size_t nitems;
};

static struct async_target targets[PROVIDERS_MAX];
static size_t ntargets;

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *
str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* batch.json's calls, for the build check; false when it cannot be read. */
static bool
load_batch(struct async_target *t, const char *dir)
{
	char path[4096];
	json_object *items;

	if ((size_t)snprintf(path, sizeof path, "%s/batch.json", dir) >= sizeof path)
		return false;
	t->batch = json_object_from_file(path);
	if (t->batch == NULL || !json_object_object_get_ex(t->batch, "items", &items) ||
	    !json_object_is_type(items, json_type_array))
		return false;
	t->cfg.api_key = str_of(t->batch, "api_key");
	t->cfg.base_url = str_of(t->batch, "base_url");
	t->model = str_of(t->batch, "model");
	for (size_t i = 0; i < json_object_array_length(items) && t->nitems < 16; i++) {
		json_object *it = json_object_array_get_idx(items, i), *v;
		struct prov_batch_item *b = &t->items[t->nitems];

		b->custom_id = str_of(it, "custom_id");
		b->call.model = t->model;
		b->call.message = str_of(it, "message");
		b->call.system = str_of(it, "system");
		b->call.location = str_of(it, "location");
		b->call.max_tokens = json_object_object_get_ex(it, "max_tokens", &v)
					     ? json_object_get_int(v) : 1024;
		b->call.websearch = json_object_object_get_ex(it, "websearch", &v) &&
				    json_object_get_boolean(v);
		b->call.json_output = json_object_object_get_ex(it, "json_output", &v) &&
				      json_object_get_boolean(v);
		if (b->custom_id == NULL || b->call.message == NULL)
			return false;
		t->nitems++;
	}
	return t->cfg.api_key != NULL && t->cfg.base_url != NULL && t->model != NULL &&
	       t->nitems > 0;
}

/* The states of every <case>.expect.json of dir, in file name order. */
static void
load_states(struct async_target *t, const char *dir)
{
	DIR *d = opendir(dir);
	char *names[STATES_MAX];
	size_t n = 0;
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && n < STATES_MAX) {
		size_t len = strlen(e->d_name);

		if (len > 12 && strcmp(e->d_name + len - 12, ".expect.json") == 0 &&
		    (names[n] = strdup(e->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		json_object *fx, *st;

		/* One state a file, so that seeds can name a fixture by its
		 * place (tests/fuzz/make-seeds.py); none given is no state. */
		fx = (size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path
			     ? json_object_from_file(path) : NULL;
		st = NULL;
		if (fx != NULL)
			json_object_object_get_ex(fx, "state", &st);
		t->states[t->nstates++] = st == NULL ? NULL :
			xstrdup(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
		json_object_put(fx);
		free(names[i]);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct prov_desc *all;
	size_t n;

	fuzz_init(argc, argv);
	all = prov_all(&n);
	for (size_t i = 0; i < n && ntargets < PROVIDERS_MAX; i++) {
		struct async_target *t = &targets[ntargets];
		char dir[4096];

		if (all[i].kind != PROV_ASYNC)
			continue;
		t->desc = &all[i];
		snprintf(dir, sizeof dir, "%s/tests/fixtures/providers/%s", fuzz_srcdir(),
			 all[i].name);
		load_states(t, dir);
		if (t->nstates == 0 || !load_batch(t, dir)) {
			fprintf(stderr, "fuzz: no fixtures for %s in %s\n", all[i].name, dir);
			exit(1);
		}
		ntargets++;
	}
	if (ntargets == 0)
		abort();
	return 0;
}

static void
check_result(const char *id, const struct prov_result *r)
{
	if (id == NULL || !fuzz_utf8_ok(id) || !fuzz_utf8_ok(r->text) || !fuzz_utf8_ok(r->model) ||
	    !fuzz_utf8_ok(r->error))
		abort();
	if (r->ok) {
		if (r->text == NULL || r->errclass != PROV_ERR_NONE || r->error != NULL)
			abort();
	} else if (r->error == NULL || r->errclass == PROV_ERR_NONE ||
		   (unsigned)r->errclass >= PROV_ERR__MAX) {
		abort();
	}
	if (r->input_tokens < -1 || r->output_tokens < -1)
		abort();
}

/*
 * A new state is a JSON object, and building the next request from it is
 * memory-safe. build may still refuse it (AIGW_EINVAL): a results URL an
 * answer names on another host than the configured one never gets the
 * key, and the engine fails that batch with a sentence.
 */
static void
check_state(const struct async_target *t, const struct prov_step *s)
{
	json_object *st;
	struct prov_http req;

	if (s->state == NULL)
		return;
	st = json_tokener_parse(s->state);
	if (!json_object_is_type(st, json_type_object))
		abort();
	json_object_put(st);
	if (s->kind != PROV_STEP_NEXT && s->kind != PROV_STEP_WAIT)
		return;
	memset(&req, 0, sizeof req);
	if (t->desc->async->build(&t->cfg, t->model, s->state, t->items, t->nitems, &req) == AIGW_OK &&
	    req.url == NULL)
		abort();
	prov_http_free(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct async_target *t;
	struct prov_step step;
	const char *state;
	char *body;
	long status;

	if (size < 4)
		return 0;
	t = &targets[data[0] % ntargets];
	state = t->states[data[1] % t->nstates];
	status = (long)data[2] << 8 | data[3];
	/* An exact copy, so that a read past the body is caught. */
	body = malloc(size - 4 > 0 ? size - 4 : 1);
	if (body == NULL)
		return 0;
	if (size > 4)
		memcpy(body, data + 4, size - 4);
	memset(&step, 0, sizeof step);
	if (t->desc->async->parse(state, status, body, size - 4, &step) == AIGW_OK) {
		if ((unsigned)step.kind >= PROV_STEP__MAX)
			abort();
		if (step.kind == PROV_STEP_FAILED &&
		    (step.error == NULL || !fuzz_utf8_ok(step.error) ||
		     step.errclass == PROV_ERR_NONE || (unsigned)step.errclass >= PROV_ERR__MAX))
			abort();
		if (!fuzz_utf8_ok(step.external_id))
			abort();
		for (size_t i = 0; i < step.nresults; i++)
			check_result(step.ids[i], &step.results[i]);
		check_state(t, &step);
	}
	prov_step_free(&step);
	free(body);
	return 0;
}
