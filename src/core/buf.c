/* buf.c: bounded growable buffers (see buf.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static enum aigw_err
reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return AIGW_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return AIGW_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return AIGW_ENOMEM;
	b->data = p;
	b->cap = cap;
	return AIGW_OK;
}

enum aigw_err
buf_append(struct buf *b, const void *p, size_t n)
{
	enum aigw_err err = reserve(b, n);

	if (err != AIGW_OK)
		return err;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return AIGW_OK;
}

enum aigw_err
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum aigw_err
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	enum aigw_err err;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return AIGW_EINVAL;
	err = reserve(b, (size_t)n);
	if (err != AIGW_OK)
		return err;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return AIGW_OK;
}

enum aigw_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	enum aigw_err err;

	va_start(ap, fmt);
	err = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

enum aigw_err
buf_steal(struct buf *b, char **out)
{
	if (b->data == NULL) {
		b->data = malloc(1);
		if (b->data == NULL)
			return AIGW_ENOMEM;
		b->data[0] = '\0';
	}
	*out = b->data;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return AIGW_OK;
}
