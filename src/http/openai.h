/*
 * openai.h: what the handlers of the OpenAI-compatible API (/v1/,
 * docs/openai.md) share: reading a /v1/ chat as its response object
 * (an rt_source, so that long-polls and streams reuse http/realtime.h),
 * storing a parsed request as a chat of one provider, and streaming its
 * events (http/openai_stream.h).
 *
 * Errors are answered in OpenAI's shape by http_resp_error (every path
 * under /v1/). The functions that answer return false when they did; the
 * caller then only returns.
 */
#ifndef AIGW_HTTP_OPENAI_H
#define AIGW_HTTP_OPENAI_H

#include <stdbool.h>

#include "http/openai_request.h"
#include "http/realtime.h"
#include "http/server.h"

/* The /v1/ chats as response objects: read gives the object, read_stream
 * the object and the pieces. */
extern const struct rt_source oa_source;
/* The same with the results as stored (no streamed text so far): what a
 * wait for the end reads at every change, cheaply. */
extern const struct rt_source oa_wait_source;

/* The response object of chat id into out (json, version, final, status);
 * with text_so_far a running chat shows its streamed text so far.
 * AIGW_ENOTFOUND, AIGW_EDB, AIGW_ENOMEM. */
enum aigw_err oa_read(struct http_thread *t, const struct http_req *req, const char *id,
		      bool text_so_far, struct rt_state *out) AIGW_MUSTCHECK;

/* Stores r as a new chat of api ("response", "completion") and writes its
 * UUID to id; false when the request was answered (400 for a provider not
 * reached here, 429, 503). */
bool oa_store(struct http_thread *t, struct http_req *req, const struct oa_request *r,
	      const char *api, char id[UUID_STR_LEN + 1]);

/* Answers with the event stream of chat id: Responses events after
 * sequence number after (-1: all), or chat completion chunks. */
void oa_stream_events(struct http_thread *t, struct http_req *req, const char *id,
		      bool completion, bool include_usage, long after);

#endif
