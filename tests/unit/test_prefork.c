/* test_prefork.c: when aigw-fcgi's parent starts a dead child again
 * (prefork_child_died): at once after a long life, later and later after
 * quick deaths in a row, never sooner than the bound, and not at all
 * after too many. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/prefork.h"

static void
test_late_death_restarts_at_once(void **state)
{
	struct prefork_child c = { .pid = 42, .started = 100.0, .quick_deaths = 3 };

	(void)state;
	assert_true(prefork_child_died(&c, 100.0 + PREFORK_STABLE_S));
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.quick_deaths, 0);
	assert_true(c.restart_at == 100.0 + PREFORK_STABLE_S);
}

static void
test_quick_deaths_back_off_then_give_up(void **state)
{
	struct prefork_child c = { 0 };
	double now = 1000.0, last_delay = 0.0;

	(void)state;
	for (unsigned n = 1; n < PREFORK_QUICK_DEATHS_MAX; n++) {
		double delay;

		c.pid = 7;
		c.started = now;
		now += 0.01; /* died at once */
		assert_true(prefork_child_died(&c, now));
		assert_int_equal(c.quick_deaths, n);
		delay = c.restart_at - now;
		/* Never a tight loop, never beyond the bound, and never
		 * shorter than the delay before. */
		assert_true(delay >= PREFORK_DELAY_MIN_S - 1e-9);
		assert_true(delay <= PREFORK_DELAY_MAX_S + 1e-9);
		assert_true(delay >= last_delay);
		if (n == 1)
			assert_true(delay < PREFORK_DELAY_MIN_S + 1e-9);
		if (n == 2)
			assert_true(delay > 2 * PREFORK_DELAY_MIN_S - 1e-9);
		last_delay = delay;
		now = c.restart_at;
	}
	c.started = now;
	assert_false(prefork_child_died(&c, now + 1.0));
}

static void
test_long_life_forgets_quick_deaths(void **state)
{
	struct prefork_child c = { .started = 0.0 };

	(void)state;
	assert_true(prefork_child_died(&c, 1.0));
	assert_true(prefork_child_died(&c, 2.0));
	assert_int_equal(c.quick_deaths, 2);
	c.started = c.restart_at;
	assert_true(prefork_child_died(&c, c.started + PREFORK_STABLE_S + 5.0));
	assert_int_equal(c.quick_deaths, 0);
	c.started = c.restart_at;
	assert_true(prefork_child_died(&c, c.started + 1.0));
	assert_int_equal(c.quick_deaths, 1);
	assert_true(c.restart_at - (c.started + 1.0) < PREFORK_DELAY_MIN_S + 1e-9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_late_death_restarts_at_once),
		cmocka_unit_test(test_quick_deaths_back_off_then_give_up),
		cmocka_unit_test(test_long_life_forgets_quick_deaths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
