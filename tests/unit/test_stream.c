/*
 * test_stream.c: each sync provider's streamed answer, read incrementally:
 * a recorded stream of its documented format (tests/fixtures/streams/)
 * gives, however it is split, the same deltas and the same result as the
 * non-stream parser gives the equivalent whole answer; bad streams fail
 * with a clear error; the streaming requests ask for the stream.
 */
/* The fixture helpers are read for their stream fixtures, not per provider. */
#define FX_PROVIDER "streams"
#include "prov_fixture.h"

#include "providers/sse.h"
#include "providers/stream.h"

/* The stream fixtures sit beside the providers' ones. */
#define STREAMS "../streams"

struct run {
	struct prov_result r;
	char *deltas;
	enum aigw_err feed_err; /* the first feed error */
	bool finished_early;    /* finished before the last piece */
	bool finished;          /* finished after all of them */
};

/* Feeds body[0..len) in pieces: cuts[] are the offsets where a piece ends
 * (ascending, the last being len), or byte by byte when ncuts is 0. */
static void
run_stream(const char *provider, const char *body, size_t len, const size_t *cuts, size_t ncuts,
	   struct run *out)
{
	struct prov_stream *st = NULL;
	struct buf delta;
	size_t at = 0;

	memset(out, 0, sizeof *out);
	buf_init(&delta, 1u << 24);
	assert_int_equal(prov_stream_new(provider, &st), AIGW_OK);
	for (size_t i = 0; at < len && out->feed_err == AIGW_OK; i++) {
		size_t end = ncuts ? cuts[i] : at + 1;

		if (end < len && prov_stream_finished(st))
			out->finished_early = true;
		out->feed_err = prov_stream_feed(st, body + at, end - at, &delta);
		at = end;
	}
	out->finished = prov_stream_finished(st);
	memset(&out->r, 0xa5, sizeof out->r);
	assert_int_equal(prov_stream_end(st, &out->r), AIGW_OK);
	fx_assert_consistent(&out->r);
	assert_int_equal(buf_append(&delta, "", 1), AIGW_OK);
	assert_int_equal(buf_steal(&delta, &out->deltas), AIGW_OK);
	prov_stream_free(st);
}

static void
run_free(struct run *r)
{
	prov_result_free(&r->r);
	free(r->deltas);
}

static void
assert_same_result(const struct prov_result *got, const struct prov_result *want)
{
	assert_int_equal(got->ok, want->ok);
	assert_int_equal(got->errclass, want->errclass);
	if (want->ok)
		assert_string_equal(got->text, want->text);
	else
		assert_string_equal(got->error, want->error);
	if (want->model != NULL)
		assert_string_equal(got->model, want->model);
	else
		assert_null(got->model);
	assert_int_equal(got->input_tokens, want->input_tokens);
	assert_int_equal(got->output_tokens, want->output_tokens);
	if (want->citations != NULL)
		fx_assert_json_equal(got->citations, want->citations, "citations");
	else
		assert_null(got->citations);
}

/* The stream, whole, at every split point, and byte by byte: each time the
 * deltas join to the text and the result is the non-stream one. */
static void
check_provider(const char *provider, long in, long outt, size_t ncites)
{
	char file[64];
	size_t len, wlen;
	char *body, *whole;
	struct prov_result want;
	struct run run;

	snprintf(file, sizeof file, "%s.sse", provider);
	body = fx_read(STREAMS, file, &len);
	snprintf(file, sizeof file, "%s.whole.json", provider);
	whole = fx_read(STREAMS, file, &wlen);
	fx_parse(provider, 200, whole, wlen, &want);
	assert_true(want.ok);
	assert_int_equal(want.input_tokens, in);
	assert_int_equal(want.output_tokens, outt);
	assert_int_equal(want.citations ? json_object_array_length(want.citations) : 0, ncites);
	assert_non_null(want.model);

	for (size_t i = 0; i <= len; i++) {
		size_t cuts[2] = { i, len };

		run_stream(provider, body, len, i == 0 ? cuts + 1 : cuts, i == 0 ? 1 : 2, &run);
		assert_int_equal(run.feed_err, AIGW_OK);
		assert_same_result(&run.r, &want);
		assert_string_equal(run.deltas, want.text);
		assert_true(run.finished);
		run_free(&run);
	}
	run_stream(provider, body, len, NULL, 0, &run);
	assert_int_equal(run.feed_err, AIGW_OK);
	/* Byte by byte, not before the final event's last bytes. */
	assert_false(run.finished_early);
	assert_true(run.finished);
	assert_same_result(&run.r, &want);
	assert_string_equal(run.deltas, want.text);
	run_free(&run);
	prov_result_free(&want);
	free(body);
	free(whole);
}

