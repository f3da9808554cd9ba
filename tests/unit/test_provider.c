/* test_provider.c: the provider table, error classes and the adapters' shared helpers. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/config.h"
#include "providers/common.h"
#include "providers/provider.h"

static void
test_table(void **state)
{
	static const struct {
		const char *name, *key_env, *base_env, *base;
	} want[] = {
		{ "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1" },
		{ "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com" },
		{ "gemini", "GEMINI_API_KEY", "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com" },
		{ "perplexity", "PERPLEXITY_API_KEY", "PERPLEXITY_BASE_URL", "https://api.perplexity.ai" },
	};
	/* the async ones; a batch API shares its sync sibling's key and base URL */
	static const struct {
		const char *name, *key_env, *base_env, *base;
		size_t max_items;
	} want_async[] = {
		{ "openai-batch", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", 50000 },
		{ "anthropic-batch", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com",
		  100000 },
		{ "snapshot", "SNAPSHOT_API_KEY", "SNAPSHOT_BASE_URL",
		  "https://api.brightdata.com/datasets/v3", 1000 },
	};
	const size_t nasync = sizeof want_async / sizeof want_async[0];
	size_t n = 0;
	const struct prov_desc *all = prov_all(&n);

	(void)state;
	assert_int_equal(n, 4 + nasync + 1);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(all[i].name, want[i].name);
		assert_int_equal(all[i].kind, PROV_SYNC);
		assert_string_equal(all[i].key_env, want[i].key_env);
		assert_string_equal(all[i].base_env, want[i].base_env);
		assert_string_equal(all[i].default_base, want[i].base);
		assert_non_null(all[i].build);
		assert_non_null(all[i].parse);
		assert_null(all[i].async);
		assert_ptr_equal(prov_find(want[i].name), &all[i]);
	}
	for (size_t i = 0; i < nasync; i++) {
		const struct prov_desc *d = &all[4 + i];

		assert_string_equal(d->name, want_async[i].name);
		assert_int_equal(d->kind, PROV_ASYNC);
		assert_string_equal(d->key_env, want_async[i].key_env);
		assert_string_equal(d->base_env, want_async[i].base_env);
		assert_string_equal(d->default_base, want_async[i].base);
		assert_null(d->build);
		assert_null(d->parse);
		assert_non_null(d->async);
		assert_int_equal(d->async->max_items, want_async[i].max_items);
		assert_non_null(d->async->build);
		assert_non_null(d->async->parse);
		assert_non_null(d->async->build_cancel);
		assert_ptr_equal(prov_find(want_async[i].name), d);
	}
	assert_string_equal(all[n - 1].name, "mock");
	assert_int_equal(all[n - 1].kind, PROV_BUILTIN);
	assert_null(all[n - 1].key_env);
	assert_null(all[n - 1].base_env);
	assert_null(all[n - 1].default_base);
	assert_null(all[n - 1].build);
	assert_null(all[n - 1].parse);
	assert_null(all[n - 1].async);
	assert_ptr_equal(prov_find("mock"), &all[n - 1]);
}

static void
test_find_unknown(void **state)
{
	(void)state;
	assert_null(prov_find(NULL));
	assert_null(prov_find(""));
	assert_null(prov_find("OpenAI"));
	assert_null(prov_find("openai "));
	assert_null(prov_find("open"));
	assert_null(prov_find("mocks"));
}

