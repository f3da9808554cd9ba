/* test_turns.c: a stored conversation read back as a call's turns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "providers/provider.h"

/* Parses text and reads it as turns: the result of prov_turns_from_json. */
static enum aigw_err
read_turns(const char *text, json_object **conv, struct prov_turn **turns, size_t *n)
{
	*conv = json_tokener_parse(text);
	return prov_turns_from_json(*conv, turns, n);
}

static void
test_a_conversation_keeps_its_order(void **state)
{
	json_object *conv;
	struct prov_turn *turns;
	size_t n;

	(void)state;
	assert_int_equal(read_turns("[{\"role\":\"user\",\"content\":\"Hi\"},"
				    "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
				    "{\"role\":\"user\",\"content\":\"And now?\"}]",
				    &conv, &turns, &n), AIGW_OK);
	assert_int_equal(n, 3);
	assert_string_equal(turns[0].role, "user");
	assert_string_equal(turns[0].content, "Hi");
	assert_string_equal(turns[1].role, "assistant");
	assert_string_equal(turns[1].content, "Hello!");
	assert_string_equal(turns[2].content, "And now?");
	free(turns);
	json_object_put(conv);
}

static void
test_what_is_not_a_conversation_is_refused(void **state)
{
	static const char *const bad[] = {
		"[]",
		"{\"role\":\"user\",\"content\":\"Hi\"}",
		"[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Yes\"}]",
		"[{\"role\":\"system\",\"content\":\"Be brief\"},{\"role\":\"user\",\"content\":\"Hi\"}]",
		"[{\"role\":\"user\",\"content\":\"\"}]",
		"[{\"role\":\"user\",\"content\":7}]",
		"[{\"role\":\"user\"}]",
		"[\"Hi\"]",
		"null",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_object *conv;
		struct prov_turn *turns = (struct prov_turn *)&conv; /* must be reset */
		size_t n = 99;

		assert_int_equal(read_turns(bad[i], &conv, &turns, &n), AIGW_EINVAL);
		assert_null(turns);
		assert_int_equal(n, 0);
		json_object_put(conv);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_conversation_keeps_its_order),
		cmocka_unit_test(test_what_is_not_a_conversation_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
