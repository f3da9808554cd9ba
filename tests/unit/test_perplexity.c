/* test_perplexity.c: the Perplexity Sonar adapter against recorded fixture pairs. */
#define FX_PROVIDER "perplexity"
#include "prov_fixture.h"

static void
test_build_rejects(void **state)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	const struct prov_config cfg = { "pplx-SECRETKEY0123456789abcdef", "https://api.perplexity.ai" };
	struct prov_call call = { .model = "sonar", .message = "hi", .max_tokens = 10, .location = "GB" };
	struct prov_call bad;
	struct prov_config c;
	struct prov_http h;

	(void)state;
	bad = call; bad.model = NULL;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	c = cfg; c.api_key = "pplx-\x7f";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
}

/* Thousands of URLs, each looked up among thousands of results: bounded work. */
static void
test_many_sources(void **state)
{
	struct buf b;
	struct prov_result r;

	(void)state;
	buf_init(&b, 16u * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"citations\":["), AIGW_OK);
	for (int i = 0; i < 30000; i++)
		assert_int_equal(buf_printf(&b, "%s\"https://e.com/c%d\"", i ? "," : "", i), AIGW_OK);
	assert_int_equal(buf_puts(&b, "],\"search_results\":["), AIGW_OK);
	for (int i = 0; i < 30000; i++)
		assert_int_equal(buf_printf(&b, "%s{\"url\":\"https://e.com/r%d\",\"title\":\"r%d\"}",
					    i ? "," : "", i, i), AIGW_OK);
	assert_int_equal(buf_puts(&b, "]}"), AIGW_OK);
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
		FX_REQUEST("conversation_merged"),
		FX_STREAM_REQUEST("conversation_merged"),
		FX_REQUEST("websearch"),
		FX_REQUEST("location"),
		FX_REQUEST("location_without_websearch"),
		FX_REQUEST("json_output"),
		/* no JSON mode without a schema: json_output changes no request */
		FX_JSON_IGNORED("basic"),
		FX_JSON_IGNORED("system"),
		FX_JSON_IGNORED("websearch"),
		FX_JSON_IGNORED("location"),
		FX_JSON_IGNORED("location_without_websearch"),
		FX_JSON_IGNORED("json_output"),
		cmocka_unit_test(test_build_rejects),
		FX_RESPONSE("success"),
		FX_RESPONSE("citations_only"),
		FX_RESPONSE("search_results_only"),
		FX_RESPONSE("sources_wrong_types"),
		FX_RESPONSE("sources_not_arrays"),
		FX_RESPONSE("no_sources"),
		FX_RESPONSE("content_number"),
		FX_RESPONSE("choices_empty"),
		FX_RESPONSE("garbage"),
		FX_RESPONSE("truncated"),
		FX_RESPONSE("error_400"),
		FX_RESPONSE("error_401"),
		FX_RESPONSE("error_401_html"),
		FX_RESPONSE("error_422"),
		FX_RESPONSE("error_429"),
		FX_RESPONSE("error_500"),
		FX_RESPONSE("error_string"),
		cmocka_unit_test(test_many_sources),
		FX_HOSTILE_TESTS,
	};

	return cmocka_run_group_tests_name("perplexity", tests, NULL, NULL);
}