static void
test_openai(void **state)
{
	(void)state;
	check_provider("openai", 12, 17, 1);
}

static void
test_anthropic(void **state)
{
	(void)state;
	check_provider("anthropic", 2679, 48, 2);
}

static void
test_gemini(void **state)
{
	(void)state;
	check_provider("gemini", 8, 29, 2);
}

static void
test_perplexity(void **state)
{
	(void)state;
	check_provider("perplexity", 9, 21, 3);
}

/* The usage a stream reported by the end of its first `events` events
 * (whole SSE events of the fixture); reading it leaves the stream as it
 * was: fed the rest, it ends with the same result as the whole stream. */
static void
check_usage_at(const char *provider, size_t events, long in, long outt)
{
	char file[64];
	size_t len, at = 0, wlen;
	char *body, *whole;
	struct prov_stream *st = NULL;
	struct prov_result want, got;
	struct buf delta;
	long gin = 0, gout = 0;

	snprintf(file, sizeof file, "%s.sse", provider);
	body = fx_read(STREAMS, file, &len);
	snprintf(file, sizeof file, "%s.whole.json", provider);
	whole = fx_read(STREAMS, file, &wlen);
	fx_parse(provider, 200, whole, wlen, &want);
	/* (Some fixtures end their lines with CRLF.) */
	for (size_t e = 0; e < events; e++) {
		const char *lf = strstr(body + at, "\n\n"), *crlf = strstr(body + at, "\r\n\r\n");

		assert_true(lf != NULL || crlf != NULL);
		if (crlf != NULL && (lf == NULL || crlf < lf))
			at = (size_t)(crlf - body) + 4;
		else
			at = (size_t)(lf - body) + 2;
	}
	buf_init(&delta, 1u << 24);
	assert_int_equal(prov_stream_new(provider, &st), AIGW_OK);
	assert_int_equal(prov_stream_feed(st, body, at, &delta), AIGW_OK);
	assert_int_equal(prov_stream_usage(st, &gin, &gout), AIGW_OK);
	assert_int_equal(gin, in);
	assert_int_equal(gout, outt);
	assert_int_equal(prov_stream_feed(st, body + at, len - at, &delta), AIGW_OK);
	assert_int_equal(prov_stream_end(st, &got), AIGW_OK);
	assert_same_result(&got, &want);
	prov_result_free(&got);
	prov_result_free(&want);
	prov_stream_free(st);
	buf_free(&delta);
	free(body);
	free(whole);
}

static void
test_usage_so_far(void **state)
{
	(void)state;
	/* Nothing read: nothing reported. */
	check_usage_at("anthropic", 0, -1, -1);
	/* message_start: the input and a first output count, until
	 * message_delta's cumulative one. */
	check_usage_at("anthropic", 1, 2679, 3);
	check_usage_at("anthropic", 12, 2679, 3);
	check_usage_at("anthropic", 19, 2679, 48);
	/* OpenAI: only the last chunk has the usage. */
	check_usage_at("openai", 1, -1, -1);
	check_usage_at("openai", 13, -1, -1);
	check_usage_at("openai", 14, 12, 17);
	/* Gemini: the counts so far in every chunk (thoughts are output). */
	check_usage_at("gemini", 1, 8, 17);
	check_usage_at("gemini", 2, 8, 22);
	/* Perplexity: OpenAI's chunks with the usage so far in each. */
	check_usage_at("perplexity", 1, 9, 1);
	check_usage_at("perplexity", 2, 9, 2);
}

/* A whole stream given as one string; the failure it must end with. */
static void
check_bad(const char *provider, const char *body, enum aigw_err feed_err,
	  enum prov_errclass c, const char *error)
{
	size_t len = strlen(body);
	struct run run;

