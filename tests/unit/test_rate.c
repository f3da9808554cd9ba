/* test_rate.c: what a call counts as against a tokens-per-minute limit, and
 * when a provider is paused after a 429 with Retry-After (a fake clock). */
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

/* A 429 with Retry-After at now pauses until now + Retry-After; nothing
 * else pauses; a pause is capped. The clock is an argument. */
static void
test_pause_end(void **state)
{
	const int64_t now = 5000;

	(void)state;
	assert_int_equal(rate_pause_end(429, 2, now), 7000);
	assert_int_equal(rate_pause_end(429, 1, 0), 1000);
	assert_int_equal(rate_pause_end(429, -1, now), 0);   /* no Retry-After */
	assert_int_equal(rate_pause_end(429, 0, now), 0);
	assert_int_equal(rate_pause_end(503, 2, now), 0);    /* only a 429 pauses */
	assert_int_equal(rate_pause_end(529, 30, now), 0);
	assert_int_equal(rate_pause_end(200, 2, now), 0);
	assert_int_equal(rate_pause_end(429, 86400, now), now + RATE_PAUSE_MAX_MS);
	assert_int_equal(rate_pause_end(429, 2147483647L, now), now + RATE_PAUSE_MAX_MS);
}

/* A call waits until the pause ends; merging with what another worker
 * set keeps the later end. */
static void
test_pause_wait_and_merge(void **state)
{
	(void)state;
	assert_int_equal(rate_pause_wait(0, 100), 0);        /* never paused */
	assert_int_equal(rate_pause_wait(7000, 5000), 2000);
	assert_int_equal(rate_pause_wait(7000, 6999), 1);
	assert_int_equal(rate_pause_wait(7000, 7000), 0);    /* over at its end */
	assert_int_equal(rate_pause_wait(7000, 9000), 0);
	assert_int_equal(rate_pause_merge(0, 0, 5000), 0);
	assert_int_equal(rate_pause_merge(0, 1500, 5000), 6500);
	assert_int_equal(rate_pause_merge(7000, 1500, 5000), 7000); /* ours ends later */
	assert_int_equal(rate_pause_merge(6000, 1500, 5000), 6500);
	assert_int_equal(rate_pause_merge(6000, 10L * RATE_PAUSE_MAX_MS, 5000),
			 5000 + RATE_PAUSE_MAX_MS);
}

/* The shared pauses are read at most once a RATE_PAUSE_READ_MS. */
static void
test_pause_read_due(void **state)
{
	(void)state;
	assert_true(rate_pause_read_due(false, 0, 0));
	assert_true(rate_pause_read_due(false, 5000, 5000));
	assert_false(rate_pause_read_due(true, 5000, 5000));
	assert_false(rate_pause_read_due(true, 5000, 5000 + RATE_PAUSE_READ_MS - 1));
	assert_true(rate_pause_read_due(true, 5000, 5000 + RATE_PAUSE_READ_MS));
	assert_true(rate_pause_read_due(true, 5000, 4000)); /* a clock that went back */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_bytes_over_four_plus_max_tokens),
		cmocka_unit_test(test_input_rounds_up),
		cmocka_unit_test(test_counts_bytes_not_characters),
		cmocka_unit_test(test_nothing_missing_is_counted),
		cmocka_unit_test(test_pause_end),
		cmocka_unit_test(test_pause_wait_and_merge),
		cmocka_unit_test(test_pause_read_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
