/* test_util.c: UUIDs, UTF-8 counting, strict numbers and bounded buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"

static void
test_uuid(void **state)
{
	char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];

	(void)state;
	assert_int_equal(uuid_new(a), AIGW_OK);
	assert_int_equal(uuid_new(b), AIGW_OK);
	assert_true(uuid_is_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');
	assert_true(uuid_is_valid("9B2F0000-0000-4000-8000-00000000000a"));
	assert_false(uuid_is_valid("9b2f0000-0000-4000-8000-00000000000"));
	assert_false(uuid_is_valid("9b2f0000-0000-4000-8000-00000000000aa"));
	assert_false(uuid_is_valid("9b2f0000x0000-4000-8000-00000000000a"));
	assert_false(uuid_is_valid("9b2f0000-0000-4000-8000-00000000000g"));
	assert_false(uuid_is_valid(""));
	assert_false(uuid_is_valid(NULL));
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_int_equal(utf8_length("abc", 3), 3);
	assert_int_equal(utf8_length("h\xc3\xa9", 3), 2);
	assert_int_equal(utf8_length("\xe2\x82\xac", 3), 1);
	assert_int_equal(utf8_length("\xf0\x9f\x98\x80", 4), 1);
	assert_int_equal(utf8_length("a\0b", 3), -1);
	assert_int_equal(utf8_length("\xc3", 1), -1);          /* truncated */
	assert_int_equal(utf8_length("\xc0\xaf", 2), -1);      /* overlong */
	assert_int_equal(utf8_length("\xed\xa0\x80", 3), -1);  /* surrogate */
	assert_int_equal(utf8_length("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
	assert_int_equal(utf8_length("\xff", 1), -1);
	assert_int_equal(utf8_length("", 0), 0);
}

static void
test_utf8_cut(void **state)
{
	(void)state;
	assert_int_equal(utf8_cut(NULL, 4), 0);
	assert_int_equal(utf8_cut("", 4), 0);
	assert_int_equal(utf8_cut("abc", 4), 3);                 /* shorter than max */
	assert_int_equal(utf8_cut("abcd", 4), 4);                /* exactly max */
	assert_int_equal(utf8_cut("abcde", 4), 4);               /* ASCII cut anywhere */
	assert_int_equal(utf8_cut("abc\xc3\xa9", 4), 3);          /* 2-byte char across max */
	assert_int_equal(utf8_cut("ab\xc3\xa9z", 4), 4);          /* ends right at max */
	assert_int_equal(utf8_cut("a\xe2\x82\xac", 3), 1);        /* 3-byte char */
	assert_int_equal(utf8_cut("a\xf0\x9f\x98\x80" "b", 4), 1);   /* 4-byte char */
	assert_int_equal(utf8_cut("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(utf8_cut("\xf0\x9f\x98\x80", 2), 0);      /* nothing fits whole */
	assert_int_equal(utf8_cut("abc", 0), 0);
	/* what a cut keeps is valid UTF-8 */
	{
		const char *s = "\xc3\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";

		for (size_t max = 0; max <= strlen(s); max++) {
			size_t n = utf8_cut(s, max);

			assert_true(n <= max);
			assert_true(utf8_length(s, n) >= 0);
		}
	}
}

static void
test_parse_long(void **state)
{
	long v = 42;

	(void)state;
	assert_int_equal(parse_long("10", 0, 100, &v), AIGW_OK);
	assert_int_equal(v, 10);
	assert_int_equal(parse_long("-1", 0, 100, &v), AIGW_EINVAL);
	assert_int_equal(parse_long("101", 0, 100, &v), AIGW_EINVAL);
	assert_int_equal(parse_long("1x", 0, 100, &v), AIGW_EINVAL);
	assert_int_equal(parse_long("", 0, 100, &v), AIGW_EINVAL);
	assert_int_equal(parse_long("99999999999999999999999", 0, 100, &v), AIGW_EINVAL);
	assert_int_equal(v, 10);
}

static void
test_buf_ceiling(void **state)
{
	struct buf b;
	char *s = NULL;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "1234"), AIGW_OK);
	assert_int_equal(buf_printf(&b, "%d", 5678), AIGW_OK);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_puts(&b, "9"), AIGW_ETOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_printf(&b, "%s", "x"), AIGW_ETOOBIG);
	assert_int_equal(buf_steal(&b, &s), AIGW_OK);
	assert_string_equal(s, "12345678");
	assert_null(b.data);
	free(s);
	buf_free(&b);
	buf_free(&b); /* twice is harmless */
}

static void
test_fd_wait_readable(void **state)
{
	int p[2], sv[2];
	short revents = 0;
	char c;
	int64_t t0;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* nothing to read: the deadline, not before it */
	t0 = time_mono_ms();
	assert_int_equal(fd_wait_readable(p[0], sv[0], t0 + 30, &revents), FD_WAIT_TIMEOUT);
	assert_true(time_mono_ms() - t0 >= 30);
	/* a deadline passed already: no wait at all */
	assert_int_equal(fd_wait_readable(p[0], -1, t0, &revents), FD_WAIT_TIMEOUT);
	/* something to read */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(fd_wait_readable(p[0], sv[0], time_mono_ms() + 1000, &revents),
			 FD_WAIT_READY);
	assert_true(revents != 0);
	/* unread bytes from the client do not count as a hang-up ... */
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(write(sv[1], "y", 1), 1);
	assert_int_equal(fd_wait_readable(p[0], sv[0], time_mono_ms() + 20, &revents),
			 FD_WAIT_TIMEOUT);
	/* ... its leaving does */
	close(sv[1]);
	assert_int_equal(fd_wait_readable(p[0], sv[0], time_mono_ms() + 1000, &revents),
			 FD_WAIT_HANGUP);
	close(sv[0]);
	close(p[0]);
	close(p[1]);
}

static void
test_time_parse_utc(void **state)
{
	int64_t t = 42;

	(void)state;
	assert_true(time_parse_utc("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(time_parse_utc("2026-12-08T01:02:03Z", &t));
	assert_int_equal(t, 1796691723);
	t = 42;
	assert_false(time_parse_utc("2026-12-08 01:02:03Z", &t));
	assert_false(time_parse_utc("2026-12-08T01:02:03", &t));
	assert_false(time_parse_utc("2026-12-08T01:02:03Z ", &t));
	assert_false(time_parse_utc("2026-13-08T01:02:03Z", &t));
	assert_false(time_parse_utc("2026-12-08T24:02:03Z", &t));
	assert_false(time_parse_utc("+026-12-08T01:02:03Z", &t));
	assert_false(time_parse_utc("", &t));
	assert_false(time_parse_utc(NULL, &t));
	assert_int_equal(t, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_buf_ceiling),
		cmocka_unit_test(test_fd_wait_readable),
		cmocka_unit_test(test_time_parse_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
