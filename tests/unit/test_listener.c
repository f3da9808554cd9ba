/* test_listener.c: the socket file's mode and group, the options' checks,
 * and taking a socket passed by the sd_listen_fds protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* Puts a listening socket (or, listening false, a plain file) on
 * descriptor 3 as systemd would; returns what was on 3 before, or -1. */
static int
put_on_fd3(bool listening)
{
	int saved = fcntl(LISTENER_SD_FD, F_DUPFD_CLOEXEC, 10);
	int fd;

	if (listening) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_true(fd >= 0);
		/* an abstract address: nothing to clean up */
		snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, "aigw-test-%ld", (long)getpid());
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
		assert_int_equal(listen(fd, 1), 0);
	} else {
		fd = open("/dev/null", O_RDONLY);
		assert_true(fd >= 0);
	}
	if (fd != LISTENER_SD_FD) {
		assert_int_equal(dup2(fd, LISTENER_SD_FD), LISTENER_SD_FD);
		close(fd);
	}
	return saved;
}

static void
restore_fd3(int saved)
{
	close(LISTENER_SD_FD);
	if (saved >= 0) {
		dup2(saved, LISTENER_SD_FD);
		close(saved);
	}
}

static void
set_listen_env(long pid, const char *fds)
{
	char text[32];

	snprintf(text, sizeof text, "%ld", pid);
	setenv("LISTEN_PID", text, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", "aigw-fcgi.socket", 1);
}

static void
assert_listen_env_gone(void)
{
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
}

static void
test_take_inherited(void **state)
{
	char err[256] = "";
	int saved;

	(void)state;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	assert_int_equal(listener_take_inherited(err, sizeof err), -1);

	saved = put_on_fd3(true);
	set_listen_env((long)getpid(), "1");
	if (listener_take_inherited(err, sizeof err) != LISTENER_SD_FD)
		fail_msg("%s", err);
	assert_listen_env_gone();
	assert_true(fcntl(LISTENER_SD_FD, F_GETFD) & FD_CLOEXEC);

	/* meant for another process (the parent that received them) */
	set_listen_env((long)getpid() + 1, "1");
	assert_int_equal(listener_take_inherited(err, sizeof err), -1);
	assert_listen_env_gone();

	/* more than the one socket aigw-fcgi serves */
	set_listen_env((long)getpid(), "2");
	assert_int_equal(listener_take_inherited(err, sizeof err), -2);
	assert_non_null(strstr(err, "LISTEN_FDS=2"));
	assert_listen_env_gone();
	set_listen_env((long)getpid(), "x");
	assert_int_equal(listener_take_inherited(err, sizeof err), -2);
	restore_fd3(saved);

	/* descriptor 3 is no listening socket */
	saved = put_on_fd3(false);
	set_listen_env((long)getpid(), "1");
	assert_int_equal(listener_take_inherited(err, sizeof err), -2);
	assert_non_null(strstr(err, "not a listening socket"));
	assert_listen_env_gone();
	restore_fd3(saved);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_mode),
		cmocka_unit_test(test_find_group),
		cmocka_unit_test(test_unix_socket_mode_and_group),
		cmocka_unit_test(test_open_failures_say_why),
		cmocka_unit_test(test_take_inherited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
