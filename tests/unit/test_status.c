/* test_status.c: every status has one stored name that parses back to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db/status.h"

static void
test_names_round_trip(void **state)
{
	(void)state;
	for (int i = 0; i < DB_STATUS_COUNT; i++) {
		enum db_status s = DB_STATUS_COUNT;
		const char *name = db_status_name((enum db_status)i);

		assert_true(strlen(name) > 0);
		assert_true(db_status_parse(name, &s));
		assert_int_equal(s, i);
		assert_true(db_status_is(name, (enum db_status)i));
	}
	assert_string_equal(db_status_name(DB_STATUS_PROCESSING), "processing");
	assert_string_equal(db_status_name(DB_STATUS_DONE), "done");
}

static void
test_unknown_names_are_refused(void **state)
{
	enum db_status s = DB_STATUS_RUNNING;

	(void)state;
	assert_false(db_status_parse(NULL, &s));
	assert_false(db_status_parse("", &s));
	assert_false(db_status_parse("Completed", &s));
	assert_false(db_status_parse("completed ", &s));
	assert_int_equal(s, DB_STATUS_RUNNING);
	assert_false(db_status_is(NULL, DB_STATUS_PENDING));
	assert_false(db_status_is("pending", DB_STATUS_COUNT));
	assert_string_equal(db_status_name(DB_STATUS_COUNT), "");
}

static void
test_final_statuses(void **state)
{
	(void)state;
	assert_false(db_status_final(DB_STATUS_PENDING));
	assert_false(db_status_final(DB_STATUS_PROCESSING));
	assert_false(db_status_final(DB_STATUS_RUNNING));
	assert_false(db_status_final(DB_STATUS_SUBMITTING));
	assert_true(db_status_final(DB_STATUS_COMPLETED));
	assert_true(db_status_final(DB_STATUS_PARTIAL));
	assert_true(db_status_final(DB_STATUS_FAILED));
	assert_true(db_status_final(DB_STATUS_CANCELLED));
	assert_true(db_status_final(DB_STATUS_DONE));
}

static void
test_final_by_name(void **state)
{
	(void)state;
	assert_true(db_status_name_final("completed"));
	assert_true(db_status_name_final("failed"));
	assert_true(db_status_name_final("cancelled"));
	assert_false(db_status_name_final("pending"));
	assert_false(db_status_name_final("processing"));
	assert_false(db_status_name_final("running"));
	assert_false(db_status_name_final("Completed"));
	assert_false(db_status_name_final(""));
	assert_false(db_status_name_final(NULL));
}

static void
test_job_statuses(void **state)
{
	/* What GET /api/jobs?status= accepts. */
	(void)state;
	assert_true(db_status_of_job(DB_STATUS_PENDING));
	assert_true(db_status_of_job(DB_STATUS_RUNNING));
	assert_true(db_status_of_job(DB_STATUS_COMPLETED));
	assert_true(db_status_of_job(DB_STATUS_FAILED));
	assert_true(db_status_of_job(DB_STATUS_CANCELLED));
	assert_false(db_status_of_job(DB_STATUS_PROCESSING));
	assert_false(db_status_of_job(DB_STATUS_SUBMITTING));
	assert_false(db_status_of_job(DB_STATUS_PARTIAL));
	assert_false(db_status_of_job(DB_STATUS_DONE));
	assert_false(db_status_of_job(DB_STATUS_COUNT));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_unknown_names_are_refused),
		cmocka_unit_test(test_final_statuses),
		cmocka_unit_test(test_final_by_name),
		cmocka_unit_test(test_job_statuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
