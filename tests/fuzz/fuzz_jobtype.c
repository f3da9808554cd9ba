/*
 * fuzz_jobtype.c: job type declarations through jobtype_parse(), and an
 * accepted type on through what the worker does with it: a template
 * context, every step's prompt rendered after the steps before it, each
 * step's output from answers that all succeeded, and the job's output.
 *
 * Input: the raw declaration, with its length (not NUL-terminated).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "jobtype/jobtype.h"
#include "jobtype/output.h"
#include "jobtype/template.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

/* Every call of step s answered with one JSON object: a step's output must
 * come of that, JSON step or not. NULL only on ENOMEM. */
static json_object *
step_output(const struct jobtype_step *s)
{
	json_object *results = json_object_new_object(), *out = NULL;
	char errbuf[512];

	for (size_t k = 0; results != NULL && k < s->ncalls; k++) {
		json_object *r = json_tokener_parse("{\"ok\":true,\"text\":\"```json\\n{\\\"a\\\":[1]}\\n```\"}");

		if (r == NULL || json_object_object_add(results, s->calls[k].provider, r) != 0) {
			json_object_put(r);
			json_object_put(results);
			return NULL;
		}
	}
	if (results != NULL &&
	    jobs_step_output(s, NULL, results, &out, errbuf, sizeof errbuf) == AIGW_EINVAL)
		abort(); /* every call succeeded with a JSON object */
	json_object_put(results);
	return out;
}

static void
run(const struct jobtype *t)
{
	json_object *outputs[JOBTYPE_MAX_STEPS] = { NULL };
	json_object *input = json_object_new_object(), *ctx, *job;
	char field[96], msg[256], errbuf[256];
	int progress = 0;

	if (input == NULL)
		return;
	/* {} is valid input exactly when no field is required. */
	bool any_required = false;

	for (size_t i = 0; i < t->ninputs; i++)
		any_required = any_required || t->inputs[i].required;
	if ((jobtype_check_input(t, input, field, sizeof field, msg, sizeof msg) == AIGW_OK) ==
	    any_required)
		abort();
	for (size_t i = 0; i < t->nsteps; i++) {
		const struct jobtype_step *s = &t->steps[i];
		char *prompt = NULL;

		if (s->prompt == NULL || s->ncalls < 1 || s->ncalls > JOBTYPE_MAX_FANOUT)
			abort();
		if (jobs_context(t, input, outputs, &ctx) != AIGW_OK)
			break;
		/* Only missing parts of an earlier step's output may fail. */
		if (template_render(s->prompt, ctx, &prompt, errbuf, sizeof errbuf) == AIGW_OK &&
		    prompt == NULL)
			abort();
		free(prompt);
		prompt = NULL;
		if (s->system != NULL &&
		    template_render(s->system, ctx, &prompt, errbuf, sizeof errbuf) == AIGW_OK) {
			char *sys = jobs_json_system(prompt);

			free(sys);
		}
		free(prompt);
		json_object_put(ctx);
		outputs[i] = step_output(s);
		progress = jobs_progress_after(t, i, progress);
		if (progress < 1 || progress > 100 || (i + 1 < t->nsteps && progress > 99))
			abort();
	}
	if (progress != 100 && outputs[t->nsteps - 1] != NULL)
		abort(); /* the last step reaches 100 */
	if (t->output_step >= t->nsteps)
		abort();
	if (outputs[t->output_step] != NULL) {
		job = jobs_job_output(&t->steps[t->output_step], outputs[t->output_step]);
		json_object_put(job);
	}
	for (size_t i = 0; i < t->nsteps; i++)
		json_object_put(outputs[i]);
	json_object_put(input);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jobtype *t = NULL;
	char errbuf[512];
	enum aigw_err err;

	errbuf[0] = '\0';
	err = jobtype_parse((const char *)data, size, &t, errbuf, sizeof errbuf);
	if (err == AIGW_ECONFIG && errbuf[0] == '\0')
		abort(); /* a refused declaration must say why */
	if (err != AIGW_OK) {
		if (t != NULL)
			abort(); /* a failure hands nothing out */
		return 0;
	}
	if (t->nsteps < 1 || t->nsteps > JOBTYPE_MAX_STEPS || t->steps[t->nsteps - 1].progress != 100)
		abort();
	run(t);
	jobtype_free(t);
	return 0;
}
