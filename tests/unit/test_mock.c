/* test_mock.c: the built-in offline provider's deterministic answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "providers/provider.h"

static void
answer(const struct prov_call *call, struct prov_result *r)
{
	memset(r, 0xa5, sizeof *r);
	assert_int_equal(prov_mock_answer(call, r), AIGW_OK);
	assert_true(r->ok);
	assert_int_equal(r->errclass, PROV_ERR_NONE);
	assert_null(r->error);
}

static void
test_basic(void **state)
{
	struct prov_call call = { .model = "gpt-4o", .message = "Compare Rust and Go", .max_tokens = 100 };
	struct prov_result r;

	(void)state;
	answer(&call, &r);
	assert_string_equal(r.text, "mock answer from gpt-4o: Compare Rust and Go");
	assert_string_equal(r.model, "gpt-4o");
	assert_int_equal(r.input_tokens, 4);
	assert_int_equal(r.output_tokens, 8);
	assert_null(r.citations);
	prov_result_free(&r);
}

static void
test_deterministic(void **state)
{
	struct prov_call call = { .model = "m", .message = "same\tinput\n twice ", .system = "sys tem",
				  .max_tokens = 100, .websearch = true, .location = "DE" };
	struct prov_result a, b;

	(void)state;
	answer(&call, &a);
	answer(&call, &b);
	assert_string_equal(a.text, b.text);
	assert_int_equal(a.input_tokens, 5);
	assert_int_equal(a.input_tokens, b.input_tokens);
	assert_int_equal(a.output_tokens, b.output_tokens);
	assert_true(json_object_equal(a.citations, b.citations));
	prov_result_free(&a);
	prov_result_free(&b);
}

static void
test_echo_is_cut_at_120_characters(void **state)
{
	char ascii[201], utf8[2 * 130 + 1], want[512];
	struct prov_call call = { .model = "m", .message = ascii, .max_tokens = 100 };
	struct prov_result r;

	(void)state;
	memset(ascii, 'a', 200);
	ascii[200] = '\0';
	answer(&call, &r);
	assert_int_equal(strlen(r.text), strlen("mock answer from m: ") + 120);
	prov_result_free(&r);

	/* 130 two-byte characters: 120 of them, never half of one */
	for (int i = 0; i < 130; i++)
		memcpy(utf8 + 2 * i, "\xc3\xa9", 2);
	utf8[260] = '\0';
	call.message = utf8;
	answer(&call, &r);
	memcpy(want, "mock answer from m: ", 20);
	memcpy(want + 20, utf8, 240);
	want[260] = '\0';
	assert_string_equal(r.text, want);
	assert_int_equal(r.input_tokens, 1);
	prov_result_free(&r);

	/* exactly 120: all of it */
	ascii[120] = '\0';
	call.message = ascii;
	answer(&call, &r);
	assert_int_equal(strlen(r.text), strlen("mock answer from m: ") + 120);
	prov_result_free(&r);
}

static void
test_websearch_citations(void **state)
{
	struct prov_call call = { .model = "sonar", .message = "news", .max_tokens = 100, .websearch = true };
	struct prov_result r;
	json_object *want;

	(void)state;
	answer(&call, &r);
	want = json_tokener_parse("[{\"url\":\"https://example.com/mock/source-1\",\"title\":\"Mock source 1\"},"
				  "{\"url\":\"https://example.com/mock/source-2\",\"title\":\"Mock source 2\"}]");
	assert_non_null(want);
	assert_true(json_object_equal(r.citations, want));
	json_object_put(want);
	prov_result_free(&r);
}

static void
test_missing_fields(void **state)
{
	struct prov_call call = { .model = NULL };
	struct prov_result r;

	(void)state;
	answer(&call, &r);
	assert_string_equal(r.text, "mock answer from mock: ");
	assert_string_equal(r.model, "mock");
	assert_int_equal(r.input_tokens, 1);
	assert_int_equal(r.output_tokens, 4);
	prov_result_free(&r);
	call.message = "   ";
	answer(&call, &r);
	assert_int_equal(r.input_tokens, 1);
	prov_result_free(&r);
}

/* The descriptor says what the worker relies on: built in, nothing to call. */
static void
test_descriptor(void **state)
{
	const struct prov_desc *d = prov_find("mock");

	(void)state;
	assert_non_null(d);
	assert_int_equal(d->kind, PROV_BUILTIN);
	assert_null(d->key_env);
	assert_null(d->base_env);
	assert_null(d->build);
	assert_null(d->parse);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_echo_is_cut_at_120_characters),
		cmocka_unit_test(test_websearch_citations),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_descriptor),
	};

	return cmocka_run_group_tests_name("mock", tests, NULL, NULL);
}
