/* test_hub.c: the hub's wake-up bookkeeping without a database: which
 * waiting request a notification wakes, what losing and regaining the
 * LISTEN does to the watches, and what hub_wait() reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/hub.h"

#define ID_A "0b8e4c1e-6f2a-4d3b-9c5e-1a2b3c4d5e6f"
#define ID_A_UPPER "0B8E4C1E-6F2A-4D3B-9C5E-1A2B3C4D5E6F"
#define ID_B "7d1f0a9e-3b4c-4e5d-8f6a-0b1c2d3e4f50"

/* Whether fd's eventfd counter is non-zero; reading resets it. */
static bool
woken(int fd)
{
	uint64_t n = 0;

	return read(fd, &n, sizeof n) == (ssize_t)sizeof n && n > 0;
}

static int
new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static struct hub *
listening_hub(void)
{
	struct hub *h = hub_new(NULL);

	assert_non_null(h);
	hub_set_listening(h, true);
	return h;
}

static void
test_no_watch_before_the_listen(void **state)
{
	struct hub *h = hub_new(NULL);
	struct hub_watch w;
	int fd = new_eventfd();

	(void)state;
	assert_non_null(h);
	/* A change could be missed: the request must not count on a wake. */
	assert_int_equal(hub_watch(h, &w, DB_CHANNEL_CHAT, ID_A, fd), AIGW_EDB);
	hub_set_listening(h, true);
	assert_int_equal(hub_watch(h, &w, DB_CHANNEL_CHAT, ID_A, fd), AIGW_OK);
	assert_true(hub_watching(h, &w));
	hub_unwatch(h, &w);
	hub_free(h);
	close(fd);
}

static void
test_a_notification_wakes_the_watchers_of_its_row_only(void **state)
{
	struct hub *h = listening_hub();
	struct hub_watch chat_a, chat_a2, chat_b, job_a;
	int fd[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		fd[i] = new_eventfd();
	/* Any case in, lower case as PostgreSQL notifies it. */
	assert_int_equal(hub_watch(h, &chat_a, DB_CHANNEL_CHAT, ID_A_UPPER, fd[0]), AIGW_OK);
	assert_string_equal(chat_a.id, ID_A);
	assert_int_equal(hub_watch(h, &chat_a2, DB_CHANNEL_CHAT, ID_A, fd[1]), AIGW_OK);
	assert_int_equal(hub_watch(h, &chat_b, DB_CHANNEL_CHAT, ID_B, fd[2]), AIGW_OK);
	assert_int_equal(hub_watch(h, &job_a, DB_CHANNEL_JOB, ID_A, fd[3]), AIGW_OK);

	hub_heard(h, DB_CHANNEL_CHAT, ID_A);
	assert_true(woken(fd[0]));
	assert_true(woken(fd[1]));
	assert_false(woken(fd[2]));
	/* The same id as a job is another row. */
	assert_false(woken(fd[3]));

	hub_heard(h, DB_CHANNEL_JOB, ID_A);
	assert_false(woken(fd[0]));
	assert_true(woken(fd[3]));

	/* Unwatched: no more wakes, the others still woken. */
	hub_unwatch(h, &chat_a);
	hub_heard(h, DB_CHANNEL_CHAT, ID_A);
	assert_false(woken(fd[0]));
	assert_true(woken(fd[1]));

	hub_unwatch(h, &chat_a2);
	hub_unwatch(h, &chat_b);
	hub_unwatch(h, &job_a);
	/* Nobody watches: a notification wakes nothing. */
	hub_heard(h, DB_CHANNEL_CHAT, ID_B);
	assert_false(woken(fd[2]));
	hub_free(h);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
}

static void
test_losing_the_listen_wakes_everyone_and_ends_the_watches(void **state)
{
	struct hub *h = listening_hub();
	struct hub_watch a, b, c;
	int fa = new_eventfd(), fb = new_eventfd(), fc = new_eventfd();

	(void)state;
	assert_int_equal(hub_watch(h, &a, DB_CHANNEL_CHAT, ID_A, fa), AIGW_OK);
	assert_int_equal(hub_watch(h, &b, DB_CHANNEL_JOB, ID_B, fb), AIGW_OK);

	hub_set_listening(h, false);
	/* Whatever was notified meanwhile is unknown: all answer now. */
	assert_true(woken(fa));
	assert_true(woken(fb));
	assert_false(hub_watching(h, &a));
	assert_false(hub_watching(h, &b));
	assert_int_equal(hub_watch(h, &c, DB_CHANNEL_CHAT, ID_B, fc), AIGW_EDB);

	/* Back: woken again to read once more, but a watch made before the
	 * loss stays doubtful; a new one is good. */
	hub_set_listening(h, true);
	assert_true(woken(fa));
	assert_true(woken(fb));
	assert_false(hub_watching(h, &a));
	assert_int_equal(hub_watch(h, &c, DB_CHANNEL_CHAT, ID_B, fc), AIGW_OK);
	assert_true(hub_watching(h, &c));
	assert_false(woken(fc));

	hub_unwatch(h, &a);
	hub_unwatch(h, &b);
	hub_unwatch(h, &c);
	hub_free(h);
	close(fa);
	close(fb);
	close(fc);
}

static void
test_wait_reports_wake_deadline_and_hangup(void **state)
{
	struct hub *h = listening_hub();
	struct hub_watch w;
	enum db_wait_result r;
	uint64_t one = 1;
	int fd = new_eventfd(), pair[2];
	int64_t t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
	/* A wake left from this thread's previous request is not this one's. */
	assert_int_equal(write(fd, &one, sizeof one), (ssize_t)sizeof one);
	assert_int_equal(hub_watch(h, &w, DB_CHANNEL_CHAT, ID_A, fd), AIGW_OK);
	t0 = time_mono_ms();
	assert_int_equal(hub_wait(&w, pair[0], t0 + 30, &r), AIGW_OK);
	assert_int_equal(r, DB_WAIT_TIMEOUT);
	assert_true(time_mono_ms() >= t0 + 30);

	/* A notification wakes the wait, and is consumed by it. */
	hub_heard(h, DB_CHANNEL_CHAT, ID_A);
	assert_int_equal(hub_wait(&w, pair[0], time_mono_ms() + 5000, &r), AIGW_OK);
	assert_int_equal(r, DB_WAIT_NOTIFIED);
	assert_false(woken(fd));

	/* The client behind nginx leaves. */
	close(pair[1]);
	assert_int_equal(hub_wait(&w, pair[0], time_mono_ms() + 5000, &r), AIGW_OK);
	assert_int_equal(r, DB_WAIT_HANGUP);

	hub_unwatch(h, &w);
	hub_free(h);
	close(pair[0]);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_watch_before_the_listen),
		cmocka_unit_test(test_a_notification_wakes_the_watchers_of_its_row_only),
		cmocka_unit_test(test_losing_the_listen_wakes_everyone_and_ends_the_watches),
		cmocka_unit_test(test_wait_reports_wake_deadline_and_hangup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
