/* test_openai.c: the OpenAI Chat Completions adapter against recorded fixture pairs. */
#define FX_PROVIDER "openai"
#include "prov_fixture.h"

static const struct prov_config cfg = { "sk-test-SECRETKEY0123456789", "https://api.openai.com/v1" };

static void
test_build_rejects(void **state)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	struct prov_call call = { .model = "gpt-4o", .message = "hi", .max_tokens = 10 };
	struct prov_call bad;
	struct prov_config c;
	struct prov_http h;

	(void)state;
	bad = call; bad.model = NULL;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	assert_null(h.url);
	bad = call; bad.model = "";
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	bad = call; bad.message = "";
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	bad = call; bad.max_tokens = 0;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	c = cfg; c.api_key = "";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	c = cfg; c.base_url = NULL;
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	/* a pasted key with a line break must not smuggle in a header */
	c = cfg; c.api_key = "sk-abc\r\nX-Evil: 1";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_int_equal(h.nheaders, 0);
	assert_null(h.body);
	c = cfg; c.base_url = "https://api.openai.com/v1\n";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
}

static void
test_huge_answer(void **state)
{
	const size_t n = 4u * 1024 * 1024;
	struct buf b;
	struct prov_result r;

	(void)state;
	buf_init(&b, n + 256);
	assert_int_equal(buf_puts(&b, "{\"choices\":[{\"message\":{\"content\":\""), AIGW_OK);
	for (size_t i = 0; i < n / 8; i++)
		assert_int_equal(buf_puts(&b, "abcdefg "), AIGW_OK);
	assert_int_equal(buf_puts(&b, "\"}}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}"), AIGW_OK);
	fx_parse(FX_PROVIDER, 200, b.data, b.len, &r);
	assert_true(r.ok);
	assert_int_equal(strlen(r.text), n);
	assert_int_equal(r.output_tokens, 2);
	prov_result_free(&r);
	buf_free(&b);
}

/* Hundreds of sources cost nothing: the result keeps the first 64. */
static void
test_many_citations(void **state)
{
	struct buf b;
	struct prov_result r;

	(void)state;
	buf_init(&b, 16u * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "{\"choices\":[{\"message\":{\"content\":\"x\",\"annotations\":["), AIGW_OK);
	for (int i = 0; i < 50000; i++)
		assert_int_equal(buf_printf(&b, "%s{\"type\":\"url_citation\",\"url_citation\":"
					    "{\"url\":\"https://e.com/%d\",\"title\":\"t\"}}",
					    i ? "," : "", i), AIGW_OK);
	assert_int_equal(buf_puts(&b, "]}}]}"), AIGW_OK);
	fx_parse(FX_PROVIDER, 200, b.data, b.len, &r);
	assert_true(r.ok);
	assert_int_equal(json_object_array_length(r.citations), 64);
	prov_result_free(&r);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_REQUEST("basic"),
		FX_REQUEST("system"),
		FX_REQUEST("conversation"),
		FX_STREAM_REQUEST("conversation"),
		FX_REQUEST("websearch"),
		FX_REQUEST("websearch_location"),
		FX_REQUEST("location_only"),
		FX_REQUEST("escaping"),
		FX_REQUEST("json_output"),
		FX_REQUEST("json_output_websearch"),
		cmocka_unit_test(test_build_rejects),
		FX_RESPONSE("success"),
		FX_RESPONSE("success_websearch"),
		FX_RESPONSE("success_json"),
		FX_RESPONSE("no_usage"),
		FX_RESPONSE("usage_wrong_types"),
		FX_RESPONSE("refusal"),
		FX_RESPONSE("empty_length"),
		FX_RESPONSE("content_null"),
		FX_RESPONSE("content_number"),
		FX_RESPONSE("content_array"),
		FX_RESPONSE("choices_empty"),
		FX_RESPONSE("choices_object"),
		FX_RESPONSE("message_string"),
		FX_RESPONSE("garbage"),
		FX_RESPONSE("truncated"),
		FX_RESPONSE("trailing_junk"),
		FX_RESPONSE("empty"),
		FX_RESPONSE("error_400"),
		FX_RESPONSE("error_401"),
		FX_RESPONSE("error_403"),
		FX_RESPONSE("error_404"),
		FX_RESPONSE("error_429"),
		FX_RESPONSE("error_429_quota"),
		FX_RESPONSE("error_500"),
		FX_RESPONSE("error_503"),
		FX_RESPONSE("error_502_html"),
		FX_RESPONSE("error_408_empty"),
		FX_RESPONSE("error_type_only"),
		FX_RESPONSE("error_long"),
		cmocka_unit_test(test_huge_answer),
		cmocka_unit_test(test_many_citations),
		FX_HOSTILE_TESTS,
	};

	return cmocka_run_group_tests_name("openai", tests, NULL, NULL);
}
