/* test_anthropic_batch.c: the Anthropic Message Batches adapter against recorded fixtures. */
#define FX_PROVIDER "anthropic-batch"
#include "async_fixture.h"

/* Every request of the batch is the sync adapter's request: same params,
 * same headers. */
static void
test_requests_are_sync_requests(void **state)
{
	const struct prov_desc *sync = prov_find("anthropic");
	struct fx_batch b;
	struct prov_http h;
	json_object *body, *reqs;

	(void)state;
	fx_batch_load(&b);
	assert_int_equal(fx_ops()->build(&b.cfg, b.model, NULL, b.items, b.n, &h), AIGW_OK);
	body = json_tokener_parse(h.body);
	assert_true(json_object_object_get_ex(body, "requests", &reqs));
	assert_int_equal(json_object_array_length(reqs), b.n);
	for (size_t i = 0; i < b.n; i++) {
		json_object *r = json_object_array_get_idx(reqs, i), *params, *want;
		struct prov_http one;

		assert_string_equal(fx_str(r, "custom_id"), b.items[i].custom_id);
		assert_true(json_object_object_get_ex(r, "params", &params));
		assert_int_equal(sync->build(&b.cfg, &b.items[i].call, &one), AIGW_OK);
		want = json_tokener_parse(one.body);
		fx_assert_json_equal(params, want, "params");
		json_object_put(want);
		/* the sync request's headers, the JSON content type last in both */
		assert_int_equal(one.nheaders, h.nheaders);
		for (size_t k = 0; k < h.nheaders; k++)
			assert_string_equal(one.headers[k], h.headers[k]);
		prov_http_free(&one);
	}
	json_object_put(body);
	prov_http_free(&h);
	fx_batch_free(&b);
}


/* A conversation of three turns with a system prompt. */
static const struct prov_turn conv_turns[] = {
	{ "user", "Name a language for CLIs." },
	{ "assistant", "Go is a good choice." },
	{ "user", "And why not Rust?" },
};

/* A call with a conversation goes into its request whole, the system
 * prompt beside the turns, as its sync request would. */
static void
test_conversation_request(void **state)
{
	struct fx_batch b;
	struct prov_http h;
	json_object *body, *reqs, *params, *want;

	(void)state;
	fx_batch_load(&b);
	b.items[0].call.system = "Answer in one line.";
	b.items[0].call.message = "And why not Rust?";
	b.items[0].call.turns = conv_turns;
	b.items[0].call.nturns = 3;
	assert_int_equal(fx_ops()->build(&b.cfg, b.model, NULL, b.items, 1, &h), AIGW_OK);
	body = json_tokener_parse(h.body);
	assert_true(json_object_object_get_ex(body, "requests", &reqs));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(reqs, 0), "params", &params));
	assert_string_equal(fx_str(params, "system"), "Answer in one line.");
	want = json_tokener_parse("[{\"role\":\"user\",\"content\":\"Name a language for CLIs.\"},"
				  "{\"role\":\"assistant\",\"content\":\"Go is a good choice.\"},"
				  "{\"role\":\"user\",\"content\":\"And why not Rust?\"}]");
	fx_assert_json_equal(json_object_object_get(params, "messages"), want, "params messages");
	json_object_put(want);
	json_object_put(body);
	prov_http_free(&h);
	fx_batch_free(&b);
}

