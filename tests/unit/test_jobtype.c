/* test_jobtype.c: job type declarations: the shipped ones, broken ones, inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/util.h"
#include "jobtype/jobtype.h"

#define GOOD_STEPS \
	"\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":50,\"provider\":\"openai\"," \
	"\"model\":\"gpt-4o\",\"prompt\":\"{{input.x}}\"},{\"name\":\"b\",\"status_message\":\"B\"," \
	"\"progress\":100,\"fanout\":[{\"provider\":\"gemini\",\"model\":\"g\"},{\"provider\":\"mock\"," \
	"\"model\":\"m\"}],\"prompt\":\"{{steps.a.text}}\",\"output\":\"json\"}]"

/* Inputs for the search settings, and a step template for them: SEARCH_TYPE
 * takes the keys of a single-call step a and of a fan-out step b. */
#define SEARCH_INPUTS \
	"\"input\":{\"q\":{\"type\":\"string\",\"required\":true}," \
	"\"ws\":{\"type\":\"boolean\"},\"loc\":{\"type\":\"string\",\"max_length\":2}," \
	"\"plat\":{\"type\":\"array\",\"max_length\":4},\"n\":{\"type\":\"integer\"}}"
#define SEARCH_TYPE(a_keys, b_keys) \
	"{\"name\":\"s\"," SEARCH_INPUTS ",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\"," \
	"\"progress\":50,\"provider\":\"openai\",\"model\":\"gpt-4o\",\"prompt\":\"{{input.q}}\"" \
	a_keys "},{\"name\":\"b\",\"status_message\":\"B\",\"progress\":100,\"fanout\":[" \
	"{\"provider\":\"openai\",\"model\":\"o\"},{\"provider\":\"gemini\",\"model\":\"g\"}," \
	"{\"provider\":\"perplexity\",\"model\":\"sonar\"}],\"prompt\":\"{{steps.a.text}}\"" b_keys "}]}"

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

/* The input named name in t. */
static const struct jobtype_input *
input_named(const struct jobtype *t, const char *name)
{
	for (size_t i = 0; i < t->ninputs; i++)
		if (strcmp(t->inputs[i].name, name) == 0)
			return &t->inputs[i];
	fail_msg("no input %s", name);
	return NULL;
}

static struct jobtype *
parse_ok(const char *json)
{
	struct jobtype *t = NULL;
	char err[512] = "";

	if (jobtype_parse(json, strlen(json), &t, err, sizeof err) != AIGW_OK)
		fail_msg("%s", err);
	return t;
}

static void
test_search_settings(void **state)
{
	struct jobtype *t;

	(void)state;
	/* Without the keys: no search, no location, every call. */
	t = parse_ok(SEARCH_TYPE("", ""));
	for (size_t i = 0; i < 2; i++) {
		assert_false(t->steps[i].websearch);
		assert_null(t->steps[i].websearch_input);
		assert_string_equal(t->steps[i].location, "");
		assert_null(t->steps[i].location_input);
		assert_null(t->steps[i].platforms_input);
	}
	assert_false(t->steps[0].fanout);
	assert_true(t->steps[1].fanout);
	assert_false(input_named(t, "loc")->country_code);
	jobtype_free(t);

	/* Fixed values on a single call; inputs on the fan-out. */
	t = parse_ok(SEARCH_TYPE(",\"websearch\":true,\"location\":\"de\"",
				 ",\"websearch\":\"{{input.ws}}\",\"location\":\"{{ input.loc }}\","
				 "\"platforms\":\"{{input.plat}}\""));
	assert_true(t->steps[0].websearch);
	assert_null(t->steps[0].websearch_input);
	assert_string_equal(t->steps[0].location, "DE");
	assert_null(t->steps[0].location_input);
	assert_ptr_equal(t->steps[1].websearch_input, input_named(t, "ws"));
	assert_ptr_equal(t->steps[1].location_input, input_named(t, "loc"));
	assert_string_equal(t->steps[1].location, "");
	assert_ptr_equal(t->steps[1].platforms_input, input_named(t, "plat"));
	assert_true(input_named(t, "loc")->country_code);
	assert_false(input_named(t, "q")->country_code);
	jobtype_free(t);

	/* false and null are the same as leaving the key out; a fan-out of
	 * one call may still take its platforms from an input. */
	t = parse_ok(SEARCH_TYPE(",\"websearch\":false,\"location\":null", ",\"platforms\":null"));
	assert_false(t->steps[0].websearch);
	assert_string_equal(t->steps[0].location, "");
	assert_null(t->steps[1].platforms_input);
	jobtype_free(t);
	t = parse_ok("{\"name\":\"one\",\"input\":{\"p\":{\"type\":\"array\"}},\"steps\":[{\"name\":\"a\","
		     "\"status_message\":\"A\",\"progress\":100,\"fanout\":[{\"provider\":\"openai\","
		     "\"model\":\"m\"}],\"prompt\":\"x\",\"platforms\":\"{{input.p}}\"}]}");
	assert_non_null(t->steps[0].platforms_input);
	jobtype_free(t);
}

