/* test_log.c: every line is one JSON object, whatever the text in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* What one log_msg at level writes, through a pipe, NUL-terminated. */
static void
written(enum log_level level, char *out, size_t len)
{
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	log_set_fd(fds[1]);
	log_set_level(LOG_DEBUG);
	log_msg(level, "test", NULL, "a line");
	log_set_fd(2);
	close(fds[1]);
	n = read(fds[0], out, len - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

static void
test_journald_gets_the_priority_before_the_object(void **state)
{
	char line[4096];

	(void)state;
	log_set_journal(true);
	written(LOG_ERROR, line, sizeof line);
	assert_memory_equal(line, "<3>{", 4);
	written(LOG_WARN, line, sizeof line);
	assert_memory_equal(line, "<4>{", 4);
	written(LOG_INFO, line, sizeof line);
	assert_memory_equal(line, "<6>{", 4);
	written(LOG_DEBUG, line, sizeof line);
	assert_memory_equal(line, "<7>{", 4);
	assert_non_null(strstr(line, "\"level\":\"debug\""));
	log_set_journal(false);
	written(LOG_ERROR, line, sizeof line);
	assert_int_equal(line[0], '{');
	assert_string_equal(log_level_priority(LOG_WARN), "<4>");
	assert_string_equal(log_level_priority(LOG__MAX), "");
}

static void
test_journal_stream_must_name_the_descriptor(void **state)
{
	int fds[2];
	struct stat st;
	char mine[64], other[64];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fstat(fds[1], &st), 0);
	snprintf(mine, sizeof mine, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	snprintf(other, sizeof other, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	assert_true(log_fd_is_journal(fds[1], mine));
	assert_false(log_fd_is_journal(fds[1], other));
	assert_false(log_fd_is_journal(fds[1], NULL));
	assert_false(log_fd_is_journal(fds[1], ""));
	assert_false(log_fd_is_journal(fds[1], "12:x"));
	close(fds[0]);
	close(fds[1]);
}

static char *
slurp(const char *path)
{
	static char text[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static void
test_reopen_follows_a_rotated_file(void **state)
{
	char dir[] = "/tmp/aigw-test-log-XXXXXX", path[256], rotated[256], errbuf[512];
	int saved = dup(2);

	(void)state;
	assert_true(saved >= 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/aigw.log", dir);
	snprintf(rotated, sizeof rotated, "%s/aigw.log.1", dir);
	/* Nothing opened yet: nothing to reopen, and no error. */
	assert_int_equal(log_reopen(errbuf, sizeof errbuf), AIGW_OK);
	assert_int_equal(log_open_file(path, errbuf, sizeof errbuf), AIGW_OK);
	log_msg(LOG_ERROR, "test", NULL, "before the rotation");
	assert_int_equal(rename(path, rotated), 0);
	log_msg(LOG_ERROR, "test", NULL, "moved, not yet reopened");
	assert_int_equal(log_reopen(errbuf, sizeof errbuf), AIGW_OK);
	log_msg(LOG_ERROR, "test", NULL, "after the reopen");
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);

	assert_non_null(strstr(slurp(rotated), "before the rotation"));
	assert_non_null(strstr(slurp(rotated), "moved, not yet reopened"));
	assert_null(strstr(slurp(rotated), "after the reopen"));
	assert_non_null(strstr(slurp(path), "after the reopen"));
	assert_null(strstr(slurp(path), "before the rotation"));
	/* A line is a JSON object, no journald prefix in a file. */
	assert_int_equal(slurp(path)[0], '{');
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

static void
test_a_file_that_cannot_open_is_named(void **state)
{
	char errbuf[512];

	(void)state;
	assert_int_equal(log_open_file("/nonexistent-aigw-dir/aigw.log", errbuf, sizeof errbuf),
			 AIGW_EIO);
	assert_non_null(strstr(errbuf, "/nonexistent-aigw-dir/aigw.log"));
	assert_int_equal(log_open_file("", errbuf, sizeof errbuf), AIGW_EINVAL);
	/* The failed open forgets the path: a reopen does nothing. */
	assert_int_equal(log_reopen(errbuf, sizeof errbuf), AIGW_OK);
}

/* A SIGHUP to the process: the thread log_reopen_on_sighup started
 * reopens the moved file, and the process lives on. */
static void
test_sighup_reopens_through_the_thread(void **state)
{
	char dir[] = "/tmp/aigw-test-hup-XXXXXX", path[256], rotated[256], errbuf[512];
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int saved = dup(2);
	struct stat st;
	int waited = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/aigw.log", dir);
	snprintf(rotated, sizeof rotated, "%s/aigw.log.1", dir);
	assert_int_equal(log_open_file(path, errbuf, sizeof errbuf), AIGW_OK);
	assert_int_equal(log_reopen_on_sighup(), AIGW_OK);
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(kill(getpid(), SIGHUP), 0);
	/* The thread's own line, written after the swap, says it is done.
	 * Deadline: 5 s. */
	while ((stat(path, &st) != 0 || strstr(slurp(path), "log file reopened") == NULL) &&
	       waited++ < 500)
		nanosleep(&tick, NULL);
	assert_non_null(strstr(slurp(path), "log file reopened"));
	log_msg(LOG_ERROR, "test", NULL, "after the signal");
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_non_null(strstr(slurp(path), "after the signal"));
	assert_null(strstr(slurp(rotated), "after the signal"));
	unlink(path);
	unlink(rotated);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_fields),
		cmocka_unit_test(test_hostile_text_stays_inside_its_string),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_replaced),
		cmocka_unit_test(test_a_long_message_is_cut_and_the_line_stays_whole),
		cmocka_unit_test(test_journald_gets_the_priority_before_the_object),
		cmocka_unit_test(test_journal_stream_must_name_the_descriptor),
		cmocka_unit_test(test_reopen_follows_a_rotated_file),
		cmocka_unit_test(test_a_file_that_cannot_open_is_named),
		cmocka_unit_test(test_sighup_reopens_through_the_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
