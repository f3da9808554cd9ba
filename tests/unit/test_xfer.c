/* test_xfer.c: the retry timing policy, with chosen randomness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker/xfer.h"

static void
test_backoff_grows_and_caps(void **state)
{
	(void)state;
	/* the top of the jitter range is the full backoff */
	assert_int_equal(xfer_retry_delay_ms(1, -1, 500, 30000, UINT32_MAX), 500);
	assert_int_equal(xfer_retry_delay_ms(2, -1, 500, 30000, UINT32_MAX), 1000);
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, UINT32_MAX), 2000);
	assert_int_equal(xfer_retry_delay_ms(10, -1, 500, 30000, UINT32_MAX), 30000);
	assert_int_equal(xfer_retry_delay_ms(1000, -1, 500, 30000, UINT32_MAX), 30000);
}

static void
test_full_jitter(void **state)
{
	(void)state;
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, 0), 0);
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, UINT32_MAX / 2), 1000);
}

static void
test_retry_after_is_a_floor(void **state)
{
	(void)state;
	assert_int_equal(xfer_retry_delay_ms(1, 1, 500, 30000, 0), 1000);
	assert_int_equal(xfer_retry_delay_ms(1, 0, 500, 30000, UINT32_MAX), 500);
	assert_int_equal(xfer_retry_delay_ms(5, 2, 500, 30000, UINT32_MAX), 8000);
	assert_int_equal(xfer_retry_delay_ms(1, 60, 500, 30000, UINT32_MAX), 60000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_full_jitter),
		cmocka_unit_test(test_retry_after_is_a_floor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
