/*
 * mock.c: the built-in offline provider of SPEC §3 ("mock"), which answers
 * deterministically without a network.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

/* Characters of the message echoed in the answer. */
#define ECHO_MAX 120
#define MOCK_SOURCES 2

static long
words(const char *s)
{
	long n = 0;
	int in_word = 0;

	for (; s != NULL && *s != '\0'; s++) {
		int space = *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' ||
			    *s == '\v';

		if (!space && !in_word)
			n++;
		in_word = !space;
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
	if ((err = buf_printf(&text, "mock answer from %.256s: ", model)) != AIGW_OK ||
	    (err = buf_append(&text, msg, prefix_bytes(msg, ECHO_MAX))) != AIGW_OK)
		goto out;
	/* As a real provider counts tokens, roughly: words, never zero. */
	in = words(call->system) + words(msg);
	out->input_tokens = in > 0 ? in : 1;
	out->output_tokens = words(text.data);
	if ((out->model = strdup(model)) == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	if (call->websearch && (err = mock_citations(out)) != AIGW_OK)
		goto out;
	if ((err = buf_steal(&text, &out->text)) != AIGW_OK)
		goto out;
	out->ok = true;
out:
	if (err != AIGW_OK) {
		prov_result_free(out);
		prov_common_result_init(out);
		err = AIGW_ENOMEM;
	}
	buf_free(&text);
	return err;
}
