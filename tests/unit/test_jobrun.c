/* test_jobrun.c: a job's life cycle: every legal move, and illegal ones
 * refused with the state unchanged (no database needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "worker/jobrun.h"

static void
test_job_moves(void **state)
{
	static const struct { enum job_state from, to; bool ok; } moves[] = {
		{ JOB_BEGIN_STEP, JOB_CALLING, true },   /* the step's calls started */
		{ JOB_BEGIN_STEP, JOB_END_STEP, true },  /* no call left to make */
		{ JOB_BEGIN_STEP, JOB_FAILING, true },   /* a template cannot render */
		{ JOB_BEGIN_STEP, JOB_GONE, true },      /* not ours any more */
		{ JOB_CALLING, JOB_END_STEP, true },     /* every call settled */
		{ JOB_CALLING, JOB_GONE, true },         /* lease lost */
		{ JOB_END_STEP, JOB_BEGIN_STEP, true },  /* the next step */
		{ JOB_END_STEP, JOB_GONE, true },        /* the last step, or lost */
		{ JOB_FAILING, JOB_GONE, true },         /* the failure is stored */
		{ JOB_BEGIN_STEP, JOB_BEGIN_STEP, false },
		{ JOB_CALLING, JOB_BEGIN_STEP, false },
		{ JOB_CALLING, JOB_FAILING, false },
		{ JOB_END_STEP, JOB_CALLING, false },
		{ JOB_END_STEP, JOB_FAILING, false },
		{ JOB_FAILING, JOB_BEGIN_STEP, false },
		{ JOB_FAILING, JOB_END_STEP, false },
		{ JOB_GONE, JOB_BEGIN_STEP, false },
		{ JOB_GONE, JOB_GONE, false },
		{ JOB_CALLING, JOB_STATE_COUNT, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		enum job_state s = moves[i].from;

		assert_int_equal(job_state_move(&s, moves[i].to, "job"), moves[i].ok);
		assert_int_equal(s, moves[i].ok ? moves[i].to : moves[i].from);
	}
	assert_string_equal(job_state_name(JOB_END_STEP), "end-step");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
