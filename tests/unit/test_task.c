/* test_task.c: the task engine's timing rules and life cycle, on a fake
 * clock (now is an argument): retry delays with seeded full jitter,
 * Retry-After, the cap, the first attempt's due time, lease renewals,
 * write retries, each attempt's timeout, rate-limit and pause admission; and how a final result
 * is written (worker/results.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

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

/* Which attempts stream: everything but a batch provider, when on. */
static void
test_what_streams(void **state)
{
	struct aigw_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.stream = true;
	assert_true(task_streams(&cfg, PROV_SYNC));
	assert_true(task_streams(&cfg, PROV_BUILTIN));
	assert_false(task_streams(&cfg, PROV_ASYNC));
	cfg.stream = false;
	assert_false(task_streams(&cfg, PROV_SYNC));
	assert_false(task_streams(&cfg, PROV_BUILTIN));
}

/* Writes t's waiting pieces as its owner would, appending their text to
 * *text (a reset empties it). */
static void
owner_flush(struct task *t, char *text, size_t len)
{
	const struct db_piece base = { .id = "c", .attempt = 1, .provider = t->provider };
	struct db_piece rows[2];
	struct pieces *streams[2];
	size_t n = pieces_rows(&t->pieces, &base, rows, streams);

	for (size_t i = 0; i < n; i++) {
		if (rows[i].reset)
			text[0] = '\0';
		else
			strncat(text, rows[i].text, len - strlen(text) - 1);
	}
	pieces_rows_written(streams, n);
}

/* The built-in mock streams its answer word by word on the fake clock,
 * then completes with the whole text as its result. */
static void
test_the_mock_streams_its_answer(void **state)
{
	struct aigw_config cfg;
	struct route rt = { .desc = prov_find("mock"), .mock = true };
	struct task_engine te = { .cfg = &cfg, .routes = { &rt, 1 }, .rng = 1 };
	struct task t;
	char streamed[512] = "";
	int64_t now = 0, next;
	int turns = 0;
	json_object *result;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.stream = true;
	cfg.mock_tokens_per_s = 10;
	cfg.mock_delay_ms = 100;
	cfg.max_attempts = 3;
	memset(&t, 0, sizeof t);
	task_init(&te, &t, &fake_ops, NULL, "mock", "m", now);
	t.call.message = "one two three four five";
	t.call.max_tokens = 100;
	/* Nothing before the mock's delay. */
	next = INT64_MAX;
	task_turn(&te, &t, 50, &next);
	assert_int_equal(t.state, TASK_WAITING);
	assert_int_equal(next, 100);
	/* Then a word at once, and one every 100 ms. */
	now = 100;
	while (t.state != TASK_UNWRITTEN) {
		next = INT64_MAX;
		task_turn(&te, &t, now, &next);
		if (t.state == TASK_INFLIGHT) {
			assert_int_equal(next, now + 100);
			assert_int_equal(pieces_count(&t.pieces), 1);
		}
		owner_flush(&t, streamed, sizeof streamed);
		now = next;
		assert_true(++turns < 20);
	}
	/* "mock answer from m: " and the five words: 9 words, 9 turns. */
	assert_int_equal(turns, 9);
	result = json_tokener_parse(t.result_json);
	assert_non_null(result);
	assert_string_equal(json_object_get_string(json_object_object_get(result, "text")),
			    streamed);
	assert_string_equal(streamed, "mock answer from m: one two three four five");
	json_object_put(result);
	task_abandon(&te, &t);
	/* Off: the whole answer at once. */
	cfg.stream = false;
	memset(&t, 0, sizeof t);
	task_init(&te, &t, &fake_ops, NULL, "mock", "m", 0);
	t.call.message = "one two";
	next = INT64_MAX;
	task_turn(&te, &t, 100, &next);
	assert_int_equal(t.state, TASK_UNWRITTEN);
	assert_int_equal(pieces_count(&t.pieces), 0);
	task_abandon(&te, &t);
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
		cmocka_unit_test(test_what_streams),
		cmocka_unit_test(test_the_mock_streams_its_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
