/* test_sse.c: the Server-Sent-Events framer: line ends, comments, fields,
 * multi-line data, the BOM, chunking anywhere, and its bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "providers/sse.h"

/* Events seen, as "name|data\n" lines. */
static enum aigw_err
collect(void *ctx, const struct sse_event *ev)
{
	struct buf *b = ctx;

	assert_int_equal(ev->data[ev->data_len], '\0');
	if (buf_puts(b, ev->name) != AIGW_OK || buf_append(b, "|", 1) != AIGW_OK ||
	    buf_append(b, ev->data, ev->data_len) != AIGW_OK || buf_append(b, "\n", 1) != AIGW_OK)
		return AIGW_ENOMEM;
	return AIGW_OK;
}

/* Feeds s whole, then split at every byte, then byte by byte: the events
 * are the same each time and equal want. */
static void
check(const char *s, const char *want, bool pending)
{
	size_t n = strlen(s);

	for (size_t cut = 0; cut <= n + 1; cut++) {
		struct sse f;
		struct buf got;

		sse_init(&f);
		buf_init(&got, 1 << 20);
		if (cut <= n) {
			assert_int_equal(sse_feed(&f, s, cut, collect, &got), AIGW_OK);
			assert_int_equal(sse_feed(&f, s + cut, n - cut, collect, &got), AIGW_OK);
		} else {
			for (size_t i = 0; i < n; i++)
				assert_int_equal(sse_feed(&f, s + i, 1, collect, &got), AIGW_OK);
		}
		assert_string_equal(got.data ? got.data : "", want);
		assert_int_equal(sse_pending(&f), pending);
		buf_free(&got);
		sse_free(&f);
	}
}

static void
test_line_ends(void **state)
{
	(void)state;
	check("data: a\n\ndata: b\n\n", "message|a\nmessage|b\n", false);
	check("data: a\r\n\r\ndata: b\r\n\r\n", "message|a\nmessage|b\n", false);
	check("data: a\r\rdata: b\r\r", "message|a\nmessage|b\n", false);
	check("data: a\r\n\ndata: b\r\rdata: c\n\r\n", "message|a\nmessage|b\nmessage|c\n", false);
}

static void
test_fields(void **state)
{
	(void)state;
	/* One space after the colon is dropped, not two; no colon: empty value. */
	check("data:x\n\ndata:  y\n\ndata\n\n", "message|x\nmessage| y\nmessage|\n", false);
	check("event: ping\ndata: {}\n\n", "ping|{}\n", false);
	/* The name does not outlive its event; id, retry and others are skipped. */
	check("event: a\nid: 7\nretry: 10\nfoo: bar\ndata: 1\n\ndata: 2\n\n",
	      "a|1\nmessage|2\n", false);
	/* An event without data is not dispatched. */
	check("event: a\n\ndata: 2\n\n", "message|2\n", false);
}

static void
test_multiline_and_comments(void **state)
{
	(void)state;
	check("data: one\ndata: two\ndata:\ndata: four\n\n", "message|one\ntwo\n\nfour\n", false);
	check(": keep-alive\n\n:\ndata: a\n: mid\ndata: b\n\n", "message|a\nb\n", false);
}

static void
test_bom(void **state)
{
	(void)state;
	check("\xEF\xBB\xBF" "data: a\n\n", "message|a\n", false);
	/* Only at the start, and only one. */
	check("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n", "", false);
	/* A partial BOM is text: the line is a field named "\xEF\xBB" + "data". */
	check("\xEF\xBB" "data: a\n\ndata: b\n\n", "message|b\n", false);
}

static void
test_pending(void **state)
{
	(void)state;
	check("data: a\n\ndata: b\n", "message|a\n", true);
	check("data: a\n\ndata: b", "message|a\n", true);
	check("data: a\n\nevent: x\n", "message|a\n", true);
	check("data: a\n\n: comment\n", "message|a\n", false);
}

static void
test_line_bound(void **state)
{
	struct sse f;
	struct buf got;
	char *chunk = malloc(4096);
	enum aigw_err err = AIGW_OK;
	size_t fed = 0;

	(void)state;
	assert_non_null(chunk);
	memset(chunk, 'x', 4096);
	memcpy(chunk, "data: ", 6);
	sse_init(&f);
	buf_init(&got, 1024);
	/* A line that never ends: refused once past the bound, never grown. */
	while (err == AIGW_OK && fed < 4 * SSE_LINE_MAX) {
		err = sse_feed(&f, chunk, 4096, collect, &got);
		memset(chunk, 'x', 6);
		fed += 4096;
	}
	assert_int_equal(err, AIGW_ETOOBIG);
	assert_true(fed <= SSE_LINE_MAX + 4096);
	assert_true(f.line.cap <= 2 * SSE_LINE_MAX + 2);
	/* It stays failed. */
	assert_int_equal(sse_feed(&f, "\n\n", 2, collect, &got), AIGW_ETOOBIG);
	assert_int_equal(got.len, 0);
	sse_free(&f);
	buf_free(&got);
	free(chunk);
}

static void
test_event_bound(void **state)
{
	struct sse f;
	struct buf got;
	char line[1024];
	enum aigw_err err = AIGW_OK;
	size_t fed = 0;

	(void)state;
	memset(line, 'y', sizeof line);
	memcpy(line, "data: ", 6);
	line[sizeof line - 1] = '\n';
	sse_init(&f);
	buf_init(&got, 1024);
	/* Short lines that add up to an event past the bound. */
	while (err == AIGW_OK && fed < 4 * SSE_EVENT_MAX) {
		err = sse_feed(&f, line, sizeof line, collect, &got);
		fed += sizeof line;
	}
	assert_int_equal(err, AIGW_ETOOBIG);
	assert_true(fed <= SSE_EVENT_MAX + 2 * sizeof line);
	assert_true(f.data.cap <= 2 * SSE_EVENT_MAX + 4);
	assert_int_equal(got.len, 0);
	sse_free(&f);
	buf_free(&got);
}

static enum aigw_err
refuse(void *ctx, const struct sse_event *ev)
{
	(void)ctx;
	(void)ev;
	return AIGW_EINVAL;
}

static void
test_callback_error(void **state)
{
	struct sse f;

	(void)state;
	sse_init(&f);
	assert_int_equal(sse_feed(&f, "data: a\n\n", 9, refuse, NULL), AIGW_EINVAL);
	assert_int_equal(sse_feed(&f, "data: a\n\n", 9, refuse, NULL), AIGW_EINVAL);
	sse_free(&f);
	sse_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_multiline_and_comments),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_line_bound),
		cmocka_unit_test(test_event_bound),
		cmocka_unit_test(test_callback_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
