/* test_config.c: the configuration table, its validators and the env file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

static char env_path[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(env_path, sizeof env_path, "/tmp/aigw-test-env-%ld", (long)getpid());
	setenv("AIGW_ENV_FILE", env_path, 1);
	unlink(env_path);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(env_path);
	unsetenv("AIGW_ENV_FILE");
	return 0;
}

static void
write_env(const char *text)
{
	FILE *f = fopen(env_path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_defaults(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	unsetenv("AIGW_WORKERS_MAX");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.max_body, 262144);
	assert_int_equal(cfg.workers_max, 4);
	assert_int_equal(cfg.worker_idle_s, 30);
	assert_int_equal(cfg.chat_ttl_s, 3600);
	assert_int_equal(cfg.max_attempts, 3);
	assert_int_equal(cfg.provider_timeout_s, 120);
	assert_int_equal(cfg.lease_s, 60);
	assert_int_equal(cfg.pending_timeout_s, 300);
	assert_int_equal(cfg.keep_done_days, 30);
	assert_int_equal(cfg.keep_failed_days, 7);
	assert_int_equal(cfg.cgi_wait_max_s, 10);
	assert_int_equal(cfg.wait_max_per_owner, 4);
	assert_int_equal(cfg.limit_org, 5);
	assert_int_equal(cfg.limit_user, 3);
	assert_int_equal(cfg.limit_decision, 2);
	assert_int_equal(cfg.auth, AUTH_NONE);
	assert_true(cfg.spawn);
	assert_false(cfg.mock); /* no answer is made up unless asked for */
	assert_string_equal(cfg.jobtypes_dir, AIGW_SYSCONFDIR "/aigw/jobtypes.d");
	/* No provider rate limit unless set: one set too low throttles
	 * every paid key. */
	for (int i = 0; i < RATE__MAX; i++) {
		assert_int_equal(cfg.rate[i].rpm, 0);
		assert_int_equal(cfg.rate[i].tpm, 0);
	}
	config_free(&cfg);
}

