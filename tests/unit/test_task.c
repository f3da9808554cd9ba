/* test_task.c: the task engine's timing rules and life cycle, on a fake
 * clock (now is an argument): retry delays with seeded full jitter,
 * Retry-After, the cap, the first attempt's due time, lease renewals,
 * write retries, each attempt's timeout, rate-limit and pause admission; and how a final result
 * is written (worker/results.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "worker/results.h"
#include "worker/task.h"

static const char *
fake_log_id(const struct task *t)
{
	(void)t;
	return "00000000-0000-0000-0000-000000000000";
}

static const struct task_ops fake_ops = { .log_id = fake_log_id };

static void
test_rand32_is_seeded(void **state)
{
	uint64_t rng = 42;

	(void)state;
	assert_int_equal(task_rand32(&rng), 1456360119u);
	assert_int_equal(task_rand32(&rng), 3359763283u);
	rng = 42;
	assert_int_equal(task_rand32(&rng), 1456360119u);
}

static void
test_retry_delays_full_jitter(void **state)
{
	/* backoff 500, 1000, 2000 ... ms; the delay is uniform in [0, backoff] */
	static const int64_t want[] = { 169, 783, 1581, 3777, 6115, 13372, 6126, 13194 };
	uint64_t rng = 42;
	int64_t now = 1000000;

	(void)state;
	for (int attempts = 1; attempts <= 8; attempts++) {
		assert_int_equal(task_retry_at(now, attempts, -1, &rng), now + want[attempts - 1]);
		now += 17;
	}
}

static void
test_retry_after_is_honoured(void **state)
{
	uint64_t rng = 42;

	(void)state;
	/* the jitter would say 169 ms; the provider asked for 3 s */
	assert_int_equal(task_retry_at(5000, 1, 3, &rng), 5000 + 3000);
	/* a Retry-After shorter than the jitter leaves the jitter */
	rng = 42;
	assert_int_equal(task_retry_at(5000, 1, 0, &rng), 5000 + 169);
	/* and may be longer than the cap */
	rng = 42;
	assert_int_equal(task_retry_at(0, 9, 120, &rng), 120000);
}

static void
test_retry_delay_is_capped(void **state)
{
	uint64_t rng = 7;

	(void)state;
	/* 500 * 2^6 is past the cap: from the 7th attempt on, [0, 30000] */
	assert_int_equal(task_retry_at(0, 7, -1, &rng), 24608);
	assert_int_equal(task_retry_at(0, 20, -1, &rng), 27849);
	assert_int_equal(task_retry_at(0, 1000, -1, &rng), 2680);
	for (int i = 0; i < 10000; i++) {
		int64_t d = task_retry_at(0, 30, -1, &rng);

		assert_true(d >= 0 && d <= TASK_RETRY_CAP_MS);
	}
}

static void
test_first_attempt_due(void **state)
{
	(void)state;
	assert_int_equal(task_first_due(7000, false, 250), 7000);
	/* the built-in mock answers after its delay, as a provider would */
	assert_int_equal(task_first_due(7000, true, 250), 7250);
}

static void
test_write_retry_and_lease_times(void **state)
{
	(void)state;
	assert_int_equal(task_write_retry_at(12345), 12345 + WRITE_RETRY_MS);
	/* a lease of 30 s is renewed every 10 s */
	assert_int_equal(task_lease_next(100000, 30), 110000);
	assert_int_equal(task_lease_next(100000, 31), 110333);
	/* a grouped renewal at now takes the leases due within 5 s */
	assert_true(task_lease_due_soon(100000, 100000, 30));
	assert_true(task_lease_due_soon(105000, 100000, 30));
	assert_false(task_lease_due_soon(105001, 100000, 30));
	assert_true(task_lease_due_soon(90000, 100000, 30));
}

static void
test_rate_admission(void **state)
{
	struct route rt = { .rpm = 0, .tpm = 0 };
	struct task t = { .ops = &fake_ops, .provider = "openai", .state = TASK_WAITING };

	(void)state;
	/* no limits: the database is never asked */
	assert_int_equal(task_rate_hold(&rt, 1000), -1);
	rt.rpm = 60;
	assert_int_equal(task_rate_hold(&rt, 1000), 0);
	assert_int_equal(task_rate_waited(&t, 1000), -1);
	/* the database says: 250 ms more */
	assert_false(task_rate_settle(&rt, &t, 250, 1000));
	assert_int_equal(t.state, TASK_WAITING);
	assert_int_equal(t.due_ms, 1250);
	assert_int_equal(rt.rate_open_ms, 1250);
	/* the provider's other tasks here wait without asking */
	assert_int_equal(task_rate_hold(&rt, 1100), 150);
	assert_int_equal(task_rate_hold(&rt, 1250), 0);
	/* asked again: it has waited since its first refusal */
	assert_int_equal(task_rate_waited(&t, 1250), 250);
	assert_false(task_rate_settle(&rt, &t, 100, 1250));
	assert_int_equal(t.due_ms, 1350);
	assert_int_equal(task_rate_waited(&t, 1350), 350);
	/* admitted: no longer waiting, nothing else moves */
	assert_true(task_rate_settle(&rt, &t, 0, 1350));
	assert_int_equal(task_rate_waited(&t, 1400), -1);
	assert_int_equal(t.due_ms, 1350);
	assert_int_equal(t.state, TASK_WAITING);
}

