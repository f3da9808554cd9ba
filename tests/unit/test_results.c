/* test_results.c: the one write path of final results (worker/results.h):
 * a turn's results of every chat and job step go out as one grouped
 * statement per kind, whatever their number; each row learns whether it
 * was stored or kept out by the fence; when the database is away every row
 * of the write is held WRITE_RETRY_MS; a batch's answers go the same way.
 * The three grouped writes of src/db are replaced here (ld --wrap) by fakes that count statements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db/chats.h"
#include "db/jobs.h"
#include "worker/results.h"
#include "worker/task.h"

static struct {
	int chat_calls, job_calls, batch_calls;  /* statements issued */
	size_t chat_rows, job_rows;      /* rows of the last one */
	enum aigw_err answer;            /* what the database does */
	size_t fenced;                   /* this row (of each write) is kept out */
	int job_step_of_row1;            /* what the job write was given */
	const char *chat_result_of_row0;
} fake;

enum aigw_err __wrap_db_chat_write_results(struct db *db, struct db_chat_result *rows, size_t n);
enum aigw_err __wrap_db_batch_results(struct db *db, const char *const *item_ids,
				      const char *const *results, size_t n);
enum aigw_err __wrap_db_job_step_results(struct db *db, struct db_job_step_result_row *rows,
					 size_t n);

enum aigw_err
__wrap_db_chat_write_results(struct db *db, struct db_chat_result *rows, size_t n)
{
	(void)db;
	fake.chat_calls++;
	fake.chat_rows = n;
	fake.chat_result_of_row0 = n > 0 ? rows[0].result_json : NULL;
	for (size_t i = 0; i < n; i++) {
		rows[i].written = fake.answer == AIGW_OK && i != fake.fenced;
		snprintf(rows[i].status, sizeof rows[i].status, "%s", rows[i].finish ? "done" : "");
	}
	return fake.answer;
}

enum aigw_err
__wrap_db_job_step_results(struct db *db, struct db_job_step_result_row *rows, size_t n)
{
	(void)db;
	fake.job_calls++;
	fake.job_rows = n;
	fake.job_step_of_row1 = n > 1 ? rows[1].step : -1;
	for (size_t i = 0; i < n; i++)
		rows[i].written = fake.answer == AIGW_OK && i != fake.fenced;
	return fake.answer;
}

enum aigw_err
__wrap_db_batch_results(struct db *db, const char *const *item_ids, const char *const *results,
			size_t n)
{
	(void)db;
	fake.batch_calls++;
	assert_int_equal(n, 2);
	assert_string_equal(item_ids[1], "item-b");
	assert_string_equal(results[1], "{\"ok\":false}");
	return fake.answer;
}

static const char *
fake_log_id(const struct task *t)
{
	(void)t;
	return "00000000-0000-0000-0000-000000000000";
}

static const struct task_ops fake_ops = { .log_id = fake_log_id };

#define NJOB 7                      /* job-step results in one turn */
#define NCHAT 3                     /* chat results in the same turn */

struct turn {
	struct task tasks[NJOB + NCHAT];
	struct results_queue q;
};

/* Queues NJOB job-step results (of several jobs and steps) and NCHAT chat
 * results, mixed, as a turn's runners would. */
static void
queue_turn(struct turn *tu)
{
	memset(tu, 0, sizeof *tu);
	memset(&fake, 0, sizeof fake);
	fake.fenced = (size_t)-1;
	for (size_t i = 0; i < NJOB + NCHAT; i++) {
		struct task *t = &tu->tasks[i];
		bool chat = i % 3 == 2;
		struct result_row r = {
			.kind = chat ? RESULT_CHAT : RESULT_JOB_STEP, .task = t, .provider = "p",
			.id = chat ? "chat" : (i < 4 ? "job-a" : "job-b"), .attempt = 1,
			.step = (int)i % 2, .finish = chat,
		};

		*t = (struct task){ .ops = &fake_ops, .provider = "p", .state = TASK_UNWRITTEN,
				    .result_json = strdup(chat ? "{\"chat\":true}" : "{\"ok\":true}") };
		assert_non_null(t->result_json);
		r.result_json = t->result_json;
		assert_true(results_add(&tu->q, &r));
	}
	assert_int_equal(tu->q.n, NJOB + NCHAT);
}

static void
turn_free(struct turn *tu)
{
	for (size_t i = 0; i < NJOB + NCHAT; i++)
		free(tu->tasks[i].result_json);
	results_queue_free(&tu->q);
}

