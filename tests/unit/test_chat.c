/* test_chat.c: validation of POST /api/ai/chat bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "http/chat.h"

static void
expect_error(const char *body, const char *code, const char *field)
{
	struct chat_request r;
	struct http_field_error e;

	memset(&e, 0, sizeof e);
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, code);
	assert_string_equal(e.field, field ? field : "");
	assert_int_equal(e.status, 400);
	assert_null(r.root);
}

static void
test_valid_minimal(void **state)
{
	const char *body = "{\"message\":\"hi\",\"models\":{\"openai\":\"gpt-4o\"}}";
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.message, "hi");
	assert_null(r.system);
	assert_int_equal(r.max_tokens, CHAT_MAX_TOKENS_DEFAULT);
	assert_false(r.websearch);
	assert_string_equal(r.location, "");
	assert_int_equal(json_object_object_length(r.models), 1);
	chat_request_free(&r);
}

/* Whether a submit names a provider this host reaches (AIGW_MOCK decides
 * for the ones without a key); models as chat_request_parse checked them. */
static bool
reachable(const char *models, bool mock_fallback, struct http_field_error *e)
{
	json_object *m = json_tokener_parse(models);
	struct aigw_config cfg;
	char err[256];
	bool ok;

	assert_non_null(m);
	memset(e, 0, sizeof *e);
	setenv("AIGW_ENV_FILE", "/dev/null", 1);
	setenv("AIGW_MOCK", mock_fallback ? "on" : "off", 1);
	assert_int_equal(config_load(&cfg, err, sizeof err), AIGW_OK);
	ok = chat_models_reachable(m, &cfg, e);
	config_free(&cfg);
	json_object_put(m);
	return ok;
}

static void
test_models_reachable(void **state)
{
	struct http_field_error e;

	(void)state;
	unsetenv("OPENAI_API_KEY");
	unsetenv("ANTHROPIC_API_KEY");
	assert_false(reachable("{\"openai\":\"gpt-4o\"}", false, &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "provider_not_configured");
	assert_string_equal(e.field, "models");
	assert_string_equal(e.msg, "openai is not configured: set OPENAI_API_KEY");
	assert_false(reachable("{\"anthropic-batch\":\"c\",\"openai\":\"g\"}", false, &e));
	assert_string_equal(e.msg, "anthropic-batch is not configured: set ANTHROPIC_API_KEY");
	/* the mock named, a provider with its key, or the fallback on */
	assert_true(reachable("{\"openai\":\"g\",\"mock\":\"m\"}", false, &e));
	assert_true(reachable("{\"mock\":\"m\"}", false, &e));
	assert_true(reachable("{\"openai\":\"g\"}", true, &e));
	setenv("ANTHROPIC_API_KEY", "sk-ant-test", 1);
	assert_true(reachable("{\"openai\":\"g\",\"anthropic\":\"c\"}", false, &e));
	unsetenv("ANTHROPIC_API_KEY");
}

static void
test_valid_full(void **state)
{
	const char *body = "{\"message\":\"h\\u00e9\",\"system\":\"be brief\",\"max_tokens\":50,"
			   "\"websearch\":true,\"location\":\"de\",\"models\":{\"openai\":\"gpt-4o\","
			   "\"anthropic\":\"claude\",\"gemini\":\"g\",\"perplexity\":\"sonar\",\"mock\":\"m\"}}";
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.system, "be brief");
	assert_int_equal(r.max_tokens, 50);
	assert_true(r.websearch);
	assert_string_equal(r.location, "DE");
	assert_int_equal(json_object_object_length(r.models), 5);
	chat_request_free(&r);
}

static void
test_not_json(void **state)
{
	(void)state;
	expect_error("", "invalid_json", NULL);
	expect_error("{", "invalid_json", NULL);
	expect_error("not json", "invalid_json", NULL);
	expect_error("[1,2]", "invalid_json", NULL);
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"}} trailing", "invalid_json", NULL);
	expect_error("{\"message\":\"a\",} ", "invalid_json", NULL);
	/* invalid UTF-8 inside a string */
	expect_error("{\"message\":\"\xff\xfe\",\"models\":{\"openai\":\"m\"}}", "invalid_json", NULL);
}

