/* test_conversation.c: the `messages` form of a chat submit, checked and
 * normalized (http/conversation.h), and as chat_request_parse takes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/buf.h"
#include "http/chat.h"
#include "http/conversation.h"

/* conversation_parse of the JSON text msgs must fail naming field. */
static void
expect_field(const char *msgs, const char *system, const char *field)
{
	json_object *m = json_tokener_parse(msgs);
	struct conversation c;
	struct http_field_error e;

	assert_non_null(m);
	memset(&e, 0, sizeof e);
	assert_int_equal(conversation_parse(m, system, &c, &e), AIGW_EINVAL);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "invalid_field");
	if (strcmp(e.field, field) != 0)
		fail_msg("field is %s, want %s (%s)", e.field, field, e.msg);
	assert_null(c.turns);
	assert_null(c.system);
	json_object_put(m);
}

static void
test_normalized(void **state)
{
	const char *msgs =
		"[{\"role\":\"system\",\"content\":\"Be terse.\"},"
		" {\"role\":\"user\",\"content\":\"Name a language.\"},"
		" {\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Go.\"},"
		"                                     {\"type\":\"text\",\"text\":\"Or Rust.\"}]},"
		" {\"role\":\"developer\",\"content\":\"Answer in English.\"},"
		" {\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Why?\"}]}]";
	const char *want =
		"[{\"role\":\"user\",\"content\":\"Name a language.\"},"
		"{\"role\":\"assistant\",\"content\":\"Go.\\nOr Rust.\"},"
		"{\"role\":\"user\",\"content\":\"Why?\"}]";
	json_object *m = json_tokener_parse(msgs), *w = json_tokener_parse(want);
	struct conversation c;
	struct http_field_error e;

	(void)state;
	assert_int_equal(conversation_parse(m, "You help.", &c, &e), AIGW_OK);
	assert_int_equal(c.nturns, 3);
	if (!json_object_equal(c.turns, w))
		fail_msg("turns: %s", json_object_to_json_string(c.turns));
	assert_string_equal(c.last, "Why?");
	assert_string_equal(c.system, "You help.\n\nBe terse.\n\nAnswer in English.");
	conversation_free(&c);
	conversation_free(&c); /* safe twice */

	json_object_put(m);
	/* without any system prompt there is none */
	m = json_tokener_parse("[{\"role\":\"user\",\"content\":\"hi\"}]");
	assert_int_equal(conversation_parse(m, NULL, &c, &e), AIGW_OK);
	assert_null(c.system);
	assert_int_equal(c.nturns, 1);
	assert_string_equal(c.last, "hi");
	conversation_free(&c);
	json_object_put(m);
	json_object_put(w);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_field("{}", NULL, "messages");
	expect_field("[]", NULL, "messages");
	expect_field("\"hi\"", NULL, "messages");
	expect_field("[\"hi\"]", NULL, "messages[0]");
	expect_field("[{\"content\":\"hi\"}]", NULL, "messages[0].role");
	expect_field("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]",
		     NULL, "messages[1].role");
	expect_field("[{\"role\":\"user\"}]", NULL, "messages[0].content");
	expect_field("[{\"role\":\"user\",\"content\":7}]", NULL, "messages[0].content");
	expect_field("[{\"role\":\"user\",\"content\":\"\"}]", NULL, "messages[0].content");
	expect_field("[{\"role\":\"user\",\"content\":[]}]", NULL, "messages[0].content");
	expect_field("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
		     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"c\"},"
		     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]",
		     NULL, "messages[2].content[1].type");
	expect_field("[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]", NULL,
		     "messages[0].content[0].text");
	expect_field("[{\"role\":\"user\",\"content\":[\"x\"]}]", NULL, "messages[0].content[0].type");
	/* the conversation opens and ends with the user */
	expect_field("[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"assistant\",\"content\":\"a\"},"
		     "{\"role\":\"user\",\"content\":\"b\"}]", NULL, "messages[1].role");
	expect_field("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]",
		     NULL, "messages[1].role");
	expect_field("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
		     "{\"role\":\"system\",\"content\":\"c\"}]", NULL, "messages[2].role");
	expect_field("[{\"role\":\"system\",\"content\":\"s\"}]", NULL, "messages");
	expect_field("[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]", NULL, "messages[0].content");
}

/* A list of n user turns of len characters each. */
static char *
turns_of(size_t n, size_t len, const char *role_last)
{
	struct buf b;
	char *out;

	buf_init(&b, (size_t)1 << 30);
	assert_int_equal(buf_puts(&b, "["), AIGW_OK);
	for (size_t i = 0; i < n; i++) {
		const char *role = i + 1 == n ? role_last : (i % 2 ? "assistant" : "user");

		assert_int_equal(buf_printf(&b, "%s{\"role\":\"%s\",\"content\":\"", i ? "," : "", role),
				 AIGW_OK);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(buf_puts(&b, "\xc3\xa9"), AIGW_OK); /* one character, 2 bytes */
		assert_int_equal(buf_puts(&b, "\"}"), AIGW_OK);
	}
	assert_int_equal(buf_puts(&b, "]"), AIGW_OK);
	assert_int_equal(buf_steal(&b, &out), AIGW_OK);
	buf_free(&b);
	return out;
}

