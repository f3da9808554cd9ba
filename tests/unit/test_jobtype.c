/* test_jobtype.c: job type declarations: the shipped ones, broken ones, inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs/jobtype.h"

#define GOOD_STEPS \
	"\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":50,\"provider\":\"openai\"," \
	"\"model\":\"gpt-4o\",\"prompt\":\"{{input.x}}\"},{\"name\":\"b\",\"status_message\":\"B\"," \
	"\"progress\":100,\"fanout\":[{\"provider\":\"gemini\",\"model\":\"g\"},{\"provider\":\"mock\"," \
	"\"model\":\"m\"}],\"prompt\":\"{{steps.a.text}}\",\"output\":\"json\"}]"

static void
expect_fault(const char *json, const char *fragment)
{
	struct jobtype *t = NULL;
	char err[512] = "";

	assert_int_equal(jobtype_parse(json, strlen(json), &t, err, sizeof err), AIGW_ECONFIG);
	assert_null(t);
	if (strstr(err, fragment) == NULL)
		fail_msg("expected '%s' in '%s'", fragment, err);
}

static void
test_good_declaration(void **state)
{
	const char *json = "{\"name\":\"t1\",\"timeout_s\":30,\"attempts\":2,\"poll_interval_s\":4,"
			   "\"input\":{\"x\":{\"type\":\"string\",\"required\":true,\"max_length\":5}},"
			   GOOD_STEPS "}";
	struct jobtype *t = NULL;
	char err[512] = "";

	(void)state;
	assert_int_equal(jobtype_parse(json, strlen(json), &t, err, sizeof err), AIGW_OK);
	assert_string_equal(t->name, "t1");
	assert_int_equal(t->timeout_s, 30);
	assert_int_equal(t->attempts, 2);
	assert_int_equal(t->poll_interval_s, 4);
	assert_int_equal(t->ninputs, 1);
	assert_int_equal(t->inputs[0].max_length, 5);
	assert_true(t->inputs[0].required);
	assert_int_equal(t->nsteps, 2);
	assert_int_equal(t->steps[0].ncalls, 1);
	assert_string_equal(t->steps[0].calls[0].provider, "openai");
	assert_int_equal(t->steps[1].ncalls, 2);
	assert_true(t->steps[1].output_json);
	assert_false(t->steps[0].output_json);
	assert_int_equal(t->output_step, 1);
	jobtype_free(t);
}

static void
test_broken_declarations(void **state)
{
	(void)state;
	expect_fault("{", "not valid JSON");
	expect_fault("[]", "JSON object");
	expect_fault("{\"name\":\"Bad Name\"," GOOD_STEPS "}", "name");
	expect_fault("{\"name\":\"t\"}", "steps");
	expect_fault("{\"name\":\"t\",\"steps\":[]}", "steps");
	expect_fault("{\"name\":\"t\",\"timeout_s\":0," GOOD_STEPS "}", "timeout_s");
	expect_fault("{\"name\":\"t\",\"input\":{\"x\":{\"type\":\"blob\"}}," GOOD_STEPS "}", "input.x.type");
	/* a template naming an undeclared input */
	expect_fault("{\"name\":\"t\"," GOOD_STEPS "}", "{{input.x}}");
	/* a template naming a later or missing step */
	expect_fault("{\"name\":\"t\",\"input\":{\"x\":{\"type\":\"string\"}},\"steps\":[{\"name\":\"a\","
		     "\"status_message\":\"A\",\"progress\":100,\"provider\":\"openai\",\"model\":\"m\","
		     "\"prompt\":\"{{steps.a.text}}\"}]}", "no earlier step");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		     "\"provider\":\"nope\",\"model\":\"m\",\"prompt\":\"p\"}]}", "not a known provider");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":90,"
		     "\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\"}]}", "100");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":60,"
		     "\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\"},{\"name\":\"b\",\"status_message\":\"B\","
		     "\"progress\":50,\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\"}]}", "rise");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		     "\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"{{oops\"}]}", "unclosed");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		     "\"fanout\":[{\"provider\":\"openai\",\"model\":\"m\"},{\"provider\":\"openai\",\"model\":\"n\"}],"
		     "\"prompt\":\"p\"}]}", "twice");
	expect_fault("{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		     "\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\",\"output\":\"xml\"}]}", "output");
	expect_fault("{\"name\":\"t\",\"output_step\":\"zz\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\","
		     "\"progress\":100,\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\"}]}", "output_step");
}

static void
test_shipped_types_load(void **state)
{
	const char *srcdir = getenv("AIGW_SRCDIR");
	const char *names[] = { "competitor_analysis", "market_research", "brief_generation",
				"option_analysis", "evidence_search", "multi_agent", "prompt_analysis" };
	struct jobtype_registry *r = NULL;
	char dir[1024], err[512] = "";

	(void)state;
	if (srcdir == NULL)
		skip();
	snprintf(dir, sizeof dir, "%s/jobtypes", srcdir);
	if (jobtype_load_dir(dir, &r, err, sizeof err) != AIGW_OK)
		fail_msg("%s", err);
	assert_int_equal(jobtype_count(r), 7);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_non_null(jobtype_find(r, names[i]));
	assert_null(jobtype_find(r, "nope"));
	jobtype_registry_free(r);
}

static void
test_check_input(void **state)
{
	const char *json = "{\"name\":\"t1\",\"input\":{\"x\":{\"type\":\"string\",\"required\":true,"
			   "\"max_length\":5},\"n\":{\"type\":\"integer\"},\"l\":{\"type\":\"array\",\"max_length\":2}},"
			   GOOD_STEPS "}";
	struct { const char *input; enum aigw_err want; const char *field; } cases[] = {
		{ "{\"x\":\"abc\"}", AIGW_OK, "" },
		{ "{\"x\":\"abc\",\"n\":3,\"l\":[1,2]}", AIGW_OK, "" },
		{ "{}", AIGW_EINVAL, "input.x" },
		{ "{\"x\":\"\"}", AIGW_EINVAL, "input.x" },
		{ "{\"x\":\"abcdef\"}", AIGW_EINVAL, "input.x" },
		{ "{\"x\":5}", AIGW_EINVAL, "input.x" },
		{ "{\"x\":\"a\",\"n\":\"3\"}", AIGW_EINVAL, "input.n" },
		{ "{\"x\":\"a\",\"l\":[1,2,3]}", AIGW_EINVAL, "input.l" },
		{ "{\"x\":\"a\",\"other\":1}", AIGW_EINVAL, "input.other" },
		{ "[]", AIGW_EINVAL, "input" },
	};
	struct jobtype *t = NULL;
	char err[512], field[96], msg[256];

	(void)state;
	assert_int_equal(jobtype_parse(json, strlen(json), &t, err, sizeof err), AIGW_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *in = json_tokener_parse(cases[i].input);

		assert_non_null(in);
		assert_int_equal(jobtype_check_input(t, in, field, sizeof field, msg, sizeof msg), cases[i].want);
		assert_string_equal(field, cases[i].field);
		json_object_put(in);
	}
	jobtype_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_declaration),
		cmocka_unit_test(test_broken_declarations),
		cmocka_unit_test(test_shipped_types_load),
		cmocka_unit_test(test_check_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
