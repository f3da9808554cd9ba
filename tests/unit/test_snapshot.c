/* test_snapshot.c: the scraping dataset ("snapshot") adapter against recorded fixtures. */
#define FX_PROVIDER "snapshot"
#include "async_fixture.h"

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
	items[2] = items[0];
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	assert_null(h.url);
	items[2].custom_id = "third";
	items[2].call.message = NULL;
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	/* a scraped answer has no token budget: max_tokens is not needed */
	items[2].call.message = "third question";
	items[2].call.max_tokens = 0;
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_OK);
	prov_http_free(&h);
	c = b.cfg;
	c.api_key = NULL;
	assert_int_equal(ops->build(&c, b.model, NULL, items, 3, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&b.cfg, "", NULL, items, 3, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 0, &h), AIGW_EINVAL);
	fx_batch_free(&b);
}

/* 1,000 inputs, and not one more: the whole snapshot must come back in one
 * download under the engine's response ceiling. */
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
	assert_int_equal(ops->max_items, 1000);
	assert_non_null(items);
	assert_non_null(ids);
	fx_batch_load(&b);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "q%zu", i);
		items[i].custom_id = ids[i];
		items[i].call = b.items[1].call;
	}
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n, &h), AIGW_EINVAL);
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n - 1, &h), AIGW_OK);
	prov_http_free(&h);
	fx_batch_free(&b);
	free(ids);
	free(items);
}

/* A full download of answers, each with many sources: a snapshot of the
 * largest batch reads whole, and each answer keeps at most 64 sources. */
static void
test_large_snapshot(void **state)
{
	struct buf b;
	struct prov_step s;

	(void)state;
	buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "["), AIGW_OK);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(buf_printf(&b, "%s{\"custom_id\":\"q%d\",\"answer_text\":\"answer %d\","
					    "\"citations\":[", i ? "," : "", i, i), AIGW_OK);
		for (int k = 0; k < 100; k++)
			assert_int_equal(buf_printf(&b, "%s{\"url\":\"https://e.com/%d\",\"title\":\"t\"}",
						    k ? "," : "", k), AIGW_OK);
		assert_int_equal(buf_puts(&b, "]}"), AIGW_OK);
	}
	assert_int_equal(buf_puts(&b, "]"), AIGW_OK);
	fx_async_parse("{\"step\":\"fetch\",\"snapshot_id\":\"s_1\"}", 200, b.data, b.len, &s);
	assert_int_equal(s.kind, PROV_STEP_DONE);
	assert_int_equal(s.nresults, 1000);
	assert_string_equal(s.ids[999], "q999");
	assert_string_equal(s.results[999].text, "answer 999");
	assert_int_equal(json_object_array_length(s.results[999].citations), 64);
	prov_step_free(&s);
	buf_free(&b);
}

/* A record past the bound of one is skipped, alone; an array cut short
 * keeps the records before the cut; the download is marked as one. */
static void
test_records_are_read_one_by_one(void **state)
{
	struct buf b;
	struct prov_step s;
	struct prov_config cfg = { .api_key = "k", .base_url = "http://h" };
	struct prov_http h;

	(void)state;
	buf_init(&b, 64u * 1024 * 1024);
	assert_int_equal(buf_puts(&b, "[{\"custom_id\":\"a\",\"answer_text\":\"x ] } , {\\\" y\"},"
				   "{\"custom_id\":\"big\",\"answer_text\":\""), AIGW_OK);
	for (size_t i = 0; i < PROV_ASYNC_LINE_MAX; i += 8)
		assert_int_equal(buf_puts(&b, "xxxxxxxx"), AIGW_OK);
	assert_int_equal(buf_puts(&b, "\"}, {\"custom_id\":\"c\",\"answer_text\":\"z\"},"
				   " {\"custom_id\":\"d\",\"answer"), AIGW_OK);
	fx_async_parse("{\"step\":\"fetch\",\"snapshot_id\":\"s_1\"}", 200, b.data, b.len, &s);
	assert_int_equal(s.kind, PROV_STEP_DONE);
	assert_int_equal(s.nresults, 2);
	assert_string_equal(s.ids[0], "a");
	assert_string_equal(s.results[0].text, "x ] } , {\" y");
	assert_string_equal(s.ids[1], "c");
	prov_step_free(&s);
	buf_free(&b);
	assert_int_equal(fx_ops()->build(&cfg, "ds", "{\"step\":\"fetch\",\"snapshot_id\":\"s_1\"}",
					 NULL, 0, &h), AIGW_OK);
	assert_true(h.download);
	prov_http_free(&h);
	assert_int_equal(fx_ops()->build(&cfg, "ds", "{\"step\":\"poll\",\"snapshot_id\":\"s_1\"}",
					 NULL, 0, &h), AIGW_OK);
	assert_false(h.download);
	prov_http_free(&h);
}

