/* test_commit.c: the chat submits' group commit: who writes which rows,
 * in what order, and when each submit returns. The database is a stand-in
 * insert that records each group and holds it until the test lets it go. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "http/commit.h"

#define CALLS_MAX 8
#define SUBMITS_MAX (COMMIT_GROUP_MAX + 2)
#define PATIENCE_MS 5000

/* The stand-in insert: each call is recorded, then waits until the test
 * has released it, then returns the result set for it. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t ncalls, released;
	struct db *db[CALLS_MAX];
	const struct db_chat_new *rows[CALLS_MAX][COMMIT_GROUP_MAX];
	size_t n[CALLS_MAX];
	enum aigw_err result[CALLS_MAX];
} fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, { NULL }, { { NULL } },
	   { 0 }, { AIGW_OK } };

static enum aigw_err
fake_insert(struct db *db, const struct db_chat_new *const *rows, size_t n)
{
	enum aigw_err err;
	size_t i;

	pthread_mutex_lock(&fake.lock);
	i = fake.ncalls++;
	/* Not cmocka's asserts: this runs on the submitting threads. */
	if (i >= CALLS_MAX || n > COMMIT_GROUP_MAX)
		abort();
	fake.db[i] = db;
	fake.n[i] = n;
	for (size_t k = 0; k < n; k++)
		fake.rows[i][k] = rows[k];
	pthread_cond_broadcast(&fake.cond);
	while (i >= fake.released)
		pthread_cond_wait(&fake.cond, &fake.lock);
	err = fake.result[i];
	pthread_mutex_unlock(&fake.lock);
	return err;
}

