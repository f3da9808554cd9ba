/* test_db.c: the array literals that carry many rows in one statement, and
 * the settings each connection gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/db.h"

static void
check_literal(const char *const *items, size_t n, const char *want)
{
	char *got = db_array_literal(items, n);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_empty_array(void **state)
{
	(void)state;
	check_literal(NULL, 0, "{}");
}

static void
test_every_element_quoted(void **state)
{
	/* Unquoted, NULL would be a null, and a comma or brace would split
	 * or nest the element. */
	const char *items[] = { "NULL", "a,b", "{x}", "", " spaced " };

	(void)state;
	check_literal(items, 5, "{\"NULL\",\"a,b\",\"{x}\",\"\",\" spaced \"}");
}

static void
test_quotes_and_backslashes_escaped(void **state)
{
	const char *items[] = { "{\"text\":\"say \\\"hi\\\"\\n\"}", "\\" };

	(void)state;
	check_literal(items, 2, "{\"{\\\"text\\\":\\\"say \\\\\\\"hi\\\\\\\"\\\\n\\\"}\",\"\\\\\"}");
}

static void
test_null_item_is_an_sql_null(void **state)
{
	const char *items[] = { NULL, "NULL", NULL };

	(void)state;
	check_literal(items, 3, "{NULL,\"NULL\",NULL}");
}

static void
test_utf8_passes_unchanged(void **state)
{
	const char *items[] = { "\xe6\x97\xa5\xe6\x9c\xac" };

	(void)state;
	check_literal(items, 1, "{\"\xe6\x97\xa5\xe6\x9c\xac\"}");
}

