/* test_spawn.c: which variables a spawned worker inherits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "http/spawn.h"

static void
test_allowed(void **state)
{
	const char *yes[] = {
		"AIGW_LOG_FILE=/var/log/aigw.log", "AIGW_ENV_FILE=/etc/aigw/aigw.env",
		"DATABASE_URL=postgresql:///aigw", "PGHOST=/run/postgresql", "PGPASSWORD=x",
		"OPENAI_API_KEY=sk-1", "OPENAI_BASE_URL=http://mock", "ANTHROPIC_API_KEY=a",
		"GEMINI_BASE_URL=http://g", "PERPLEXITY_API_KEY=p", "SNAPSHOT_API_KEY=s",
		"PATH=/usr/bin:/bin", "TZ=UTC", "ASAN_OPTIONS=detect_leaks=1",
		"UBSAN_OPTIONS=halt_on_error=1", "LSAN_OPTIONS=", "https_proxy=http://proxy:3128",
		"LC_ALL=C.UTF-8",
	};
	const char *no[] = {
		/* a CGI request's own variables */
		"HTTP_AUTHORIZATION=Bearer aigw_secret", "HTTP_COOKIE=session=1",
		"QUERY_STRING=id=1", "REMOTE_USER=alice", "REMOTE_ADDR=127.0.0.1",
		"CONTENT_LENGTH=10", "PATH_INFO=/api/ai/chat", "PATH_TRANSLATED=/x",
		"GATEWAY_INTERFACE=CGI/1.1", "SERVER_NAME=x", "REQUEST_METHOD=POST",
		/* httpoxy: a request's Proxy header */
		"HTTP_PROXY=http://evil",
		/* near misses of allowed names */
		"PATHX=/bin", "TZX=UTC", "DATABASE_URLS=x", "OPENAI_API_KEYS=x", "OPENAI_ORG=x",
		"aigw_log_file=x", "LD_PRELOAD=/tmp/x.so", "LISTEN_FDS=1", "LISTEN_PID=1",
		/* the slot is the spawner's to set */
		"AIGW_WORKER_SLOT=3",
		/* not NAME=value */
		"PATH", "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!spawn_env_allowed(yes[i]))
			fail_msg("refused: %s", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (spawn_env_allowed(no[i]))
			fail_msg("allowed: %s", no[i]);
	assert_false(spawn_env_allowed(NULL));
}

/* A worker reads the same table as its spawner: every variable in it,
 * the providers' keys and base URLs among them, reaches the worker. */
static void
test_every_config_variable_is_inherited(void **state)
{
	char entry[128];

	(void)state;
	for (const char *const *name = config_names(); *name != NULL; name++) {
		snprintf(entry, sizeof entry, "%s=x", *name);
		if (!spawn_env_allowed(entry))
			fail_msg("refused: %s", entry);
	}
}

static void
test_env_keeps_the_allowed_in_order_with_room_for_the_slot(void **state)
{
	char *from[] = {
		"HTTP_AUTHORIZATION=Bearer aigw_secret", "AIGW_LOG_LEVEL=info",
		"HTTP_COOKIE=session=1", "PATH=/bin", "AIGW_WORKER_SLOT=1",
		"DATABASE_URL=postgresql:///aigw", NULL,
	};
	char **env;

	(void)state;
	env = spawn_env_new_from(from);
	assert_non_null(env);
	assert_string_equal(env[0], "AIGW_LOG_LEVEL=info");
	assert_string_equal(env[1], "PATH=/bin");
	assert_string_equal(env[2], "DATABASE_URL=postgresql:///aigw");
	assert_null(env[3]);
	/* borrowed, not copied */
	assert_ptr_equal(env[1], from[3]);
	spawn_env_free(env);
	spawn_env_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_every_config_variable_is_inherited),
		cmocka_unit_test(test_env_keeps_the_allowed_in_order_with_room_for_the_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