static void
test_search_settings_faults(void **state)
{
	(void)state;
	/* websearch: not a boolean or a reference to a boolean input */
	expect_fault(SEARCH_TYPE(",\"websearch\":1", ""), "steps.a.websearch must be true, false or");
	expect_fault(SEARCH_TYPE(",\"websearch\":\"yes\"", ""), "steps.a.websearch must be true, false or");
	expect_fault(SEARCH_TYPE("", ",\"websearch\":\"{{input.nope}}\""),
		     "steps.b.websearch: {{input.nope}} names no declared input field");
	expect_fault(SEARCH_TYPE("", ",\"websearch\":\"{{input.loc}}\""),
		     "steps.b.websearch: input.loc must be of type boolean, not string");
	expect_fault(SEARCH_TYPE("", ",\"websearch\":\"{{steps.a.text}}\""),
		     "steps.b.websearch must be \"{{input.NAME}}\"");
	/* location: not a country code or a reference to a string input */
	expect_fault(SEARCH_TYPE(",\"location\":\"deu\"", ""), "steps.a.location must be a two-letter");
	expect_fault(SEARCH_TYPE(",\"location\":\"d1\"", ""), "steps.a.location must be a two-letter");
	expect_fault(SEARCH_TYPE(",\"location\":\"\"", ""), "steps.a.location must be a two-letter");
	expect_fault(SEARCH_TYPE(",\"location\":49", ""), "steps.a.location must be a two-letter");
	expect_fault(SEARCH_TYPE(",\"location\":\"{{input.nope}}\"", ""),
		     "steps.a.location: {{input.nope}} names no declared input field");
	expect_fault(SEARCH_TYPE(",\"location\":\"{{input.ws}}\"", ""),
		     "steps.a.location: input.ws must be of type string, not boolean");
	/* platforms: only a reference to an array input, only on a fan-out */
	expect_fault(SEARCH_TYPE(",\"platforms\":\"{{input.plat}}\"", ""),
		     "steps.a.platforms is only for a step with a fanout");
	expect_fault(SEARCH_TYPE("", ",\"platforms\":[\"openai\"]"),
		     "steps.b.platforms must be \"{{input.NAME}}\" naming an array input");
	expect_fault(SEARCH_TYPE("", ",\"platforms\":\"openai\""),
		     "steps.b.platforms must be \"{{input.NAME}}\" naming an array input");
	expect_fault(SEARCH_TYPE("", ",\"platforms\":\"{{input.nope}}\""),
		     "steps.b.platforms: {{input.nope}} names no declared input field");
	expect_fault(SEARCH_TYPE("", ",\"platforms\":\"{{input.q}}\""),
		     "steps.b.platforms: input.q must be of type array, not string");
}

