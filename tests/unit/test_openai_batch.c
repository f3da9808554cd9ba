/* test_openai_batch.c: the OpenAI Batch API adapter against recorded fixtures. */
#define FX_PROVIDER "openai-batch"
#include "async_fixture.h"

/* The JSONL part of the upload: every line is the request the sync adapter
 * sends for that call, under its custom_id. */
static void
test_upload_lines_are_sync_requests(void **state)
{
	const struct prov_desc *sync = prov_find("openai");
	struct fx_batch b;
	struct prov_http h;
	const char *p, *end;
	size_t i = 0;

	(void)state;
	fx_batch_load(&b);
	assert_int_equal(fx_ops()->build(&b.cfg, b.model, NULL, b.items, b.n, &h), AIGW_OK);
	p = strstr(h.body, "application/jsonl\r\n\r\n");
	assert_non_null(p);
	p += strlen("application/jsonl\r\n\r\n");
	end = strstr(p, "\r\n--aigw-batch-");
	assert_non_null(end);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char *text;
		json_object *line, *v;
		struct prov_http one;

		assert_non_null(nl);
		assert_true(i < b.n);
		text = strndup(p, (size_t)(nl - p));
		line = json_tokener_parse(text);
		assert_non_null(line);
		assert_string_equal(fx_str(line, "custom_id"), b.items[i].custom_id);
		assert_string_equal(fx_str(line, "method"), "POST");
		assert_string_equal(fx_str(line, "url"), "/v1/chat/completions");
		assert_int_equal(sync->build(&b.cfg, &b.items[i].call, &one), AIGW_OK);
		assert_true(json_object_object_get_ex(line, "body", &v));
		{
			json_object *want = json_tokener_parse(one.body);

			fx_assert_json_equal(v, want, "line body");
			json_object_put(want);
		}
		prov_http_free(&one);
		json_object_put(line);
		free(text);
		p = nl + 1;
		i++;
	}
	assert_int_equal(i, b.n);
	prov_http_free(&h);
	fx_batch_free(&b);
}


/* A conversation of three turns with a system prompt. */
static const struct prov_turn conv_turns[] = {
	{ "user", "Name a language for CLIs." },
	{ "assistant", "Go is a good choice." },
	{ "user", "And why not Rust?" },
};

/* A call with a conversation goes into its line whole, as its sync
 * request would. */
static void
test_conversation_line(void **state)
{
	struct fx_batch b;
	struct prov_http h;
	const char *p, *nl;
	char *text;
	json_object *line, *body, *want;

	(void)state;
	fx_batch_load(&b);
	b.items[0].call.system = "Answer in one line.";
	b.items[0].call.message = "And why not Rust?";
	b.items[0].call.turns = conv_turns;
	b.items[0].call.nturns = 3;
	assert_int_equal(fx_ops()->build(&b.cfg, b.model, NULL, b.items, 1, &h), AIGW_OK);
	p = strstr(h.body, "application/jsonl\r\n\r\n");
	assert_non_null(p);
	p += strlen("application/jsonl\r\n\r\n");
	nl = strchr(p, '\n');
	assert_non_null(nl);
	text = strndup(p, (size_t)(nl - p));
	line = json_tokener_parse(text);
	assert_non_null(line);
	assert_true(json_object_object_get_ex(line, "body", &body));
	want = json_tokener_parse("[{\"role\":\"system\",\"content\":\"Answer in one line.\"},"
				  "{\"role\":\"user\",\"content\":\"Name a language for CLIs.\"},"
				  "{\"role\":\"assistant\",\"content\":\"Go is a good choice.\"},"
				  "{\"role\":\"user\",\"content\":\"And why not Rust?\"}]");
	fx_assert_json_equal(json_object_object_get(body, "messages"), want, "line messages");
	json_object_put(want);
	json_object_put(line);
	free(text);
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
	items[2] = items[0];
#define REJECT(cfg, model, its, n) do { \
		memset(&h, 0x5a, sizeof h); \
		assert_int_equal(ops->build((cfg), (model), NULL, (its), (n), &h), AIGW_EINVAL); \
		assert_null(h.url); \
		assert_null(h.body); \
		assert_int_equal(h.nheaders, 0); \
	} while (0)
	REJECT(&b.cfg, b.model, items, 0);
	REJECT(&b.cfg, b.model, NULL, 2);
	REJECT(&b.cfg, NULL, items, 2);
	REJECT(&b.cfg, "", items, 2);
	REJECT(&b.cfg, b.model, items, 3); /* chat-1_gpt twice */
	items[2].custom_id = "has space";
	REJECT(&b.cfg, b.model, items, 3);
	items[2].custom_id = "";
	REJECT(&b.cfg, b.model, items, 3);
	items[2].custom_id = NULL;
	REJECT(&b.cfg, b.model, items, 3);
	items[2].custom_id = "a123456789b123456789c123456789d123456789e123456789f123456789g1234";
	REJECT(&b.cfg, b.model, items, 3); /* 65 characters */
	items[2].custom_id = "a123456789b123456789c123456789d123456789e123456789f123456789g123";
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, 3, &h), AIGW_OK);
	prov_http_free(&h);
	items[2].call.message = "";
	REJECT(&b.cfg, b.model, items, 3);
	items[2].call.message = "hi";
	items[2].call.max_tokens = 0;
	REJECT(&b.cfg, b.model, items, 3);
	c = b.cfg;
	c.api_key = "";
	REJECT(&c, b.model, items, 2);
	c.api_key = "sk-abc\r\nX-Evil: 1";
	REJECT(&c, b.model, items, 2);
	c = b.cfg;
	c.base_url = NULL;
	REJECT(&c, b.model, items, 2);
	REJECT(NULL, b.model, items, 2);
