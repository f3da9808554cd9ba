/* test_openai_api.c: the pure parts of the OpenAI-compatible API: request
 * validation, ids, the response and completion objects, and the numbering
 * of stream events (resumes see exactly the events after their number). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "http/chat.h"
#include "http/http.h"
#include "openai/object.h"
#include "http/openai_request.h"
#include "http/openai_stream.h"

#define UUID "3316a1dd-315a-41f0-94e7-e7074f554031"
#define HEX "3316a1dd315a41f094e7e7074f554031"

static void
expect_error(bool completion, const char *body, const char *code, const char *param)
{
	struct oa_request r;
	struct http_field_error e;
	enum aigw_err err;

	memset(&e, 0, sizeof e);
	err = completion ? oa_parse_completion_request(body, strlen(body), &r, &e)
			 : oa_parse_response_request(body, strlen(body), &r, &e);
	assert_int_equal(err, AIGW_EINVAL);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, code);
	assert_string_equal(e.field, param ? param : "");
	assert_true(utf8_length(e.msg, strlen(e.msg)) > 0);
	assert_null(r.root);
}

static void
test_response_request(void **state)
{
	const char *body =
		"{\"model\":\"anthropic/claude-3-5-haiku-latest\",\"instructions\":\"Be brief.\","
		"\"input\":[{\"role\":\"developer\",\"content\":\"No lists.\"},"
		"{\"role\":\"user\",\"content\":\"one\"},"
		"{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\"}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"two \"},"
		"{\"type\":\"input_text\",\"text\":\"parts\"}]},{\"role\":\"user\",\"content\":\"more\"}],"
		"\"max_output_tokens\":99,\"background\":true,\"metadata\":{\"k\":\"v\"}}";
	struct oa_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(oa_parse_response_request(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.provider, "anthropic");
	assert_string_equal(r.model, "claude-3-5-haiku-latest");
	assert_string_equal(r.system, "Be brief.\n\nNo lists.");
	assert_int_equal(r.max_tokens, 99);
	assert_true(r.background);
	assert_false(r.stream);
	/* Adjacent user turns are joined; the last is what is asked. */
	assert_string_equal(json_object_to_json_string_ext(r.messages, JSON_C_TO_STRING_PLAIN),
			    "[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"assistant\",\"content\":\"ok\"},"
			    "{\"role\":\"user\",\"content\":\"two parts\\n\\nmore\"}]");
	assert_string_equal(r.last_user, "two parts\n\nmore");
	assert_string_equal(json_object_to_json_string_ext(r.api_request, JSON_C_TO_STRING_PLAIN),
			    "{\"model\":\"anthropic\\/claude-3-5-haiku-latest\",\"instructions\":\"Be brief.\","
			    "\"metadata\":{\"k\":\"v\"},\"max_output_tokens\":99,\"temperature\":null,"
			    "\"top_p\":null,\"background\":true}");
	oa_request_free(&r);
}

static void
test_bare_model_is_openai(void **state)
{
	const char *body = "{\"model\":\"gpt-4o\",\"input\":\"hi\",\"stream\":true}";
	struct oa_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(oa_parse_response_request(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.provider, "openai");
	assert_string_equal(r.model, "gpt-4o");
	assert_null(r.system);
	assert_true(r.stream);
	assert_int_equal(r.max_tokens, CHAT_MAX_TOKENS_DEFAULT);
	oa_request_free(&r);
}

static void
test_response_request_errors(void **state)
{
	(void)state;
	{
		struct http_field_error e;

		assert_true(oa_provider_known(NULL, "gemini", &e));
		assert_false(oa_provider_known(NULL, "nosuch", &e));
		assert_int_equal(e.status, 400);
		assert_string_equal(e.code, "unknown_provider");
		assert_string_equal(e.field, "model");
	}
	expect_error(false, "{\"model\":\"gemini/\",\"input\":\"hi\"}", "invalid_value", "model");
	expect_error(false, "{\"input\":\"hi\"}", "missing_required_parameter", "model");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
		     "{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"x\"}]}]}",
		     "unsupported_value", "input[1].content[0].type");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":[{\"type\":\"function_call\"}]}",
		     "unsupported_value", "input[0].type");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"tool\",\"content\":\"a\"}]}",
		     "unsupported_value", "input[0].role");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":\"hi\",\"tools\":[{}]}",
		     "unsupported_parameter", "tools");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":\"\"}", "invalid_value", "input");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":\"hi\",\"metadata\":{\"k\":1}}",
		     "invalid_type", "metadata.k");
	expect_error(false, "[1]", "invalid_json", NULL);
	/* Found by fuzzing: a part without text, a role cut inside a character
	 * (the message must stay UTF-8), an echoed number, an empty key. */
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":"
		     "[{\"type\":\"input_text\",\"txet\":\"a\"}]}]}", "missing_required_parameter",
		     "input[0].content[0].text");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"x\\udc00\",\"content\":\"a\"}]}",
		     "unsupported_value", "input[0].role");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":\"a\",\"temperature\":{\"k\":1}}",
		     "invalid_value", "temperature");
	expect_error(false, "{\"model\":\"gpt-4o\",\"input\":\"a\",\"metadata\":{\"\":\"v\"}}",
		     "invalid_value", "metadata");
}