static void
test_bounds(void **state)
{
	char *s;
	json_object *m;
	struct conversation c;
	struct http_field_error e;

	(void)state;
	/* a turn of the most characters (counted as characters, not bytes) */
	s = turns_of(1, CONV_TURN_MAX, "user");
	m = json_tokener_parse(s);
	assert_int_equal(conversation_parse(m, NULL, &c, &e), AIGW_OK);
	conversation_free(&c);
	json_object_put(m);
	free(s);
	s = turns_of(1, CONV_TURN_MAX + 1, "user");
	expect_field(s, NULL, "messages[0].content");
	free(s);
	/* the whole conversation's characters: 9 turns of the most are over */
	s = turns_of(CONV_TOTAL_MAX / CONV_TURN_MAX + 1, CONV_TURN_MAX, "user");
	expect_field(s, NULL, "messages[8].content");
	free(s);
	s = turns_of(CONV_TURNS_MAX + 1, 1, "user");
	expect_field(s, NULL, "messages");
	free(s);
	s = turns_of(CONV_TURNS_MAX, 1, "user");
	m = json_tokener_parse(s);
	assert_int_equal(conversation_parse(m, NULL, &c, &e), AIGW_OK);
	assert_int_equal(c.nturns, CONV_TURNS_MAX);
	conversation_free(&c);
	json_object_put(m);
	free(s);
	/* the joined system prompt: the request's, a blank line, the turn's */
	s = malloc(CONV_SYSTEM_MAX + 1);
	assert_non_null(s);
	memset(s, 's', CONV_SYSTEM_MAX - 3);
	s[CONV_SYSTEM_MAX - 3] = '\0';
	m = json_tokener_parse("[{\"role\":\"system\",\"content\":\"a\"},"
			       "{\"role\":\"user\",\"content\":\"q\"}]");
	assert_int_equal(conversation_parse(m, s, &c, &e), AIGW_OK);
	assert_int_equal(strlen(c.system), CONV_SYSTEM_MAX);
	conversation_free(&c);
	json_object_put(m);
	expect_field("[{\"role\":\"system\",\"content\":\"ab\"},{\"role\":\"user\",\"content\":\"q\"}]",
		     s, "messages");
	free(s);
}

/* chat_request_parse of body must fail naming field. */
static void
chat_error(const char *body, const char *field)
{
	struct chat_request r;
	struct http_field_error e;

	memset(&e, 0, sizeof e);
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_EINVAL);
	assert_int_equal(e.status, 400);
	if (strcmp(e.field, field) != 0)
		fail_msg("field is %s, want %s (%s)", e.field, field, e.msg);
	assert_null(r.root);
	assert_null(r.conv.turns);
}

static void
test_chat_request(void **state)
{
	const char *body =
		"{\"models\":{\"openai\":\"gpt-4o\",\"mock\":\"m\"},\"system\":\"Be terse.\","
		"\"messages\":[{\"role\":\"user\",\"content\":\"Name a language.\"},"
		"{\"role\":\"assistant\",\"content\":\"Go.\"},{\"role\":\"user\",\"content\":\"Why?\"}]}";
	struct chat_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.message, "Why?");
	assert_string_equal(r.system, "Be terse.");
	assert_int_equal(r.conv.nturns, 3);
	chat_request_free(&r);
	assert_null(r.conv.turns);

	chat_error("{\"models\":{\"openai\":\"gpt-4o\"},\"message\":\"hi\","
		   "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "messages");
	chat_error("{\"models\":{\"openai\":\"gpt-4o\"}}", "message");
	chat_error("{\"models\":{\"openai\":\"gpt-4o\"},\"messages\":[{\"role\":\"user\"}]}",
		   "messages[0].content");
	/* the batch providers take a conversation ... */
	body = "{\"models\":{\"openai\":\"gpt-4o\",\"openai-batch\":\"gpt-4o\",\"anthropic-batch\":\"c\"},"
	       "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
	       "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}";
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_OK);
	assert_int_equal(r.conv.nturns, 3);
	chat_request_free(&r);
	/* ... the snapshot does not */
	chat_error("{\"models\":{\"snapshot\":\"x\"},"
		   "\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		   "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}",
		   "models.snapshot");
	/* ... but one user turn is a message, which it takes */
	body = "{\"models\":{\"snapshot\":\"ds\"},\"messages\":["
	       "{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"a\"}]}";
	assert_int_equal(chat_request_parse(body, strlen(body), &r, &e), AIGW_OK);
	assert_string_equal(r.message, "a");
	assert_string_equal(r.system, "s");
	assert_int_equal(r.conv.nturns, 1);
	chat_request_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalized),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_chat_request),
	};

	return cmocka_run_group_tests_name("conversation", tests, NULL, NULL);
}
