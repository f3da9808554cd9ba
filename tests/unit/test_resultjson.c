/* test_resultjson.c: a call's result as stored (worker/resultjson.h): the
 * usage and cost of a cancelled call are shown as a final result shows
 * them, null where the provider did not say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "worker/resultjson.h"

static json_object *
parsed(char *text)
{
	json_object *o;

	assert_non_null(text);
	o = json_tokener_parse(text);
	assert_non_null(o);
	free(text);
	return o;
}

/* worker_usage_json's members equal those of the final result with the
 * same counts. */
static void
check_same(const char *provider, const char *model, long in, long out)
{
	struct prov_result pr = { .ok = true, .text = (char *)"hi", .input_tokens = in,
				  .output_tokens = out };
	json_object *whole = parsed(worker_result_json(provider, model, false, &pr, 5, 1));
	json_object *usage = parsed(worker_usage_json(provider, model, in, out));
	json_object *a, *b;

	assert_int_equal(json_object_object_length(usage), 2);
	assert_true(json_object_object_get_ex(usage, "usage", &a));
	assert_true(json_object_object_get_ex(whole, "usage", &b));
	assert_true(json_object_equal(a, b));
	assert_true(json_object_object_get_ex(usage, "costUsd", &a));
	assert_true(json_object_object_get_ex(whole, "costUsd", &b));
	assert_true(json_object_equal(a, b));
	json_object_put(whole);
	json_object_put(usage);
}

static void
test_usage_as_in_a_result(void **state)
{
	(void)state;
	check_same("anthropic", "claude-3-5-haiku-latest", 12, 1);
	check_same("openai", "gpt-4o", 3, 40);
	check_same("gemini", "gemini-2.5-flash", 8, -1);
	check_same("mock", "anything", 2, 2);
}

static void
test_unknown_counts_are_null(void **state)
{
	json_object *o = parsed(worker_usage_json("anthropic", "claude-3-5-haiku-latest", 12, -1));
	json_object *usage, *v;

	(void)state;
	assert_true(json_object_object_get_ex(o, "usage", &usage));
	assert_true(json_object_object_get_ex(usage, "inputTokens", &v));
	assert_int_equal(json_object_get_int64(v), 12);
	assert_true(json_object_object_get_ex(usage, "outputTokens", &v));
	assert_null(v);
	/* No cost without both counts. */
	assert_true(json_object_object_get_ex(o, "costUsd", &v));
	assert_null(v);
	json_object_put(o);
	o = parsed(worker_usage_json("anthropic", "claude-3-5-haiku-latest", 12, 1));
	assert_true(json_object_object_get_ex(o, "costUsd", &v));
	assert_true(json_object_get_double(v) > 0);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_as_in_a_result),
		cmocka_unit_test(test_unknown_counts_are_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