static void
test_rate_limits_by_provider(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	setenv("AIGW_RPM_GEMINI", "0", 1);
	setenv("AIGW_TPM_ANTHROPIC", "40000", 1);
	setenv("AIGW_RPM_PERPLEXITY", "7", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(config_rate_limit(&cfg, "gemini")->rpm, 0);
	assert_int_equal(config_rate_limit(&cfg, "anthropic")->tpm, 40000);
	assert_int_equal(config_rate_limit(&cfg, "anthropic")->rpm, 0);
	assert_int_equal(config_rate_limit(&cfg, "perplexity")->rpm, 7);
	assert_int_equal(config_rate_limit(&cfg, "openai")->tpm, 0);
	/* the built-in mock and unknown names have no limits */
	assert_null(config_rate_limit(&cfg, "mock"));
	assert_null(config_rate_limit(&cfg, "OpenAI"));
	config_free(&cfg);
	unsetenv("AIGW_RPM_GEMINI");
	unsetenv("AIGW_TPM_ANTHROPIC");
	unsetenv("AIGW_RPM_PERPLEXITY");
}

static void
test_database_settings(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.db_timeout_s, 10);
	assert_int_equal(cfg.db_pooler, POOLER_NONE);
	assert_string_equal(cfg.listen_database_url, "");
	config_free(&cfg);
	setenv("AIGW_DB_POOLER", "transaction", 1);
	setenv("AIGW_DB_TIMEOUT_S", "3", 1);
	setenv("AIGW_LISTEN_DATABASE_URL", "postgresql://direct/aigw", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.db_pooler, POOLER_TRANSACTION);
	assert_int_equal(cfg.db_timeout_s, 3);
	assert_string_equal(cfg.listen_database_url, "postgresql://direct/aigw");
	config_free(&cfg);
	setenv("AIGW_DB_POOLER", "session", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_DB_POOLER"));
	unsetenv("AIGW_DB_POOLER");
	setenv("AIGW_DB_TIMEOUT_S", "0", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_DB_TIMEOUT_S"));
	unsetenv("AIGW_DB_TIMEOUT_S");
	unsetenv("AIGW_LISTEN_DATABASE_URL");
}

static void
test_invalid_value_names_the_variable(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	setenv("AIGW_WORKERS_MAX", "lots", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_WORKERS_MAX"));
	setenv("AIGW_WORKERS_MAX", "0", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	setenv("AIGW_WORKERS_MAX", "12x", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	unsetenv("AIGW_WORKERS_MAX");
	setenv("AIGW_AUTH", "maybe", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_AUTH"));
	unsetenv("AIGW_AUTH");
	setenv("AIGW_SPAWN", "sometimes", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	unsetenv("AIGW_SPAWN");
	setenv("AIGW_WEBHOOK_SECRET", "whsec_not base64!", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_WEBHOOK_SECRET"));
	assert_null(strstr(err, "not base64")); /* never echoed */
	setenv("AIGW_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	config_free(&cfg);
	unsetenv("AIGW_WEBHOOK_SECRET");
	setenv("AIGW_CORS_ORIGINS", "https://app.example.com/", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_CORS_ORIGINS"));
	setenv("AIGW_CORS_ORIGINS", "https://app.example.com, http://localhost:5173", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_string_equal(cfg.cors_origins, "https://app.example.com, http://localhost:5173");
	config_free(&cfg);
	unsetenv("AIGW_CORS_ORIGINS");
	setenv("AIGW_LOG_LEVEL", "loud", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	unsetenv("AIGW_LOG_LEVEL");
	setenv("AIGW_RPM_OPENAI", "-1", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_RPM_OPENAI"));
	unsetenv("AIGW_RPM_OPENAI");
	setenv("AIGW_TPM_GEMINI", "lots", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "AIGW_TPM_GEMINI"));
	unsetenv("AIGW_TPM_GEMINI");
}

static void
test_streaming_settings(void **state)
{
	struct aigw_config cfg;
	char err[256];
	static const char *const bad[][2] = {
		{ "AIGW_STREAM", "maybe" },          { "AIGW_STREAM_FLUSH_MS", "0" },
		{ "AIGW_STREAM_FLUSH_MS", "10001" }, { "AIGW_STREAM_IDLE_S", "0" },
		{ "AIGW_STREAM_IDLE_S", "soon" },    { "AIGW_MOCK_TOKENS_PER_S", "0" },
	};

	(void)state;
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_true(cfg.stream);
	assert_int_equal(cfg.stream_flush_ms, 50);
	assert_int_equal(cfg.stream_idle_s, 30);
	assert_int_equal(cfg.mock_tokens_per_s, 40);
	config_free(&cfg);
	setenv("AIGW_STREAM", "off", 1);
	setenv("AIGW_STREAM_FLUSH_MS", "200", 1);
	setenv("AIGW_STREAM_IDLE_S", "5", 1);
	setenv("AIGW_MOCK_TOKENS_PER_S", "1000", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_false(cfg.stream);
	assert_int_equal(cfg.stream_flush_ms, 200);
	assert_int_equal(cfg.stream_idle_s, 5);
	assert_int_equal(cfg.mock_tokens_per_s, 1000);
	config_free(&cfg);
	unsetenv("AIGW_STREAM");
	unsetenv("AIGW_STREAM_FLUSH_MS");
	unsetenv("AIGW_STREAM_IDLE_S");
	unsetenv("AIGW_MOCK_TOKENS_PER_S");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv(bad[i][0], bad[i][1], 1);
		assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
		assert_non_null(strstr(err, bad[i][0]));
		unsetenv(bad[i][0]);
	}
}

static void
test_env_file_read_and_overridden(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	write_env("# comment\n\nAIGW_WORKERS_MAX=7\nexport AIGW_CHAT_TTL_S = \"120\"\n"
		  "AIGW_AUTH='keys'\nAIGW_MAX_BODY=5000\n");
	setenv("AIGW_MAX_BODY", "9000", 1);
	unsetenv("AIGW_WORKERS_MAX");
	unsetenv("AIGW_CHAT_TTL_S");
	unsetenv("AIGW_AUTH");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.workers_max, 7);
	assert_int_equal(cfg.chat_ttl_s, 120);
	assert_int_equal(cfg.auth, AUTH_KEYS);
	assert_int_equal(cfg.max_body, 9000); /* the real environment wins */
	config_free(&cfg);
	unsetenv("AIGW_WORKERS_MAX");
	unsetenv("AIGW_CHAT_TTL_S");
	unsetenv("AIGW_AUTH");
	unsetenv("AIGW_MAX_BODY");
}

static void
test_env_file_malformed(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	write_env("AIGW_WORKERS_MAX=2\nthis line has no equals\n");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, ":2:"));
	write_env("9BAD=1\n");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	unsetenv("AIGW_WORKERS_MAX");
}

static void
test_provider_accounts(void **state)
{
	const struct config_provider *p;
	struct aigw_config cfg;
	char err[256];

	(void)state;
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
	setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value", 1);
	setenv("ANTHROPIC_BASE_URL", "HTTP://mock:8080/anthropic//", 1);
	setenv("GEMINI_BASE_URL", "", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	p = config_provider(&cfg, "openai");
	assert_non_null(p);
	assert_string_equal(p->key, "");
	assert_string_equal(p->key_var, "OPENAI_API_KEY");
	assert_string_equal(p->base_var, "OPENAI_BASE_URL");
	assert_string_equal(p->base_url, "https://api.openai.com/v1");
	assert_ptr_equal(config_provider(&cfg, "openai-batch"), p);
	p = config_provider(&cfg, "anthropic-batch");
	assert_ptr_equal(config_provider(&cfg, "anthropic"), p);
	assert_string_equal(p->key, "sk-ant-secret-value");
	assert_string_equal(p->base_url, "HTTP://mock:8080/anthropic");
	/* empty: the default */
	assert_string_equal(config_provider(&cfg, "gemini")->base_url,
			    "https://generativelanguage.googleapis.com");
	assert_string_equal(config_provider(&cfg, "snapshot")->base_url,
			    "https://api.brightdata.com/datasets/v3");
	assert_null(config_provider(&cfg, "mock"));
	assert_null(config_provider(&cfg, "openaix"));
	assert_null(config_provider(&cfg, NULL));
	assert_string_equal(config_provider(&cfg, "anthropic-batch")->key, "sk-ant-secret-value");
	assert_string_equal(config_provider(&cfg, "openai")->key, "");
	config_free(&cfg);

	/* a base URL of another scheme stops the start, naming the variable
	 * and never quoting a value */
	setenv("GEMINI_BASE_URL", "ftp://user:hunter2@mock/gemini", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_string_equal(err, "GEMINI_BASE_URL: expected an http:// or https:// URL");
	unsetenv("GEMINI_BASE_URL");
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("ANTHROPIC_BASE_URL");

	assert_true(config_is_provider_var("OPENAI_API_KEY=x", 14));
	assert_true(config_is_provider_var("SNAPSHOT_BASE_URL", 17));
	assert_false(config_is_provider_var("OPENAI_API_KEYS", 15));
	assert_false(config_is_provider_var("OPENAI_API_KE", 13));
	assert_false(config_is_provider_var("OPENAI_ORG", 10));
}

static void
test_spool_dir(void **state)
{
	struct aigw_config cfg;
	char err[256];

	(void)state;
	unsetenv("TMPDIR");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_string_equal(cfg.spool_dir, "/tmp");
	config_free(&cfg);
	setenv("TMPDIR", "/var/tmp/aigw", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_string_equal(cfg.spool_dir, "/var/tmp/aigw");
	config_free(&cfg);
	/* relative: where the worker started would decide */
	setenv("TMPDIR", "tmp", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_string_equal(cfg.spool_dir, "/tmp");
	config_free(&cfg);
	unsetenv("TMPDIR");
}

struct shown {
	char text[8192];
	size_t len;
	int lines;
};

static int
collect(void *arg, const char *name, const char *value)
{
	struct shown *s = arg;
	int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s=%s\n", name, value);

	assert_true(n > 0 && (size_t)n < sizeof s->text - s->len);
	s->len += (size_t)n;
	s->lines++;
	return 0;
}

static int
stop_at_third(void *arg, const char *name, const char *value)
{
	int *calls = arg;

	(void)name;
	(void)value;
	return ++*calls == 3 ? 7 : 0;
}

static void
test_values_shown_without_secrets(void **state)
{
	struct aigw_config cfg;
	struct shown s;
	const char *const *names;
	int calls = 0, nnames = 0;
	char err[256];

	(void)state;
	setenv("OPENAI_API_KEY", "sk-shown-never-1234", 1);
	setenv("GEMINI_BASE_URL", "https://user:pw-never@gemini.example/", 1);
	setenv("DATABASE_URL", "postgresql://aigw:db-pw-never@db/aigw", 1);
	setenv("AIGW_METRICS_TOKEN", "metrics-token-never-0123456789", 1);
	setenv("AIGW_LEASE_S", "45", 1);
	setenv("AIGW_AUTH", "keys", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	memset(&s, 0, sizeof s);
	assert_int_equal(config_each_value(&cfg, collect, &s), 0);
	assert_null(strstr(s.text, "never"));
	assert_non_null(strstr(s.text, "\nOPENAI_API_KEY=(set)\n"));
	assert_non_null(strstr(s.text, "\nANTHROPIC_API_KEY=(not set)\n"));
	assert_non_null(strstr(s.text, "\nGEMINI_BASE_URL=(set)\n"));
	assert_non_null(strstr(s.text, "\nANTHROPIC_BASE_URL=(default)\n"));
	assert_non_null(strstr(s.text, "\nAIGW_METRICS_TOKEN=(set)\n"));
	assert_non_null(strstr(s.text, "\nAIGW_LISTEN_DATABASE_URL=(not set)\n"));
	assert_true(strncmp(s.text, "DATABASE_URL=(set)\n", 19) == 0);
	assert_non_null(strstr(s.text, "\nAIGW_LEASE_S=45\n"));
	assert_non_null(strstr(s.text, "\nAIGW_AUTH=keys\n"));
	assert_non_null(strstr(s.text, "\nAIGW_MOCK=off\n"));
	assert_non_null(strstr(s.text, "\nAIGW_LOG_LEVEL=info\n"));
	assert_non_null(strstr(s.text, "\nAIGW_MAX_ATTEMPTS=3\n"));
	/* every variable but AIGW_ENV_FILE (which is read, not kept) once */
	for (names = config_names(); *names != NULL; names++)
		nnames++;
	assert_int_equal(s.lines, nnames - 1);
	/* the callback's refusal ends the walk and is returned */
	assert_int_equal(config_each_value(&cfg, stop_at_third, &calls), 7);
	assert_int_equal(calls, 3);
	config_free(&cfg);
	unsetenv("OPENAI_API_KEY");
	unsetenv("GEMINI_BASE_URL");
	unsetenv("DATABASE_URL");
	unsetenv("AIGW_METRICS_TOKEN");
	unsetenv("AIGW_LEASE_S");
	unsetenv("AIGW_AUTH");
}

static void
test_every_variable_is_documented(void **state)
{
	const char *srcdir = getenv("AIGW_SRCDIR");
	char path[1024];
	char *text;
	FILE *f;
	long n;

	(void)state;
	if (srcdir == NULL)
		skip();
	snprintf(path, sizeof path, "%s/docs/configuration.md", srcdir);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = malloc((size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = '\0';
	fclose(f);
	for (const char *const *name = config_names(); *name != NULL; name++) {
		char needle[96];

		snprintf(needle, sizeof needle, "`%s`", *name);
		if (strstr(text, needle) == NULL)
			fail_msg("%s is not documented in docs/configuration.md", *name);
	}
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_value_names_the_variable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streaming_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_database_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limits_by_provider, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_file_read_and_overridden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_file_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provider_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_shown_without_secrets, setup, teardown),
		cmocka_unit_test(test_every_variable_is_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
