/* test_hostwin.c: a provider host's congestion window, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker/hostwin.h"

/* AIGW_PROVIDER_WINDOW_START's default. */
#define HOSTWIN_START 128

static void
test_starts_small_and_never_past_max(void **state)
{
	struct hostwin w;

	(void)state;
	hostwin_init(&w, 4096, HOSTWIN_START);
	assert_int_equal(hostwin_limit(&w), HOSTWIN_START);
	hostwin_init(&w, 5, HOSTWIN_START);
	assert_int_equal(hostwin_limit(&w), 5);
	for (int i = 0; i < 100; i++)
		hostwin_update(&w, HOSTWIN_OK, 1, i, i + 1);
	assert_int_equal(hostwin_limit(&w), 5);
	hostwin_init(&w, 0, HOSTWIN_START);
	assert_int_equal(hostwin_limit(&w), 1);
	/* A larger start, as AIGW_PROVIDER_WINDOW_START may set. */
	hostwin_init(&w, 4096, 3000);
	assert_int_equal(hostwin_limit(&w), 3000);
}

static void
test_slow_start_doubles_each_round(void **state)
{
	struct hostwin w;
	int64_t now = 1000;

	(void)state;
	hostwin_init(&w, 4096, HOSTWIN_START);
	/* A round: as many calls end well as the window allowed. */
	for (int round = 0; round < 3; round++) {
		long n = hostwin_limit(&w);

		for (long i = 0; i < n; i++)
			hostwin_update(&w, HOSTWIN_OK, n, now, now + 200);
		now += 200;
	}
	assert_int_equal(hostwin_limit(&w), HOSTWIN_START * 8);
}

static void
test_overload_halves_once_a_round(void **state)
{
	struct hostwin w;

	(void)state;
	hostwin_init(&w, 4096, HOSTWIN_START);
	/* Every call of a round times out: one cut, not one per call. */
	for (int i = 0; i < HOSTWIN_START; i++)
		assert_int_equal(hostwin_update(&w, HOSTWIN_OVERLOAD, HOSTWIN_START - i, 1000,
						31000 + i), i == 0);
	assert_int_equal(hostwin_limit(&w), HOSTWIN_START / 2);
	/* A call sent after the cut that times out cuts again. */
	assert_true(hostwin_update(&w, HOSTWIN_OVERLOAD, HOSTWIN_START / 2, 31001, 62000));
	assert_int_equal(hostwin_limit(&w), HOSTWIN_START / 4);
	/* Never below one. */
	for (int64_t t = 62001; t < 62040; t += 2)
		hostwin_update(&w, HOSTWIN_OVERLOAD, HOSTWIN_START, t, t + 1);
	assert_int_equal(hostwin_limit(&w), 1);
}

static void
test_a_cut_halves_what_was_in_flight(void **state)
{
	struct hostwin w;

	(void)state;
	/* A window far above the calls there are: halving it alone would
	 * change nothing. */
	hostwin_init(&w, 4096, HOSTWIN_START);
	hostwin_update(&w, HOSTWIN_OVERLOAD, 40, 0, 10);
	assert_int_equal(hostwin_limit(&w), 20);
}

static void
test_after_a_cut_grows_by_one_a_round(void **state)
{
	struct hostwin w;

	(void)state;
	hostwin_init(&w, 4096, HOSTWIN_START);
	hostwin_update(&w, HOSTWIN_OVERLOAD, 32, 0, 10);
	assert_int_equal(hostwin_limit(&w), 16);
	for (int i = 0; i < 16; i++)
		hostwin_update(&w, HOSTWIN_OK, 16, 20, 30);
	assert_int_equal(hostwin_limit(&w), 16); /* 16.97...: not yet 17 */
	hostwin_update(&w, HOSTWIN_OK, 16, 20, 30);
	assert_int_equal(hostwin_limit(&w), 17);
}

static void
test_signals(void **state)
{
	(void)state;
	assert_int_equal(hostwin_signal_of(200, PROV_ERR_NONE), HOSTWIN_OK);
	assert_int_equal(hostwin_signal_of(400, PROV_ERR_NONE), HOSTWIN_OK);
	assert_int_equal(hostwin_signal_of(500, PROV_ERR_NONE), HOSTWIN_OK);
	assert_int_equal(hostwin_signal_of(200, PROV_ERR_BAD_BODY), HOSTWIN_OK);
	assert_int_equal(hostwin_signal_of(429, PROV_ERR_NONE), HOSTWIN_OVERLOAD);
	assert_int_equal(hostwin_signal_of(503, PROV_ERR_NONE), HOSTWIN_OVERLOAD);
	assert_int_equal(hostwin_signal_of(529, PROV_ERR_NONE), HOSTWIN_OVERLOAD);
	assert_int_equal(hostwin_signal_of(0, PROV_ERR_TIMEOUT), HOSTWIN_OVERLOAD);
	assert_int_equal(hostwin_signal_of(0, PROV_ERR_NETWORK), HOSTWIN_OVERLOAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_small_and_never_past_max),
		cmocka_unit_test(test_slow_start_doubles_each_round),
		cmocka_unit_test(test_overload_halves_once_a_round),
		cmocka_unit_test(test_a_cut_halves_what_was_in_flight),
		cmocka_unit_test(test_after_a_cut_grows_by_one_a_round),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