static void
test_build_rejects(void **state)
{
	struct fx_batch b;
	struct prov_batch_item items[3];
	struct prov_config c;
	struct prov_http h;
	const struct prov_async_ops *ops = fx_ops();

	(void)state;
	fx_batch_load(&b);
	memcpy(items, b.items, 2 * sizeof items[0]);
	items[2] = items[1];
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	assert_null(h.url);
	items[2].custom_id = "job.7";
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	items[2].custom_id = "job-8";
	items[2].call.max_tokens = -5;
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 0, &h), AIGW_EINVAL);
	c = b.cfg;
	c.api_key = "sk-ant-\nx";
	assert_int_equal(ops->build(&c, b.model, NULL, items, 2, &h), AIGW_EINVAL);
	assert_null(h.url);
	assert_int_equal(h.nheaders, 0);
	c = b.cfg;
	c.base_url = "";
	assert_int_equal(ops->build(&c, b.model, NULL, items, 2, &h), AIGW_EINVAL);
	/* a results_url is only followed under the configured base, with the
	 * key; a proxy base keeps working */
	c = b.cfg;
	c.base_url = "http://127.0.0.1:18080/anthropic/";
	assert_int_equal(ops->build(&c, b.model, "{\"step\":\"results\",\"batch_id\":\"b\",\"results_url\":"
				    "\"http://127.0.0.1:18080/anthropic/v1/messages/batches/b/results\"}",
				    NULL, 0, &h), AIGW_OK);
	assert_string_equal(h.url, "http://127.0.0.1:18080/anthropic/v1/messages/batches/b/results");
	prov_http_free(&h);
	assert_int_equal(ops->build(&c, b.model, "{\"step\":\"results\",\"batch_id\":\"b\",\"results_url\":"
				    "\"http://127.0.0.1:18080/anthropicx/v1\"}", NULL, 0, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&c, b.model, "{\"step\":\"results\",\"batch_id\":\"b\",\"results_url\":"
				    "\"http://127.0.0.1:18080/anthropic/v1 x\"}", NULL, 0, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&c, b.model, "{\"step\":\"results\",\"batch_id\":\"b\"}", NULL, 0, &h),
			 AIGW_EINVAL);
	fx_batch_free(&b);
}

/* The documented limit, exactly: 100,000 requests. */
static void
test_max_items(void **state)
{
	const struct prov_async_ops *ops = fx_ops();
	size_t n = ops->max_items + 1;
	struct fx_batch b;
	struct prov_batch_item *items = calloc(n, sizeof *items);
	char (*ids)[24] = calloc(n, sizeof *ids);
	struct prov_http h;

	(void)state;
	assert_int_equal(ops->max_items, 100000);
	assert_non_null(items);
	assert_non_null(ids);
	fx_batch_load(&b);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "r%zu", i);
		items[i].custom_id = ids[i];
		items[i].call = b.items[0].call;
		items[i].call.message = "hi";
	}
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n - 1, &h), AIGW_OK);
	assert_non_null(strstr(h.body, "{\"custom_id\":\"r99999\","));
	prov_http_free(&h);
	fx_batch_free(&b);
	free(ids);
	free(items);
}

static const char *const chain_ended[] = {
	"create_ok", "poll_in_progress", "poll_in_progress", "poll_ended", "results_mixed", NULL
};
static const char *const chain_canceled[] = {
	"create_ok", "poll_canceling", "poll_ended", "results_canceled_expired", NULL
};

/* A results line past the bound of one line is skipped, alone; the results
 * request is a download. */
