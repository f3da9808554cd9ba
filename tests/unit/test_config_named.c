/* test_config_named.c: the named OpenAI-compatible providers of the
 * configuration (core/config_named.c) and how callers resolve them. */
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
#include "http/chat.h"
#include "jobtype/jobtype.h"
#include "providers/provider.h"

static char env_path[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(env_path, sizeof env_path, "/tmp/aigw-test-env-named-%ld", (long)getpid());
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

struct shown {
	char text[8192];
	size_t len;
};

static int
collect(void *arg, const char *name, const char *value)
{
	struct shown *s = arg;
	int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s=%s\n", name, value);

	assert_true(n > 0 && (size_t)n < sizeof s->text - s->len);
	s->len += (size_t)n;
	return 0;
}

static void
unset_named(void)
{
	static const char *const vars[] = {
		"AIGW_PROVIDER_LOCAL_BASE_URL", "AIGW_PROVIDER_MY_GROQ_BASE_URL",
		"AIGW_PROVIDER_MY_GROQ_API_KEY", "AIGW_PROVIDER_MY_GROQ_FORMAT",
		"AIGW_PROVIDER_MY_GROQ_RPM", "AIGW_PROVIDER_MY_GROQ_TPM",
		"AIGW_PROVIDER_LOCAL_API_KEY", "AIGW_PROVIDER_TIMEOUT_S",
		"AIGW_PROVIDER_CONNECTIONS",
	};

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void
test_named_providers(void **state)
{
	const struct config_provider *p;
	const struct prov_desc *d;
	struct aigw_config cfg;
	struct shown s;
	char err[256];
	size_t nbuiltin;

	(void)state;
	unset_named();
	(void)prov_all(&nbuiltin);
	/* none set: none */
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.nnamed, 0);
	assert_int_equal(prov_count_in(&cfg), nbuiltin);
	config_free(&cfg);

	setenv("AIGW_PROVIDER_MY_GROQ_BASE_URL", "https://api.groq.example/openai/v1", 1);
	setenv("AIGW_PROVIDER_MY_GROQ_API_KEY", "gsk_never-shown", 1);
	setenv("AIGW_PROVIDER_MY_GROQ_FORMAT", "openai", 1);
	setenv("AIGW_PROVIDER_MY_GROQ_RPM", "30", 1);
	setenv("AIGW_PROVIDER_MY_GROQ_TPM", "6000", 1);
	setenv("AIGW_PROVIDER_LOCAL_BASE_URL", "http://127.0.0.1:11434/v1//", 1);
	/* empty: not set */
	setenv("AIGW_PROVIDER_LOCAL_API_KEY", "", 1);
	/* the table's own variables are not a provider named TIMEOUT */
	setenv("AIGW_PROVIDER_TIMEOUT_S", "60", 1);
	setenv("AIGW_PROVIDER_CONNECTIONS", "16", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.provider_timeout_s, 60);
	assert_int_equal(cfg.nnamed, 2);
	/* sorted by API name: lower case, - for _ */
	assert_string_equal(cfg.named[0].name, "local");
	assert_string_equal(cfg.named[1].name, "my-groq");

	p = config_provider(&cfg, "my-groq");
	assert_non_null(p);
	assert_string_equal(p->name, "my-groq");
	assert_string_equal(p->key, "gsk_never-shown");
	assert_string_equal(p->key_var, "AIGW_PROVIDER_MY_GROQ_API_KEY");
	assert_string_equal(p->base_var, "AIGW_PROVIDER_MY_GROQ_BASE_URL");
	assert_string_equal(p->base_url, "https://api.groq.example/openai/v1");
	assert_int_equal(config_rate_limit(&cfg, "my-groq")->rpm, 30);
	assert_int_equal(config_rate_limit(&cfg, "my-groq")->tpm, 6000);
	p = config_provider(&cfg, "local");
	assert_string_equal(p->key, "");
	assert_string_equal(p->base_url, "http://127.0.0.1:11434/v1");
	assert_int_equal(config_rate_limit(&cfg, "local")->rpm, 0);
	assert_null(config_provider(&cfg, "my_groq"));
	assert_null(config_provider(&cfg, "MY-GROQ"));

	/* the lookup: built-in ones first, then the named ones */
	assert_int_equal(prov_count_in(&cfg), nbuiltin + 2);
	d = prov_find_in(&cfg, "my-groq");
	assert_non_null(d);
	assert_ptr_equal(d, prov_at_in(&cfg, nbuiltin + 1));
	assert_ptr_equal(prov_find_in(&cfg, "local"), prov_at_in(&cfg, nbuiltin));
	assert_string_equal(d->name, "my-groq");
	assert_int_equal(d->kind, PROV_SYNC);
	assert_string_equal(d->key_env, "AIGW_PROVIDER_MY_GROQ_API_KEY");
	assert_string_equal(d->base_env, "AIGW_PROVIDER_MY_GROQ_BASE_URL");
	assert_string_equal(prov_format(d), PROV_FORMAT_OPENAI_COMPAT);
	assert_string_equal(prov_format(prov_find("openai")), "openai");
	assert_ptr_equal(prov_find_in(&cfg, "openai"), prov_find("openai"));
	assert_ptr_equal(prov_at_in(&cfg, 0), prov_find_in(NULL, prov_at_in(&cfg, 0)->name));
	assert_null(prov_find("my-groq"));
	assert_null(prov_find_in(NULL, "my-groq"));
	assert_null(prov_find_in(&cfg, "my-groq2"));
	assert_null(prov_find_in(&cfg, NULL));
	/* reached with or without a key, never by the mock */
	cfg.mock = true;
	assert_int_equal(prov_state_in(prov_find_in(&cfg, "local"), &cfg), PROV_CONFIGURED);
	cfg.mock = false;
	assert_int_equal(prov_state_in(prov_find_in(&cfg, "local"), &cfg), PROV_CONFIGURED);
	assert_int_equal(prov_state_in(d, &cfg), PROV_CONFIGURED);

	/* shown without the key or the URL */
	memset(&s, 0, sizeof s);
	assert_int_equal(config_each_value(&cfg, collect, &s), 0);
	assert_null(strstr(s.text, "never"));
	assert_null(strstr(s.text, "groq.example"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_MY_GROQ_BASE_URL=(set)\n"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_MY_GROQ_API_KEY=(set)\n"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_MY_GROQ_FORMAT=openai\n"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_MY_GROQ_RPM=30\n"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_MY_GROQ_TPM=6000\n"));
	assert_non_null(strstr(s.text, "\nAIGW_PROVIDER_LOCAL_API_KEY=(not set)\n"));
	config_free(&cfg);
	assert_int_equal(cfg.nnamed, 0);
	unset_named();
}

/* A named provider's request: OpenAI's, with its own URL; the key only
 * when there is one. */
static void
test_named_provider_request(void **state)
{
	struct aigw_config cfg;
	struct prov_http h;
	struct prov_call call = { .model = "llama3.2", .message = "hi", .max_tokens = 16 };
	struct prov_config pc;
	const struct prov_desc *d;
	char err[256];

	(void)state;
	unset_named();
	setenv("AIGW_PROVIDER_LOCAL_BASE_URL", "http://127.0.0.1:11434/v1", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	d = prov_find_in(&cfg, "local");
	assert_non_null(d);
	pc.api_key = config_provider(&cfg, "local")->key;
	pc.base_url = config_provider(&cfg, "local")->base_url;
	assert_int_equal(d->build(&pc, &call, &h), AIGW_OK);
	assert_string_equal(h.url, "http://127.0.0.1:11434/v1/chat/completions");
	for (size_t i = 0; i < h.nheaders; i++)
		assert_null(strstr(h.headers[i], "Authorization"));
	assert_non_null(strstr(h.body, "\"model\":\"llama3.2\""));
	prov_http_free(&h);
	pc.api_key = "sk-local";
	assert_int_equal(d->build(&pc, &call, &h), AIGW_OK);
	assert_string_equal(h.headers[0], "Authorization: Bearer sk-local");
	prov_http_free(&h);
	/* its errors carry its name, not the adapter's */
	{
		static const char body[] = "{\"error\":{\"message\":\"slow down\",\"type\":\"x\"}}";
		struct prov_result r;

		assert_int_equal(d->parse(429, body, sizeof body - 1, &r), AIGW_OK);
		assert_int_equal(r.errclass, PROV_ERR_RATE_LIMIT);
		prov_result_named(d, &r);
		assert_string_equal(r.error, "local returned 429: slow down");
		prov_result_free(&r);
		assert_int_equal(prov_find("openai")->parse(429, body, sizeof body - 1, &r), AIGW_OK);
		prov_result_named(prov_find("openai"), &r);
		assert_string_equal(r.error, "openai returned 429: slow down");
		prov_result_free(&r);
	}
	/* openai's own adapter still wants its key */
	pc.api_key = "";
	assert_int_equal(prov_find("openai")->build(&pc, &call, &h), AIGW_EINVAL);
	config_free(&cfg);
	unset_named();
}

/* Job types and chats resolve a named provider through the configuration
 * they are given; without one, only the built-in ones are known. */
static void
test_named_provider_resolved_by_callers(void **state)
{
	static const char decl[] =
		"{\"name\":\"t\",\"steps\":[{\"name\":\"a\",\"status_message\":\"A\","
		"\"progress\":100,\"provider\":\"local\",\"model\":\"m\",\"prompt\":\"p\"}]}";
	static const char chat[] = "{\"message\":\"hi\",\"models\":{\"local\":\"m\"}}";
	struct aigw_config cfg;
	struct jobtype *t = NULL;
	struct chat_request cr;
	struct http_field_error fe;
	char err[256];

	(void)state;
	unset_named();
	setenv("AIGW_PROVIDER_LOCAL_BASE_URL", "http://127.0.0.1:11434/v1", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(jobtype_parse_in(&cfg, decl, sizeof decl - 1, &t, err, sizeof err),
			 AIGW_OK);
	jobtype_free(t);
	assert_int_equal(jobtype_parse(decl, sizeof decl - 1, &t, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, "provider 'local' is not a known provider"));
	assert_int_equal(chat_request_parse_in(&cfg, chat, sizeof chat - 1, &cr, &fe), AIGW_OK);
	chat_request_free(&cr);
	assert_int_equal(chat_request_parse(chat, sizeof chat - 1, &cr, &fe), AIGW_EINVAL);
	assert_int_equal(fe.status, 400);
	assert_string_equal(fe.code, "unknown_provider");
	chat_request_free(&cr);
	config_free(&cfg);
	unset_named();
}

/* Sets name=value, expects config_load to refuse with want, unsets name. */
static void
refused(const char *name, const char *value, const char *want)
{
	struct aigw_config cfg;
	char err[512];

	setenv(name, value, 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_string_equal(err, want);
	unsetenv(name);
}

static void
test_named_provider_errors(void **state)
{
	char name[64], want[256];
	struct aigw_config cfg;
	char err[256];
	size_t n;
	const struct prov_desc *all = prov_all(&n);

	(void)state;
	unset_named();
	refused("AIGW_PROVIDER_local_BASE_URL", "http://127.0.0.1:1",
		"AIGW_PROVIDER_local_BASE_URL: the provider's NAME in AIGW_PROVIDER_<NAME>_BASE_URL"
		" must be 1 to 40 upper-case letters and digits, with single _ inside");
	refused("AIGW_PROVIDER_A__B_API_KEY", "k",
		"AIGW_PROVIDER_A__B_API_KEY: the provider's NAME in AIGW_PROVIDER_<NAME>_API_KEY"
		" must be 1 to 40 upper-case letters and digits, with single _ inside");
	refused("AIGW_PROVIDER__X_RPM", "1",
		"AIGW_PROVIDER__X_RPM: the provider's NAME in AIGW_PROVIDER_<NAME>_RPM"
		" must be 1 to 40 upper-case letters and digits, with single _ inside");
	refused("AIGW_PROVIDER_X_BASEURL", "http://127.0.0.1:1",
		"AIGW_PROVIDER_X_BASEURL: unknown; a named provider has AIGW_PROVIDER_<NAME>_BASE_URL,"
		" _API_KEY, _FORMAT, _RPM, _TPM and _MODELS");
	/* every built-in name is refused, the batch ones and the mock too */
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		k += (size_t)snprintf(name, sizeof name, "AIGW_PROVIDER_");
		for (const char *c = all[i].name; *c; c++)
			name[k++] = *c == '-' ? '_' : (char)(*c - 'a' + 'A');
		snprintf(name + k, sizeof name - k, "_BASE_URL");
		snprintf(want, sizeof want, "%s: %s is a built-in provider; a named provider needs"
			 " another NAME", name, all[i].name);
		refused(name, "http://127.0.0.1:1", want);
	}
	/* the URL: required, http(s) with a host, never quoted */
	refused("AIGW_PROVIDER_X_API_KEY", "sk-x",
		"AIGW_PROVIDER_X_BASE_URL: not set, and the named provider x needs it");
	refused("AIGW_PROVIDER_X_BASE_URL", "ftp://user:hunter2@host/v1",
		"AIGW_PROVIDER_X_BASE_URL: expected an http:// or https:// URL with a host and"
		" without blanks");
	refused("AIGW_PROVIDER_X_BASE_URL", "https://",
		"AIGW_PROVIDER_X_BASE_URL: expected an http:// or https:// URL with a host and"
		" without blanks");
	refused("AIGW_PROVIDER_X_BASE_URL", "http://host/v1 x",
		"AIGW_PROVIDER_X_BASE_URL: expected an http:// or https:// URL with a host and"
		" without blanks");
	setenv("AIGW_PROVIDER_X_BASE_URL", "http://127.0.0.1:1/v1", 1);
	refused("AIGW_PROVIDER_X_FORMAT", "anthropic",
		"AIGW_PROVIDER_X_FORMAT: expected openai (the only format of a named provider yet)");
	refused("AIGW_PROVIDER_X_RPM", "-1",
		"AIGW_PROVIDER_X_RPM: expected a whole number from 0 to 10000000");
	refused("AIGW_PROVIDER_X_TPM", "many",
		"AIGW_PROVIDER_X_TPM: expected a whole number from 0 to 1000000000000");
	refused("AIGW_PROVIDER_X_MODELS", "llama3,,qwen",
		"AIGW_PROVIDER_X_MODELS: expected model names of 1 to 128 characters separated"
		" by commas");
	refused("AIGW_PROVIDER_X_MODELS", "llama3,",
		"AIGW_PROVIDER_X_MODELS: expected model names of 1 to 128 characters separated"
		" by commas");
	refused("AIGW_PROVIDER_X_MODELS", "llama3, qwen",
		"AIGW_PROVIDER_X_MODELS: a model name holds a blank or a control character");
	setenv("AIGW_PROVIDER_X_MODELS", "llama3.1:8b,qwen2.5", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.nnamed, 1);
	assert_string_equal(cfg.named[0].models, "llama3.1:8b,qwen2.5");
	config_free(&cfg);
	unsetenv("AIGW_PROVIDER_X_MODELS");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_string_equal(cfg.named[0].models, "");
	config_free(&cfg);
	unsetenv("AIGW_PROVIDER_X_BASE_URL");
	/* at most CONFIG_NAMED_MAX */
	for (int i = 0; i < CONFIG_NAMED_MAX; i++) {
		snprintf(name, sizeof name, "AIGW_PROVIDER_P%d_BASE_URL", i);
		setenv(name, "http://127.0.0.1:1", 1);
	}
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_int_equal(cfg.nnamed, CONFIG_NAMED_MAX);
	config_free(&cfg);
	setenv("AIGW_PROVIDER_ONE_MORE_BASE_URL", "http://127.0.0.1:1", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_ECONFIG);
	assert_non_null(strstr(err, ": more than 32 named providers"));
	unsetenv("AIGW_PROVIDER_ONE_MORE_BASE_URL");
	for (int i = 0; i < CONFIG_NAMED_MAX; i++) {
		snprintf(name, sizeof name, "AIGW_PROVIDER_P%d_BASE_URL", i);
		unsetenv(name);
	}
	/* an env file's names count as the environment's */
	write_env("AIGW_PROVIDER_FROM_FILE_BASE_URL=http://127.0.0.1:2/v1\n");
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	assert_non_null(prov_find_in(&cfg, "from-file"));
	config_free(&cfg);
	unsetenv("AIGW_PROVIDER_FROM_FILE_BASE_URL");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_named_providers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_provider_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_provider_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_named_provider_resolved_by_callers, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
