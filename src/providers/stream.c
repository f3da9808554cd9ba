/* stream.c: a streamed answer, read event by event (see stream.h); the
 * formats' own events are read beside their adapters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "providers/common.h"
#include "providers/sse.h"
#include "providers/stream.h"

struct prov_stream {
	const struct prov_stream_format *fmt;
	struct sse sse;
	struct buf text;          /* the answer so far */
	struct buf *delta;        /* the caller's, during a feed */
	json_object *acc;         /* what the format keeps for the end */
	size_t events;            /* events read */
	size_t kept;              /* bytes of events kept in acc */
	bool done;                /* the final event was read */
	bool refused;             /* fail holds why */
	struct prov_result fail;
};

static const struct {
	const char *name;
	const struct prov_stream_format *fmt;
} formats[] = {
	{ "openai", &prov_openai_stream },
	{ PROV_FORMAT_OPENAI_COMPAT, &prov_openai_compat_stream },
	{ "anthropic", &prov_anthropic_stream },
	{ "gemini", &prov_gemini_stream },
	{ "perplexity", &prov_perplexity_stream },
};

static const struct prov_stream_format *
format_of(const char *provider)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (provider != NULL && strcmp(provider, formats[i].name) == 0)
			return formats[i].fmt;
	return NULL;
}

enum aigw_err
prov_stream_build(const char *provider, const struct prov_config *cfg,
		  const struct prov_call *call, struct prov_http *out)
{
	const struct prov_stream_format *fmt = format_of(provider);

	if (fmt == NULL) {
		memset(out, 0, sizeof *out);
		return AIGW_ENOTFOUND;
	}
	return fmt->build(cfg, call, out);
}

enum aigw_err
prov_stream_new(const char *provider, struct prov_stream **out)
{
	const struct prov_stream_format *fmt = format_of(provider);
	struct prov_stream *st;

	*out = NULL;
	if (fmt == NULL)
		return AIGW_ENOTFOUND;
	if ((st = calloc(1, sizeof *st)) == NULL)
		return AIGW_ENOMEM;
	if ((st->acc = json_object_new_object()) == NULL) {
		free(st);
		return AIGW_ENOMEM;
	}
	st->fmt = fmt;
	sse_init(&st->sse);
	buf_init(&st->text, PROV_STREAM_TEXT_MAX);
	prov_common_result_init(&st->fail);
	*out = st;
	return AIGW_OK;
}

void
prov_stream_free(struct prov_stream *st)
{
	if (st == NULL)
		return;
	sse_free(&st->sse);
	buf_free(&st->text);
	json_object_put(st->acc);
	prov_result_free(&st->fail);
	free(st);
}

enum aigw_err
prov_stream_bad(struct prov_stream *st, const char *what)
{
	enum aigw_err err = prov_common_fail(&st->fail, PROV_ERR_BAD_BODY,
					     "%s returned an unexpected stream: %s",
					     st->fmt->name, what);

	st->refused = true;
	return err == AIGW_OK ? AIGW_EINVAL : err;
}

enum aigw_err
prov_stream_text(struct prov_stream *st, const char *s, size_t n)
{
	enum aigw_err err = buf_append(&st->text, s, n);

	if (err == AIGW_ETOOBIG)
		return prov_stream_bad(st, "the answer is longer than the bound");
	if (err == AIGW_OK && st->delta != NULL)
		err = buf_append(st->delta, s, n);
	return err;
}

enum aigw_err
prov_stream_charge(struct prov_stream *st, size_t n)
{
	if (n > PROV_STREAM_TEXT_MAX - st->kept)
		return prov_stream_bad(st, "it holds more than the bound beside the text");
	st->kept += n;
	return AIGW_OK;
}

size_t
prov_stream_text_len(const struct prov_stream *st)
{
	return st->text.len;
}

void
prov_stream_done(struct prov_stream *st)
{
	st->done = true;
}

/* The HTTP status an in-stream error stands for, so that it is classified
 * as the same error answered with a status would be. */
static long
error_status(json_object *error)
{
	static const struct {
		const char *type;
		long status;
	} types[] = {
		{ "invalid_request_error", 400 }, { "authentication_error", 401 },
		{ "permission_error", 403 },      { "not_found_error", 404 },
		{ "request_too_large", 413 },     { "rate_limit_error", 429 },
		{ "rate_limit_exceeded", 429 },   { "insufficient_quota", 429 },
		{ "api_error", 500 },             { "server_error", 500 },
		{ "overloaded_error", 529 },
	};
	json_object *code = prov_common_get(error, "code", json_type_int);
	const char *type = prov_common_get_str(error, "type");
	const char *scode = prov_common_get_str(error, "code");

	if (code != NULL && json_object_get_int64(code) >= 400 && json_object_get_int64(code) <= 599)
		return (long)json_object_get_int64(code);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if ((type != NULL && strcmp(type, types[i].type) == 0) ||
		    (scode != NULL && strcmp(scode, types[i].type) == 0))
			return types[i].status;
	return 500;
}