static void
test_lines_are_bounded_one_by_one(void **state)
{
	static const char ok[] = "{\"custom_id\":\"%s\",\"result\":{\"type\":\"errored\","
		"\"error\":{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"m\"}}}}\n";
	struct buf b;
	struct prov_step s;
	struct prov_config cfg = { .api_key = "k", .base_url = "http://h" };
	struct prov_http h;

	(void)state;
	buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(buf_printf(&b, ok, "a"), AIGW_OK);
	assert_int_equal(buf_puts(&b, "{\"custom_id\":\"big\",\"result\":{\"type\":\"x"), AIGW_OK);
	for (size_t i = 0; i < PROV_ASYNC_LINE_MAX; i += 8)
		assert_int_equal(buf_puts(&b, "xxxxxxxx"), AIGW_OK);
	assert_int_equal(buf_puts(&b, "\"}}\n"), AIGW_OK);
	assert_int_equal(buf_printf(&b, ok, "c"), AIGW_OK);
	fx_async_parse("{\"step\":\"results\",\"batch_id\":\"b\",\"results_url\":\"http://h/r\"}",
		       200, b.data, b.len, &s);
	assert_int_equal(s.kind, PROV_STEP_DONE);
	assert_int_equal(s.nresults, 2);
	assert_string_equal(s.ids[0], "a");
	assert_string_equal(s.ids[1], "c");
	prov_step_free(&s);
	buf_free(&b);
	assert_int_equal(fx_ops()->build(&cfg, "m", "{\"step\":\"results\",\"batch_id\":\"b\","
					 "\"results_url\":\"http://h/r\"}", NULL, 0, &h), AIGW_OK);
	assert_true(h.download);
	prov_http_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_ASYNC_BUILD("create"),
		FX_ASYNC_BUILD("find"),
		FX_ASYNC_BUILD("poll"),
		FX_ASYNC_BUILD("results"),
		FX_ASYNC_BUILD("results_elsewhere"),
		FX_ASYNC_BUILD("results_lookalike"),
		FX_ASYNC_BUILD("results_userinfo"),
		FX_ASYNC_BUILD("cancel"),
		FX_ASYNC_BUILD("cancel_fetching"),
		FX_ASYNC_BUILD("cancel_unsent"),
		cmocka_unit_test(test_requests_are_sync_requests),
		cmocka_unit_test(test_conversation_request),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_max_items),
		cmocka_unit_test(test_lines_are_bounded_one_by_one),
		FX_ASYNC_PARSE("find_found"),
		FX_ASYNC_PARSE("find_absent"),
		/* Counts whose sum would wrap round to the batch's size. */
		FX_ASYNC_PARSE("find_counts_overflow"),
		FX_ASYNC_PARSE("create_ok"),
		FX_ASYNC_PARSE("create_no_id"),
		FX_ASYNC_PARSE("create_400"),
		FX_ASYNC_PARSE("create_401"),
		FX_ASYNC_PARSE("create_413"),
		FX_ASYNC_PARSE("create_429"),
		FX_ASYNC_PARSE("create_529"),
		FX_ASYNC_PARSE("poll_in_progress"),
		FX_ASYNC_PARSE("poll_canceling"),
		FX_ASYNC_PARSE("poll_ended"),
		FX_ASYNC_PARSE("poll_ended_archived"),
		FX_ASYNC_PARSE("poll_ended_no_url"),
		FX_ASYNC_PARSE("poll_ended_bad_url"),
		FX_ASYNC_PARSE("poll_unknown"),
		FX_ASYNC_PARSE("poll_no_status"),
		FX_ASYNC_PARSE("poll_404"),
		FX_ASYNC_PARSE("poll_500"),
		FX_ASYNC_PARSE("poll_garbage"),
		FX_ASYNC_PARSE("results_mixed"),
		FX_ASYNC_PARSE("results_succeeded"),
		FX_ASYNC_PARSE("results_canceled_expired"),
		FX_ASYNC_PARSE("results_errored_kinds"),
		FX_ASYNC_PARSE("results_malformed"),
		FX_ASYNC_PARSE("results_bad_shapes"),
		FX_ASYNC_PARSE("results_no_type"),
		FX_ASYNC_PARSE("results_garbage"),
		FX_ASYNC_PARSE("results_empty"),
		FX_ASYNC_PARSE("results_404"),
		FX_ASYNC_PARSE("results_401"),
		FX_ASYNC_CHAIN(chain_ended),
		FX_ASYNC_CHAIN(chain_canceled),
		cmocka_unit_test(fx_async_test_bad_states),
		FX_ASYNC_HOSTILE("find_found"),
		FX_ASYNC_HOSTILE("create_ok"),
		FX_ASYNC_HOSTILE("poll_ended"),
		FX_ASYNC_HOSTILE("results_mixed"),
		FX_ASYNC_HOSTILE("results_succeeded"),
		FX_ASYNC_HOSTILE("results_malformed"),
	};

	return cmocka_run_group_tests_name("anthropic-batch", tests, NULL, NULL);
}
