/* sse.c: the Server-Sent-Events framer (see sse.h). */
#include <string.h>

#include "providers/sse.h"

static const unsigned char bom_bytes[3] = { 0xEF, 0xBB, 0xBF };

void
sse_init(struct sse *s)
{
	memset(s, 0, sizeof *s);
	buf_init(&s->line, SSE_LINE_MAX);
	/* +1: the NUL that ends the strings handed to the callback. */
	buf_init(&s->name, SSE_LINE_MAX + 1);
	buf_init(&s->data, SSE_EVENT_MAX + 1);
}

void
sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->name);
	buf_free(&s->data);
}

bool
sse_pending(const struct sse *s)
{
	return s->line.len > 0 || s->name.len > 0 || s->has_data;
}

/* A blank line: the event is complete. One without data is dropped, as
 * the rules say; either way the next event starts afresh. */
static enum aigw_err
dispatch(struct sse *s, sse_event_fn fn, void *ctx)
{
	struct sse_event ev;
	enum aigw_err err = AIGW_OK;

	if (s->has_data) {
		if (s->data.len > 0)
			s->data.len--; /* the last data line's "\n" */
		if ((err = buf_append(&s->data, "", 1)) != AIGW_OK ||
		    (err = buf_append(&s->name, "", 1)) != AIGW_OK)
			goto out;
		ev.name = s->name.len > 1 ? s->name.data : "message";
		ev.data = s->data.data;
		ev.data_len = s->data.len - 1;
		err = fn(ctx, &ev);
	}
out:
	buf_reset(&s->name);
	buf_reset(&s->data);
	s->has_data = false;
	return err;
}

static enum aigw_err
field(struct sse *s, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t nlen = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t vlen = len - (size_t)(value - line);
	enum aigw_err err = AIGW_OK;

	if (vlen > 0 && value[0] == ' ') {
		value++;
		vlen--;
	}
	if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		buf_reset(&s->name);
		err = buf_append(&s->name, value, vlen);
	} else if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		s->has_data = true;
		err = buf_append(&s->data, value, vlen);
		if (err == AIGW_OK)
			err = buf_append(&s->data, "\n", 1);
	}
	return err;
}

/* A complete line; a leading ':' makes a comment, which is skipped. */
static enum aigw_err
line_end(struct sse *s, sse_event_fn fn, void *ctx)
{
	enum aigw_err err = AIGW_OK;

	if (s->line.len == 0)
		err = dispatch(s, fn, ctx);
	else if (s->line.data[0] != ':')
		err = field(s, s->line.data, s->line.len);
	buf_reset(&s->line);
	return err;
}

static enum aigw_err
bytes(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *ctx)
{
	enum aigw_err err = AIGW_OK;
	size_t i = 0;

	while (i < n && err == AIGW_OK) {
		size_t j = i;

		if (s->after_cr && p[i] == '\n') {
			s->after_cr = false;
			i++;
			continue;
		}
		s->after_cr = false;
		while (j < n && p[j] != '\r' && p[j] != '\n')
			j++;
		if (j > i && (err = buf_append(&s->line, p + i, j - i)) != AIGW_OK)
			break;
		if (j < n) {
			s->after_cr = p[j] == '\r';
			err = line_end(s, fn, ctx);
			j++;
		}
		i = j;
	}
	return err;
}

enum aigw_err
sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *ctx)
{
	enum aigw_err err = s->failed;

	/* The BOM may come split over chunks: hold the bytes that match it
	 * until it is whole, and give them back as text if it is not one. */
	while (err == AIGW_OK && s->bom >= 0 && n > 0) {
		if ((unsigned char)p[0] == bom_bytes[s->bom]) {
			p++;
			n--;
			if (++s->bom == 3)
				s->bom = -1;
		} else {
			err = bytes(s, (const char *)bom_bytes, (size_t)s->bom, fn, ctx);
			s->bom = -1;
		}
	}
	if (err == AIGW_OK)
		err = bytes(s, p, n, fn, ctx);
	s->failed = err;
	return err;
}