/* Every status from 0 to 999, against the rule written out once more here. */
static void
test_classify_every_status(void **state)
{
	(void)state;
	for (long s = -1; s < 1000; s++) {
		enum prov_errclass want;

		if (s >= 200 && s <= 299)
			want = PROV_ERR_NONE;
		else if (s == 429)
			want = PROV_ERR_RATE_LIMIT;
		else if (s == 401 || s == 403)
			want = PROV_ERR_AUTH;
		else if (s == 408)
			want = PROV_ERR_TIMEOUT;
		else if (s >= 400 && s <= 499)
			want = PROV_ERR_CLIENT;
		else
			want = PROV_ERR_SERVER;
		if (prov_classify_status(s) != want)
			fail_msg("status %ld: %s, want %s", s, prov_errclass_name(prov_classify_status(s)),
				 prov_errclass_name(want));
	}
	/* the ones docs/architecture.md (Reliability) names */
	assert_int_equal(prov_classify_status(429), PROV_ERR_RATE_LIMIT);
	assert_int_equal(prov_classify_status(500), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(502), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(503), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(504), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(529), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(400), PROV_ERR_CLIENT);
	assert_int_equal(prov_classify_status(401), PROV_ERR_AUTH);
	assert_int_equal(prov_classify_status(403), PROV_ERR_AUTH);
	assert_int_equal(prov_classify_status(404), PROV_ERR_CLIENT);
	assert_int_equal(prov_classify_status(408), PROV_ERR_TIMEOUT);
	assert_int_equal(prov_classify_status(LONG_MIN), PROV_ERR_SERVER);
	assert_int_equal(prov_classify_status(LONG_MAX), PROV_ERR_SERVER);
}

static void
test_retryable_and_names(void **state)
{
	static const struct {
		enum prov_errclass c;
		const char *name;
		bool retry;
	} want[] = {
		{ PROV_ERR_NONE, "none", false },
		{ PROV_ERR_NETWORK, "network", true },
		{ PROV_ERR_TIMEOUT, "timeout", true },
		{ PROV_ERR_RATE_LIMIT, "rate_limit", true },
		{ PROV_ERR_SERVER, "server", true },
		{ PROV_ERR_BAD_BODY, "bad_body", true },
		{ PROV_ERR_AUTH, "auth", false },
		{ PROV_ERR_CLIENT, "client", false },
		{ PROV_ERR_NOT_CONFIGURED, "not_configured", false },
	};

	(void)state;
	assert_int_equal(sizeof want / sizeof want[0], PROV_ERR__MAX);
	for (size_t i = 0; i < PROV_ERR__MAX; i++) {
		assert_int_equal(want[i].c, i);
		assert_string_equal(prov_errclass_name(want[i].c), want[i].name);
		assert_int_equal(prov_err_retryable(want[i].c), want[i].retry);
	}
	assert_string_equal(prov_errclass_name(PROV_ERR__MAX), "unknown");
	assert_string_equal(prov_errclass_name((enum prov_errclass)-1), "unknown");
	assert_false(prov_err_retryable(PROV_ERR__MAX));
}

/* Whether a provider is reached with its key, by the mock, or not at all,
 * for every provider and every setting of AIGW_MOCK. */
