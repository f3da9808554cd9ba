/* test_mock.c: the built-in offline provider's deterministic answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	struct prov_call call = { .model = NULL }; /* every field missing */
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

/* s parsed as strict JSON that is valid UTF-8 with nothing after it; the
 * test fails otherwise. */
static json_object *
parse_strict(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	if (json_tokener_get_error(tok) != json_tokener_success)
		fail_msg("not strict JSON (%s): %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)), s);
	assert_int_equal(json_tokener_get_parse_end(tok), strlen(s));
	json_tokener_free(tok);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

/* The JSON answer's summary is the plain answer; its items are the echo's
 * first words. */
static void
assert_json_answer(const struct prov_call *call, const char *items_json)
{
	struct prov_call plain_call = *call;
	struct prov_result plain, r;
	json_object *o, *v, *want;

	plain_call.json_output = false;
	answer(&plain_call, &plain);
	answer(call, &r);
	o = parse_strict(r.text);
	assert_int_equal(json_object_object_length(o), 2);
	assert_true(json_object_object_get_ex(o, "summary", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), plain.text);
	assert_true(json_object_object_get_ex(o, "items", &v));
	want = json_tokener_parse(items_json);
	assert_non_null(want);
	if (!json_object_equal(v, want))
		fail_msg("items are %s, want %s", json_object_to_json_string(v), items_json);
	/* the same call, the same counts: only the text's shape changes */
	assert_int_equal(r.input_tokens, plain.input_tokens);
	assert_string_equal(r.model, plain.model);
	json_object_put(want);
	json_object_put(o);
	prov_result_free(&plain);
	prov_result_free(&r);
}

static void
test_json_output(void **state)
{
	struct prov_call call = { .model = "gpt-4o", .message = "Compare Rust and Go", .max_tokens = 100,
				  .json_output = true };
	struct prov_result r;

	(void)state;
	answer(&call, &r);
	assert_string_equal(r.text, "{\"summary\":\"mock answer from gpt-4o: Compare Rust and Go\","
				    "\"items\":[\"Compare\",\"Rust\",\"and\",\"Go\"]}");
	assert_string_equal(r.model, "gpt-4o");
	assert_int_equal(r.input_tokens, 4);
	assert_int_equal(r.output_tokens, 8);
	assert_null(r.citations);
	prov_result_free(&r);
	assert_json_answer(&call, "[\"Compare\",\"Rust\",\"and\",\"Go\"]");
}

/* Whatever the message holds, the answer is one valid JSON object. */
static void
test_json_output_escaping(void **state)
{
	struct prov_call call = { .model = "m",
				  .message = "say \"hi\"\\ \x01\x1f\x7f\ttab\nline </script> a/b \xc3\xa9\xe4\xb8\xad",
				  .system = "sys", .max_tokens = 100, .json_output = true };

	(void)state;
	assert_json_answer(&call, "[\"say\",\"\\\"hi\\\"\\\\\",\"\\u0001\\u001f\\u007f\","
				  "\"tab\",\"line\"]");
}

static void
test_json_output_items(void **state)
{
	char ascii[201], want[160];
	struct prov_call call = { .model = "m", .message = "one two  three\tfour\nfive six seven",
				  .max_tokens = 100, .json_output = true };

	(void)state;
	/* five words at most */
	assert_json_answer(&call, "[\"one\",\"two\",\"three\",\"four\",\"five\"]");
	/* words of the echo only: 200 characters echo as 120 */
	memset(ascii, 'a', 200);
	ascii[200] = '\0';
	call.message = ascii;
	snprintf(want, sizeof want, "[\"%.120s\"]", ascii);
	assert_json_answer(&call, want);
	/* nothing to list */
	call.message = " \t ";
	assert_json_answer(&call, "[]");
	call.message = NULL;
	call.model = NULL;
	assert_json_answer(&call, "[]");
}

/* Citations and token counts do not depend on the answer's shape. */
static void
test_json_output_websearch(void **state)
{
	struct prov_call call = { .model = "sonar", .message = "news", .max_tokens = 100, .websearch = true,
				  .location = "DE", .json_output = true };
	struct prov_result r;

	(void)state;
	answer(&call, &r);
	assert_int_equal(json_object_array_length(r.citations), 2);
	json_object_put(parse_strict(r.text));
	prov_result_free(&r);
}

/* A long model name is cut at 256 bytes, never inside a character: the
 * answer may be JSON, which must stay valid UTF-8. */
static void
test_model_cut_on_character(void **state)
{
	char model[3 * 100 + 1], want[300];
	struct prov_call call = { .model = model, .message = "hi", .max_tokens = 100, .json_output = true };
	struct prov_result r;

	(void)state;
	for (int i = 0; i < 100; i++)
		memcpy(model + 3 * i, "\xe4\xb8\xad", 3);
	model[300] = '\0';
	answer(&call, &r);
	json_object_put(parse_strict(r.text));
	prov_result_free(&r);
	call.json_output = false;
	answer(&call, &r);
	/* 85 characters (255 bytes): the 86th would end past byte 256 */
	snprintf(want, sizeof want, "mock answer from %.255s: hi", model);
	assert_string_equal(r.text, want);
	prov_result_free(&r);
	/* ASCII is cut at exactly 256, as before */
	memset(model, 'x', 300);
	answer(&call, &r);
	assert_int_equal(strlen(r.text), strlen("mock answer from : hi") + 256);
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

/* The mock's stream is a pure function of time: the first word at once,
 * one more every 1000 / tps ms, whole words only, all of it at the end. */
static void
test_stream_timing(void **state)
{
	const char *text = "mock answer from m: a bc  d ";
	size_t len;

	(void)state;
	/* 4 words a second: words at 0, 250, 500, ... ms. */
	assert_int_equal(prov_mock_stream_len(text, 0, 4), strlen("mock"));
	assert_int_equal(prov_mock_stream_len(text, -5, 4), 0);
	assert_int_equal(prov_mock_stream_len(text, 249, 4), strlen("mock"));
	assert_int_equal(prov_mock_stream_len(text, 250, 4), strlen("mock answer"));
	assert_int_equal(prov_mock_stream_len(text, 1000, 4), strlen("mock answer from m: a"));
	assert_int_equal(prov_mock_stream_len(text, 1250, 4), strlen("mock answer from m: a bc"));
	/* The last word brings the trailing blanks with it. */
	assert_int_equal(prov_mock_stream_len(text, 1500, 4), strlen(text));
	assert_int_equal(prov_mock_stream_len(text, 99999, 4), strlen(text));
	assert_int_equal(prov_mock_stream_next_ms(text, 0, 4), 0);
	assert_int_equal(prov_mock_stream_next_ms(text, strlen("mock"), 4), 250);
	assert_int_equal(prov_mock_stream_next_ms(text, strlen("mock answer from m: a bc"), 4),
			 1500);
	assert_int_equal(prov_mock_stream_next_ms(text, strlen(text), 4), -1);
	/* 3 a second: the next word's time is rounded up, never early. */
	assert_int_equal(prov_mock_stream_next_ms(text, strlen("mock"), 3), 334);
	assert_int_equal(prov_mock_stream_len(text, 333, 3), strlen("mock"));
	assert_int_equal(prov_mock_stream_len(text, 334, 3), strlen("mock answer"));
	/* Following next_ms from the start walks every word once. */
	len = prov_mock_stream_len(text, 0, 7);
	for (int words = 1; len < strlen(text); words++) {
		int64_t at = prov_mock_stream_next_ms(text, len, 7);
		size_t more = prov_mock_stream_len(text, at, 7);

		assert_true(at >= 0);
		assert_true(more > len);
		assert_int_equal(prov_mock_stream_len(text, at - 1, 7), len);
		len = more;
		assert_true(words < 8);
	}
	assert_int_equal(prov_mock_stream_len("", 0, 40), 0);
	assert_int_equal(prov_mock_stream_next_ms("", 0, 40), -1);
	assert_int_equal(prov_mock_stream_len("  ", 0, 40), 2);
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
		cmocka_unit_test(test_json_output),
		cmocka_unit_test(test_json_output_escaping),
		cmocka_unit_test(test_json_output_items),
		cmocka_unit_test(test_json_output_websearch),
		cmocka_unit_test(test_model_cut_on_character),
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_stream_timing),
	};

	return cmocka_run_group_tests_name("mock", tests, NULL, NULL);
}
