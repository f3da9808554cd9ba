/*
 * http.h: one HTTP request and its response, independent of how they came
 * (FastCGI or plain CGI).
 *
 * struct http_io is the transport: parameters, body reads, response writes.
 * struct http_req owns everything of one request (parsed target, bounded
 * body, response buffers) and is released with http_req_free(). Handlers
 * fill the response through http_resp_*; a response builder that runs out
 * of memory degrades to a fixed 500. Not thread-safe per request; each
 * thread has its own. Reading fails on a body that is not JSON by its
 * Content-Type or too large, or a client gone (AIGW_EIO); writing fails
 * only when the client went away.
 */
#ifndef AIGW_HTTP_HTTP_H
#define AIGW_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/util.h"

struct http_io {
	void *ctx;
	/* A CGI/FastCGI parameter, or NULL. */
	const char *(*param)(void *ctx, const char *name);
	/* Reads up to n body bytes: the count, 0 at the end, < 0 on error. */
	long (*read)(void *ctx, char *buf, size_t n);
	/* Writes all n bytes: 0, or < 0 on error. */
	int (*write)(void *ctx, const char *buf, size_t n);
	/* Pushes what write() buffered to the client now: 0, or < 0 on error.
	 * NULL when writes are not buffered. For event streams. */
	int (*flush)(void *ctx);
	/* A descriptor that reports hang-up (poll POLLRDHUP/POLLHUP) when the
	 * client goes away, or -1; NULL: none. Lets a waiting request stop
	 * at once instead of at its next write. */
	int (*hangup_fd)(void *ctx);
};

struct http_req {
	const struct http_io *io;
	const char *method;
	char *path;          /* decoded route path, e.g. /api/ai/chat */
	const char *query;   /* raw QUERY_STRING, never NULL */
	char request_id[129];
	struct buf body;

	/* who asks (http/auth.h): "" and "" for the anonymous caller */
	char user[256];
	char org[256];
	char key_id[24];     /* AIGW_AUTH=keys: the key's id (public); else "" */

	/* Errors in OpenAI's shape {"error": {"message", "type", "param",
	 * "code"}} instead of aigw's: set for paths under /v1/. */
	bool openai_errors;

	/* the response */
	int status;
	const char *content_type;  /* static text; NULL: JSON */
	struct buf headers;  /* "Name: value\r\n" lines */
	struct buf out;
	bool streamed;       /* http_stream_start wrote the head already */
};

/* Prepares req from io's parameters. AIGW_ENOMEM or AIGW_EIO (no randomness
 * for a request id); on error req is still safe to http_req_free(). */
enum aigw_err http_req_init(struct http_req *req, const struct http_io *io) AIGW_MUSTCHECK;
void http_req_free(struct http_req *req);
const char *http_param(const struct http_req *req, const char *name);

/*
 * Reads the body after checking what the headers say: AIGW_EINVAL for a
 * Content-Type that is not application/json (415), AIGW_ETOOBIG when
 * CONTENT_LENGTH or the bytes actually read pass max (413, judged before
 * reading into memory), AIGW_EIO when the client went away.
 */
enum aigw_err http_read_json_body(struct http_req *req, size_t max) AIGW_MUSTCHECK;

/* Finds name in the query string and decodes it into out (at most outlen-1
 * bytes). false when absent, undecodable or too long. */
bool http_query_get(const struct http_req *req, const char *name, char *out, size_t outlen);
/* True when name is in the query string at all ("name", "name=",
 * "name=v"), readable or not: tells a bad value from an absent one. */
bool http_query_has(const struct http_req *req, const char *name);

/* Response builders. They cannot fail from the caller's view. */
void http_resp_header(struct http_req *req, const char *name, const char *value);
/* Takes ownership of obj. */
void http_resp_json(struct http_req *req, int status, json_object *obj);
/* Sets a raw JSON body the caller already built. */
void http_resp_raw(struct http_req *req, int status, const char *json, size_t len);
/* Sets a body of another type; content_type must outlive the request (a
 * string literal). */
void http_resp_text(struct http_req *req, int status, const char *content_type,
		    const char *body, size_t len);
/* {"success": false, "error": msg, "code": code[, "field": field]}, or
 * under /v1/ (req->openai_errors) {"error": {"message": msg, "type": the
 * status's type (http_openai_error_type), "param": field or null, "code":
 * code}}. */
void http_resp_error(struct http_req *req, int status, const char *code, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The one mapping of library errors to HTTP: 503 unavailable for the
 * database, 404, 400, 413, else 500. */
void http_resp_from_err(struct http_req *req, enum aigw_err err);

/* Writes status line, headers and body through the transport. */
enum aigw_err http_resp_send(struct http_req *req) AIGW_MUSTCHECK;

/*
 * Streaming (Server-Sent Events): http_stream_start writes the status line
 * and headers (those added with http_resp_header too) without a
 * Content-Length, with the given Content-Type, and marks the request so
 * that http_resp_send writes nothing more. http_stream_write writes and
 * flushes at once. Both: AIGW_EIO when the client went away.
 */
enum aigw_err http_stream_start(struct http_req *req, int status,
				const char *content_type) AIGW_MUSTCHECK;
enum aigw_err http_stream_write(struct http_req *req, const char *data,
				size_t len) AIGW_MUSTCHECK;
/* The transport's hang-up descriptor, or -1. Cannot fail. */
int http_hangup_fd(const struct http_req *req);

/* OpenAI's error type for an HTTP status: invalid_request_error,
 * authentication_error, permission_error, not_found_error,
 * rate_limit_error, timeout_error or server_error. Cannot fail. */
const char *http_openai_error_type(int status);

/* Reason phrase for a status ("Accepted"); "" for unknown codes. */
const char *http_reason(int status);

#endif