#undef REJECT
	/* later steps check the config too */
	c = b.cfg;
	c.api_key = NULL;
	assert_int_equal(ops->build(&c, b.model, "{\"step\":\"poll\",\"batch_id\":\"b\"}", NULL, 0, &h),
			 AIGW_EINVAL);
	assert_int_equal(ops->build_cancel(&c, "{\"step\":\"poll\",\"batch_id\":\"b\"}", &h), AIGW_EINVAL);
	fx_batch_free(&b);
}

/* The documented limit, exactly: 50,000 requests in one file. */
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
	assert_int_equal(ops->max_items, 50000);
	assert_non_null(items);
	assert_non_null(ids);
	fx_batch_load(&b);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "c%zu", i);
		items[i].custom_id = ids[i];
		items[i].call = b.items[0].call;
	}
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n, &h), AIGW_EINVAL);
	assert_null(h.body);
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n - 1, &h), AIGW_OK);
	assert_non_null(strstr(h.body, "{\"custom_id\":\"c49999\","));
	prov_http_free(&h);
	/* two ids far apart that are the same */
	snprintf(ids[40000], sizeof ids[40000], "c7");
	assert_int_equal(ops->build(&b.cfg, b.model, NULL, items, n - 1, &h), AIGW_EINVAL);
	fx_batch_free(&b);
	free(ids);
	free(items);
}

/* A provider echoing the key in a line's error: the result never holds it. */
static void
test_key_in_line_error(void **state)
{
	static const char body[] =
		"{\"custom_id\":\"chat-1_gpt\",\"response\":null,\"error\":{\"code\":\"x\","
		"\"message\":\"bad key sk-test-SECRETKEY0123456789 for you\"}}\n";
	struct prov_step s;

	(void)state;
	fx_async_parse("{\"step\":\"errors\",\"batch_id\":\"b\",\"error_file_id\":\"f\"}", 200,
		       body, strlen(body), &s);
	assert_int_equal(s.kind, PROV_STEP_DONE);
	assert_int_equal(s.nresults, 1);
	assert_string_equal(s.results[0].error,
			    "openai-batch did not run the request: bad key [redacted] for you");
	assert_int_equal(s.results[0].errclass, PROV_ERR_SERVER);
	prov_step_free(&s);
}

/* Thousands of lines, a few of them broken: each broken one costs only itself. */
static void
test_many_lines(void **state)
{
	struct buf b;
	struct prov_step s;
	size_t ok = 0;

	(void)state;
	buf_init(&b, 64u * 1024 * 1024);
	for (int i = 0; i < 20000; i++) {
		if (i % 1000 == 999)
			assert_int_equal(buf_puts(&b, "{\"custom_id\":\"c\",\"response\":{\"status_code\":200,"
						  "\"body\":{\"choices\":[}}}\n"), AIGW_OK);
		else
			assert_int_equal(buf_printf(&b, "{\"custom_id\":\"c%d\",\"response\":{\"status_code\":"
						    "200,\"body\":{\"choices\":[{\"message\":{\"content\":"
						    "\"answer %d\"}}],\"usage\":{\"prompt_tokens\":3,"
						    "\"completion_tokens\":%d}}},\"error\":null}\n", i, i, i),
					 AIGW_OK);
	}
	fx_async_parse("{\"step\":\"output\",\"batch_id\":\"b\",\"output_file_id\":\"f\","
		       "\"error_file_id\":null}", 200, b.data, b.len, &s);
	assert_int_equal(s.kind, PROV_STEP_DONE);
	assert_int_equal(s.nresults, 20000 - 20);
	for (size_t i = 0; i < s.nresults; i++)
		ok += s.results[i].ok;
	assert_int_equal(ok, s.nresults);
	assert_string_equal(s.ids[s.nresults - 1], "c19998");
	assert_int_equal(s.results[s.nresults - 1].output_tokens, 19998);
	prov_step_free(&s);
	buf_free(&b);
}