enum aigw_err
prov_stream_error(struct prov_stream *st, json_object *error)
{
	json_object *body = json_object_new_object();
	const char *text;
	size_t len;
	enum aigw_err err = AIGW_ENOMEM;

	if (body == NULL || prov_common_add(body, "error", json_object_get(error)) != 0)
		goto out;
	text = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len);
	if (text == NULL)
		goto out;
	prov_result_free(&st->fail);
	if ((err = st->fmt->parse(error_status(error), text, len, &st->fail)) != AIGW_OK)
		goto out;
	/* A parse reads an error status as a failure whatever the body. */
	st->refused = true;
	err = AIGW_EINVAL;
out:
	json_object_put(body);
	return err;
}

enum aigw_err
prov_stream_json(struct prov_stream *st, const struct sse_event *ev, json_object **o)
{
	bool nomem = false;

	*o = prov_common_json_ex(ev->data, ev->data_len, &nomem);
	if (*o != NULL && json_object_is_type(*o, json_type_object))
		return AIGW_OK;
	json_object_put(*o);
	*o = NULL;
	return nomem ? AIGW_ENOMEM : prov_stream_bad(st, "an event's data is not a JSON object");
}

enum aigw_err
prov_stream_unnamed(struct prov_stream *st, const struct sse_event *ev)
{
	char what[96];

	if (strcmp(ev->name, "message") == 0)
		return AIGW_OK;
	/* The name is the provider's text: only its length is told. */
	snprintf(what, sizeof what, "an event named where none are (%zu bytes)", strlen(ev->name));
	return prov_stream_bad(st, what);
}

int
prov_stream_keep(json_object *acc, const char *key, json_object *v)
{
	if (v == NULL)
		return 0;
	return prov_common_add(acc, key, json_object_get(v));
}

static enum aigw_err
on_event(void *ctx, const struct sse_event *ev)
{
	struct prov_stream *st = ctx;

	st->events++;
	if (st->done)
		return prov_stream_bad(st, "an event after the final one");
	return st->fmt->event(st, ev, st->acc);
}

enum aigw_err
prov_stream_feed(struct prov_stream *st, const char *p, size_t n, struct buf *delta)
{
	enum aigw_err err;

	if (st->refused)
		return AIGW_EINVAL;
	st->delta = delta;
	err = sse_feed(&st->sse, p, n, on_event, st);
	st->delta = NULL;
	if (err == AIGW_ETOOBIG && !st->refused)
		err = prov_stream_bad(st, "a line or an event is longer than the bound");
	return err;
}

bool
prov_stream_finished(const struct prov_stream *st)
{
	return !st->refused &&
	       (st->done || (st->fmt->end_key != NULL &&
			     json_object_object_get_ex(st->acc, st->fmt->end_key, NULL)));
}

enum aigw_err
prov_stream_end(struct prov_stream *st, struct prov_result *out)
{
	json_object *whole = NULL;
	const char *text;
	size_t len;
	enum aigw_err err = AIGW_OK;

	prov_common_result_init(out);
	if (!st->refused && sse_pending(&st->sse))
		err = prov_stream_bad(st, "it ended in the middle of an event");
	else if (!st->refused && st->events == 0)
		/* What an SSE reader skips (lines without a field it knows,
		 * an HTML page) is no stream either. */
		err = prov_stream_bad(st, "it holds no event");
	else if (!st->refused && !prov_stream_finished(st))
		err = prov_stream_bad(st, "it ended without its final event");
	if (st->refused) {
		*out = st->fail;
		prov_common_result_init(&st->fail);
		return err == AIGW_ENOMEM ? err : AIGW_OK;
	}
	if ((whole = st->fmt->whole(st->acc, st->text.data ? st->text.data : "", st->text.len)) ==
	    NULL)
		return AIGW_ENOMEM;
	text = json_object_to_json_string_length(whole, JSON_C_TO_STRING_PLAIN, &len);
	err = text != NULL ? st->fmt->parse(200, text, len, out) : AIGW_ENOMEM;
	json_object_put(whole);
	return err;
}

enum aigw_err
prov_stream_usage(const struct prov_stream *st, long *input, long *output)
{
	json_object *acc = NULL, *whole;

	*input = *output = -1;
	/* The answer as it would read had it ended here, its counts read as
	 * the adapter reads a final answer's. A format's whole() may consume
	 * what it keeps, and the stream may go on: it gets a copy. */
	if (json_object_deep_copy(st->acc, &acc, NULL) != 0 || acc == NULL)
		return AIGW_ENOMEM;
	whole = st->fmt->whole(acc, st->text.data ? st->text.data : "", st->text.len);
	json_object_put(acc);
	if (whole == NULL)
		return AIGW_ENOMEM;
	st->fmt->usage(whole, input, output);
	json_object_put(whole);
	return AIGW_OK;
}
