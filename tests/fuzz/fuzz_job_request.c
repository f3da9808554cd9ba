/*
 * fuzz_job_request.c: POST /api/jobs bodies through job_request_parse()
 * against the shipped job types, the Idempotency-Key check, and an accepted
 * job on into what the worker does first without a database: the template
 * context and each step's prompt.
 *
 * Input: "<Idempotency-Key>\n<body>", or just "<body>" when there is no
 * newline at all (a JSON body on one line). The body is passed with its
 * length, not NUL-terminated, as the handler passes it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/jobs.h"
#include "jobtype/output.h"
#include "jobtype/template.h"

static struct jobtype_registry *registry;
static struct jobtype *fallback;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	fuzz_load_jobtypes(&registry, &fallback);
	return 0;
}

/* Renders every step's templates from the job's context with no step done
 * yet: the first step must render (its placeholders name only inputs,
 * which the context always holds); later ones may miss an earlier step. */
static void
render_steps(const struct jobtype *t, json_object *input)
{
	json_object *outputs[JOBTYPE_MAX_STEPS] = { NULL };
	json_object *ctx = NULL;
	char errbuf[256];

	if (jobs_context(t, input, outputs, &ctx) != AIGW_OK)
		return;
	for (size_t i = 0; i < t->nsteps; i++) {
		const struct template *tpl[2] = { t->steps[i].prompt, t->steps[i].system };

		for (size_t k = 0; k < 2; k++) {
			char *out = NULL;
			enum aigw_err err;

			if (tpl[k] == NULL)
				continue;
			err = template_render(tpl[k], ctx, &out, errbuf, sizeof errbuf);
			if (i == 0 && err == AIGW_ENOTFOUND)
				abort(); /* the context lacks a declared input */
			free(out);
		}
	}
	json_object_put(ctx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_request jr;
	struct http_field_error fe;
	char *key = NULL;
	enum aigw_err err;

	if (memchr(data, '\n', size) != NULL) {
		key = fuzz_take(&data, &size, '\n');
		if (key == NULL)
			return 0;
		(void)job_idempotency_key_valid(key);
	}
	memset(&fe, 0, sizeof fe);
	err = job_request_parse((const char *)data, size, registry, &jr, &fe);
	/* A 400 must say why, in text a JSON client can read. */
	if (err == AIGW_EINVAL && (fe.code == NULL || fe.msg[0] == '\0' || !fuzz_utf8_ok(fe.msg) ||
				   !fuzz_utf8_ok(fe.field)))
		abort();
	if (err == AIGW_OK) {
		/* An accepted job's texts go to PostgreSQL: a refusal there
		 * would be a 503 for the client's mistake. */
		if (jr.type == NULL || jr.input_json == NULL || jr.steps_json == NULL ||
		    jr.fingerprint == NULL || !fuzz_utf8_ok(jr.input_json) ||
		    !fuzz_utf8_ok(jr.fingerprint))
			abort();
		render_steps(jr.type, jr.input);
		job_request_free(&jr);
	} else if (fallback != NULL) {
		/* No registry: check the body's input against the inline type,
		 * as job_request_parse would have after finding it. */
		json_object *root = http_parse_json((const char *)data, size, &fe), *input;
		char field[96], msg[256];

		if (json_object_object_get_ex(root, "input", &input) &&
		    jobtype_check_input(fallback, input, field, sizeof field, msg, sizeof msg) == AIGW_OK)
			render_steps(fallback, input);
		json_object_put(root);
	}
	free(key);
	return 0;
}
