/* test_anthropic.c: the Anthropic Messages adapter against recorded fixture pairs. */
#define FX_PROVIDER "anthropic"
#include "prov_fixture.h"

static void
test_build_rejects(void **state)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	const struct prov_config cfg = { "sk-ant-api03-SECRETKEY0123456789", "https://api.anthropic.com" };
	struct prov_call call = { .model = "claude-3-5-haiku-latest", .message = "hi", .max_tokens = 10,
				  .websearch = true, .location = "US" };
	struct prov_call bad;
	struct prov_config c;
	struct prov_http h;

	(void)state;
	bad = call; bad.message = NULL;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	bad = call; bad.max_tokens = -5;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	c = cfg; c.api_key = NULL;
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	c = cfg; c.api_key = "sk-ant\nx-evil: 1";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_null(h.body);
	assert_int_equal(h.nheaders, 0);
}

/* A searched answer split over thousands of blocks is joined in order. */
static void
test_many_blocks(void **state)
{
	struct buf b;
	struct prov_result r;

	(void)state;
	buf_init(&b, 8u * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "{\"content\":["), AIGW_OK);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_printf(&b, "%s{\"type\":\"text\",\"text\":\"%d \",\"citations\":"
					    "[{\"url\":\"https://e.com/%d\",\"title\":null}]}",
					    i ? "," : "", i, i % 100), AIGW_OK);
	assert_int_equal(buf_puts(&b, "]}"), AIGW_OK);
	fx_parse(FX_PROVIDER, 200, b.data, b.len, &r);
	assert_true(r.ok);
	assert_int_equal(strncmp(r.text, "0 1 2 3 ", 8), 0);
	assert_non_null(strstr(r.text, " 19999 "));
	assert_int_equal(json_object_array_length(r.citations), 64);
	assert_int_equal(r.input_tokens, -1);
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
		FX_REQUEST("json_output"),
		/* no JSON mode without a schema: json_output changes no request */
		FX_JSON_IGNORED("basic"),
		FX_JSON_IGNORED("system"),
		FX_JSON_IGNORED("websearch"),
		FX_JSON_IGNORED("websearch_location"),
		FX_JSON_IGNORED("location_only"),
		FX_JSON_IGNORED("json_output"),
		cmocka_unit_test(test_build_rejects),
		FX_RESPONSE("success"),
		FX_RESPONSE("success_websearch"),
		FX_RESPONSE("websearch_error"),
		FX_RESPONSE("thinking"),
		FX_RESPONSE("refusal"),
		FX_RESPONSE("max_tokens_empty"),
		FX_RESPONSE("content_number"),
		FX_RESPONSE("content_missing"),
		FX_RESPONSE("text_number"),
		FX_RESPONSE("block_without_type"),
		FX_RESPONSE("wrong_side_types"),
		FX_RESPONSE("garbage"),
		FX_RESPONSE("truncated"),
		FX_RESPONSE("error_400"),
		FX_RESPONSE("error_401"),
		FX_RESPONSE("error_403"),
		FX_RESPONSE("error_404"),
		FX_RESPONSE("error_413"),
		FX_RESPONSE("error_429"),
		FX_RESPONSE("error_500"),
		FX_RESPONSE("error_529"),
		FX_RESPONSE("error_529_no_message"),
		FX_RESPONSE("error_504_html"),
		cmocka_unit_test(test_many_blocks),
		FX_HOSTILE_TESTS,
	};

	return cmocka_run_group_tests_name("anthropic", tests, NULL, NULL);
}