static const char *const chain_ready[] = {
	"trigger_ok", "poll_starting", "poll_running", "poll_ready", "fetch_not_ready", "fetch_ok", NULL
};

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_ASYNC_BUILD("trigger"),
		FX_ASYNC_BUILD("trigger_escaped"),
		FX_ASYNC_BUILD("find"),
		FX_ASYNC_BUILD("poll"),
		FX_ASYNC_BUILD("fetch"),
		FX_ASYNC_BUILD("cancel"),
		FX_ASYNC_BUILD("cancel_unsent"),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_max_items),
		FX_ASYNC_PARSE("find_found"),
		FX_ASYNC_PARSE("find_absent"),
		FX_ASYNC_PARSE("trigger_ok"),
		FX_ASYNC_PARSE("trigger_no_id"),
		FX_ASYNC_PARSE("trigger_400"),
		FX_ASYNC_PARSE("trigger_401"),
		FX_ASYNC_PARSE("trigger_429"),
		FX_ASYNC_PARSE("trigger_500"),
		FX_ASYNC_PARSE("poll_starting"),
		FX_ASYNC_PARSE("poll_running"),
		FX_ASYNC_PARSE("poll_ready"),
		FX_ASYNC_PARSE("poll_failed"),
		FX_ASYNC_PARSE("poll_failed_message"),
		FX_ASYNC_PARSE("poll_failed_bare"),
		FX_ASYNC_PARSE("poll_canceled"),
		FX_ASYNC_PARSE("poll_unknown"),
		FX_ASYNC_PARSE("poll_no_status"),
		FX_ASYNC_PARSE("poll_404"),
		FX_ASYNC_PARSE("poll_garbage"),
		FX_ASYNC_PARSE("fetch_ok"),
		FX_ASYNC_PARSE("fetch_input_echo"),
		FX_ASYNC_PARSE("fetch_malformed"),
		FX_ASYNC_PARSE("fetch_not_ready"),
		FX_ASYNC_PARSE("fetch_building"),
		FX_ASYNC_PARSE("fetch_object"),
		FX_ASYNC_PARSE("fetch_nobody_named"),
		FX_ASYNC_PARSE("fetch_empty"),
		FX_ASYNC_PARSE("fetch_garbage"),
		FX_ASYNC_PARSE("fetch_500"),
		cmocka_unit_test(test_large_snapshot),
		cmocka_unit_test(test_records_are_read_one_by_one),
		FX_ASYNC_CHAIN(chain_ready),
		cmocka_unit_test(fx_async_test_bad_states),
		FX_ASYNC_HOSTILE("find_found"),
		FX_ASYNC_HOSTILE("trigger_ok"),
		FX_ASYNC_HOSTILE("poll_ready"),
		FX_ASYNC_HOSTILE("poll_failed"),
		FX_ASYNC_HOSTILE("fetch_ok"),
		FX_ASYNC_HOSTILE("fetch_malformed"),
	};

	return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
