/* test_wake.c: when the waker's thread wakes the workers: after a poke,
 * once for a burst of pokes, and at a sweep only when work waits. The
 * database is stand-in ops that count what the thread asks. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/util.h"
#include "http/wake.h"

/* Past one sweep (3 s) with room for a loaded machine. */
#define PATIENCE_MS 8000

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wakes;              /* rounds started */
	int asked;              /* sweeps that asked whether work waits */
	int waiting_from;       /* the sweep (1-based) from which work waits; 0: never */
	bool hold;              /* a round waits until this turns false */
} fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, false };

static bool
fake_work_waiting(void *arg)
{
	bool waiting;

	(void)arg;
	pthread_mutex_lock(&fake.lock);
	fake.asked++;
	waiting = fake.waiting_from > 0 && fake.asked >= fake.waiting_from;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
	return waiting;
}

static void
fake_wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fake.lock);
	fake.wakes++;
	pthread_cond_broadcast(&fake.cond);
	while (fake.hold)
		pthread_cond_wait(&fake.cond, &fake.lock);
	pthread_mutex_unlock(&fake.lock);
}

static const struct waker_ops ops = { fake_work_waiting, fake_wake, NULL };

static int
reset(void **state)
{
	(void)state;
	pthread_mutex_lock(&fake.lock);
	fake.wakes = fake.asked = fake.waiting_from = 0;
	fake.hold = false;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static int
count(const int *field)
{
	int n;

	pthread_mutex_lock(&fake.lock);
	n = *field;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* Waits (bounded) until *field reaches n. */
static void
wait_for(const int *field, int n)
{
	for (int ms = 0; ms < PATIENCE_MS; ms++) {
		if (count(field) >= n)
			return;
		sleep_ms(1);
	}
	fail_msg("waited %d ms for a count of %d, have %d", PATIENCE_MS, n, count(field));
}

static void
set_hold(bool hold)
{
	pthread_mutex_lock(&fake.lock);
	fake.hold = hold;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
}

static void
test_a_poke_wakes_without_asking(void **state)
{
	struct waker *w = waker_start_ops(&ops);

	(void)state;
	assert_non_null(w);
	waker_poke(w);
	wait_for(&fake.wakes, 1);
	/* A submit is known work: no question to the database first. */
	assert_int_equal(count(&fake.asked), 0);
	waker_stop(w);
	assert_int_equal(count(&fake.wakes), 1);
}

static void
test_pokes_during_a_round_share_the_next(void **state)
{
	struct waker *w = waker_start_ops(&ops);

	(void)state;
	assert_non_null(w);
	set_hold(true);
	waker_poke(w);
	wait_for(&fake.wakes, 1);
	/* The round is under way: a burst of submits meanwhile... */
	for (int i = 0; i < 100; i++)
		waker_poke(w);
	set_hold(false);
	/* ...is one more round, not a hundred. */
	wait_for(&fake.wakes, 2);
	sleep_ms(100);
	assert_int_equal(count(&fake.wakes), 2);
	waker_stop(w);
}

static void
test_a_sweep_wakes_only_when_work_waits(void **state)
{
	struct waker *w;

	(void)state;
	/* The first sweep finds nothing, the second finds work. */
	pthread_mutex_lock(&fake.lock);
	fake.waiting_from = 2;
	pthread_mutex_unlock(&fake.lock);
	w = waker_start_ops(&ops);
	assert_non_null(w);
	wait_for(&fake.asked, 1);
	sleep_ms(20);
	assert_int_equal(count(&fake.wakes), 0);
	wait_for(&fake.asked, 2);
	wait_for(&fake.wakes, 1);
	waker_stop(w);
	assert_int_equal(count(&fake.wakes), 1);
}

static void
test_stop_does_not_wait_for_the_sweep(void **state)
{
	struct waker *w = waker_start_ops(&ops);
	int64_t t0;

	(void)state;
	assert_non_null(w);
	sleep_ms(20);
	t0 = time_mono_ms();
	waker_stop(w);
	/* Well under the 3 s the thread sleeps between sweeps. */
	assert_true(time_mono_ms() - t0 < 2000);
	assert_int_equal(count(&fake.asked), 0);
	assert_int_equal(count(&fake.wakes), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_a_poke_wakes_without_asking, reset),
		cmocka_unit_test_setup(test_pokes_during_a_round_share_the_next, reset),
		cmocka_unit_test_setup(test_a_sweep_wakes_only_when_work_waits, reset),
		cmocka_unit_test_setup(test_stop_does_not_wait_for_the_sweep, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
