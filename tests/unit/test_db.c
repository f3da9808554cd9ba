/* test_db.c: the array literals that carry many rows in one statement, and
 * the settings each connection gets. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
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

/* The text of every .c file of src/db, one after another; NULL (the test
 * skipped) without AIGW_SRCDIR. */
static char *
db_sources(void)
{
	const char *srcdir = getenv("AIGW_SRCDIR");
	char dir[1024];
	char *text = NULL;
	size_t len = 0;
	struct dirent *e;
	DIR *d;

	if (srcdir == NULL)
		return NULL;
	snprintf(dir, sizeof dir, "%s/src/db", srcdir);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[1300];
		FILE *f;
		long size;

		if (n < 2 || strcmp(e->d_name + n - 2, ".c") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fseek(f, 0, SEEK_SET);
		text = realloc(text, len + (size_t)size + 1);
		assert_non_null(text);
		assert_int_equal(fread(text + len, 1, (size_t)size, f), (size_t)size);
		len += (size_t)size;
		text[len] = '\0';
		fclose(f);
	}
	closedir(d);
	return text;
}

/* Whether the statement named name says it may run twice; fails the
 * test when no statement has that name or it does not say. */
static bool
stmt_idempotent(const char *sources, const char *name)
{
	char needle[128];
	const char *def, *flag, *next;

	snprintf(needle, sizeof needle, ".name = \"%s\",", name);
	def = strstr(sources, needle);
	if (def == NULL) {
		fail_msg("no statement named %s in src/db", name);
		return false;
	}
	def += strlen(needle);
	if (strstr(def, needle) != NULL)
		fail_msg("two statements named %s", name);
	flag = strstr(def, ".idempotent = ");
	next = strstr(def, ".name = \"");
	if (flag == NULL || (next != NULL && next < flag))
		fail_msg("statement %s does not say whether it may run twice", name);
	return strncmp(flag + strlen(".idempotent = "), "true", 4) == 0;
}

static void
test_claims_and_inserts_are_never_rerun(void **state)
{
	/* The server may have committed them when the connection was lost:
	 * run again, a claim orphans the rows it took, an insert fails on its
	 * own ids, an update answers "not found". */
	static const char *const once[] = {
		"chat_insert", "chat_claim", "chat_write_results", "chat_finish",
		"slot_reserve", "slot_take", "batch_item_add", "batch_form", "batch_claim",
		"batch_save", "batch_result", "key_create", "key_revoke", "active_lock",
		"reap_chats_unclaimed", "reap_chats_spent", "reap_chats_requeue",
		"reap_chats_delete", "reap_jobs_unclaimed", "reap_jobs_spent",
		"reap_jobs_requeue", "reap_jobs_delete", "reap_turn", "job_insert",
		"job_cancel", "job_claim", "analysis_claim_lock", "job_claim_analysis",
		"job_step_start", "job_step_results", "job_step_end", "job_fail", "rate_lock",
		"rate_reserve", "prompt_add", "prompt_deactivate", "schedule_lock",
		"schedule_unlock", "schedule_batch", "schedule_page",
	};
	static const char *const reads[] = {
		"chat_stored", "job_accepted", "chat_claimed", "job_claimed", "chat_status",
		"health", "queue_waiting", "key_lookup", "job_get", "job_status", "job_list",
		"metrics", "overview",
	};
	char *sources = db_sources();

	(void)state;
	if (sources == NULL)
		skip();
	for (size_t i = 0; i < sizeof once / sizeof once[0]; i++)
		if (stmt_idempotent(sources, once[i]))
			fail_msg("statement %s would be run twice", once[i]);
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
		assert_true(stmt_idempotent(sources, reads[i]));
	free(sources);
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
