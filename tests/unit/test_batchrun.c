/* test_batchrun.c: a batch's life cycle: every legal move, and illegal
 * ones refused with the state unchanged (no database needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "worker/batchrun.h"

static void
test_batch_moves(void **state)
{
	static const struct { enum batch_state from, to; bool ok; } moves[] = {
		{ BATCH_SEND, BATCH_INFLIGHT, true },      /* a request goes out */
		{ BATCH_SEND, BATCH_FINISH, true },        /* it cannot be built */
		{ BATCH_SEND, BATCH_GONE, true },          /* not ours any more */
		{ BATCH_INFLIGHT, BATCH_SEND, true },      /* a retry, a lookup's next page */
		{ BATCH_INFLIGHT, BATCH_WRITE, true },     /* an answer came */
		{ BATCH_INFLIGHT, BATCH_INFLIGHT, true },  /* the cancel replaces the request */
		{ BATCH_INFLIGHT, BATCH_FINISH, true },    /* failed for good */
		{ BATCH_INFLIGHT, BATCH_GONE, true },
		{ BATCH_WRITE, BATCH_SAVE, true },         /* the answer's results are written */
		{ BATCH_WRITE, BATCH_FINISH, true },       /* the provider ended it */
		{ BATCH_WRITE, BATCH_GONE, true },
		{ BATCH_SAVE, BATCH_SEND, true },          /* the state is stored */
		{ BATCH_SAVE, BATCH_INFLIGHT, true },      /* past the deadline: the cancel */
		{ BATCH_SAVE, BATCH_FINISH, true },
		{ BATCH_SAVE, BATCH_GONE, true },
		{ BATCH_FINISH, BATCH_GONE, true },        /* the end is stored */
		{ BATCH_SEND, BATCH_SEND, false },
		{ BATCH_SEND, BATCH_WRITE, false },
		{ BATCH_SEND, BATCH_SAVE, false },
		{ BATCH_WRITE, BATCH_SEND, false },
		{ BATCH_WRITE, BATCH_INFLIGHT, false },
		{ BATCH_SAVE, BATCH_WRITE, false },
		{ BATCH_FINISH, BATCH_SEND, false },
		{ BATCH_FINISH, BATCH_FINISH, false },
		{ BATCH_GONE, BATCH_SEND, false },
		{ BATCH_GONE, BATCH_GONE, false },
		{ BATCH_SEND, BATCH_STATE_COUNT, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		enum batch_state s = moves[i].from;

		assert_int_equal(batch_state_move(&s, moves[i].to, "batch"), moves[i].ok);
		assert_int_equal(s, moves[i].ok ? moves[i].to : moves[i].from);
	}
	assert_string_equal(batch_state_name(BATCH_SAVE), "save");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
