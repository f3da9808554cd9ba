/* test_db.c: the array literals that carry many rows in one statement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "db/db.h"

static void
check_literal(const char *const *items, size_t n, const char *want)
{
	char *got = db_array_literal(items, n);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_empty_array(void **state)
{
	(void)state;
	check_literal(NULL, 0, "{}");
}

static void
test_every_element_quoted(void **state)
{
	/* Unquoted, NULL would be a null, and a comma or brace would split
	 * or nest the element. */
	const char *items[] = { "NULL", "a,b", "{x}", "", " spaced " };

	(void)state;
	check_literal(items, 5, "{\"NULL\",\"a,b\",\"{x}\",\"\",\" spaced \"}");
}

static void
test_quotes_and_backslashes_escaped(void **state)
{
	const char *items[] = { "{\"text\":\"say \\\"hi\\\"\\n\"}", "\\" };

	(void)state;
	check_literal(items, 2, "{\"{\\\"text\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\n\\\"}\",\"\\\\\"}");
}

static void
test_null_item_is_an_sql_null(void **state)
{
	const char *items[] = { NULL, "NULL", NULL };

	(void)state;
	check_literal(items, 3, "{NULL,\"NULL\",NULL}");
}

static void
test_utf8_passes_unchanged(void **state)
{
	const char *items[] = { "\xe6\x97\xa5\xe6\x9c\xac" };

	(void)state;
	check_literal(items, 1, "{\"\xe6\x97\xa5\xe6\x9c\xac\"}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_array),
		cmocka_unit_test(test_every_element_quoted),
		cmocka_unit_test(test_quotes_and_backslashes_escaped),
		cmocka_unit_test(test_null_item_is_an_sql_null),
		cmocka_unit_test(test_utf8_passes_unchanged),
	};

	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
