/* test_log.c: every line is one JSON object, whatever the text in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/log.h"

/* Formats a line, checks it is one JSON object ending in a newline, and
 * returns it parsed. */
static json_object *
line_of(const char *id, const struct log_attr *attrs, size_t n, const char *msg, size_t max)
{
	char buf[8192];
	size_t len = log_format(buf, max, LOG_WARN, "worker", id, attrs, n, msg);
	json_object *o;

	assert_true(len > 0 && len <= max);
	assert_int_equal(buf[len - 1], '\n');
	assert_null(memchr(buf, '\n', len - 1));
	buf[len - 1] = '\0';
	o = json_tokener_parse(buf);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *
str(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_string(v);
}

static void
test_the_fields(void **state)
{
	const struct log_attr attrs[] = {
		LOG_STR("provider", "openai"), LOG_NUM("status", 200), LOG_NUM("duration_ms", -5),
	};
	json_object *o;

	(void)state;
	log_set_program("aigw-test");
	o = line_of("2f1c", attrs, 3, "openai: ok", 4096);
	assert_string_equal(str(o, "level"), "warn");
	assert_string_equal(str(o, "program"), "aigw-test");
	assert_string_equal(str(o, "component"), "worker");
	assert_string_equal(str(o, "id"), "2f1c");
	assert_string_equal(str(o, "provider"), "openai");
	assert_string_equal(str(o, "status"), "200");
	assert_string_equal(str(o, "duration_ms"), "-5");
	assert_string_equal(str(o, "msg"), "openai: ok");
	assert_int_equal(strlen(str(o, "time")), strlen("2026-12-01T16:20:11.162Z"));
	assert_true(json_object_get_int(json_object_object_get(o, "pid")) > 0);
	json_object_put(o);
	/* No id: no key. */
	o = line_of(NULL, NULL, 0, "x", 4096);
	assert_false(json_object_object_get_ex(o, "id", NULL));
	json_object_put(o);
}

static void
test_hostile_text_stays_inside_its_string(void **state)
{
	const struct log_attr attrs[] = { LOG_STR("path", "/a\"}\n{\"level\":\"error") };
	json_object *o;

	(void)state;
	o = line_of("id\"\\", attrs, 1, "line one\nline two\r\t\x1b[31m\x7f \"quoted\" \\", 4096);
	assert_string_equal(str(o, "msg"), "line one\nline two\r\t\x1b[31m\x7f \"quoted\" \\");
	assert_string_equal(str(o, "path"), "/a\"}\n{\"level\":\"error");
	assert_string_equal(str(o, "id"), "id\"\\");
	assert_string_equal(str(o, "level"), "warn");
	json_object_put(o);
}

static void
test_bytes_that_are_not_utf8_are_replaced(void **state)
{
	json_object *o;

	(void)state;
	/* A lone continuation byte, an overlong slash, a surrogate, a cut
	 * sequence; then good text. */
	o = line_of(NULL, NULL, 0, "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82 \xe2\x82\xac", 4096);
	assert_string_equal(str(o, "msg"),
			    "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac");
	json_object_put(o);
}

static void
test_a_long_message_is_cut_and_the_line_stays_whole(void **state)
{
	char msg[6000];
	json_object *o;

	(void)state;
	memset(msg, 'x', sizeof msg - 1);
	msg[sizeof msg - 1] = '\0';
	/* Multi-byte characters at the cut are not split. */
	memcpy(msg + 1000, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9);
	o = line_of("id", NULL, 0, msg, 1024);
	assert_true(strlen(str(o, "msg")) < 1024);
	assert_true(strlen(str(o, "msg")) > 800);
	json_object_put(o);
	o = line_of("id", NULL, 0, msg, 1006 + 150);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_fields),
		cmocka_unit_test(test_hostile_text_stays_inside_its_string),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_replaced),
		cmocka_unit_test(test_a_long_message_is_cut_and_the_line_stays_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