static const char *
param(const char *const *keys, const char *const *vals, const char *key)
{
	for (size_t i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return vals[i];
	return NULL;
}

static void
test_connections_notice_a_silent_peer(void **state)
{
	struct db_options opt = { .timeout_s = 10, .deadline = true, .statement_timeout = true };
	const char *keys[DB_CONN_PARAMS_MAX + 1], *vals[DB_CONN_PARAMS_MAX + 1];
	char bufs[DB_CONN_PARAMS_MAX][48];
	size_t n;

	(void)state;
	n = db_conn_params(&opt, "postgresql://u@h/d?keepalives_idle=60", keys, vals, bufs);
	assert_true(n <= DB_CONN_PARAMS_MAX);
	assert_null(keys[n]);
	assert_string_equal(param(keys, vals, "keepalives"), "1");
	assert_string_equal(param(keys, vals, "keepalives_idle"), "5");
	assert_string_equal(param(keys, vals, "keepalives_count"), "3");
	assert_string_equal(param(keys, vals, "tcp_user_timeout"), "10000");
	assert_string_equal(param(keys, vals, "gssencmode"), "disable");
	assert_string_equal(param(keys, vals, "options"), "-c statement_timeout=10000");
	/* The user's conninfo comes last, so libpq lets what it sets win. */
	assert_string_equal(keys[n - 1], "dbname");
	assert_string_equal(vals[n - 1], "postgresql://u@h/d?keepalives_idle=60");
}

static void
test_no_statement_timeout_unless_asked(void **state)
{
	struct db_options opt = { .timeout_s = 3, .deadline = true };
	const char *keys[DB_CONN_PARAMS_MAX + 1], *vals[DB_CONN_PARAMS_MAX + 1];
	char bufs[DB_CONN_PARAMS_MAX][48];

	(void)state;
	(void)db_conn_params(&opt, "", keys, vals, bufs);
	assert_null(param(keys, vals, "options"));
	assert_string_equal(param(keys, vals, "keepalives_idle"), "1");
	assert_string_equal(param(keys, vals, "tcp_user_timeout"), "3000");
}

static void
test_pooler_means_no_session_state(void **state)
{
	struct aigw_config cfg = { .db_timeout_s = 10, .db_pooler = POOLER_TRANSACTION };
	struct db_options o;

	(void)state;
	db_options_of(&cfg, DB_USE_REQUEST, &o);
	assert_true(o.unnamed && o.deadline && !o.statement_timeout);
	db_options_of(&cfg, DB_USE_WORK, &o);
	assert_true(o.unnamed && o.deadline);
	db_options_of(&cfg, DB_USE_CLI, &o);
	assert_true(o.unnamed && !o.deadline);
	/* LISTEN and session locks go past the pooler: prepared is fine. */
	db_options_of(&cfg, DB_USE_LISTEN, &o);
	assert_true(!o.unnamed && o.deadline);
	db_options_of(&cfg, DB_USE_CLI_SESSION, &o);
	assert_true(!o.unnamed && !o.deadline);

	cfg.db_pooler = POOLER_NONE;
	db_options_of(&cfg, DB_USE_REQUEST, &o);
	assert_true(!o.unnamed && o.statement_timeout && o.timeout_s == 10);
	db_options_of(&cfg, DB_USE_WORK, &o);
	assert_true(!o.unnamed && !o.statement_timeout);
}

static void
test_claims_and_inserts_are_never_rerun(void **state)
{
	/* The server may have committed them when the connection was lost:
	 * run again, a claim orphans the rows it took, an insert fails on its
	 * own ids, an update answers "not found". */
	static const enum db_stmt once[] = {
		DB_CHAT_INSERT, DB_CHAT_CLAIM, DB_CHAT_WRITE_RESULTS, DB_CHAT_FINISH,
		DB_SLOT_RESERVE, DB_SLOT_TAKE, DB_BATCH_ITEM_ADD, DB_BATCH_FORM, DB_BATCH_CLAIM,
		DB_BATCH_SAVE, DB_BATCH_RESULT, DB_KEY_CREATE, DB_KEY_REVOKE, DB_ACTIVE_LOCK,
		DB_REAP_CHATS_UNCLAIMED, DB_REAP_CHATS_SPENT, DB_REAP_CHATS_REQUEUE,
		DB_REAP_CHATS_DELETE, DB_REAP_JOBS_UNCLAIMED, DB_REAP_JOBS_SPENT,
		DB_REAP_JOBS_REQUEUE, DB_REAP_JOBS_DELETE, DB_REAP_TURN, DB_JOB_INSERT,
		DB_JOB_CANCEL, DB_JOB_CLAIM, DB_ANALYSIS_CLAIM_LOCK, DB_JOB_CLAIM_ANALYSIS,
		DB_JOB_STEP_START, DB_JOB_STEP_RESULT, DB_JOB_STEP_END, DB_JOB_FAIL,
		DB_RATE_LOCK, DB_RATE_RESERVE, DB_PROMPT_ADD, DB_PROMPT_DEACTIVATE,
		DB_SCHEDULE_LOCK, DB_SCHEDULE_UNLOCK, DB_SCHEDULE_BATCH, DB_SCHEDULE_PAGE,
	};
	static const enum db_stmt reads[] = {
		DB_CHAT_STORED, DB_JOB_ACCEPTED, DB_CHAT_CLAIMED, DB_JOB_CLAIMED, DB_CHAT_STATUS, DB_HEALTH, DB_QUEUE_WAITING,
		DB_KEY_LOOKUP, DB_JOB_GET, DB_JOB_STATUS, DB_JOB_LIST, DB_METRICS, DB_STATUS,
	};

	(void)state;
	for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
		if (db_stmt_idempotent(once[i]))
			fail_msg("statement %d would be run twice", (int)once[i]);
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
		assert_true(db_stmt_idempotent(reads[i]));
	assert_false(db_stmt_idempotent(DB_STMT__MAX));
	assert_false(db_stmt_idempotent((enum db_stmt)-1));
}

static void
test_claim_tokens_are_unique(void **state)
{
	char a[DB_CLAIM_TOKEN_MAX], b[DB_CLAIM_TOKEN_MAX];

	(void)state;
	db_claim_token("host:42", a, sizeof a);
	db_claim_token("host:42", b, sizeof b);
	assert_string_not_equal(a, b);
	assert_memory_equal(a, "host#", 5);
	/* Still ends in the pid, as the worker's name does. */
	assert_string_equal(strrchr(a, ':'), ":42");
	db_claim_token("nameless", a, sizeof a);
	assert_memory_equal(a, "nameless#", 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_array),
		cmocka_unit_test(test_every_element_quoted),
		cmocka_unit_test(test_quotes_and_backslashes_escaped),
		cmocka_unit_test(test_null_item_is_an_sql_null),
		cmocka_unit_test(test_utf8_passes_unchanged),
		cmocka_unit_test(test_connections_notice_a_silent_peer),
		cmocka_unit_test(test_no_statement_timeout_unless_asked),
		cmocka_unit_test(test_pooler_means_no_session_state),
		cmocka_unit_test(test_claims_and_inserts_are_never_rerun),
		cmocka_unit_test(test_claim_tokens_are_unique),
	};

	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
