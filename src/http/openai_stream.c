/* openai_stream.c: /v1/ stream events from stored pieces (see
 * openai_stream.h). */
#include <stdio.h>
#include <string.h>

#include "openai/object.h"
#include "http/openai_stream.h"

#define STREAM_TEXT_MAX (64L << 20)

void
oa_stream_init(struct oa_stream *st, bool completion, bool include_usage, long after)
{
	memset(st, 0, sizeof *st);
	st->completion = completion;
	st->include_usage = include_usage;
	st->after = after;
	buf_init(&st->text, STREAM_TEXT_MAX);
}

void
oa_stream_free(struct oa_stream *st)
{
	buf_free(&st->text);
}

static const char *
str_of(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : "";
}

/* Writes one Responses event of type with ev's members (ev is consumed),
 * numbered, unless the client has seen it. */
static enum aigw_err
event(struct oa_stream *st, struct buf *b, const char *type, json_object *ev)
{
	long n = st->next++;
	enum aigw_err err = AIGW_OK;
	const char *s;

	if (ev == NULL)
		return AIGW_ENOMEM;
	if (n > st->after) {
		if (json_object_object_add(ev, "type", json_object_new_string(type)) != 0 ||
		    json_object_object_add(ev, "sequence_number", json_object_new_int64(n)) != 0 ||
		    (s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL)
			err = AIGW_ENOMEM;
		else
			err = buf_printf(b, "event: %s\ndata: %s\n\n", type, s);
	}
	json_object_put(ev);
	return err;
}

/* One chat.completion.chunk data line (chunk consumed). */
static enum aigw_err
data_line(struct buf *b, json_object *chunk)
{
	enum aigw_err err;
	const char *s;

	if (chunk == NULL)
		return AIGW_ENOMEM;
	s = json_object_to_json_string_ext(chunk, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	err = s == NULL ? AIGW_ENOMEM : buf_printf(b, "data: %s\n\n", s);
	json_object_put(chunk);
	return err;
}

/* A chunk of resp with one choice of delta (consumed; NULL: no choice)
 * and finish_reason (NULL: null). */
static json_object *
chunk(const struct oa_stream *st, json_object *resp, json_object *delta, const char *finish)
{
	json_object *c = json_object_new_object(), *choices = json_object_new_array(), *choice, *v;
	char id[OA_ID_MAX];
	int rc = 0;

	snprintf(id, sizeof id, "chatcmpl-%s", str_of(resp, "id") + strlen("resp_"));
	if (c == NULL || choices == NULL) {
		json_object_put(c);
		json_object_put(choices);
		json_object_put(delta);
		return NULL;
	}
	rc |= json_object_object_add(c, "id", json_object_new_string(id));
	rc |= json_object_object_add(c, "object", json_object_new_string("chat.completion.chunk"));
	json_object_object_get_ex(resp, "created_at", &v);
	rc |= json_object_object_add(c, "created", json_object_get(v));
	rc |= json_object_object_add(c, "model", json_object_new_string(str_of(resp, "model")));
	rc |= json_object_object_add(c, "choices", choices);
	if (delta != NULL) {
		choice = json_object_new_object();
		if (choice == NULL || json_object_array_add(choices, choice) != 0) {
			json_object_put(choice);
			json_object_put(delta);
			rc = -1;
		} else {
			rc |= json_object_object_add(choice, "index", json_object_new_int(0));
			rc |= json_object_object_add(choice, "delta", delta);
			rc |= json_object_object_add(choice, "logprobs", NULL);
			rc |= json_object_object_add(choice, "finish_reason",
						     finish ? json_object_new_string(finish) : NULL);
		}
	}
	if (st->include_usage)
		rc |= json_object_object_add(c, "usage", NULL);
	if (rc != 0) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/* o with name: v added (v consumed); NULL when o is NULL or memory is
 * short, so that a chain of them fails once at its end. */
static json_object *
with(json_object *o, const char *name, json_object *v)
{
	if (o == NULL || json_object_object_add(o, name, v) != 0) {
		json_object_put(v);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* {item_id, output_index 0, content_index 0} of resp's message. */
static json_object *
at_part(json_object *resp)
{
	char msg[OA_ID_MAX];
	json_object *o = json_object_new_object();

	snprintf(msg, sizeof msg, "msg_%s", str_of(resp, "id") + strlen("resp_"));
	o = with(o, "item_id", json_object_new_string(msg));
	o = with(o, "output_index", json_object_new_int(0));
	return with(o, "content_index", json_object_new_int(0));
}

static json_object *
text_part(const char *text)
{
	json_object *p = json_object_new_object();

	p = with(p, "type", json_object_new_string("output_text"));
	p = with(p, "text", json_object_new_string(text));
	return with(p, "annotations", json_object_new_array());
}

static json_object *
message_item(json_object *resp, const char *status, const char *text)
{
	char msg[OA_ID_MAX];
	json_object *item = json_object_new_object(), *content = json_object_new_array();

	snprintf(msg, sizeof msg, "msg_%s", str_of(resp, "id") + strlen("resp_"));
	if (content != NULL && text != NULL && json_object_array_add(content, text_part(text)) != 0) {
		json_object_put(content);
		content = NULL;
	}
	item = with(item, "id", json_object_new_string(msg));
	item = with(item, "type", json_object_new_string("message"));
	item = with(item, "status", json_object_new_string(status));
	item = with(item, "role", json_object_new_string("assistant"));
	if (content == NULL) {
		json_object_put(item);
		return NULL;
	}
	return with(item, "content", content);
}

enum aigw_err
oa_stream_head(struct oa_stream *st, struct buf *b, json_object *resp)
{
	enum aigw_err err;
	json_object *delta;

	if (st->head_done)
		return AIGW_OK;
	st->head_done = true;
	if (st->completion) {
		delta = with(json_object_new_object(), "role", json_object_new_string("assistant"));
		delta = with(delta, "content", json_object_new_string(""));
		return data_line(b, chunk(st, resp, delta, NULL));
	}
	err = event(st, b, "response.created",
		    with(json_object_new_object(), "response", oa_response_opening(resp, NULL)));
	if (err == AIGW_OK)
		err = event(st, b, "response.in_progress",
			    with(json_object_new_object(), "response", oa_response_opening(resp, OA_STATUS_IN_PROGRESS)));
	if (err == AIGW_OK)
		err = event(st, b, "response.output_item.added",
			    with(with(json_object_new_object(), "output_index", json_object_new_int(0)),
				 "item", message_item(resp, OA_STATUS_IN_PROGRESS, NULL)));
	if (err == AIGW_OK)
		err = event(st, b, "response.content_part.added",
			    with(at_part(resp), "part", text_part("")));
	return err;
}

enum aigw_err
oa_stream_delta(struct oa_stream *st, struct buf *b, json_object *resp, const char *text)
{
	enum aigw_err err = buf_puts(&st->text, text);

	if (err != AIGW_OK)
		return err;
	if (st->completion)
		return data_line(b, chunk(st, resp, with(json_object_new_object(), "content",
							 json_object_new_string(text)), NULL));
	return event(st, b, "response.output_text.delta",
		     with(with(at_part(resp), "delta", json_object_new_string(text)), "logprobs",
			  json_object_new_array()));
}

static json_object *
error_body(const char *code, const char *message)
{
	json_object *e = json_object_new_object();

	e = with(e, "message", json_object_new_string(message));
	e = with(e, "type", json_object_new_string("server_error"));
	e = with(e, "param", NULL);
	return with(e, "code", json_object_new_string(code));
}

static enum aigw_err
fail(struct oa_stream *st, struct buf *b, const char *code, const char *message)
{
	json_object *ev;

	st->ended = true;
	if (st->completion)
		return data_line(b, with(json_object_new_object(), "error", error_body(code, message)));
	ev = with(json_object_new_object(), "code", json_object_new_string(code));
	ev = with(ev, "message", json_object_new_string(message));
	return event(st, b, "error", with(ev, "param", NULL));
}

enum aigw_err
oa_stream_reset(struct oa_stream *st, struct buf *b)
{
	return fail(st, b, "stream_reset",
		    "the provider's answer was interrupted and is being retried: the text streamed"
		    " so far is void; fetch the response by id (GET /v1/responses/{id})");
}

enum aigw_err
oa_stream_end(struct oa_stream *st, struct buf *b, json_object *resp)
{
	const char *status = str_of(resp, "status"), *text = str_of(resp, "output_text");
	bool completed = strcmp(status, OA_STATUS_COMPLETED) == 0;
	json_object *v, *item = NULL, *usage;
	enum aigw_err err = AIGW_OK;
	const char *sofar = st->text.data ? st->text.data : "";

	if (st->ended)
		return AIGW_OK;
	/* The answer's text beyond what the pieces carried (all of it when
	 * the provider did not stream). */
	if (completed && strncmp(text, sofar, st->text.len) == 0 && strlen(text) > st->text.len)
		err = oa_stream_delta(st, b, resp, text + st->text.len);
	if (err != AIGW_OK)
		return err;
	st->ended = true;
	if (st->completion) {
		if (!completed) {
			st->ended = false;
			return fail(st, b, strcmp(status, OA_STATUS_CANCELLED) == 0 ? OA_STATUS_CANCELLED : "provider_error",
				    strcmp(status, OA_STATUS_CANCELLED) == 0 ? "the request was cancelled"
				    : json_object_object_get_ex(resp, "error", &v) && v != NULL
					      ? str_of(v, "message") : "the request failed");
		}
		err = data_line(b, chunk(st, resp, json_object_new_object(), "stop"));
		if (err == AIGW_OK && st->include_usage) {
			json_object *c = chunk(st, resp, NULL, NULL), *u = json_object_new_object();

			json_object_object_get_ex(resp, "usage", &usage);
			u = with(u, "prompt_tokens", json_object_new_int64(
				usage ? json_object_get_int64(json_object_object_get(usage, "input_tokens")) : 0));
			u = with(u, "completion_tokens", json_object_new_int64(
				usage ? json_object_get_int64(json_object_object_get(usage, "output_tokens")) : 0));
			u = with(u, "total_tokens", json_object_new_int64(
				usage ? json_object_get_int64(json_object_object_get(usage, "total_tokens")) : 0));
			err = data_line(b, with(c, "usage", u));
		}
		if (err == AIGW_OK)
			err = buf_puts(b, "data: [DONE]\n\n");
		return err;
	}
	if (!completed)
		return event(st, b, "response.failed",
			     with(json_object_new_object(), "response", json_object_get(resp)));
	err = event(st, b, "response.output_text.done",
		    with(with(at_part(resp), "text", json_object_new_string(text)), "logprobs",
			 json_object_new_array()));
	if (err == AIGW_OK)
		err = event(st, b, "response.content_part.done", with(at_part(resp), "part", text_part(text)));
	if (err == AIGW_OK) {
		if (json_object_object_get_ex(resp, "output", &v) && json_object_array_length(v) > 0)
			item = json_object_get(json_object_array_get_idx(v, 0));
		else
			item = message_item(resp, OA_STATUS_COMPLETED, text);
		err = event(st, b, "response.output_item.done",
			    with(with(json_object_new_object(), "output_index", json_object_new_int(0)),
				 "item", item));
	}
	if (err == AIGW_OK)
		err = event(st, b, "response.completed",
			    with(json_object_new_object(), "response", json_object_get(resp)));
	return err;
}