static void
test_one_statement_per_kind_per_turn(void **state)
{
	struct turn tu;

	(void)state;
	queue_turn(&tu);
	fake.answer = AIGW_OK;
	results_flush(NULL, &tu.q, 5000);
	/* NJOB job-step results: one statement (one each before) */
	assert_int_equal(fake.job_calls, 1);
	assert_int_equal(fake.job_rows, NJOB);
	assert_int_equal(fake.job_step_of_row1, 1);
	assert_int_equal(fake.chat_calls, 1);
	assert_int_equal(fake.chat_rows, NCHAT);
	assert_string_equal(fake.chat_result_of_row0, "{\"chat\":true}");
	for (size_t i = 0; i < tu.q.n; i++) {
		assert_int_equal(tu.q.rows[i].outcome, RESULT_STORED);
		if (tu.q.rows[i].kind == RESULT_CHAT)
			assert_string_equal(tu.q.rows[i].status, "done");
	}
	/* rows stay queued for their owner until the turn is over */
	results_clear(&tu.q);
	assert_int_equal(tu.q.n, 0);
	results_flush(NULL, &tu.q, 5000);
	assert_int_equal(fake.job_calls, 1);
	assert_int_equal(fake.chat_calls, 1);
	turn_free(&tu);
}

static void
test_fenced_rows_are_told(void **state)
{
	struct turn tu;
	size_t fenced = 0;

	(void)state;
	queue_turn(&tu);
	fake.answer = AIGW_OK;
	fake.fenced = 1;       /* the second row of each write */
	results_flush(NULL, &tu.q, 5000);
	for (size_t i = 0; i < tu.q.n; i++) {
		fenced += tu.q.rows[i].outcome == RESULT_FENCED;
		assert_int_not_equal(tu.q.rows[i].outcome, RESULT_HELD);
		assert_int_equal(tu.tasks[i].due_ms, 0);
	}
	assert_int_equal(fenced, 2);
	assert_int_equal(tu.q.rows[1].outcome, RESULT_FENCED);  /* job row 1 */
	assert_int_equal(tu.q.rows[5].outcome, RESULT_FENCED);  /* chat row 1 */
	turn_free(&tu);
}

static void
test_database_away_holds_every_row(void **state)
{
	struct turn tu;

	(void)state;
	queue_turn(&tu);
	fake.answer = AIGW_EDB;
	results_flush(NULL, &tu.q, 5000);
	assert_int_equal(fake.job_calls, 1);
	assert_int_equal(fake.chat_calls, 1);
	for (size_t i = 0; i < tu.q.n; i++) {
		assert_int_equal(tu.q.rows[i].outcome, RESULT_HELD);
		assert_int_equal(tu.tasks[i].due_ms, 5000 + WRITE_RETRY_MS);
		assert_false(results_due(&tu.tasks[i], 5000 + WRITE_RETRY_MS - 1));
		assert_true(results_due(&tu.tasks[i], 5000 + WRITE_RETRY_MS));
		assert_int_equal(tu.tasks[i].state, TASK_UNWRITTEN);
	}
	turn_free(&tu);
}

static void
test_only_the_kinds_queued_are_written(void **state)
{
	struct turn tu;

	(void)state;
	queue_turn(&tu);
	/* only job steps this turn */
	for (size_t i = 0, k = 0; i < tu.q.n; i++)
		if (tu.q.rows[i].kind == RESULT_JOB_STEP)
			tu.q.rows[k++] = tu.q.rows[i];
	tu.q.n = NJOB;
	fake.answer = AIGW_OK;
	results_flush(NULL, &tu.q, 5000);
	assert_int_equal(fake.job_calls, 1);
	assert_int_equal(fake.chat_calls, 0);
	turn_free(&tu);
}

/* The calls a batch answered go by the same path: one statement for the
 * group, no task to hold (the batch keeps its answers itself). */
static void
test_batch_items_by_the_same_path(void **state)
{
	struct results_queue q = { 0 };
	const struct result_row a = { .kind = RESULT_BATCH_ITEM, .id = "item-a",
				      .result_json = "{\"ok\":true}" };
	const struct result_row b = { .kind = RESULT_BATCH_ITEM, .id = "item-b",
				      .result_json = "{\"ok\":false}" };

	(void)state;
	memset(&fake, 0, sizeof fake);
	assert_true(results_add(&q, &a));
	assert_true(results_add(&q, &b));
	fake.answer = AIGW_OK;
	results_flush(NULL, &q, 5000);
	assert_int_equal(fake.batch_calls, 1);
	assert_int_equal(fake.chat_calls + fake.job_calls, 0);
	assert_int_equal(q.rows[0].outcome, RESULT_STORED);
	assert_int_equal(q.rows[1].outcome, RESULT_STORED);
	results_clear(&q);
	assert_true(results_add(&q, &a));
	assert_true(results_add(&q, &b));
	fake.answer = AIGW_EDB;
	results_flush(NULL, &q, 5000);
	assert_int_equal(fake.batch_calls, 2);
	assert_int_equal(q.rows[0].outcome, RESULT_HELD);
	assert_int_equal(q.rows[1].outcome, RESULT_HELD);
	results_queue_free(&q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_statement_per_kind_per_turn),
		cmocka_unit_test(test_fenced_rows_are_told),
		cmocka_unit_test(test_database_away_holds_every_row),
		cmocka_unit_test(test_only_the_kinds_queued_are_written),
		cmocka_unit_test(test_batch_items_by_the_same_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
