/*
 * openai_stream.h: the streamed answers of the OpenAI-compatible API, made
 * from a chat's stored pieces (docs/openai.md, Streaming).
 *
 * Responses (POST /v1/responses with stream, GET /v1/responses/{id}?
 * stream=true): response.created, response.in_progress,
 * response.output_item.added, response.content_part.added, one
 * response.output_text.delta per stored piece, then at the end a delta of
 * any final text the pieces did not carry, response.output_text.done,
 * response.content_part.done, response.output_item.done and
 * response.completed; a failed or cancelled response ends with
 * response.failed (its response's status tells which). Each event's
 * sequence_number is its place in that list, a function of the stored
 * pieces and the final state only: a stream resumed with starting_after=N
 * writes exactly the events after N that an uncut one would have.
 *
 * A reset piece (a retried attempt voids the text streamed so far) ends
 * the stream with an "error" event (code stream_reset): the deltas already
 * sent cannot be taken back, so the client is told rather than handed
 * text that is not the answer; it fetches the response by id.
 *
 * Chat completions: chat.completion.chunk data lines (a first one with the
 * role, one per piece, a last one with finish_reason), a usage chunk when
 * include_usage, then "data: [DONE]"; a failure or a reset is a data line
 * {"error": {...}} instead, and nothing after it.
 *
 * Pure: events are appended to a buffer; the caller writes them. Each
 * function fails with AIGW_ENOMEM or AIGW_ETOOBIG from the buffer only.
 */
#ifndef AIGW_HTTP_OPENAI_STREAM_H
#define AIGW_HTTP_OPENAI_STREAM_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/err.h"

#define OA_STREAM_HEAD_EVENTS 4   /* Responses events before the first delta */

struct oa_stream {
	bool completion;          /* chat.completion.chunk lines, else Responses events */
	bool include_usage;
	long next;                /* the sequence_number of the next event */
	long after;               /* events up to this number are counted, not written */
	bool head_done;
	bool ended;
	struct buf text;          /* the deltas so far, joined */
};

/* after: the starting_after of a resume, -1 for all. Cannot fail. */
void oa_stream_init(struct oa_stream *st, bool completion, bool include_usage, long after);
void oa_stream_free(struct oa_stream *st);

/* The opening events; resp is the response object as it is now
 * (oa_response_object), of which only what does not change is used. */
enum aigw_err oa_stream_head(struct oa_stream *st, struct buf *b, json_object *resp)
	AIGW_MUSTCHECK;
/* One stored piece's text. */
enum aigw_err oa_stream_delta(struct oa_stream *st, struct buf *b, json_object *resp,
			      const char *text) AIGW_MUSTCHECK;
/* A reset piece: the error that ends the stream. */
enum aigw_err oa_stream_reset(struct oa_stream *st, struct buf *b) AIGW_MUSTCHECK;
/* The closing events of a final response object. */
enum aigw_err oa_stream_end(struct oa_stream *st, struct buf *b, json_object *resp)
	AIGW_MUSTCHECK;

#endif