static void
test_route_decision(void **state)
{
	size_t n;
	const struct prov_desc *all = prov_all(&n);
	char text[160];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const struct prov_desc *d = &all[i];
		bool builtin = d->kind == PROV_BUILTIN;

		assert_int_equal(prov_state_decide(d, "sk-x", false), PROV_CONFIGURED);
		assert_int_equal(prov_state_decide(d, "sk-x", true), PROV_CONFIGURED);
		/* The mock named explicitly always answers; a real provider
		 * without its key falls back to it only when asked to. */
		assert_int_equal(prov_state_decide(d, NULL, false),
				 builtin ? PROV_CONFIGURED : PROV_MISSING);
		assert_int_equal(prov_state_decide(d, "", false),
				 builtin ? PROV_CONFIGURED : PROV_MISSING);
		assert_int_equal(prov_state_decide(d, NULL, true),
				 builtin ? PROV_CONFIGURED : PROV_MOCK);
		assert_int_equal(prov_state_decide(d, "", true),
				 builtin ? PROV_CONFIGURED : PROV_MOCK);
		assert_true(builtin || d->key_env != NULL);
	}
	/* The batch providers share their sync sibling's key. */
	assert_string_equal(prov_find("openai-batch")->key_env, "OPENAI_API_KEY");
	assert_string_equal(prov_find("anthropic-batch")->key_env, "ANTHROPIC_API_KEY");
	assert_string_equal(prov_find("snapshot")->key_env, "SNAPSHOT_API_KEY");
	assert_string_equal(prov_state_name(PROV_CONFIGURED), "configured");
	assert_string_equal(prov_state_name(PROV_MOCK), "mock");
	assert_string_equal(prov_state_name(PROV_MISSING), "missing");
	/* From a loaded config: its key, not the environment's, and its
	 * AIGW_MOCK. */
	{
		static char key[] = "AIza-config", none_key[] = "";
		struct aigw_config cfg;
		const char *none[] = { "gemini-x", "perplexity" };
		const char *some[] = { "gemini", "perplexity" };

		memset(&cfg, 0, sizeof cfg);
		for (int i = 0; i < ACCOUNT__MAX; i++)
			cfg.provider[i].key = none_key;
		cfg.provider[ACCOUNT_GEMINI].key = key;
		setenv("PERPLEXITY_API_KEY", "pplx-env", 1);
		assert_int_equal(prov_state_in(prov_find("gemini"), &cfg), PROV_CONFIGURED);
		assert_int_equal(prov_state_in(prov_find("perplexity"), &cfg), PROV_MISSING);
		assert_int_equal(prov_state_in(prov_find("openai-batch"), &cfg), PROV_MISSING);
		assert_int_equal(prov_state_in(prov_find("mock"), &cfg), PROV_CONFIGURED);
		assert_null(prov_none_reachable_in(&cfg, some, 2));
		assert_null(prov_none_reachable_in(&cfg, none, 2)); /* an unknown name */
		none[0] = "openai";
		assert_ptr_equal(prov_none_reachable_in(&cfg, none, 2), prov_find("openai"));
		cfg.mock = true;
		assert_int_equal(prov_state_in(prov_find("perplexity"), &cfg), PROV_MOCK);
		assert_null(prov_none_reachable_in(&cfg, none, 2));
		unsetenv("PERPLEXITY_API_KEY");
	}
	prov_not_configured_text(prov_find("openai"), text, sizeof text);
	assert_string_equal(text, "openai is not configured: set OPENAI_API_KEY");
	prov_not_configured_text(prov_find("snapshot"), text, sizeof text);
	assert_string_equal(text, "snapshot is not configured: set SNAPSHOT_API_KEY");
}

static void
test_free_is_safe(void **state)
{
	struct prov_http h;
	struct prov_result r;

	(void)state;
	memset(&h, 0, sizeof h);
	memset(&r, 0, sizeof r);
	prov_http_free(&h);
	prov_http_free(&h);
	prov_http_free(NULL);
	prov_result_free(&r);
	prov_result_free(&r);
	prov_result_free(NULL);
	r.text = strdup("t");
	r.model = strdup("m");
	r.error = strdup("e");
	r.citations = json_object_new_array();
	prov_result_free(&r);
	assert_null(r.text);
	assert_null(r.citations);
	prov_result_free(&r);
}

