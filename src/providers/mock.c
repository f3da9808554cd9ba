/*
 * mock.c: the built-in offline provider "mock" (docs/api.md, Submit a
 * chat; AIGW_MOCK in docs/configuration.md), which answers
 * deterministically without a network: plain text, or one JSON object when
 * the call asks for JSON (prov_call.json_output), as a real provider's JSON
 * mode would.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

/* Characters of the message echoed in the answer. */
#define ECHO_MAX 120
/* Bytes of the model name in the answer. */
#define MODEL_MAX 256
#define MOCK_SOURCES 2
/* Words of the echo listed as "items" in a JSON answer. */
#define MOCK_ITEMS 5

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static long
words(const char *s)
{
	long n = 0;
	bool in_word = false;

	for (; s != NULL && *s != '\0'; s++) {
		if (!is_space(*s) && !in_word)
			n++;
		in_word = !is_space(*s);
	}
	return n;
}

/* Bytes in the first `max` characters of s, never splitting a UTF-8 sequence. */
static size_t
prefix_bytes(const char *s, size_t max)
{
	size_t i = 0, chars = 0;

	for (; s[i] != '\0'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == max)
			break;
	}
	return i;
}

/* Bytes of s up to `max`, cut before a UTF-8 sequence that would not fit:
 * the answer may become JSON, which must stay valid UTF-8. */
static size_t
cut_bytes(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The first MOCK_ITEMS words of s[0..len) as a JSON array; NULL on ENOMEM. */
static json_object *
word_items(const char *s, size_t len)
{
	json_object *a = json_object_new_array();
	size_t i = 0, n = 0;

	while (a != NULL && n < MOCK_ITEMS) {
		size_t start;

		while (i < len && is_space(s[i]))
			i++;
		start = i;
		while (i < len && !is_space(s[i]))
			i++;
		if (i == start)
			break;
		/* A word is at most ECHO_MAX characters: its length fits an int. */
		if (prov_common_push(a, json_object_new_string_len(s + start, (int)(i - start))) != 0) {
			json_object_put(a);
			a = NULL;
		}
		n++;
	}
	return a;
}

/*
 * Replaces the plain answer in *text with {"summary": <that answer>,
 * "items": [<the first words of the echo>]}. json-c writes it, so quotes,
 * backslashes and control characters in the message are escaped. AIGW_ENOMEM
 * or AIGW_ETOOBIG (text's ceiling); on error *text holds nothing to use.
 */
static enum aigw_err
json_answer(struct buf *text, const char *echo, size_t echo_len)
{
	json_object *o = json_object_new_object();
	const char *s;
	size_t len = 0;
	enum aigw_err err = AIGW_ENOMEM;
	int rc = 0;

	if (o == NULL)
		goto out;
	/* text->len is bounded by its 64 KiB ceiling, so it fits an int. */
	rc |= prov_common_add(o, "summary", json_object_new_string_len(text->data, (int)text->len));
	rc |= prov_common_add(o, "items", word_items(echo, echo_len));
	if (rc != 0)
		goto out;
	/* No "\/" for "/": valid either way, but a URL in a message stays readable. */
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
					      &len);
	if (s == NULL)
		goto out;
	buf_reset(text);
	err = buf_append(text, s, len);
out:
	json_object_put(o);
	return err;
}

/* Offline sources so that clients can exercise their citation display. */
static enum aigw_err
mock_citations(struct prov_result *out)
{
	struct buf url, title;
	enum aigw_err err = AIGW_OK;

	buf_init(&url, 256);
	buf_init(&title, 256);
	for (int i = 1; i <= MOCK_SOURCES && err == AIGW_OK; i++) {
		buf_reset(&url);
		buf_reset(&title);
		if ((err = buf_printf(&url, "https://example.com/mock/source-%d", i)) == AIGW_OK &&
		    (err = buf_printf(&title, "Mock source %d", i)) == AIGW_OK)
			err = prov_common_cite(out, url.data, title.data);
	}
	buf_free(&url);
	buf_free(&title);
	return err;
}

enum aigw_err
prov_mock_answer(const struct prov_call *call, struct prov_result *out)
{
	const char *model = call->model != NULL && call->model[0] != '\0' ? call->model : "mock";
	const char *msg = call->message != NULL ? call->message : "";
	struct buf text;
	long in;
	enum aigw_err err;

	prov_common_result_init(out);
	buf_init(&text, 64 * 1024);
	if ((err = buf_puts(&text, "mock answer from ")) != AIGW_OK ||
	    (err = buf_append(&text, model, cut_bytes(model, MODEL_MAX))) != AIGW_OK ||
	    (err = buf_puts(&text, ": ")) != AIGW_OK ||
	    (err = buf_append(&text, msg, prefix_bytes(msg, ECHO_MAX))) != AIGW_OK)
		goto out;
	if (call->json_output &&
	    (err = json_answer(&text, msg, prefix_bytes(msg, ECHO_MAX))) != AIGW_OK)
		goto out;
	/* As a real provider counts tokens, roughly: words, never zero. */
	in = words(call->system) + words(msg);
	out->input_tokens = in > 0 ? in : 1;
	out->output_tokens = words(text.data);
	if ((err = prov_common_model(out, model)) != AIGW_OK)
		goto out;
	if (call->websearch && (err = mock_citations(out)) != AIGW_OK)
		goto out;
	if ((err = buf_steal(&text, &out->text)) != AIGW_OK)
		goto out;
	out->ok = true;
out:
	return prov_common_parse_end(out, err, &text, NULL);
}

/* The end of the word after byte i of s, or of s when none follows. */
static size_t
next_word_end(const char *s, size_t i)
{
	while (s[i] != '\0' && is_space(s[i]))
		i++;
	while (s[i] != '\0' && !is_space(s[i]))
		i++;
	return i;
}

/* Whether only blanks follow byte i of s. */
static bool
blank_rest(const char *s, size_t i)
{
	while (s[i] != '\0' && is_space(s[i]))
		i++;
	return s[i] == '\0';
}

size_t
prov_mock_stream_len(const char *text, int64_t elapsed_ms, long tps)
{
	int64_t due = elapsed_ms < 0 ? 0 : elapsed_ms * tps / 1000 + 1;
	size_t i = 0;

	for (int64_t k = 0; k < due && !blank_rest(text, i); k++)
		i = next_word_end(text, i);
	return blank_rest(text, i) ? strlen(text) : i;
}

int64_t
prov_mock_stream_next_ms(const char *text, size_t len, long tps)
{
	int64_t k = 0;
	size_t i = 0;

	if (text[len] == '\0')
		return -1;
	while (i < len) {
		i = next_word_end(text, i);
		k++;
	}
	/* Word k + 1 is out once elapsed * tps / 1000 + 1 > k. */
	return (k * 1000 + tps - 1) / tps;
}
