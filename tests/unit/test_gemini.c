/* test_gemini.c: the Gemini generateContent adapter against recorded fixture pairs. */
#define FX_PROVIDER "gemini"
#include "prov_fixture.h"

static void
test_build_rejects(void **state)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	const struct prov_config cfg = { "AIzaSyTest-SECRETKEY0123456789",
					 "https://generativelanguage.googleapis.com" };
	struct prov_call call = { .model = "gemini-2.5-flash", .message = "hi", .system = "sys",
				  .max_tokens = 10, .websearch = true };
	struct prov_call bad;
	struct prov_config c;
	struct prov_http h;

	(void)state;
	bad = call; bad.model = "";
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	bad = call; bad.max_tokens = 0;
	assert_int_equal(d->build(&cfg, &bad, &h), AIGW_EINVAL);
	c = cfg; c.api_key = "AIza\r\n";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	c = cfg; c.base_url = "";
	assert_int_equal(d->build(&c, &call, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_null(h.body);
}

/* The key travels in a header only, never in the URL where logs keep it. */
static void
test_key_not_in_url(void **state)
{
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	const struct prov_config cfg = { "AIzaSyTest-SECRETKEY0123456789", "https://g.example" };
	struct prov_call call = { .model = "gemini-2.5-pro", .message = "hi", .max_tokens = 10 };
	struct prov_http h;

	(void)state;
	assert_int_equal(d->build(&cfg, &call, &h), AIGW_OK);
	assert_null(strstr(h.url, FX_SECRET));
	assert_null(strstr(h.url, "key="));
	assert_null(strstr(h.body, FX_SECRET));
	prov_http_free(&h);
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
		FX_REQUEST("resource_name"),
		FX_REQUEST("escaped_model"),
		FX_REQUEST("json_output"),
		FX_REQUEST("json_output_websearch"),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_key_not_in_url),
		FX_RESPONSE("success"),
		FX_RESPONSE("multi_parts"),
		FX_RESPONSE("success_grounding"),
		FX_RESPONSE("success_json"),
		FX_RESPONSE("no_usage"),
		FX_RESPONSE("blocked_prompt"),
		FX_RESPONSE("no_candidates"),
		FX_RESPONSE("candidates_empty"),
		FX_RESPONSE("safety_finish"),
		FX_RESPONSE("max_tokens_no_parts"),
		FX_RESPONSE("candidates_object"),
		FX_RESPONSE("candidate_string"),
		FX_RESPONSE("content_string"),
		FX_RESPONSE("parts_number"),
		FX_RESPONSE("part_number"),
		FX_RESPONSE("text_number"),
		FX_RESPONSE("token_overflow"),
		FX_RESPONSE("garbage"),
		FX_RESPONSE("truncated"),
		FX_RESPONSE("error_400"),
		FX_RESPONSE("error_400_key"),
		FX_RESPONSE("error_403"),
		FX_RESPONSE("error_404"),
		FX_RESPONSE("error_429"),
		FX_RESPONSE("error_500"),
		FX_RESPONSE("error_503"),
		FX_RESPONSE("error_504"),
		FX_RESPONSE("error_list"),
		FX_HOSTILE_TESTS,
	};

	return cmocka_run_group_tests_name("gemini", tests, NULL, NULL);
}