static int
reset(void **state)
{
	(void)state;
	pthread_mutex_lock(&fake.lock);
	fake.ncalls = fake.released = 0;
	for (size_t i = 0; i < CALLS_MAX; i++)
		fake.result[i] = AIGW_OK;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static void
release(size_t calls)
{
	pthread_mutex_lock(&fake.lock);
	fake.released = calls;
	pthread_cond_broadcast(&fake.cond);
	pthread_mutex_unlock(&fake.lock);
}

static void
sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

/* Waits (bounded) until the insert has been called `calls` times. */
static void
wait_calls(size_t calls)
{
	for (int ms = 0; ms < PATIENCE_MS; ms++) {
		size_t n;

		pthread_mutex_lock(&fake.lock);
		n = fake.ncalls;
		pthread_mutex_unlock(&fake.lock);
		if (n >= calls)
			return;
		sleep_ms(1);
	}
	fail_msg("the insert was not called %zu times", calls);
}

static size_t
calls_made(void)
{
	size_t n;

	pthread_mutex_lock(&fake.lock);
	n = fake.ncalls;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* One submitting thread; its own stand-in connection is its own address,
 * never dereferenced. */
struct submit {
	struct commit_group *g;
	struct db_chat_new row;
	enum aigw_err err;
	pthread_mutex_t lock;
	bool returned;
	pthread_t tid;
};

static struct db *
db_of(struct submit *s)
{
	return (struct db *)(void *)s;
}

static void *
submit_main(void *arg)
{
	struct submit *s = arg;
	enum aigw_err err = commit_group_insert(s->g, db_of(s), &s->row);

	pthread_mutex_lock(&s->lock);
	s->err = err;
	s->returned = true;
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static bool
returned(struct submit *s)
{
	bool r;

	pthread_mutex_lock(&s->lock);
	r = s->returned;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static struct commit_entry **
tail_of(struct commit_group *g)
{
	struct commit_entry **t;

	pthread_mutex_lock(&g->lock);
	t = g->tail;
	pthread_mutex_unlock(&g->lock);
	return t;
}

static void
start(struct submit *s, struct commit_group *g)
{
	s->g = g;
	s->err = AIGW_EINVAL;
	s->returned = false;
	pthread_mutex_init(&s->lock, NULL);
	assert_int_equal(pthread_create(&s->tid, NULL, submit_main, s), 0);
}

/* Starts s and waits (bounded) until it has joined the queue behind a
 * group being written, so that the order of the queue is the test's. */
static void
start_queued(struct submit *s, struct commit_group *g)
{
	struct commit_entry **before = tail_of(g);

	start(s, g);
	for (int ms = 0; ms < PATIENCE_MS; ms++) {
		if (tail_of(g) != before)
			return;
		sleep_ms(1);
	}
	fail_msg("a submit did not join the queue");
}

static void
finish(struct submit *s)
{
	assert_int_equal(pthread_join(s->tid, NULL), 0);
	assert_true(s->returned);
	pthread_mutex_destroy(&s->lock);
}

static void
test_alone_goes_straight_through(void **state)
{
	struct commit_group g;
	struct submit a;

	(void)state;
	commit_group_init_insert(&g, fake_insert);
	release(CALLS_MAX);
	fake.result[1] = AIGW_EDB;
	for (int round = 0; round < 2; round++) {
		start(&a, &g);
		finish(&a);
		assert_int_equal(calls_made(), (size_t)round + 1);
		assert_int_equal(fake.n[round], 1);
		assert_ptr_equal(fake.rows[round][0], &a.row);
		/* Written on the submitting thread's own connection. */
		assert_ptr_equal(fake.db[round], db_of(&a));
		/* The insert's outcome is the submit's. */
		assert_int_equal(a.err, round == 0 ? AIGW_OK : AIGW_EDB);
	}
	commit_group_destroy(&g);
}

static void
test_submits_behind_a_write_go_together_in_order(void **state)
{
	struct commit_group g;
	struct submit s[4];

	(void)state;
	commit_group_init_insert(&g, fake_insert);
	fake.result[1] = AIGW_ENOMEM;
	start(&s[0], &g);
	wait_calls(1);
	/* s[0]'s insert is held: the others queue behind it, in order. */
	for (int i = 1; i < 4; i++)
		start_queued(&s[i], &g);
	sleep_ms(20);
	assert_int_equal(calls_made(), 1);
	for (int i = 0; i < 4; i++)
		assert_false(returned(&s[i]));

	release(1);
	finish(&s[0]);
	assert_int_equal(s[0].err, AIGW_OK);
	/* One statement for the three that waited, in the order they came,
	 * written by one of them on its own connection. */
	wait_calls(2);
	assert_int_equal(fake.n[1], 3);
	for (int i = 1; i < 4; i++)
		assert_ptr_equal(fake.rows[1][i - 1], &s[i].row);
	assert_true(fake.db[1] == db_of(&s[1]) || fake.db[1] == db_of(&s[2]) ||
		    fake.db[1] == db_of(&s[3]));
	/* None answers before the commit that holds its row. */
	sleep_ms(20);
	for (int i = 1; i < 4; i++)
		assert_false(returned(&s[i]));

	release(2);
	for (int i = 1; i < 4; i++) {
		finish(&s[i]);
		/* The group's outcome is every member's. */
		assert_int_equal(s[i].err, AIGW_ENOMEM);
	}
	assert_int_equal(calls_made(), 2);
	commit_group_destroy(&g);
}

static void
test_a_group_holds_at_most_the_bound(void **state)
{
	static struct submit s[SUBMITS_MAX];
	struct commit_group g;
	size_t queued = COMMIT_GROUP_MAX + 1;

	(void)state;
	commit_group_init_insert(&g, fake_insert);
	start(&s[0], &g);
	wait_calls(1);
	for (size_t i = 1; i <= queued; i++)
		start_queued(&s[i], &g);
	release(CALLS_MAX);
	for (size_t i = 0; i <= queued; i++) {
		finish(&s[i]);
		assert_int_equal(s[i].err, AIGW_OK);
	}
	/* The first COMMIT_GROUP_MAX that waited, then the one left over. */
	assert_int_equal(calls_made(), 3);
	assert_int_equal(fake.n[0], 1);
	assert_int_equal(fake.n[1], COMMIT_GROUP_MAX);
	assert_int_equal(fake.n[2], 1);
	for (size_t i = 0; i < COMMIT_GROUP_MAX; i++)
		assert_ptr_equal(fake.rows[1][i], &s[i + 1].row);
	assert_ptr_equal(fake.rows[2][0], &s[queued].row);
	/* Nobody else was waiting: the last one wrote its row itself. */
	assert_ptr_equal(fake.db[2], db_of(&s[queued]));
	commit_group_destroy(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_alone_goes_straight_through, reset),
		cmocka_unit_test_setup(test_submits_behind_a_write_go_together_in_order, reset),
		cmocka_unit_test_setup(test_a_group_holds_at_most_the_bound, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
