/* test_rate.c: what a call counts as against a tokens-per-minute limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker/rate.h"

static void
test_input_bytes_over_four_plus_max_tokens(void **state)
{
	struct prov_call c = { .model = "m", .message = "12345678", .max_tokens = 100 };

	(void)state;
	assert_int_equal(rate_call_tokens(&c), 2 + 100);
	c.system = "1234";
	assert_int_equal(rate_call_tokens(&c), 3 + 100);
}

static void
test_input_rounds_up(void **state)
{
	struct prov_call c = { .model = "m", .message = "a", .max_tokens = 1 };

	(void)state;
	assert_int_equal(rate_call_tokens(&c), 1 + 1);
	c.message = "abcde";
	assert_int_equal(rate_call_tokens(&c), 2 + 1);
	c.message = "abc";
	c.system = "d"; /* rounded once over both, not once each */
	assert_int_equal(rate_call_tokens(&c), 1 + 1);
}

static void
test_counts_bytes_not_characters(void **state)
{
	/* four characters, twelve bytes of UTF-8 */
	struct prov_call c = { .model = "m", .message = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xa7",
			       .max_tokens = 10 };

	(void)state;
	assert_int_equal(rate_call_tokens(&c), 3 + 10);
}

static void
test_nothing_missing_is_counted(void **state)
{
	struct prov_call c = { .model = "m" };

	(void)state;
	assert_int_equal(rate_call_tokens(&c), 0);
	c.max_tokens = -5; /* never from a caller; still not negative */
	assert_int_equal(rate_call_tokens(&c), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_bytes_over_four_plus_max_tokens),
		cmocka_unit_test(test_input_rounds_up),
		cmocka_unit_test(test_counts_bytes_not_characters),
		cmocka_unit_test(test_nothing_missing_is_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
