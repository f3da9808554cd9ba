/* test_origins.c: the AIGW_CORS_ORIGINS list: which entries are origins,
 * and that membership is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/origins.h"

static void
test_origins_syntax(void **state)
{
	char err[256];
	const char *good[] = {
		"", "https://app.example.com", "http://localhost:5173",
		"https://a.example, http://127.0.0.1:8080", " https://a.example ,https://b.example ",
		"http://[::1]:3000", "https://xn--bcher-kva.example",
	};
	const char *bad[] = {
		"*", "null", "https://app.example.com/", "https://app.example.com/path",
		"ftp://app.example.com", "https://App.Example.com", "app.example.com",
		"https://", "https://a.example,,https://b.example", "https://a.example,",
		"https://a.example:0", "https://a.example:65536", "https://a.example:",
		"https://a b.example", "https://.example", "http://[]:80", "https://a.example:80x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(origins_check(good[i], err, sizeof err));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_false(origins_check(bad[i], err, sizeof err));
		assert_non_null(strstr(err, "AIGW_CORS_ORIGINS"));
	}
	assert_false(origins_check("https://ok.example, https://Bad.example", err, sizeof err));
	assert_non_null(strstr(err, "\"https://Bad.example\""));
}

static void
test_exact_match_only(void **state)
{
	const char *list = "https://a.example, http://localhost:5173";

	(void)state;
	assert_true(origins_listed(list, "https://a.example"));
	assert_true(origins_listed(list, "http://localhost:5173"));
	assert_false(origins_listed(list, "https://a.example.evil.com"));
	assert_false(origins_listed(list, "https://a.exampl"));
	assert_false(origins_listed(list, "http://a.example"));
	assert_false(origins_listed(list, "http://localhost"));
	assert_false(origins_listed(list, "https://a.example, http://localhost:5173"));
	assert_false(origins_listed(list, ""));
	assert_false(origins_listed(list, NULL));
	assert_false(origins_listed("", "https://a.example"));
	assert_false(origins_listed(NULL, "https://a.example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origins_syntax),
		cmocka_unit_test(test_exact_match_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