static void
test_pause_admission(void **state)
{
	struct route rt = { .pause_until_ms = 5000 };
	struct task t = { .ops = &fake_ops, .provider = "openai", .state = TASK_WAITING };

	(void)state;
	assert_false(task_pause_settle(&rt, &t, 4000));
	assert_int_equal(t.state, TASK_WAITING);
	assert_int_equal(t.due_ms, 5000);
	assert_int_equal(t.attempts, 0); /* waiting is not an attempt */
	assert_true(task_pause_settle(&rt, &t, 5000));
	rt.pause_until_ms = 0;
	assert_true(task_pause_settle(&rt, &t, 0));
}

static void
test_task_moves(void **state)
{
	static const struct { enum task_state from, to; bool ok; } moves[] = {
		{ TASK_WAITING, TASK_INFLIGHT, true },    { TASK_WAITING, TASK_UNWRITTEN, true },
		{ TASK_WAITING, TASK_DELEGATED, true },   { TASK_WAITING, TASK_DONE, true },
		{ TASK_INFLIGHT, TASK_WAITING, true },    { TASK_INFLIGHT, TASK_UNWRITTEN, true },
		{ TASK_INFLIGHT, TASK_DONE, true },       { TASK_UNWRITTEN, TASK_DONE, true },
		{ TASK_DELEGATED, TASK_DONE, true },
		{ TASK_WAITING, TASK_WAITING, false },    { TASK_INFLIGHT, TASK_INFLIGHT, false },
		{ TASK_INFLIGHT, TASK_DELEGATED, false }, { TASK_UNWRITTEN, TASK_WAITING, false },
		{ TASK_UNWRITTEN, TASK_INFLIGHT, false }, { TASK_DELEGATED, TASK_WAITING, false },
		{ TASK_DELEGATED, TASK_UNWRITTEN, false }, { TASK_DONE, TASK_DONE, false },
		{ TASK_DONE, TASK_WAITING, false },       { TASK_DONE, TASK_UNWRITTEN, false },
		{ TASK_WAITING, TASK_STATE_COUNT, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
		enum task_state s = moves[i].from;

		assert_int_equal(task_state_move(&s, moves[i].to, NULL), moves[i].ok);
		assert_int_equal(s, moves[i].ok ? moves[i].to : moves[i].from);
	}
}

static void
test_results_written_once_per_turn(void **state)
{
	struct task ts[3] = {
		{ .ops = &fake_ops, .provider = "a", .state = TASK_UNWRITTEN, .due_ms = 1000 },
		{ .ops = &fake_ops, .provider = "b", .state = TASK_UNWRITTEN, .due_ms = 2000 },
		{ .ops = &fake_ops, .provider = "c", .state = TASK_INFLIGHT, .due_ms = 0 },
	};
	struct task *held[] = { &ts[0] };

	(void)state;
	assert_int_equal(results_count(ts, 3, 999), 0);
	assert_int_equal(results_count(ts, 3, 1000), 1);
	assert_int_equal(results_count(ts, 3, 5000), 2);
	/* the database is away: held WRITE_RETRY_MS */
	results_hold(held, 1, 1500);
	assert_int_equal(ts[0].due_ms, 1500 + WRITE_RETRY_MS);
	assert_false(results_due(&ts[0], 2499));
	assert_true(results_due(&ts[0], 2500));
	results_hold_due(ts, 3, 2000);
	assert_int_equal(ts[0].due_ms, 1500 + WRITE_RETRY_MS); /* not due at 2000 */
	assert_int_equal(ts[1].due_ms, 2000 + WRITE_RETRY_MS);
	assert_int_equal(ts[2].due_ms, 0);
	/* written: settled, its result freed, never written again */
	ts[0].result_json = strdup("{\"ok\":true}");
	assert_non_null(ts[0].result_json);
	results_written(&ts[0]);
	assert_int_equal(ts[0].state, TASK_DONE);
	assert_null(ts[0].result_json);
	assert_false(results_due(&ts[0], 100000));
}

/* Every attempt gets the whole configured timeout: a retry is not cut
 * short by the time earlier attempts took. */
static void
test_attempt_timeout(void **state)
{
	struct aigw_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.provider_timeout_s = 120;
	assert_int_equal(task_attempt_timeout_s(&cfg), 120);
	cfg.provider_timeout_s = 1;
	assert_int_equal(task_attempt_timeout_s(&cfg), 1);
	cfg.provider_timeout_s = 3600;
	assert_int_equal(task_attempt_timeout_s(&cfg), 3600);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rand32_is_seeded),
		cmocka_unit_test(test_retry_delays_full_jitter),
		cmocka_unit_test(test_retry_after_is_honoured),
		cmocka_unit_test(test_retry_delay_is_capped),
		cmocka_unit_test(test_first_attempt_due),
		cmocka_unit_test(test_write_retry_and_lease_times),
		cmocka_unit_test(test_rate_admission),
		cmocka_unit_test(test_pause_admission),
		cmocka_unit_test(test_task_moves),
		cmocka_unit_test(test_results_written_once_per_turn),
		cmocka_unit_test(test_attempt_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
