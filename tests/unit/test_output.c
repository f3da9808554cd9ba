/* test_output.c: step outputs, job outputs, template contexts, progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobtype/jobtype.h"
#include "jobtype/output.h"
#include "jobtype/template.h"

static const char type_json[] =
	"{\"name\": \"t\", \"timeout_s\": 60, \"attempts\": 2,"
	" \"input\": {\"q\": {\"type\": \"string\", \"required\": true},"
	"            \"opt\": {\"type\": \"string\"}},"
	" \"steps\": ["
	"  {\"name\": \"one\", \"status_message\": \"1\", \"progress\": 30,"
	"   \"provider\": \"openai\", \"model\": \"gpt-4o\", \"prompt\": \"{{input.q}} {{input.opt}}\"},"
	"  {\"name\": \"fan\", \"status_message\": \"2\", \"progress\": 60, \"output\": \"json\","
	"   \"fanout\": [{\"provider\": \"openai\", \"model\": \"gpt-4o\"},"
	"              {\"provider\": \"gemini\", \"model\": \"gemini-2.5-flash\"}],"
	"   \"prompt\": \"{{steps.one.text}}\"},"
	"  {\"name\": \"last\", \"status_message\": \"3\", \"progress\": 100, \"output\": \"json\","
	"   \"provider\": \"anthropic\", \"model\": \"claude\", \"prompt\": \"{{steps.fan.json.openai.k}}\"}"
	" ]}";

static struct jobtype *
load_type(void)
{
	struct jobtype *t = NULL;
	char err[512] = "";

	if (jobtype_parse(type_json, strlen(type_json), &t, err, sizeof err) != AIGW_OK)
		fail_msg("type: %s", err);
	return t;
}

static char *
to_text(json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	assert_non_null(s);
	return s;
}

static void
test_answer_json(void **state)
{
	json_object *v;

	(void)state;
	v = jobs_answer_json("  {\"a\": 1}\n");
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_object));
	json_object_put(v);
	v = jobs_answer_json("```json\n{\"a\": [1, 2]}\n```\n");
	assert_non_null(v);
	json_object_put(v);
	v = jobs_answer_json("```\n[1]\n```");
	assert_non_null(v);
	json_object_put(v);
	/* Prose, prose around JSON, scalars, trailing junk, broken fences: none. */
	assert_null(jobs_answer_json("Here is the JSON: {\"a\": 1}"));
	assert_null(jobs_answer_json("{\"a\": 1} and more"));
	assert_null(jobs_answer_json("42"));
	assert_null(jobs_answer_json("\"text\""));
	assert_null(jobs_answer_json("{\"a\": 1"));
	assert_null(jobs_answer_json("```json\n{\"a\": 1}\n``` trailing"));
	assert_null(jobs_answer_json("```json\n{\"a\": 1}"));
	assert_null(jobs_answer_json(""));
	assert_null(jobs_answer_json(NULL));
}

static void
test_single_call_output(void **state)
{
	struct jobtype *t = load_type();
	json_object *results = json_tokener_parse(
		"{\"openai\": {\"ok\": true, \"text\": \"the answer\", \"latencyMs\": 5}}");
	json_object *out = NULL, *job = NULL;
	char why[256], *s;

	(void)state;
	assert_int_equal(jobs_step_output(&t->steps[0], NULL, results, &out, why, sizeof why), AIGW_OK);
	s = to_text(out);
	assert_string_equal(s, "{\"text\":\"the answer\",\"results\":{\"openai\":"
			       "{\"ok\":true,\"text\":\"the answer\",\"latencyMs\":5}}}");
	free(s);
	/* A text step's job output: its text and results, no "json". */
	job = jobs_job_output(&t->steps[0], out);
	s = to_text(job);
	assert_string_equal(s, "{\"text\":\"the answer\",\"results\":{\"openai\":"
			       "{\"ok\":true,\"text\":\"the answer\",\"latencyMs\":5}}}");
	free(s);
	json_object_put(job);
	json_object_put(out);
	json_object_put(results);
	jobtype_free(t);
}