/* A load error names the file, the step and the key. */
static void
test_search_fault_names_the_file(void **state)
{
	const char *json = SEARCH_TYPE("", ",\"platforms\":\"{{input.n}}\"");
	char dir[] = "/tmp/aigw-jobtype-XXXXXX", path[256], err[1024] = "";
	struct jobtype_registry *r = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/bad.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(json, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(jobtype_load_dir(dir, &r, err, sizeof err), AIGW_ECONFIG);
	assert_null(r);
	unlink(path);
	rmdir(dir);
	if (strstr(err, "/bad.json: steps.b.platforms: input.n must be of type array") == NULL)
		fail_msg("unexpected: %s", err);
}

static void
test_check_search_input(void **state)
{
	struct { const char *input; enum aigw_err want; const char *field; const char *msg; } cases[] = {
		{ "{\"q\":\"x\"}", AIGW_OK, "", NULL },
		{ "{\"q\":\"x\",\"ws\":true,\"loc\":\"de\",\"plat\":[\"perplexity\",\"openai\"]}", AIGW_OK, "", NULL },
		{ "{\"q\":\"x\",\"ws\":false,\"loc\":\"US\",\"plat\":[\"gemini\"]}", AIGW_OK, "", NULL },
		{ "{\"q\":\"x\",\"loc\":null,\"plat\":null}", AIGW_OK, "", NULL },
		{ "{\"q\":\"x\",\"ws\":\"true\"}", AIGW_EINVAL, "input.ws", "input.ws must be of type boolean" },
		/* location: exactly two ASCII letters */
		{ "{\"q\":\"x\",\"loc\":\"d\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":\"\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":\"deu\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":\"d1\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":\"\\u00e9\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":\"d@\"}", AIGW_EINVAL, "input.loc",
		  "input.loc must be a two-letter ISO country code" },
		{ "{\"q\":\"x\",\"loc\":[\"de\"]}", AIGW_EINVAL, "input.loc", "input.loc must be of type string" },
		/* platforms: distinct providers of step b's fan-out, at least one */
		{ "{\"q\":\"x\",\"plat\":[]}", AIGW_EINVAL, "input.plat",
		  "input.plat must name at least one of openai, gemini, perplexity" },
		{ "{\"q\":\"x\",\"plat\":[\"openai\",1]}", AIGW_EINVAL, "input.plat",
		  "input.plat[1] must be a provider name, one of openai, gemini, perplexity" },
		{ "{\"q\":\"x\",\"plat\":[\"openai\",\"gemini\",\"openai\"]}", AIGW_EINVAL, "input.plat",
		  "input.plat names openai twice" },
		{ "{\"q\":\"x\",\"plat\":[\"anthropic\"]}", AIGW_EINVAL, "input.plat",
		  "input.plat[0] must be one of openai, gemini, perplexity" },
		{ "{\"q\":\"x\",\"plat\":[\"openai\",\"OpenAI\"]}", AIGW_EINVAL, "input.plat",
		  "input.plat[1] must be one of openai, gemini, perplexity" },
		{ "{\"q\":\"x\",\"plat\":[\"openai\\u0000x\"]}", AIGW_EINVAL, "input.plat",
		  "input.plat[0] must be one of openai, gemini, perplexity" },
		{ "{\"q\":\"x\",\"plat\":\"openai\"}", AIGW_EINVAL, "input.plat", "input.plat must be of type array" },
		/* the declared length first, then what the step asks */
		{ "{\"q\":\"x\",\"plat\":[\"openai\",\"gemini\",\"perplexity\",\"openai\",\"gemini\"]}",
		  AIGW_EINVAL, "input.plat", "input.plat may hold at most 4 items" },
	};
	struct jobtype *t = parse_ok(SEARCH_TYPE("", ",\"websearch\":\"{{input.ws}}\",\"location\":\"{{input.loc}}\","
					      "\"platforms\":\"{{input.plat}}\""));
	char field[96], msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *in = json_tokener_parse(cases[i].input);

		assert_non_null(in);
		msg[0] = '\0';
		if (jobtype_check_input(t, in, field, sizeof field, msg, sizeof msg) != cases[i].want)
			fail_msg("case %zu (%s): %s", i, cases[i].input, msg);
		assert_string_equal(field, cases[i].field);
		if (cases[i].msg != NULL)
			assert_string_equal(msg, cases[i].msg);
		json_object_put(in);
	}
	jobtype_free(t);

	/* The same inputs without the steps' references: only their types count. */
	t = parse_ok(SEARCH_TYPE("", ""));
	for (size_t i = 0; i < 3; i++) {
		const char *loose[] = { "{\"q\":\"x\",\"loc\":\"d\"}", "{\"q\":\"x\",\"plat\":[]}",
					"{\"q\":\"x\",\"plat\":[\"anthropic\",\"anthropic\"]}" };
		json_object *in = json_tokener_parse(loose[i]);

		assert_int_equal(jobtype_check_input(t, in, field, sizeof field, msg, sizeof msg), AIGW_OK);
		json_object_put(in);
	}
	jobtype_free(t);
}

/* A long name repeated in a message is cut between characters, so the
 * message stays UTF-8 (it reaches logs and JSON answers). */
static void
test_long_names_cut_on_a_character(void **state)
{
	char name[128], json[1024], err[512];
	const char *fmt[] = {
		"{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		"\"provider\":\"%s\",\"model\":\"m\",\"prompt\":\"p\"}]}",
		"{\"name\":\"t\",\"output_step\":\"%s\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\","
		"\"progress\":100,\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"p\"}]}",
		"{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\",\"progress\":100,"
		"\"provider\":\"openai\",\"model\":\"m\",\"prompt\":\"{{input.%s}}\"}]}",
	};

	(void)state;
	/* "x" then e-acutes: byte 64 is the second byte of a character */
	name[0] = 'x';
	for (int i = 0; i < 50; i++)
		memcpy(name + 1 + 2 * i, "\xc3\xa9", 2);
	name[101] = '\0';
	for (size_t k = 0; k < sizeof fmt / sizeof fmt[0]; k++) {
		struct jobtype *t = NULL;

		snprintf(json, sizeof json, fmt[k], name);
		err[0] = '\0';
		assert_int_equal(jobtype_parse(json, strlen(json), &t, err, sizeof err), AIGW_ECONFIG);
		if (utf8_length(err, strlen(err)) < 0)
			fail_msg("not UTF-8: '%s'", err);
		assert_non_null(strstr(err, "x\xc3\xa9"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_declaration),
		cmocka_unit_test(test_broken_declarations),
		cmocka_unit_test(test_long_names_cut_on_a_character),
		cmocka_unit_test(test_shipped_types_load),
		cmocka_unit_test(test_check_input),
		cmocka_unit_test(test_search_settings),
		cmocka_unit_test(test_search_settings_faults),
		cmocka_unit_test(test_search_fault_names_the_file),
		cmocka_unit_test(test_check_search_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