static void
test_completion_request(void **state)
{
	const char *body =
		"{\"model\":\"perplexity/sonar\",\"messages\":[{\"role\":\"system\",\"content\":\"S\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]}],"
		"\"max_completion_tokens\":7,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
	struct oa_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(oa_parse_completion_request(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.provider, "perplexity");
	assert_string_equal(r.system, "S");
	assert_string_equal(r.last_user, "q");
	assert_int_equal(r.max_tokens, 7);
	assert_true(r.stream && r.include_usage);
	oa_request_free(&r);
	expect_error(true, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
		     "[{\"type\":\"image_url\",\"image_url\":{}}]}]}", "unsupported_value",
		     "messages[0].content[0].type");
	expect_error(true, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
		     "\"n\":3}", "unsupported_value", "n");
}

static void
test_ids(void **state)
{
	char id[OA_ID_MAX], uuid[UUID_STR_LEN + 1];

	(void)state;
	oa_id("resp_", UUID, id);
	assert_string_equal(id, "resp_" HEX);
	assert_true(oa_id_chat(id, uuid));
	assert_string_equal(uuid, UUID);
	assert_true(oa_id_chat("chatcmpl-" HEX, uuid));
	assert_string_equal(uuid, UUID);
	assert_false(oa_id_chat("msg_" HEX, uuid));
	assert_false(oa_id_chat("resp_" HEX "0", uuid));
	assert_false(oa_id_chat("resp_3316a1dd315a41f094e7e7074f55403z", uuid));
	assert_string_equal(http_openai_error_type(404), "not_found_error");
	assert_string_equal(http_openai_error_type(429), "rate_limit_error");
	assert_string_equal(http_openai_error_type(422), "invalid_request_error");
	assert_string_equal(http_openai_error_type(503), "server_error");
}

static const struct oa_row done_row = {
	.chat_id = UUID, .status = "completed", .created_at = 1700000000, .completed_at = 1700000003,
	.results_json = "{\"openai\":{\"ok\":true,\"text\":\"Hello there\",\"model\":\"gpt-4o\","
			"\"usage\":{\"inputTokens\":5,\"outputTokens\":2},\"attempts\":1}}",
	.api_request_json = "{\"model\":\"gpt-4o\",\"instructions\":\"Be brief.\",\"background\":true,"
			    "\"metadata\":{\"a\":\"b\"},\"max_output_tokens\":50}",
	.models_json = "{\"openai\":\"gpt-4o\"}",
};

static json_object *
get(json_object *o, const char *path)
{
	char name[64];
	const char *dot;

	while (o != NULL && (dot = strchr(path, '.')) != NULL) {
		snprintf(name, sizeof name, "%.*s", (int)(dot - path), path);
		o = json_object_object_get(o, name);
		path = dot + 1;
	}
	return o != NULL ? json_object_object_get(o, path) : NULL;
}

static void
test_response_object(void **state)
{
	json_object *o = oa_response_object(&done_row), *item;

	(void)state;
	assert_non_null(o);
	assert_string_equal(json_object_get_string(get(o, "id")), "resp_" HEX);
	assert_string_equal(json_object_get_string(get(o, "object")), "response");
	assert_string_equal(json_object_get_string(get(o, "status")), "completed");
	assert_int_equal(json_object_get_int64(get(o, "created_at")), 1700000000);
	assert_string_equal(json_object_get_string(get(o, "model")), "gpt-4o");
	assert_string_equal(json_object_get_string(get(o, "instructions")), "Be brief.");
	assert_string_equal(json_object_get_string(get(o, "metadata.a")), "b");
	assert_int_equal(json_object_get_int(get(o, "max_output_tokens")), 50);
	assert_true(json_object_get_boolean(get(o, "background")));
	assert_string_equal(json_object_get_string(get(o, "output_text")), "Hello there");
	assert_int_equal(json_object_get_int(get(o, "usage.input_tokens")), 5);
	assert_int_equal(json_object_get_int(get(o, "usage.output_tokens")), 2);
	assert_int_equal(json_object_get_int(get(o, "usage.total_tokens")), 7);
	assert_null(get(o, "error"));
	item = json_object_array_get_idx(get(o, "output"), 0);
	assert_string_equal(json_object_get_string(get(item, "id")), "msg_" HEX);
	assert_string_equal(json_object_get_string(get(item, "type")), "message");
	assert_string_equal(json_object_get_string(
		get(json_object_array_get_idx(get(item, "content"), 0), "text")), "Hello there");
	json_object_put(o);
}

static void
test_response_object_states(void **state)
{
	struct oa_row r = done_row;
	json_object *o;

	(void)state;
	r.status = "pending";
	r.results_json = "{}";
	o = oa_response_object(&r);
	assert_string_equal(json_object_get_string(get(o, "status")), "queued");
	assert_int_equal(json_object_array_length(get(o, "output")), 0);
	assert_null(get(o, "usage"));
	json_object_put(o);

	r.status = "processing";
	r.results_json = "{\"openai\":{\"ok\":null,\"streaming\":true,\"text\":\"Hel\"}}";
	o = oa_response_object(&r);
	assert_string_equal(json_object_get_string(get(o, "status")), "in_progress");
	assert_string_equal(json_object_get_string(get(o, "output_text")), "Hel");
	assert_string_equal(json_object_get_string(
		get(json_object_array_get_idx(get(o, "output"), 0), "status")), "in_progress");
	json_object_put(o);

	r.status = "failed";
	r.results_json = "{\"openai\":{\"ok\":false,\"error\":\"openai returned 400\","
			 "\"errorClass\":\"invalid_request\"}}";
	o = oa_response_object(&r);
	assert_string_equal(json_object_get_string(get(o, "status")), "failed");
	assert_string_equal(json_object_get_string(get(o, "error.code")), "invalid_request");
	assert_string_equal(json_object_get_string(get(o, "error.message")), "openai returned 400");
	json_object_put(o);

	r.status = "cancelled";
	o = oa_response_object(&r);
	assert_string_equal(json_object_get_string(get(o, "status")), "cancelled");
	json_object_put(o);

	r.results_json = "not json";
	assert_null(oa_response_object(&r));
}

static void
test_completion_object(void **state)
{
	json_object *o = oa_completion_object(&done_row), *choice;

	(void)state;
	assert_string_equal(json_object_get_string(get(o, "id")), "chatcmpl-" HEX);
	assert_string_equal(json_object_get_string(get(o, "object")), "chat.completion");
	choice = json_object_array_get_idx(get(o, "choices"), 0);
	assert_string_equal(json_object_get_string(get(choice, "message.content")), "Hello there");
	assert_string_equal(json_object_get_string(get(choice, "finish_reason")), "stop");
	assert_int_equal(json_object_get_int(get(o, "usage.prompt_tokens")), 5);
	assert_int_equal(json_object_get_int(get(o, "usage.completion_tokens")), 2);
	json_object_put(o);
}

/* The whole stream of the done row with pieces, from after. */
static char *
stream_of(long after, const char *const *pieces, bool reset_at_1)
{
	json_object *resp = oa_response_object(&done_row);
	struct oa_stream st;
	struct buf b;
	char *out = NULL;

	oa_stream_init(&st, false, false, after);
	buf_init(&b, 1L << 20);
	assert_int_equal(oa_stream_head(&st, &b, resp), AIGW_OK);
	for (size_t i = 0; pieces[i] != NULL && !st.ended; i++)
		assert_int_equal(i == 1 && reset_at_1 ? oa_stream_reset(&st, &b)
						      : oa_stream_delta(&st, &b, resp, pieces[i]),
				 AIGW_OK);
	assert_int_equal(oa_stream_end(&st, &b, resp), AIGW_OK);
	assert_int_equal(buf_steal(&b, &out), AIGW_OK);
	buf_free(&b);
	oa_stream_free(&st);
	json_object_put(resp);
	return out;
}

static void
test_stream_numbering_and_resume(void **state)
{
	static const char *const pieces[] = { "Hel", "lo", NULL };
	char *all = stream_of(-1, pieces, false), *rest, *p;
	int events = strncmp(all, "event: ", 7) == 0;

	(void)state;
	for (p = all; (p = strstr(p, "\n\nevent: ")) != NULL; p++)
		events++;
	/* 4 opening, 2 deltas, the remainder " there", 4 closing. */
	assert_int_equal(events, 11);
	assert_non_null(strstr(all, "\"delta\":\" there\""));
	assert_non_null(strstr(all, "\"sequence_number\":10}"));
	assert_null(strstr(all, "\"sequence_number\":11}"));
	assert_non_null(strstr(all, "event: response.completed\n"));
	/* A resume after event 5 is the tail of the whole, byte for byte. */
	rest = stream_of(5, pieces, false);
	p = strstr(all, "event: response.output_text.delta\ndata: {\"item_id\":\"msg_" HEX
		   "\",\"output_index\":0,\"content_index\":0,\"delta\":\" there\"");
	assert_non_null(p);
	assert_string_equal(rest, p);
	free(rest);
	free(all);
}

static void
test_stream_reset_ends_with_error(void **state)
{
	static const char *const pieces[] = { "Hel", "", "lo", NULL };
	char *all = stream_of(-1, pieces, true);

	(void)state;
	assert_non_null(strstr(all, "event: error\ndata: {\"code\":\"stream_reset\""));
	assert_non_null(strstr(all, "\"sequence_number\":5}"));
	assert_null(strstr(all, "response.completed"));
	assert_null(strstr(all, "\"delta\":\"lo\""));
	free(all);
}

static void
test_completion_chunks(void **state)
{
	json_object *resp = oa_response_object(&done_row);
	struct oa_stream st;
	struct buf b;

	(void)state;
	oa_stream_init(&st, true, true, -1);
	buf_init(&b, 1L << 20);
	assert_int_equal(oa_stream_head(&st, &b, resp), AIGW_OK);
	assert_int_equal(oa_stream_delta(&st, &b, resp, "Hello"), AIGW_OK);
	assert_int_equal(oa_stream_end(&st, &b, resp), AIGW_OK);
	assert_non_null(strstr(b.data, "data: {\"id\":\"chatcmpl-" HEX "\",\"object\":\"chat.completion.chunk\""));
	assert_non_null(strstr(b.data, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"));
	assert_non_null(strstr(b.data, "\"delta\":{\"content\":\" there\"}"));
	assert_non_null(strstr(b.data, "\"finish_reason\":\"stop\""));
	assert_non_null(strstr(b.data, "\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
			       "\"completion_tokens\":2,\"total_tokens\":7}"));
	assert_true(b.len > 14 && strcmp(b.data + b.len - 14, "data: [DONE]\n\n") == 0);
	buf_free(&b);
	oa_stream_free(&st);
	json_object_put(resp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response_request),
		cmocka_unit_test(test_bare_model_is_openai),
		cmocka_unit_test(test_response_request_errors),
		cmocka_unit_test(test_completion_request),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_response_object),
		cmocka_unit_test(test_response_object_states),
		cmocka_unit_test(test_completion_object),
		cmocka_unit_test(test_stream_numbering_and_resume),
		cmocka_unit_test(test_stream_reset_ends_with_error),
		cmocka_unit_test(test_completion_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
