/* test_chatrun.c: a chat's life cycle: every legal move, and illegal ones
 * refused with the state unchanged (no database needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "worker/chatrun.h"

static void
test_chat_moves(void **state)
{
	static const struct { enum chat_state from, to; bool ok; } moves[] = {
		{ CHAT_OPEN, CHAT_FINISHING, true },  /* the finishing write failed */
		{ CHAT_OPEN, CHAT_GONE, true },       /* finished, or the fence said no */
		{ CHAT_FINISHING, CHAT_GONE, true },  /* finished at a later try */
		{ CHAT_OPEN, CHAT_OPEN, false },
		{ CHAT_FINISHING, CHAT_OPEN, false },
		{ CHAT_FINISHING, CHAT_FINISHING, false },
		{ CHAT_GONE, CHAT_OPEN, false },
		{ CHAT_GONE, CHAT_FINISHING, false },
		{ CHAT_GONE, CHAT_GONE, false },
		{ CHAT_OPEN, CHAT_STATE_COUNT, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		enum chat_state s = moves[i].from;

		assert_int_equal(chat_state_move(&s, moves[i].to, "chat"), moves[i].ok);
		assert_int_equal(s, moves[i].ok ? moves[i].to : moves[i].from);
	}
	assert_string_equal(chat_state_name(CHAT_FINISHING), "finishing");
	assert_string_equal(chat_state_name(CHAT_STATE_COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chat_moves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