static void
test_single_call_failure_names_the_provider(void **state)
{
	struct jobtype *t = load_type();
	json_object *results = json_tokener_parse(
		"{\"openai\": {\"ok\": false, \"error\": \"openai returned 401: bad key\"}}");
	json_object *out = NULL;
	char why[256];

	(void)state;
	assert_int_equal(jobs_step_output(&t->steps[0], NULL, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_null(out);
	assert_string_equal(why, "openai: openai returned 401: bad key");
	json_object_put(results);
	/* No result at all is a failure too. */
	results = json_object_new_object();
	assert_int_equal(jobs_step_output(&t->steps[0], NULL, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_string_equal(why, "openai: no answer");
	json_object_put(results);
	jobtype_free(t);
}

static void
test_fanout_partial_success(void **state)
{
	struct jobtype *t = load_type();
	json_object *results = json_tokener_parse(
		"{\"gemini\": {\"ok\": false, \"error\": \"gemini returned 503\"},"
		" \"openai\": {\"ok\": true, \"text\": \"```json\\n{\\\"k\\\": \\\"v\\\"}\\n```\"}}");
	json_object *out = NULL, *v;
	char why[256], *s;

	(void)state;
	assert_int_equal(jobs_step_output(&t->steps[1], NULL, results, &out, why, sizeof why), AIGW_OK);
	assert_true(json_object_object_get_ex(out, "text", &v));
	assert_string_equal(json_object_get_string(v),
			    "## openai (gpt-4o)\n\n```json\n{\"k\": \"v\"}\n```");
	assert_true(json_object_object_get_ex(out, "json", &v));
	s = to_text(v);
	assert_string_equal(s, "{\"openai\":{\"k\":\"v\"}}");
	free(s);
	json_object_put(out);
	json_object_put(results);

	/* All failed, or the answers are not JSON: the step fails. */
	results = json_tokener_parse(
		"{\"openai\": {\"ok\": true, \"text\": \"prose\"},"
		" \"gemini\": {\"ok\": false, \"error\": \"timeout\"}}");
	assert_int_equal(jobs_step_output(&t->steps[1], NULL, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_string_equal(why, "openai: the answer is not one JSON object; gemini: timeout");
	json_object_put(results);
	jobtype_free(t);
}

static void
test_json_step_job_output_is_the_json(void **state)
{
	struct jobtype *t = load_type();
	json_object *results = json_tokener_parse(
		"{\"anthropic\": {\"ok\": true, \"text\": \"{\\\"summary\\\": \\\"s\\\"}\"}}");
	json_object *out = NULL, *job;
	char why[256], *s;

	(void)state;
	assert_int_equal(jobs_step_output(&t->steps[2], NULL, results, &out, why, sizeof why), AIGW_OK);
	job = jobs_job_output(&t->steps[2], out);
	s = to_text(job);
	assert_string_equal(s, "{\"summary\":\"s\"}");
	free(s);
	json_object_put(job);
	json_object_put(out);
	json_object_put(results);
	jobtype_free(t);
}

static void
test_context_and_rendering(void **state)
{
	struct jobtype *t = load_type();
	json_object *input = json_tokener_parse("{\"q\": \"He said \\\"hi\\\"\"}");
	json_object *outputs[3] = { NULL, NULL, NULL };
	json_object *ctx = NULL;
	char err[256], *s = NULL;

	(void)state;
	outputs[0] = json_tokener_parse("{\"text\": \"first\"}");
	outputs[1] = json_tokener_parse("{\"text\": \"x\", \"json\": {\"openai\": {\"k\": [1, \"two\"]}}}");
	assert_int_equal(jobs_context(t, input, outputs, &ctx), AIGW_OK);
	/* An absent optional input renders empty, never fails the step. */
	assert_int_equal(template_render(t->steps[0].prompt, ctx, &s, err, sizeof err), AIGW_OK);
	assert_string_equal(s, "He said \"hi\" ");
	free(s);
	assert_int_equal(template_render(t->steps[1].prompt, ctx, &s, err, sizeof err), AIGW_OK);
	assert_string_equal(s, "first");
	free(s);
	/* JSON inside a prompt is compact JSON, escaped as JSON. */
	assert_int_equal(template_render(t->steps[2].prompt, ctx, &s, err, sizeof err), AIGW_OK);
	assert_string_equal(s, "[1,\"two\"]");
	free(s);
	json_object_put(ctx);

	/* A step whose output lacks what a later prompt names: not found. */
	json_object_put(outputs[1]);
	outputs[1] = json_tokener_parse("{\"text\": \"x\"}");
	assert_int_equal(jobs_context(t, input, outputs, &ctx), AIGW_OK);
	assert_int_equal(template_render(t->steps[2].prompt, ctx, &s, err, sizeof err),
			 AIGW_ENOTFOUND);
	assert_null(s);
	json_object_put(ctx);
	json_object_put(outputs[0]);
	json_object_put(outputs[1]);
	json_object_put(input);
	jobtype_free(t);
}

static void
test_json_system(void **state)
{
	char *s;

	(void)state;
	s = jobs_json_system(NULL);
	assert_string_equal(s, "Answer with one JSON object only, and no other text.");
	free(s);
	s = jobs_json_system("You are an analyst.");
	assert_string_equal(s, "You are an analyst.\n\nAnswer with one JSON object only, and no other text.");
	free(s);
}

static void
test_progress_rises_and_reaches_100_only_at_the_end(void **state)
{
	struct jobtype *t = load_type();

	(void)state;
	assert_int_equal(jobs_progress_after(t, 0, 0), 30);
	assert_int_equal(jobs_progress_after(t, 1, 30), 60);
	/* Never lower than what was shown already. */
	assert_int_equal(jobs_progress_after(t, 0, 45), 45);
	assert_int_equal(jobs_progress_after(t, 2, 60), 100);
	/* 100 is kept for the last step: an earlier step stops at 99. */
	assert_int_equal(jobs_progress_after(t, 1, 100), 99);
	jobtype_free(t);
}

/* A fan-out that takes web search, location and its platforms from the
 * input, after a single call with fixed settings. */
static const char search_json[] =
	"{\"name\": \"s\","
	" \"input\": {\"q\": {\"type\": \"string\", \"required\": true}, \"ws\": {\"type\": \"boolean\"},"
	"            \"loc\": {\"type\": \"string\"}, \"plat\": {\"type\": \"array\"}},"
	" \"steps\": ["
	"  {\"name\": \"fixed\", \"status_message\": \"1\", \"progress\": 50, \"provider\": \"openai\","
	"   \"model\": \"gpt-4o\", \"prompt\": \"{{input.q}}\", \"websearch\": true, \"location\": \"fr\"},"
	"  {\"name\": \"fan\", \"status_message\": \"2\", \"progress\": 100,"
	"   \"fanout\": [{\"provider\": \"openai\", \"model\": \"gpt-4o\"},"
	"              {\"provider\": \"gemini\", \"model\": \"gemini-2.5-flash\"},"
	"              {\"provider\": \"perplexity\", \"model\": \"sonar\"}],"
	"   \"prompt\": \"{{input.q}}\", \"websearch\": \"{{input.ws}}\", \"location\": \"{{input.loc}}\","
	"   \"platforms\": \"{{input.plat}}\"}"
	" ]}";

static struct jobtype *
load_search_type(void)
{
	struct jobtype *t = NULL;
	char err[512] = "";

	if (jobtype_parse(search_json, strlen(search_json), &t, err, sizeof err) != AIGW_OK)
		fail_msg("type: %s", err);
	return t;
}

static void
test_step_settings_from_the_input(void **state)
{
	struct jobtype *t = load_search_type();
	const struct jobtype_step *fixed = &t->steps[0], *fan = &t->steps[1];
	json_object *none = json_tokener_parse("{\"q\": \"x\"}");
	json_object *some = json_tokener_parse(
		"{\"q\": \"x\", \"ws\": true, \"loc\": \"de\", \"plat\": [\"perplexity\", \"openai\"]}");
	json_object *off = json_tokener_parse("{\"q\": \"x\", \"ws\": false, \"loc\": null, \"plat\": null}");
	char loc[3];

	(void)state;
	/* Fixed settings do not look at the input. */
	assert_true(jobs_step_websearch(fixed, none));
	jobs_step_location(fixed, some, loc);
	assert_string_equal(loc, "FR");
	assert_true(jobs_step_runs(fixed, some, 0));

	/* From the input: upper-cased location, only the listed calls. */
	assert_true(jobs_step_websearch(fan, some));
	jobs_step_location(fan, some, loc);
	assert_string_equal(loc, "DE");
	assert_true(jobs_step_runs(fan, some, 0));
	assert_false(jobs_step_runs(fan, some, 1));
	assert_true(jobs_step_runs(fan, some, 2));

	/* Absent or null: no search, no location, every call. */
	for (size_t k = 0; k < 2; k++) {
		json_object *in = k == 0 ? none : off;

		assert_false(jobs_step_websearch(fan, in));
		memcpy(loc, "XX", 3);
		jobs_step_location(fan, in, loc);
		assert_string_equal(loc, "");
		for (size_t i = 0; i < fan->ncalls; i++)
			assert_true(jobs_step_runs(fan, in, i));
	}
	json_object_put(none);
	json_object_put(some);
	json_object_put(off);
	jobtype_free(t);
}

static void
test_fanout_skips_calls_left_out(void **state)
{
	struct jobtype *t = load_search_type();
	const struct jobtype_step *fan = &t->steps[1];
	json_object *input = json_tokener_parse("{\"q\": \"x\", \"plat\": [\"openai\", \"perplexity\"]}");
	json_object *results = json_tokener_parse(
		"{\"openai\": {\"ok\": true, \"text\": \"A\"},"
		" \"perplexity\": {\"ok\": false, \"error\": \"perplexity returned 503\"}}");
	json_object *out = NULL, *v;
	char why[256];

	(void)state;
	/* Gemini was never started: neither a failure nor a result. */
	assert_int_equal(jobs_step_output(fan, input, results, &out, why, sizeof why), AIGW_OK);
	assert_true(json_object_object_get_ex(out, "text", &v));
	assert_string_equal(json_object_get_string(v), "## openai (gpt-4o)\n\nA");
	assert_true(json_object_object_get_ex(out, "results", &v));
	assert_int_equal(json_object_object_length(v), 2);
	assert_false(json_object_object_get_ex(v, "gemini", NULL));
	json_object_put(out);
	json_object_put(results);

	/* Every started call failed: the errors name only those. */
	results = json_tokener_parse(
		"{\"openai\": {\"ok\": false, \"error\": \"timeout\"},"
		" \"perplexity\": {\"ok\": false, \"error\": \"perplexity returned 503\"}}");
	assert_int_equal(jobs_step_output(fan, input, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_string_equal(why, "openai: timeout; perplexity: perplexity returned 503");
	/* Without the platforms input, the missing gemini is a failure. */
	assert_int_equal(jobs_step_output(fan, NULL, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_string_equal(why, "openai: timeout; gemini: no answer; perplexity: perplexity returned 503");
	json_object_put(results);
	json_object_put(input);

	/* Platforms that name none of the calls (a declaration changed under a
	 * stored job): nothing ran, and the error says why. */
	input = json_tokener_parse("{\"q\": \"x\", \"plat\": [\"anthropic\"]}");
	results = json_object_new_object();
	assert_int_equal(jobs_step_output(fan, input, results, &out, why, sizeof why), AIGW_EINVAL);
	assert_string_equal(why, "the input's platforms name none of the step's providers");
	json_object_put(results);
	json_object_put(input);
	jobtype_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_json),
		cmocka_unit_test(test_single_call_output),
		cmocka_unit_test(test_single_call_failure_names_the_provider),
		cmocka_unit_test(test_fanout_partial_success),
		cmocka_unit_test(test_json_step_job_output_is_the_json),
		cmocka_unit_test(test_context_and_rendering),
		cmocka_unit_test(test_json_system),
		cmocka_unit_test(test_step_settings_from_the_input),
		cmocka_unit_test(test_fanout_skips_calls_left_out),
		cmocka_unit_test(test_progress_rises_and_reaches_100_only_at_the_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
