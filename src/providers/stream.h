/*
 * stream.h: a sync provider's streamed answer, read as it arrives.
 *
 * A struct prov_stream is made for one provider's documented streaming
 * format (OpenAI and Perplexity chat completion chunks, Anthropic Messages
 * events, Gemini streamGenerateContent with alt=sse). It is fed the bytes
 * of the answer in whatever chunks the transfer gives, hands back the new
 * text of each feed, and at the end gives the same struct prov_result the
 * provider's non-stream parser gives for the whole answer: text, usage,
 * model, citations, or the classified failure.
 *
 * What can fail: memory (AIGW_ENOMEM). A stream that is not its format
 * (garbage, an unknown event where the format has none, a line or event
 * over SSE_LINE_MAX / SSE_EVENT_MAX, text over PROV_STREAM_TEXT_MAX, an
 * in-stream error event) makes prov_stream_feed return AIGW_EINVAL; from
 * then on the stream takes no more bytes and prov_stream_end gives the
 * failure (PROV_ERR_BAD_BODY, or the class the non-stream parser gives the
 * error the event carries). A stream that ends mid-event or without its
 * final event ends as PROV_ERR_BAD_BODY. Memory stays bounded by those
 * limits. One stream per transfer; streams share nothing.
 */
#ifndef AIGW_PROVIDERS_STREAM_H
#define AIGW_PROVIDERS_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "providers/provider.h"

/* The transfer engine's bound on one answer. */
#define PROV_STREAM_TEXT_MAX (8u << 20)

struct prov_stream;

/* A stream for the provider named. AIGW_ENOTFOUND for a provider without a
 * streaming format here (batch providers, the mock), AIGW_ENOMEM. */
enum aigw_err prov_stream_new(const char *provider, struct prov_stream **out) AIGW_MUSTCHECK;
/* The request for the call's streamed answer from the provider named: as
 * its non-stream request, asking for the stream. AIGW_ENOTFOUND for a
 * provider without a streaming format, else fails as a prov_desc build
 * op does; on error *out is left zeroed. */
enum aigw_err prov_stream_build(const char *provider, const struct prov_config *cfg,
				const struct prov_call *call, struct prov_http *out) AIGW_MUSTCHECK;
/* Reads p[0..n) and appends the answer's new text to *delta (the caller's;
 * its own bound applies, past which AIGW_ETOOBIG). See above for errors. */
enum aigw_err prov_stream_feed(struct prov_stream *st, const char *p, size_t n,
			       struct buf *delta) AIGW_MUSTCHECK;
/* Whether the answer is complete: its final event was read (for formats
 * without one, the event that gives the finish reason). Cannot fail. */
bool prov_stream_finished(const struct prov_stream *st);
/* The result of the whole stream, into *out (freed with prov_result_free in
 * every case). AIGW_ENOMEM only. */
enum aigw_err prov_stream_end(struct prov_stream *st, struct prov_result *out) AIGW_MUSTCHECK;
/* The usage the stream reported so far, as the final result would give it
 * from the same figures: *input and *output are -1 where it said nothing
 * yet (OpenAI sends its usage only in the last chunk; Anthropic gives the
 * input and a first output count at the start, Gemini and Perplexity the
 * counts so far in every chunk). For an answer cut short, such as a
 * cancelled one. AIGW_ENOMEM only (both then -1). */
enum aigw_err prov_stream_usage(const struct prov_stream *st, long *input,
				long *output) AIGW_MUSTCHECK;
/* Safe on NULL. */
void prov_stream_free(struct prov_stream *st);

#endif
