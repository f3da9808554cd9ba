/* test_pace.c: the claim size follows the length of the worker's turns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker/pace.h"

static void
test_starts_at_most_pace_start(void **state)
{
	(void)state;
	assert_int_equal(pace_claim_start(1000), PACE_START);
	assert_int_equal(pace_claim_start(10), 10);
	assert_int_equal(pace_claim_start(0), 1);
}

static void
test_short_turns_grow_it_to_chats_max(void **state)
{
	long limit = pace_claim_start(1000);

	(void)state;
	/* 15 s lease: a turn under 750 ms is short. */
	limit = pace_claim_next(limit, 749, 15, 1000);
	assert_int_equal(limit, PACE_START + PACE_STEP);
	for (int i = 0; i < 20; i++)
		limit = pace_claim_next(limit, 10, 15, 1000);
	assert_int_equal(limit, 1000);
}

static void
test_a_long_turn_halves_it(void **state)
{
	(void)state;
	/* Over a tenth of a 15 s lease. */
	assert_int_equal(pace_claim_next(1000, 1501, 15, 1000), 500);
	assert_int_equal(pace_claim_next(3, 5000, 15, 1000), 1);
	assert_int_equal(pace_claim_next(1, 5000, 15, 1000), 1);
}

static void
test_a_middling_turn_keeps_it(void **state)
{
	(void)state;
	assert_int_equal(pace_claim_next(400, 750, 15, 1000), 400);
	assert_int_equal(pace_claim_next(400, 1500, 15, 1000), 400);
	/* A lower AIGW_WORKER_CHATS_MAX than the limit bounds it. */
	assert_int_equal(pace_claim_next(400, 1000, 15, 50), 50);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_at_most_pace_start),
		cmocka_unit_test(test_short_turns_grow_it_to_chats_max),
		cmocka_unit_test(test_a_long_turn_halves_it),
		cmocka_unit_test(test_a_middling_turn_keeps_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