static const char *const chain_completed[] = {
	"upload_ok", "create_ok", "poll_validating", "poll_in_progress", "poll_finalizing",
	"poll_completed", "output_ok", "errors_file", NULL
};
static const char *const chain_output_only[] = {
	"upload_ok", "create_ok", "poll_completed_output_only", "output_both", NULL
};
static const char *const chain_cancelled[] = {
	"upload_ok", "create_ok", "poll_cancelling", "poll_cancelled_partial", "errors_expired", NULL
};
static const char *const chain_expired[] = {
	"upload_ok", "create_ok", "poll_in_progress", "poll_expired_partial", "output_ok",
	"errors_file", NULL
};

int
main(void)
{
	const struct CMUnitTest tests[] = {
		FX_ASYNC_BUILD("upload"),
		FX_ASYNC_BUILD("create"),
		FX_ASYNC_BUILD("find"),
		FX_ASYNC_BUILD("find_page"),
		FX_ASYNC_BUILD("poll"),
		FX_ASYNC_BUILD("output"),
		FX_ASYNC_BUILD("output_only"),
		FX_ASYNC_BUILD("errors"),
		FX_ASYNC_BUILD("escaped_id"),
		FX_ASYNC_BUILD("cancel"),
		FX_ASYNC_BUILD("cancel_fetching"),
		FX_ASYNC_BUILD("cancel_unsent"),
		FX_ASYNC_BUILD("cancel_uploaded"),
		FX_ASYNC_BUILD("empty_model"),
		cmocka_unit_test(test_upload_lines_are_sync_requests),
		cmocka_unit_test(test_conversation_line),
		cmocka_unit_test(test_build_rejects),
		cmocka_unit_test(test_max_items),
		FX_ASYNC_PARSE("find_found"),
		FX_ASYNC_PARSE("find_more"),
		FX_ASYNC_PARSE("find_absent"),
		FX_ASYNC_PARSE("upload_ok"),
		FX_ASYNC_PARSE("upload_no_id"),
		FX_ASYNC_PARSE("upload_401"),
		FX_ASYNC_PARSE("upload_400"),
		FX_ASYNC_PARSE("create_ok"),
		FX_ASYNC_PARSE("create_no_id"),
		FX_ASYNC_PARSE("create_429"),
		FX_ASYNC_PARSE("create_quota"),
		FX_ASYNC_PARSE("poll_validating"),
		FX_ASYNC_PARSE("poll_in_progress"),
		FX_ASYNC_PARSE("poll_finalizing"),
		FX_ASYNC_PARSE("poll_cancelling"),
		FX_ASYNC_PARSE("poll_completed"),
		FX_ASYNC_PARSE("poll_completed_output_only"),
		FX_ASYNC_PARSE("poll_completed_errors_only"),
		FX_ASYNC_PARSE("poll_completed_no_files"),
		FX_ASYNC_PARSE("poll_expired_partial"),
		FX_ASYNC_PARSE("poll_cancelled_partial"),
		FX_ASYNC_PARSE("poll_expired"),
		FX_ASYNC_PARSE("poll_cancelled"),
		FX_ASYNC_PARSE("poll_failed"),
		FX_ASYNC_PARSE("poll_unknown"),
		FX_ASYNC_PARSE("poll_no_status"),
		FX_ASYNC_PARSE("poll_file_id_number"),
		FX_ASYNC_PARSE("poll_404"),
		FX_ASYNC_PARSE("poll_500"),
		FX_ASYNC_PARSE("poll_garbage"),
		FX_ASYNC_PARSE("output_ok"),
		FX_ASYNC_PARSE("output_both"),
		FX_ASYNC_PARSE("output_mixed"),
		FX_ASYNC_PARSE("output_malformed"),
		FX_ASYNC_PARSE("output_bad_bodies"),
		FX_ASYNC_PARSE("output_empty"),
		FX_ASYNC_PARSE("output_garbage"),
		FX_ASYNC_PARSE("output_401"),
		FX_ASYNC_PARSE("output_404"),
		FX_ASYNC_PARSE("errors_file"),
		FX_ASYNC_PARSE("errors_expired"),
		FX_ASYNC_PARSE("errors_500_and_timeout"),
		FX_ASYNC_PARSE("errors_503"),
		cmocka_unit_test(test_key_in_line_error),
		cmocka_unit_test(test_many_lines),
		FX_ASYNC_CHAIN(chain_completed),
		FX_ASYNC_CHAIN(chain_output_only),
		FX_ASYNC_CHAIN(chain_cancelled),
		FX_ASYNC_CHAIN(chain_expired),
		cmocka_unit_test(fx_async_test_bad_states),
		FX_ASYNC_HOSTILE("find_found"),
		FX_ASYNC_HOSTILE("upload_ok"),
		FX_ASYNC_HOSTILE("create_ok"),
		FX_ASYNC_HOSTILE("poll_completed"),
		FX_ASYNC_HOSTILE("poll_failed"),
		FX_ASYNC_HOSTILE("output_both"),
		FX_ASYNC_HOSTILE("output_malformed"),
		FX_ASYNC_HOSTILE("errors_expired"),
	};

	return cmocka_run_group_tests_name("openai-batch", tests, NULL, NULL);
}