static void
test_duplicate_keys_rejected(void **state)
{
	const char *ok = "{\"message\":\"a \\\": b\",\"models\":{\"openai\":\"m\"},"
			 "\"x\":[{\"k\":1},{\"k\":2}],\"y\":\"{\\\"message\\\": 1}\"}";
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	expect_error("{\"message\":\"a\",\"message\":\"b\",\"models\":{\"openai\":\"m\"}}",
		     "invalid_json", NULL);
	/* The same key however it is escaped, and deep inside. */
	expect_error("{\"message\":\"a\",\"\\u006dessage\":\"b\",\"models\":{\"openai\":\"m\"}}",
		     "invalid_json", NULL);
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\",\"openai\":\"n\"}}",
		     "invalid_json", NULL);
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"x\":[{\"k\":1,\"k\":1}]}",
		     "invalid_json", NULL);
	/* Colons and quotes inside strings, equal keys in sibling objects:
	 * no duplicates. */
	memset(&e, 0, sizeof e);
	assert_int_equal(chat_request_parse(ok, strlen(ok), &r, &e), AIGW_OK);
	chat_request_free(&r);
}

static void
test_deep_nesting_rejected(void **state)
{
	char body[400];

	(void)state;
	memset(body, '[', 300);
	body[300] = '\0';
	expect_error(body, "invalid_json", NULL);
}

static void
test_message_rules(void **state)
{
	char *big;
	size_t n = CHAT_MESSAGE_MAX + 1;

	(void)state;
	expect_error("{\"models\":{\"openai\":\"m\"}}", "invalid_field", "message");
	expect_error("{\"message\":\"\",\"models\":{\"openai\":\"m\"}}", "invalid_field", "message");
	expect_error("{\"message\":5,\"models\":{\"openai\":\"m\"}}", "invalid_field", "message");
	expect_error("{\"message\":\"a\\u0000b\",\"models\":{\"openai\":\"m\"}}", "invalid_field", "message");
	big = malloc(n + 64);
	assert_non_null(big);
	memcpy(big, "{\"message\":\"", 12);
	memset(big + 12, 'x', n);
	memcpy(big + 12 + n, "\",\"models\":{\"openai\":\"m\"}}", 27);
	expect_error(big, "invalid_field", "message");
	free(big);
}

static void
test_message_counts_characters_not_bytes(void **state)
{
	/* 32768 two-byte characters: 65536 bytes, still within the limit */
	size_t chars = CHAT_MESSAGE_MAX, len = 12 + 2 * chars + 26;
	char *body = malloc(len + 1);
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	assert_non_null(body);
	memcpy(body, "{\"message\":\"", 12);
	for (size_t i = 0; i < chars; i++)
		memcpy(body + 12 + 2 * i, "\xc3\xa9", 2);
	memcpy(body + 12 + 2 * chars, "\",\"models\":{\"openai\":\"m\"}}", 27);
	assert_int_equal(chat_request_parse(body, len, &r, &e), AIGW_OK);
	chat_request_free(&r);
	free(body);
}

static void
test_models_rules(void **state)
{
	(void)state;
	expect_error("{\"message\":\"a\"}", "invalid_field", "models");
	expect_error("{\"message\":\"a\",\"models\":{}}", "invalid_field", "models");
	expect_error("{\"message\":\"a\",\"models\":[\"openai\"]}", "invalid_field", "models");
	expect_error("{\"message\":\"a\",\"models\":{\"a1\":\"m\",\"a2\":\"m\",\"a3\":\"m\",\"a4\":\"m\","
		     "\"a5\":\"m\",\"a6\":\"m\",\"a7\":\"m\",\"a8\":\"m\",\"a9\":\"m\"}}",
		     "invalid_field", "models");
	expect_error("{\"message\":\"a\",\"models\":{\"nope\":\"m\"}}", "unknown_provider", "models.nope");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"\"}}", "invalid_field", "models.openai");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":7}}", "invalid_field", "models.openai");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		     "x\"}}", "invalid_field", "models.openai");
}