	run_stream(provider, body, len, &len, 1, &run);
	assert_int_equal(run.feed_err, feed_err);
	assert_false(run.r.ok);
	assert_int_equal(run.r.errclass, c);
	assert_string_equal(run.r.error, error);
	run_free(&run);
	/* Byte by byte, the same. */
	run_stream(provider, body, len, NULL, 0, &run);
	assert_int_equal(run.feed_err, feed_err);
	assert_int_equal(run.r.errclass, c);
	assert_string_equal(run.r.error, error);
	run_free(&run);
}

#define OAI_CHUNK(text) \
	"data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" text "\"}}]}\n\n"

static void
test_garbage(void **state)
{
	(void)state;
	check_bad("openai", OAI_CHUNK("Hi") "data: {not json\n\n", AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "openai returned an unexpected stream: an event's data is not a JSON object");
	/* Lines an SSE reader skips make no event. */
	check_bad("gemini", "<html>502 Bad Gateway</html>\n\n", AIGW_OK, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: it holds no event");
	check_bad("gemini", "data: {\"candidates\":{}}\n\n", AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: candidates is not an array");
	check_bad("gemini", "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":7}]}}]}\n\n",
		  AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: a part's text is not a string");
	check_bad("perplexity", "data: {\"choices\":{}}\n\n", AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "perplexity returned an unexpected stream: a chunk has no choices array");
	check_bad("anthropic", "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
		  "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "anthropic returned an unexpected stream: an event before message_start");
	check_bad("anthropic",
		  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n\n"
		  "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
		  "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
		  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
		  "\"delta\":{\"type\":\"citations_delta\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "anthropic returned an unexpected stream: a citations delta has no citation");
	/* Nothing may follow the final event. */
	check_bad("openai", OAI_CHUNK("Hi") "data: [DONE]\n\n" OAI_CHUNK("more"), AIGW_EINVAL,
		  PROV_ERR_BAD_BODY, "openai returned an unexpected stream: an event after the final one");
}

/* A refusal streamed in pieces fails as the whole refusal does. */
static void
test_refusal(void **state)
{
	static const char whole[] =
		"{\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
		"\"assistant\",\"content\":null,\"refusal\":\"I can't help with that.\"},"
		"\"finish_reason\":\"stop\"}]}";
	struct prov_result want;

	(void)state;
	fx_parse("openai", 200, whole, strlen(whole), &want);
	assert_int_equal(want.errclass, PROV_ERR_CLIENT);
	check_bad("openai",
		  "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
		  "\"assistant\",\"content\":null,\"refusal\":\"I can't\"}}]}\n\n"
		  "data: {\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"refusal\":"
		  "\" help with that.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
		  AIGW_OK, want.errclass, want.error);
	prov_result_free(&want);
}

static void
test_unknown_event(void **state)
{
	(void)state;
	/* Chat Completions chunks have no event names. */
	check_bad("openai", OAI_CHUNK("Hi") "event: surprise\ndata: {}\n\n", AIGW_EINVAL,
		  PROV_ERR_BAD_BODY,
		  "openai returned an unexpected stream: an event named where none are (8 bytes)");
	check_bad("gemini", "event: x\ndata: {}\n\n", AIGW_EINVAL, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: an event named where none are (1 bytes)");
	/* Anthropic's name must match the data's type. */
	check_bad("anthropic", "event: ping\ndata: {\"type\":\"message_stop\"}\n\n", AIGW_EINVAL,
		  PROV_ERR_BAD_BODY,
		  "anthropic returned an unexpected stream: an event's type is missing or not its name");
}

static void
test_error_event(void **state)
{
	(void)state;
	/* The class the non-stream parser gives the same error with its status. */
	check_bad("anthropic",
		  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\","
		  "\"usage\":{\"input_tokens\":1}}}\n\n"
		  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
		  "\"message\":\"Overloaded\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_SERVER, "anthropic returned 529: Overloaded");
	check_bad("anthropic",
		  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
		  "\"message\":\"Slow down\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_RATE_LIMIT, "anthropic returned 429: Slow down");
	check_bad("openai", OAI_CHUNK("Hi") "data: {\"error\":{\"message\":\"The server had an error\","
		  "\"type\":\"server_error\",\"code\":null}}\n\n",
		  AIGW_EINVAL, PROV_ERR_SERVER, "openai returned 500: The server had an error");
	check_bad("gemini", "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\","
		  "\"status\":\"UNAVAILABLE\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_SERVER, "gemini returned 503: The model is overloaded.");
	check_bad("perplexity", "data: {\"error\":{\"message\":\"Invalid model\",\"type\":"
		  "\"invalid_request_error\"}}\n\n",
		  AIGW_EINVAL, PROV_ERR_CLIENT, "perplexity returned 400: Invalid model");
}

static void
test_cut(void **state)
{
	(void)state;
	/* Mid-event: the chunk's line is there, its blank line is not. */
	check_bad("openai", OAI_CHUNK("Hi") "data: {\"choices\":[]}\n", AIGW_OK, PROV_ERR_BAD_BODY,
		  "openai returned an unexpected stream: it ended in the middle of an event");
	check_bad("anthropic",
		  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n\n"
		  "event: content_block_start\ndata: {\"type\":\"content_bl",
		  AIGW_OK, PROV_ERR_BAD_BODY,
		  "anthropic returned an unexpected stream: it ended in the middle of an event");
	/* Whole events, but not the final one. */
	check_bad("openai", OAI_CHUNK("Hi"), AIGW_OK, PROV_ERR_BAD_BODY,
		  "openai returned an unexpected stream: it ended without its final event");
	check_bad("anthropic",
		  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n\n",
		  AIGW_OK, PROV_ERR_BAD_BODY,
		  "anthropic returned an unexpected stream: it ended without its final event");
	check_bad("gemini", "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\n\n",
		  AIGW_OK, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: it ended without its final event");
	check_bad("perplexity", OAI_CHUNK("Hi"), AIGW_OK, PROV_ERR_BAD_BODY,
		  "perplexity returned an unexpected stream: it ended without its final event");
	check_bad("gemini", "", AIGW_OK, PROV_ERR_BAD_BODY,
		  "gemini returned an unexpected stream: it holds no event");
}

static void
test_overlong_line(void **state)
{
	struct prov_stream *st = NULL;
	struct buf delta;
	struct prov_result r;
	char *chunk = malloc(8192);
	enum aigw_err err = AIGW_OK;
	size_t fed = 0;

	(void)state;
	assert_non_null(chunk);
	memset(chunk, 'a', 8192);
	buf_init(&delta, 1 << 20);
	assert_int_equal(prov_stream_new("openai", &st), AIGW_OK);
	assert_int_equal(prov_stream_feed(st, "data: \"", 7, &delta), AIGW_OK);
	while (err == AIGW_OK && fed < 64u << 20) {
		err = prov_stream_feed(st, chunk, 8192, &delta);
		fed += 8192;
	}
	assert_int_equal(err, AIGW_EINVAL);
	assert_true(fed <= SSE_LINE_MAX + 8192);
	/* Refused from then on. */
	assert_int_equal(prov_stream_feed(st, "\n\n", 2, &delta), AIGW_EINVAL);
	assert_int_equal(prov_stream_end(st, &r), AIGW_OK);
	assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
	assert_string_equal(r.error, "openai returned an unexpected stream: a line or an event is "
				     "longer than the bound");
	prov_result_free(&r);
	prov_stream_free(st);
	buf_free(&delta);
	free(chunk);
}

/* Many small events the format keeps (here content blocks) are bounded in
 * all, not only one by one. */
static void
test_kept_bound(void **state)
{
	static const char start[] =
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\"}}\n\n";
	struct prov_stream *st = NULL;
	struct buf delta, ev;
	struct prov_result r;
	char *pad = malloc(128 * 1024 + 1);
	enum aigw_err err = AIGW_OK;
	size_t fed = 0;

	(void)state;
	assert_non_null(pad);
	memset(pad, 'p', 128 * 1024);
	pad[128 * 1024] = '\0';
	buf_init(&delta, 1 << 20);
	buf_init(&ev, 1 << 20);
	assert_int_equal(prov_stream_new("anthropic", &st), AIGW_OK);
	assert_int_equal(prov_stream_feed(st, start, strlen(start), &delta), AIGW_OK);
	for (int i = 0; err == AIGW_OK && fed < 4 * PROV_STREAM_TEXT_MAX; i++) {
		buf_reset(&ev);
		assert_int_equal(buf_printf(&ev, "event: content_block_start\ndata: {\"type\":"
					    "\"content_block_start\",\"index\":%d,\"content_block\":"
					    "{\"type\":\"web_search_tool_result\",\"content\":[],"
					    "\"pad\":\"%s\"}}\n\nevent: content_block_stop\ndata: "
					    "{\"type\":\"content_block_stop\",\"index\":%d}\n\n",
					    i, pad, i), AIGW_OK);
		err = prov_stream_feed(st, ev.data, ev.len, &delta);
		fed += ev.len;
	}
	assert_int_equal(err, AIGW_EINVAL);
	assert_true(fed <= PROV_STREAM_TEXT_MAX + 2 * ev.len);
	assert_int_equal(prov_stream_end(st, &r), AIGW_OK);
	assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
	assert_string_equal(r.error, "anthropic returned an unexpected stream: it holds more than "
				     "the bound beside the text");
	prov_result_free(&r);
	prov_stream_free(st);
	buf_free(&delta);
	buf_free(&ev);
	free(pad);
}

static void
test_unknown_provider(void **state)
{
	struct prov_stream *st = (struct prov_stream *)&st;
	struct prov_http h;
	struct prov_config cfg = { "k", "https://x" };
	struct prov_call call = { .model = "m", .message = "hi", .max_tokens = 5 };

	(void)state;
	assert_int_equal(prov_stream_new("openai-batch", &st), AIGW_ENOTFOUND);
	assert_null(st);
	assert_int_equal(prov_stream_new("mock", &st), AIGW_ENOTFOUND);
	assert_int_equal(prov_stream_build("snapshot", &cfg, &call, &h), AIGW_ENOTFOUND);
	assert_null(h.url);
	prov_stream_free(NULL);
}

/* The streaming request is the non-stream one asking for the stream. */
static void
check_request(const char *provider, const char *url, const char *added)
{
	struct prov_config cfg = { "k-" FX_SECRET, "https://api.example.com" };
	struct prov_call call = { .model = "m-1", .message = "hello", .system = "be brief",
				  .max_tokens = 64, .websearch = true };
	struct prov_http plain, st;
	json_object *pb, *sb, *add;

	assert_int_equal(prov_find(provider)->build(&cfg, &call, &plain), AIGW_OK);
	assert_int_equal(prov_stream_build(provider, &cfg, &call, &st), AIGW_OK);
	assert_string_equal(st.url, url);
	assert_int_equal(st.nheaders, plain.nheaders);
	for (size_t i = 0; i < st.nheaders; i++)
		assert_string_equal(st.headers[i], plain.headers[i]);
	pb = json_tokener_parse(plain.body);
	sb = json_tokener_parse(st.body);
	add = json_tokener_parse(added);
	assert_non_null(pb);
	assert_non_null(sb);
	assert_non_null(add);
	json_object_object_foreach(add, k, v) {
		json_object *got = NULL;

		assert_true(json_object_object_get_ex(sb, k, &got));
		fx_assert_json_equal(got, v, k);
		json_object_object_del(sb, k);
	}
	fx_assert_json_equal(sb, pb, "the rest of the body");
	json_object_put(pb);
	json_object_put(sb);
	json_object_put(add);
	prov_http_free(&plain);
	prov_http_free(&st);
}

static void
test_requests(void **state)
{
	(void)state;
	check_request("openai", "https://api.example.com/chat/completions",
		      "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
	check_request("perplexity", "https://api.example.com/chat/completions", "{\"stream\":true}");
	check_request("anthropic", "https://api.example.com/v1/messages", "{\"stream\":true}");
	check_request("gemini",
		      "https://api.example.com/v1beta/models/m-1:streamGenerateContent?alt=sse", "{}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai),
		cmocka_unit_test(test_anthropic),
		cmocka_unit_test(test_gemini),
		cmocka_unit_test(test_perplexity),
		cmocka_unit_test(test_usage_so_far),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_refusal),
		cmocka_unit_test(test_unknown_event),
		cmocka_unit_test(test_error_event),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_overlong_line),
		cmocka_unit_test(test_kept_bound),
		cmocka_unit_test(test_unknown_provider),
		cmocka_unit_test(test_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
