/*
 * routes.h: the route table and the handlers it names.
 *
 * A route is {method, path pattern, handler, body}; a pattern segment
 * "{id}" matches one path segment, which the handler receives in args.
 * http_route_find() cannot fail: it reports a match, a path that exists
 * with other methods (for 405 and its Allow header), or nothing (404).
 * Owns the table: which handler answers which method and path.
 */
#ifndef AIGW_HTTP_ROUTES_H
#define AIGW_HTTP_ROUTES_H

#include <stdbool.h>

#include "http/server.h"

struct route_args {
	char id[64];
};

typedef void (*http_handler)(struct http_thread *t, struct http_req *req,
			     const struct route_args *args);

struct http_route {
	const char *method;
	const char *pattern;
	http_handler handler;
	bool json_body;      /* reads and bounds a JSON body first */
	bool open;           /* answered without authentication (health) */
};

enum route_match { ROUTE_FOUND, ROUTE_WRONG_METHOD, ROUTE_NONE };

/* On ROUTE_WRONG_METHOD, allow receives "GET, POST" style text. */
enum route_match http_route_find(const char *method, const char *path,
				 const struct http_route **route, struct route_args *args,
				 char *allow, size_t allowlen);

/* handlers, one file per resource */
void chat_submit(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* ?id=&wait=&since=: a long-poll when wait is given (http/realtime.h) */
void chat_status(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* ?id=: Server-Sent Events of the chat's states and streamed pieces */
void chat_events(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* POST /api/ai/chat/cancel?id= and DELETE /api/ai/chat?id=: 200 with the
 * status, the chat now cancelled (a finished one unchanged). */
void chat_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args);
void ops_health(struct http_thread *t, struct http_req *req, const struct route_args *args);
void ops_metrics(struct http_thread *t, struct http_req *req, const struct route_args *args);
void jobs_submit(struct http_thread *t, struct http_req *req, const struct route_args *args);
void jobs_list(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* GET /api/jobtypes: the loaded job types, as a client offers them. */
void jobs_types(struct http_thread *t, struct http_req *req, const struct route_args *args);
void jobs_get(struct http_thread *t, struct http_req *req, const struct route_args *args);
void jobs_status(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* Server-Sent Events of the job's states */
void jobs_events(struct http_thread *t, struct http_req *req, const struct route_args *args);
void jobs_result(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* POST /api/jobs/{id}/cancel and DELETE /api/jobs/{id} */
void jobs_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args);
void analysis_batches(struct http_thread *t, struct http_req *req, const struct route_args *args);
void analysis_batch(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* The OpenAI-compatible API (docs/openai.md, http/openai.h) */
void oa_responses_create(struct http_thread *t, struct http_req *req, const struct route_args *args);
/* ?stream=true&starting_after=N: the events again, after N */
void oa_responses_get(struct http_thread *t, struct http_req *req, const struct route_args *args);
void oa_responses_cancel(struct http_thread *t, struct http_req *req, const struct route_args *args);
void oa_completions_create(struct http_thread *t, struct http_req *req, const struct route_args *args);
void oa_models(struct http_thread *t, struct http_req *req, const struct route_args *args);

#endif
