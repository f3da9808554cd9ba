/* test_listener.c: the socket file's mode and group, and the options' checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/listener.h"

static void
test_parse_mode(void **state)
{
	mode_t m = 01234;

	(void)state;
	assert_int_equal(listener_parse_mode("0660", &m), AIGW_OK);
	assert_int_equal(m, 0660);
	assert_int_equal(listener_parse_mode("600", &m), AIGW_OK);
	assert_int_equal(m, 0600);
	assert_int_equal(listener_parse_mode("0", &m), AIGW_OK);
	assert_int_equal(m, 0);
	assert_int_equal(listener_parse_mode("0777", &m), AIGW_OK);
	assert_int_equal(m, 0777);
	m = 01234;
	const char *bad[] = { "", "0888", "1777", "04755", "rw-rw----", "0x1b0", "-660",
			      "660 ", "00660", "+660" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (listener_parse_mode(bad[i], &m) != AIGW_EINVAL)
			fail_msg("accepted: '%s'", bad[i]);
	assert_int_equal(listener_parse_mode(NULL, &m), AIGW_EINVAL);
	assert_int_equal(m, 01234);
}

static void
test_find_group(void **state)
{
	struct group *gr = getgrgid(getgid());
	char num[32];
	gid_t g = 12345;

	(void)state;
	assert_non_null(gr);
	assert_int_equal(listener_find_group(gr->gr_name, &g), AIGW_OK);
	assert_int_equal(g, getgid());
	snprintf(num, sizeof num, "%ld", (long)getgid());
	g = 12345;
	assert_int_equal(listener_find_group(num, &g), AIGW_OK);
	assert_int_equal(g, getgid());
	assert_int_equal(listener_find_group("no-such-group-aigw", &g), AIGW_EINVAL);
	assert_int_equal(listener_find_group("", &g), AIGW_EINVAL);
	assert_int_equal(listener_find_group("2147483000", &g), AIGW_EINVAL);
}

static void
socket_path(char *out, size_t len)
{
	snprintf(out, len, "/tmp/aigw-test-listener-%ld.sock", (long)getpid());
}

static void
test_unix_socket_mode_and_group(void **state)
{
	char path[108], err[256] = "";
	struct stat st;
	int fd;

	(void)state;
	socket_path(path, sizeof path);
	/* a stale file is replaced */
	fd = open(path, O_CREAT | O_WRONLY, 0666);
	assert_true(fd >= 0);
	close(fd);

	fd = listener_open(path, LISTENER_MODE_DEFAULT, (gid_t)-1, err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getegid());
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	fd = listener_open(path, 0600, getgid(), err, sizeof err);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_gid, getgid());
	close(fd);
	unlink(path);

	/* the umask does not widen or narrow what was asked */
	mode_t old = umask(0);
	fd = listener_open(path, 0660, (gid_t)-1, err, sizeof err);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	close(fd);
	unlink(path);
}

static void
test_open_failures_say_why(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(listener_open("/nonexistent-dir-aigw/x.sock", 0660, (gid_t)-1, err,
				       sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent-dir-aigw/x.sock"));
	assert_int_equal(listener_open("no-port", 0660, (gid_t)-1, err, sizeof err), -1);
	assert_non_null(strstr(err, "HOST:PORT"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_mode),
		cmocka_unit_test(test_find_group),
		cmocka_unit_test(test_unix_socket_mode_and_group),
		cmocka_unit_test(test_open_failures_say_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
