/*
 * sse.h: an incremental Server-Sent-Events framer (the WHATWG HTML
 * "event stream interpretation"), for the providers' streaming answers.
 *
 * It owns the bytes of the line and of the event being read, so it can be
 * fed whatever chunks a transfer hands over, split anywhere (inside a line,
 * a CRLF or the BOM), and hands each complete event to a callback: its name
 * ("message" when none was given) and its data lines joined with "\n".
 * Lines end with CRLF, LF or CR; comments (":...") and fields it does not
 * know ("id", "retry", others) are skipped; one BOM at the start is dropped.
 *
 * What can fail: a line over SSE_LINE_MAX or an event's data over
 * SSE_EVENT_MAX bytes is AIGW_ETOOBIG, and nothing is allocated past those
 * bounds; memory (AIGW_ENOMEM); the callback's own error is passed through.
 * After an error the framer refuses further bytes with the same error.
 * Not thread-safe per framer; framers share nothing.
 */
#ifndef AIGW_PROVIDERS_SSE_H
#define AIGW_PROVIDERS_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* A provider's single chunk is a few KiB; this leaves room for a large
 * citation list while keeping a hostile stream from growing us. */
#define SSE_LINE_MAX (256u * 1024)
#define SSE_EVENT_MAX (256u * 1024)

/* One event, borrowed for the callback's duration. */
struct sse_event {
	const char *name;   /* NUL-terminated; "message" by default */
	const char *data;   /* NUL-terminated (may hold NULs before data_len) */
	size_t data_len;
};

typedef enum aigw_err (*sse_event_fn)(void *ctx, const struct sse_event *ev);

struct sse {
	struct buf line;    /* the line being read */
	struct buf name;    /* the event type field */
	struct buf data;    /* the data lines so far, each with its "\n" */
	int bom;            /* BOM bytes matched so far; -1: past the start */
	bool after_cr;      /* the last byte was CR: a following LF is its pair */
	bool has_data;      /* a data field was seen in this event */
	enum aigw_err failed;
};

/* Cannot fail. */
void sse_init(struct sse *s);
/* Frees what the framer holds; safe twice. */
void sse_free(struct sse *s);
/* Reads p[0..n), calling fn(ctx, ev) for each event completed. */
enum aigw_err sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn,
		       void *ctx) AIGW_MUSTCHECK;
/* Whether an event (or a line) was started and not finished: at the end of
 * the stream it is lost, as the rules say, which a caller may call a cut. */
bool sse_pending(const struct sse *s);

#endif
