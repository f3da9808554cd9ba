/* test_cors.c: AIGW_CORS_ORIGINS's syntax, exact matching, and the headers
 * and preflight answers of http_handle (no handler runs: no database). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/cors.h"
#include "http/http.h"
#include "http/server.h"

struct fake {
	const char *const *params;   /* name, value, ..., NULL */
	struct buf written;
};

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake *f = ctx;

	for (size_t i = 0; f->params[i] != NULL; i += 2)
		if (strcmp(f->params[i], name) == 0)
			return f->params[i + 1];
	return NULL;
}

static long
fake_read(void *ctx, char *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	(void)n;
	return 0;
}

static int
fake_write(void *ctx, const char *buf, size_t n)
{
	struct fake *f = ctx;

	return buf_append(&f->written, buf, n) == AIGW_OK ? 0 : -1;
}

/* The whole answer of http_handle to method path with Origin origin (NULL:
 * none) while AIGW_CORS_ORIGINS is origins (NULL: unset). Caller frees. */
static char *
answer(const char *origins, const char *method, const char *path, const char *origin)
{
	const char *const p[] = { "REQUEST_METHOD", method, "REQUEST_URI", path,
				  origin ? "HTTP_ORIGIN" : NULL, origin, NULL };
	struct fake f = { .params = p };
	struct http_io io = { &f, fake_param, fake_read, fake_write, NULL, NULL };
	struct aigw_config cfg = { .max_body = 1024, .cors_origins = (char *)origins };
	const struct http_app app = { .cfg = &cfg };
	struct http_thread t = { .app = &app, .db = NULL, .wake_fd = -1 };
	char *text;

	buf_init(&f.written, 1 << 20);
	http_handle(&t, &io);
	text = strndup(f.written.data, f.written.len);
	assert_non_null(text);
	buf_free(&f.written);
	return text;
}

static void
test_allow_headers_take_the_sdk_prefix(void **state)
{
	char out[2048];
	char many[4096];
	size_t n = 0;

	(void)state;
	cors_allow_headers(NULL, out, sizeof out);
	assert_string_equal(out, CORS_ALLOW_HEADERS);
	cors_allow_headers("", out, sizeof out);
	assert_string_equal(out, CORS_ALLOW_HEADERS);
	cors_allow_headers("authorization, X-Stainless-OS,x-stainless-retry-count ,content-type",
			   out, sizeof out);
	assert_string_equal(out, CORS_ALLOW_HEADERS ", x-stainless-os, x-stainless-retry-count");
	/* Only the prefix, as tokens: no other name, no bare prefix, no
	 * characters a header name cannot have. */
	cors_allow_headers("x-evil, x-stainless-, x-stainless-a b, x-stainless-\x01,"
			   " x-stainless-ok:1, cookie", out, sizeof out);
	assert_string_equal(out, CORS_ALLOW_HEADERS);
	/* At most 32, within the room given. */
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "%sx-stainless-h%d", i ? "," : "", i);
	cors_allow_headers(many, out, sizeof out);
	assert_non_null(strstr(out, "x-stainless-h31"));
	assert_null(strstr(out, "x-stainless-h32"));
	cors_allow_headers(many, out, sizeof CORS_ALLOW_HEADERS + 20);
	assert_string_equal(out, CORS_ALLOW_HEADERS ", x-stainless-h0");
}

static void
test_preflight_for_a_listed_origin(void **state)
{
	char *a;

	(void)state;
	a = answer("https://a.example", "OPTIONS", "/api/jobs/j1", "https://a.example");
	assert_non_null(strstr(a, "Status: 204 No Content\r\n"));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Origin: https://a.example\r\n"));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Methods: GET, DELETE\r\n"));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Headers: " CORS_ALLOW_HEADERS "\r\n"));
	assert_non_null(strstr(a, "\r\nAccess-Control-Max-Age: 600\r\n"));
	assert_non_null(strstr(a, "\r\nAllow: GET, DELETE, OPTIONS\r\n"));
	assert_non_null(strstr(a, "\r\nVary: Origin\r\n"));
	assert_null(strstr(a, "Access-Control-Allow-Credentials"));
	assert_non_null(strstr(a, "Content-Length: 0\r\n"));
	free(a);

	a = answer("https://a.example", "OPTIONS", "/v1/chat/completions", "https://a.example");
	assert_non_null(strstr(a, "Status: 204 "));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Methods: POST\r\n"));
	free(a);
}

static void
test_unlisted_origin_gets_no_cors_headers(void **state)
{
	char *a;

	(void)state;
	a = answer("https://a.example", "OPTIONS", "/api/ai/chat", "https://evil.example");
	assert_non_null(strstr(a, "Status: 204 "));
	assert_non_null(strstr(a, "\r\nAllow: POST, DELETE, OPTIONS\r\n"));
	assert_null(strstr(a, "Access-Control-"));
	assert_non_null(strstr(a, "\r\nVary: Origin\r\n"));
	free(a);

	a = answer("https://a.example", "OPTIONS", "/api/ai/chat", NULL);
	assert_non_null(strstr(a, "Status: 204 "));
	assert_null(strstr(a, "Access-Control-"));
	free(a);
}

static void
test_off_answers_as_before(void **state)
{
	char *a;

	(void)state;
	a = answer(NULL, "OPTIONS", "/api/ai/chat", "https://a.example");
	assert_non_null(strstr(a, "Status: 405 "));
	assert_null(strstr(a, "Access-Control-"));
	assert_null(strstr(a, "Vary:"));
	free(a);
	a = answer("", "OPTIONS", "/api/ai/chat", "https://a.example");
	assert_non_null(strstr(a, "Status: 405 "));
	assert_null(strstr(a, "Access-Control-"));
	free(a);
}

/* An error answer must be readable by the page too, else it sees only a
 * network failure. */
static void
test_other_answers_carry_the_origin(void **state)
{
	char *a;

	(void)state;
	a = answer("http://localhost:5173,https://a.example", "GET", "/api/nothing", "https://a.example");
	assert_non_null(strstr(a, "Status: 404 "));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Origin: https://a.example\r\n"));
	assert_non_null(strstr(a, "\r\nAccess-Control-Expose-Headers: " CORS_EXPOSE_HEADERS "\r\n"));
	assert_null(strstr(a, "Access-Control-Allow-Methods"));
	free(a);

	a = answer("https://a.example", "OPTIONS", "/api/nothing", "https://a.example");
	assert_non_null(strstr(a, "Status: 404 "));
	free(a);

	a = answer("https://a.example", "PUT", "/api/ai/chat", "https://a.example");
	assert_non_null(strstr(a, "Status: 405 "));
	assert_non_null(strstr(a, "\r\nAccess-Control-Allow-Origin: https://a.example\r\n"));
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_headers_take_the_sdk_prefix),
		cmocka_unit_test(test_preflight_for_a_listed_origin),
		cmocka_unit_test(test_unlisted_origin_gets_no_cors_headers),
		cmocka_unit_test(test_off_answers_as_before),
		cmocka_unit_test(test_other_answers_carry_the_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