/* prefix followed by n e-acutes (two bytes each) into out. */
static void
e_acutes(char *out, const char *prefix, int n)
{
	size_t len = strlen(prefix);

	memcpy(out, prefix, len);
	for (int i = 0; i < n; i++) {
		out[len++] = '\xc3';
		out[len++] = '\xa9';
	}
	out[len] = '\0';
}

/* Found by fuzz_chat_request: json-c's UTF-8 check passes overlong forms,
 * surrogates and code points past U+10FFFF, which PostgreSQL refuses and
 * which the unknown_provider answer echoed back. */
static void
test_body_must_be_strict_utf8(void **state)
{
	(void)state;
	expect_error("{\"message\":\"a\",\"models\":{\"ope\xed\xa0\x80nai\":\"m\"}}",
		     "invalid_json", NULL);
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"x\":\"\xc0\x80\"}",
		     "invalid_json", NULL);
	expect_error("{\"message\":\"\xf4\x90\x80\x80\",\"models\":{\"openai\":\"m\"}}",
		     "invalid_json", NULL);
}

/* Found by fuzz_chat_request: "%.64s" cut a long provider name inside a
 * UTF-8 character, and the 400 answer was no longer UTF-8. */
static void
test_unknown_provider_cut_on_a_character(void **state)
{
	char body[512], name[128];
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	e_acutes(name, "x", 40); /* 81 bytes: a cut at 64 splits an e-acute */
	snprintf(body, sizeof body, "{\"message\":\"a\",\"models\":{\"%s\":\"m\"}}", name);
	memset(&e, 0, sizeof e);
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, "unknown_provider");
	/* "x" and 31 whole e-acutes: 63 bytes */
	assert_int_equal(strlen(e.field), strlen("models.") + 63);
	assert_true(utf8_length(e.field, strlen(e.field)) > 0);
	assert_true(utf8_length(e.msg, strlen(e.msg)) > 0);
	name[63] = '\0';
	assert_non_null(strstr(e.msg, name));
	/* a name that fits is named whole */
	e_acutes(name, "xx", 31); /* 64 bytes */
	snprintf(body, sizeof body, "{\"message\":\"a\",\"models\":{\"%s\":\"m\"}}", name);
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, "unknown_provider");
	assert_int_equal(strlen(e.field), strlen("models.") + 64);
	assert_true(utf8_length(e.msg, strlen(e.msg)) > 0);
	assert_non_null(strstr(e.msg, name));
}

static void
test_optional_rules(void **state)
{
	(void)state;
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"max_tokens\":0}", "invalid_field", "max_tokens");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"max_tokens\":\"9\"}", "invalid_field", "max_tokens");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"max_tokens\":1.5}", "invalid_field", "max_tokens");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"max_tokens\":65537}", "invalid_field", "max_tokens");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"websearch\":\"yes\"}", "invalid_field", "websearch");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"location\":\"USA\"}", "invalid_field", "location");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"location\":\"1A\"}", "invalid_field", "location");
	expect_error("{\"message\":\"a\",\"models\":{\"openai\":\"m\"},\"system\":3}", "invalid_field", "system");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_minimal),
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_models_reachable),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_duplicate_keys_rejected),
		cmocka_unit_test(test_deep_nesting_rejected),
		cmocka_unit_test(test_message_rules),
		cmocka_unit_test(test_message_counts_characters_not_bytes),
		cmocka_unit_test(test_models_rules),
		cmocka_unit_test(test_body_must_be_strict_utf8),
		cmocka_unit_test(test_unknown_provider_cut_on_a_character),
		cmocka_unit_test(test_optional_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