static void
escape_is(const char *in, const char *want)
{
	char *got = prov_common_escape(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_escape(void **state)
{
	(void)state;
	escape_is("", "");
	escape_is("gemini-2.5-flash", "gemini-2.5-flash");
	escape_is("AZaz09-._~", "AZaz09-._~");
	escape_is("a b/c?d#e%f:g@h+i&j=k", "a%20b%2Fc%3Fd%23e%25f%3Ag%40h%2Bi%26j%3Dk");
	escape_is("\xc3\xa9\x01\xff", "%C3%A9%01%FF");
}

static void
test_url_and_headers(void **state)
{
	struct prov_http h;

	(void)state;
	memset(&h, 0, sizeof h);
	assert_int_equal(prov_common_url(&h, "https://x.test/v1///", "/chat"), AIGW_OK);
	assert_string_equal(h.url, "https://x.test/v1/chat");
	assert_int_equal(prov_common_url(&h, "https://x.test", "/a"), AIGW_OK);
	assert_string_equal(h.url, "https://x.test/a");
	assert_int_equal(prov_common_url(&h, "https://x.test/a b", "/a"), AIGW_EINVAL);
	assert_int_equal(prov_common_url(&h, "https://x.test\r\n", "/a"), AIGW_EINVAL);
	assert_string_equal(h.url, "https://x.test/a"); /* unchanged on error */

	assert_int_equal(prov_common_header(&h, "Authorization", "Bearer ", "k-1"), AIGW_OK);
	assert_int_equal(prov_common_header(&h, "X-Plain", NULL, "v"), AIGW_OK);
	assert_string_equal(h.headers[0], "Authorization: Bearer k-1");
	assert_string_equal(h.headers[1], "X-Plain: v");
	assert_int_equal(prov_common_header(&h, "X", NULL, "a\nb"), AIGW_EINVAL);
	assert_int_equal(prov_common_header(&h, "X\r", NULL, "a"), AIGW_EINVAL);
	assert_int_equal(prov_common_header(&h, "X", "a\tb", "c"), AIGW_EINVAL);
	assert_int_equal(h.nheaders, 2);
	while (h.nheaders < PROV_MAX_HEADERS)
		assert_int_equal(prov_common_header(&h, "X", NULL, "fill"), AIGW_OK);
	assert_int_equal(prov_common_header(&h, "X", NULL, "one too many"), AIGW_EINVAL);
	assert_int_equal(h.nheaders, PROV_MAX_HEADERS);
	prov_http_free(&h);
	assert_int_equal(h.nheaders, 0);
}

static json_object *
scheme_body(const struct prov_call *call)
{
	json_object *o = json_object_new_object();

	if (o != NULL && prov_common_add(o, "m", json_object_new_string(call->model)) != 0) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static enum aigw_err
scheme_path(const struct prov_call *call, char **path)
{
	*path = NULL;
	if (strcmp(call->model, "bad") == 0)
		return AIGW_EINVAL;
	*path = strdup("/by/model");
	return *path != NULL ? AIGW_OK : AIGW_ENOMEM;
}

/* One POST as a scheme describes it: URL, the key's header, the fixed
 * headers in order, the content type, the body. */
static void
test_scheme_build(void **state)
{
	static const struct prov_fixed_header fixed[] = {
		{ "x-one", "1" }, { "x-two", "2" }, { NULL, NULL },
	};
	struct prov_scheme sc = {
		.path = "/p", .auth_name = "x-key", .fixed = fixed,
		.content_type = "application/x-test", .body = scheme_body,
	};
	struct prov_config cfg = { "k-1", "http://h" };
	struct prov_call call = { .model = "m1", .message = "hi", .max_tokens = 5 };
	struct prov_http h;

	(void)state;
	assert_int_equal(prov_scheme_build(&sc, &cfg, &call, &h), AIGW_OK);
	assert_null(h.method);
	assert_string_equal(h.url, "http://h/p");
	assert_int_equal(h.nheaders, 4);
	assert_string_equal(h.headers[0], "x-key: k-1");
	assert_string_equal(h.headers[1], "x-one: 1");
	assert_string_equal(h.headers[2], "x-two: 2");
	assert_string_equal(h.headers[3], "Content-Type: application/x-test");
	assert_string_equal(h.body, "{\"m\":\"m1\"}");
	assert_int_equal(h.body_len, strlen(h.body));
	prov_http_free(&h);

	sc.path = NULL;
	sc.path_of = scheme_path;
	sc.fixed = NULL;
	sc.auth_prefix = "Bearer ";
	assert_int_equal(prov_scheme_build(&sc, &cfg, &call, &h), AIGW_OK);
	assert_string_equal(h.url, "http://h/by/model");
	assert_int_equal(h.nheaders, 2);
	assert_string_equal(h.headers[0], "x-key: Bearer k-1");
	prov_http_free(&h);
	/* a path the call cannot name, a key with a line break: nothing built */
	call.model = "bad";
	assert_int_equal(prov_scheme_build(&sc, &cfg, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_null(h.headers[0]);
	call.model = "m1";
	cfg.api_key = "k\r\nx-evil: 1";
	assert_int_equal(prov_scheme_build(&sc, &cfg, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_null(h.body);
}

static void
test_check_call(void **state)
{
	const struct prov_config cfg = { "k", "https://x" };
	const struct prov_call call = { .model = "m", .message = "hi", .max_tokens = 1 };
	struct prov_call c;

	(void)state;
	assert_int_equal(prov_common_check(&cfg, &call), AIGW_OK);
	assert_int_equal(prov_common_check(NULL, &call), AIGW_EINVAL);
	assert_int_equal(prov_common_check(&cfg, NULL), AIGW_EINVAL);
	c = call; c.max_tokens = 0;
	assert_int_equal(prov_common_check(&cfg, &c), AIGW_EINVAL);
	c = call; c.message = NULL;
	assert_int_equal(prov_common_check(&cfg, &c), AIGW_EINVAL);
	c = call; c.location = "";
	assert_null(prov_common_location(&c));
	c.location = "GB";
	assert_string_equal(prov_common_location(&c), "GB");
}

static void
snippet_is(const char *in, const char *want)
{
	char *got = prov_common_snippet(in);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_snippet(void **state)
{
	char big[1000];

	(void)state;
	snippet_is("", "");
	snippet_is("Rate limit reached", "Rate limit reached");
	snippet_is("a\r\nb\tc\x1b[31m\x7f", "a  b c [31m ");
	snippet_is("bad \xff\xfe utf8 \xc3", "bad ?? utf8 ?");
	snippet_is("\xe2\x82", "??");
	snippet_is("key sk-proj-abc_DEF-123 seen", "key [redacted] seen");
	snippet_is("sk-ant-api03-xyz.", "[redacted].");
	snippet_is("AIzaSyA-b_c,pplx-0123 gsk_x xai-y", "[redacted],[redacted] [redacted] [redacted]");
	snippet_is("(sk-1) 'sk-2'", "([redacted]) '[redacted]'");
	snippet_is("mask-on task-sk-1 risk-", "mask-on task-sk-1 risk-");
	snippet_is("Incorrect API key provided: sk-abc***wxyz.",
		   "Incorrect API key provided: [redacted].");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	{
		char *got = prov_common_snippet(big);

		assert_int_equal(strlen(got), PROV_SNIPPET_MAX + 3);
		assert_string_equal(got + PROV_SNIPPET_MAX, "...");
		free(got);
	}
	/* a key cut by the limit is still not shown */
	memset(big, 'x', sizeof big - 1);
	memcpy(big + 195, " sk-0123456789", 14);
	{
		char *got = prov_common_snippet(big);

		assert_null(strstr(got, "sk-"));
		assert_null(strstr(got, "0123"));
		free(got);
	}
}

static json_object *
parse_str(const char *s)
{
	return prov_common_json(s, strlen(s));
}

static void
test_json(void **state)
{
	json_object *o;

	(void)state;
	o = parse_str("{\"a\":1}\r\n\t ");
	assert_non_null(o);
	json_object_put(o);
	o = parse_str(" [1]");
	assert_non_null(o);
	json_object_put(o);
	assert_null(parse_str(""));
	assert_null(parse_str("{\"a\":1} x"));
	assert_null(parse_str("{\"a\":1}{}"));
	assert_null(parse_str("{\"a\":1"));
	assert_null(parse_str("{\"a\":1,}"));
	assert_null(parse_str("nul"));
	assert_null(prov_common_json(NULL, 0));
	assert_null(prov_common_json("{\"a\":1}\0{", 9));
	/* only the given bytes are read, with no NUL after them */
	assert_null(prov_common_json("{\"a\":1}", 5));
	/* the length is checked before a byte is read */
	assert_null(prov_common_json("{}", (size_t)INT_MAX + 10));
	/* Found by fuzz_provider_response: JSON that json-c takes but that is
	 * not UTF-8 as PostgreSQL sees it (overlong, surrogate, past U+10FFFF,
	 * a stray byte) made results that could never be stored. */
	assert_null(parse_str("{\"a\":\"\xc0\x80\"}"));
	assert_null(parse_str("{\"a\":\"\xed\xa0\x80\"}"));
	assert_null(parse_str("{\"a\":\"\xf4\x90\x80\x80\"}"));
	assert_null(parse_str("{\"a\":\"\xff\"}"));
	o = parse_str("{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\ud800\"}");
	assert_non_null(o);
	json_object_put(o);
}

static void
test_getters(void **state)
{
	json_object *o = parse_str("{\"s\":\"v\",\"n\":5,\"neg\":-1,\"d\":2.5,\"big\":9223372036854775807,"
				   "\"str\":\"7\",\"nul\":null,\"b\":true}");

	(void)state;
	assert_non_null(o);
	assert_string_equal(prov_common_get_str(o, "s"), "v");
	assert_null(prov_common_get_str(o, "n"));
	assert_null(prov_common_get_str(o, "missing"));
	assert_null(prov_common_get_str(NULL, "s"));
	assert_int_equal(prov_common_get_count(o, "n"), 5);
	assert_int_equal(prov_common_get_count(o, "neg"), -1);
	assert_int_equal(prov_common_get_count(o, "d"), -1);
	assert_int_equal(prov_common_get_count(o, "str"), -1);
	assert_int_equal(prov_common_get_count(o, "nul"), -1);
	assert_int_equal(prov_common_get_count(o, "b"), -1);
	assert_int_equal(prov_common_get_count(o, "big"), LONG_MAX);
	assert_null(prov_common_get(o, "nul", json_type_null));
	assert_null(prov_common_get(prov_common_get(o, "s", json_type_string), "s", json_type_string));
	json_object_put(o);
}

static void
test_cite(void **state)
{
	struct prov_result r;
	json_object *want;
	char url[64];

	(void)state;
	prov_common_result_init(&r);
	assert_int_equal(prov_common_cite(&r, NULL, "t"), AIGW_OK);
	assert_int_equal(prov_common_cite(&r, "", "t"), AIGW_OK);
	assert_null(r.citations);
	assert_int_equal(prov_common_cite(&r, "https://a", "A"), AIGW_OK);
	assert_int_equal(prov_common_cite(&r, "https://b", NULL), AIGW_OK);
	assert_int_equal(prov_common_cite(&r, "https://a", "A again"), AIGW_OK);
	want = parse_str("[{\"url\":\"https://a\",\"title\":\"A\"},{\"url\":\"https://b\",\"title\":null}]");
	assert_true(json_object_equal(r.citations, want));
	json_object_put(want);
	for (int i = 0; i < 200; i++) {
		snprintf(url, sizeof url, "https://e/%d", i);
		assert_int_equal(prov_common_cite(&r, url, "t"), AIGW_OK);
	}
	assert_int_equal(json_object_array_length(r.citations), PROV_CITATIONS_MAX);
	prov_result_free(&r);
}

static void
begin_is(long status, const char *body, enum prov_errclass c, const char *error)
{
	struct prov_result r;
	json_object *root = NULL;

	assert_int_equal(prov_common_begin("p", status, body, strlen(body), &r, &root), AIGW_OK);
	assert_int_equal(r.errclass, c);
	if (error == NULL)
		assert_null(r.error);
	else
		assert_string_equal(r.error, error);
	assert_false(r.ok);
	assert_int_equal(r.input_tokens, -1);
	json_object_put(root);
	prov_result_free(&r);
}

static void
test_begin(void **state)
{
	(void)state;
	begin_is(200, "{}", PROV_ERR_NONE, NULL);
	begin_is(201, "{\"x\":1}", PROV_ERR_NONE, NULL);
	begin_is(200, "[]", PROV_ERR_BAD_BODY, "p returned a body that is not a JSON object");
	begin_is(200, "", PROV_ERR_BAD_BODY, "p returned a body that is not a JSON object");
	begin_is(400, "{\"error\":{\"message\":\"m1\",\"type\":\"t1\"}}", PROV_ERR_CLIENT, "p returned 400: m1");
	begin_is(400, "{\"error\":{\"type\":\"t1\"}}", PROV_ERR_CLIENT, "p returned 400: t1");
	begin_is(400, "{\"error\":{\"status\":\"S1\",\"message\":\"\"}}", PROV_ERR_CLIENT, "p returned 400: S1");
	begin_is(503, "{\"error\":\"down\"}", PROV_ERR_SERVER, "p returned 503: down");
	begin_is(404, "{\"message\":\"no route\"}", PROV_ERR_CLIENT, "p returned 404: no route");
	begin_is(422, "{\"detail\":\"bad\"}", PROV_ERR_CLIENT, "p returned 422: bad");
	begin_is(422, "{\"detail\":[{\"loc\":[\"body\"]}]}", PROV_ERR_CLIENT, "p returned 422");
	begin_is(500, "<html>", PROV_ERR_SERVER, "p returned 500");
	begin_is(302, "", PROV_ERR_SERVER, "p returned 302");
	begin_is(408, "", PROV_ERR_TIMEOUT, "p returned 408");
	/* JSON is UTF-8: an answer that is not cannot be stored */
	begin_is(200, "{\"a\":\"\xed\xa0\x80\"}", PROV_ERR_BAD_BODY,
		 "p returned a body that is not a JSON object");
	begin_is(500, "{\"error\":\"\xc0\x80\"}", PROV_ERR_SERVER, "p returned 500");
}

static void
test_finish(void **state)
{
	struct prov_result r;
	struct buf b;

	(void)state;
	prov_common_result_init(&r);
	r.model = strdup("m");
	buf_init(&b, 100);
	assert_int_equal(prov_common_finish(&r, "p", &b, "length"), AIGW_OK);
	assert_false(r.ok);
	assert_int_equal(r.errclass, PROV_ERR_CLIENT);
	assert_string_equal(r.error, "p returned an empty answer (length)");
	assert_null(r.model);
	assert_int_equal(prov_common_finish(&r, "p", &b, NULL), AIGW_OK);
	assert_string_equal(r.error, "p returned an empty answer");
	prov_result_free(&r);

	prov_common_result_init(&r);
	assert_int_equal(buf_puts(&b, "answer"), AIGW_OK);
	assert_int_equal(prov_common_finish(&r, "p", &b, "stop"), AIGW_OK);
	assert_true(r.ok);
	assert_string_equal(r.text, "answer");
	assert_null(r.error);
	assert_int_equal(r.errclass, PROV_ERR_NONE);
	prov_result_free(&r);

	/* Found with fuzz_provider_response: an answer of "\u0000..." was ok
	 * with an empty text, and one with a NUL later was cut short. */
	prov_common_result_init(&r);
	assert_int_equal(buf_append(&b, "\0tail", 5), AIGW_OK);
	assert_int_equal(prov_common_finish(&r, "p", &b, "stop"), AIGW_OK);
	assert_false(r.ok);
	assert_null(r.text);
	assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
	assert_string_equal(r.error, "p returned an unexpected body: the answer holds a NUL character");
	prov_result_free(&r);
	buf_free(&b);
}

/* ---- what the async adapters share (batch.c) ---- */

static void
test_async_ids(void **state)
{
	(void)state;
	assert_true(prov_async_id_ok("a"));
	assert_true(prov_async_id_ok("chat-1_GPT-9"));
	assert_true(prov_async_id_ok("a123456789b123456789c123456789d123456789e123456789f123456789g123"));
	assert_false(prov_async_id_ok("a123456789b123456789c123456789d123456789e123456789f123456789g1234"));
	assert_false(prov_async_id_ok(NULL));
	assert_false(prov_async_id_ok(""));
	assert_false(prov_async_id_ok("a b"));
	assert_false(prov_async_id_ok("a.b"));
	assert_false(prov_async_id_ok("a/b"));
	assert_false(prov_async_id_ok("\xc3\xa4"));
}

static void
test_async_state_and_move(void **state)
{
	struct prov_step s;
	json_object *st;
	const char *step;

	(void)state;
	assert_int_equal(prov_async_state(NULL, &st, &step), AIGW_EINVAL);
	assert_null(st);
	assert_null(step);
	assert_int_equal(prov_async_state("{\"step\":1}", &st, &step), AIGW_EINVAL);
	assert_null(st);
	assert_int_equal(prov_async_state("{\"step\":\"poll\",\"id\":\"x\"}", &st, &step), AIGW_OK);
	assert_string_equal(step, "poll");
	assert_string_equal(prov_async_get_id(st, "id"), "x");
	assert_null(prov_async_get_id(st, "nothing"));
	json_object_put(st);

	memset(&s, 0, sizeof s);
	assert_int_equal(prov_async_move(&s, PROV_STEP_NEXT, "step", "output", "a", "1", "b", NULL,
					 (char *)NULL), AIGW_OK);
	assert_int_equal(s.kind, PROV_STEP_NEXT);
	assert_string_equal(s.state, "{\"step\":\"output\",\"a\":\"1\",\"b\":null}");
	assert_int_equal(prov_async_fail(&s, PROV_ERR_CLIENT, "no %s", "way"), AIGW_OK);
	assert_int_equal(s.kind, PROV_STEP_FAILED);
	assert_null(s.state);
	assert_string_equal(s.error, "no way");
	prov_step_free(&s);
	prov_step_free(&s); /* safe on a freed one */
}

static enum aigw_err
count_line(json_object *item, const char *id, struct prov_step *s)
{
	struct prov_result r;

	(void)item;
	prov_common_result_init(&r);
	return prov_async_add(s, id, &r);
}

static void
test_async_jsonl(void **state)
{
	/* CRLF, blank lines, no final newline, a NUL inside a line */
	static const char body[] = "\r\n{\"custom_id\":\"a\"}\r\n\n  \n{\"custom_id\":\"b\",\"x\":\"\0\"}\n"
				   "{\"custom_id\":\"c\"}";
	struct prov_step s;

	(void)state;
	memset(&s, 0, sizeof s);
	assert_int_equal(prov_async_jsonl("p", body, sizeof body - 1, &s, count_line), AIGW_OK);
	assert_int_equal(s.kind, PROV_STEP_NEXT); /* left to the caller */
	assert_int_equal(s.nresults, 2);
	assert_string_equal(s.ids[0], "a");
	assert_string_equal(s.ids[1], "c");
	prov_step_free(&s);
	assert_int_equal(prov_async_jsonl("p", "\n\n", 2, &s, count_line), AIGW_OK);
	assert_int_equal(s.nresults, 0);
	assert_null(s.error);
	assert_int_equal(prov_async_jsonl("p", "x\n", 2, &s, count_line), AIGW_OK);
	assert_int_equal(s.kind, PROV_STEP_FAILED);
	assert_string_equal(s.error, "p returned an unexpected body: no line holds a result");
	prov_step_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_find_unknown),
		cmocka_unit_test(test_classify_every_status),
		cmocka_unit_test(test_retryable_and_names),
		cmocka_unit_test(test_free_is_safe),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_url_and_headers),
		cmocka_unit_test(test_check_call),
		cmocka_unit_test(test_scheme_build),
		cmocka_unit_test(test_async_ids),
		cmocka_unit_test(test_async_state_and_move),
		cmocka_unit_test(test_async_jsonl),
		cmocka_unit_test(test_snippet),
		cmocka_unit_test(test_route_decision),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_cite),
		cmocka_unit_test(test_begin),
		cmocka_unit_test(test_finish),
	};

	return cmocka_run_group_tests_name("provider", tests, NULL, NULL);
}
