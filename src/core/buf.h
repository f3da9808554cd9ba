/*
 * buf.h: growable byte buffers with a ceiling.
 *
 * A struct buf owns its bytes; the caller owns the struct. Every buffer has
 * a maximum given at init: appending past it fails with AIGW_ETOOBIG and
 * leaves the buffer unchanged, as does AIGW_ENOMEM. The contents are always
 * NUL-terminated (the NUL is not counted in len). Not thread-safe.
 */
#ifndef AIGW_CORE_BUF_H
#define AIGW_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct buf {
	char *data;  /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;  /* the most bytes len may reach */
};

/* Cannot fail. */
void buf_init(struct buf *b, size_t max);
/* Frees the bytes and resets to empty; safe on an empty buffer. */
void buf_free(struct buf *b);
/* Empties without freeing. Cannot fail. */
void buf_reset(struct buf *b);

enum aigw_err buf_append(struct buf *b, const void *p, size_t n) AIGW_MUSTCHECK;
enum aigw_err buf_puts(struct buf *b, const char *s) AIGW_MUSTCHECK;
enum aigw_err buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) AIGW_MUSTCHECK;
enum aigw_err buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0))) AIGW_MUSTCHECK;

/* Hands the bytes to the caller (free() them; never NULL on success) and
 * leaves the buffer empty. Fails only with AIGW_ENOMEM on an empty buffer. */
enum aigw_err buf_steal(struct buf *b, char **out) AIGW_MUSTCHECK;

#endif
