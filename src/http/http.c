/* http.c: request parsing, bounded body reading and response writing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/http.h"

#define RESP_MAX (16L << 20)
#define HEADERS_MAX 8192

static const char *const default_param = "";

const char *
http_param(const struct http_req *req, const char *name)
{
	return req->io->param(req->io->ctx, name);
}

static bool
request_id_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= 128 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
				  c == '-'))
			return false;
	}
	return n > 0;
}

enum aigw_err
http_req_init(struct http_req *req, const struct http_io *io)
{
	const char *p, *rid;

	memset(req, 0, sizeof *req);
	req->io = io;
	buf_init(&req->body, 0);
	buf_init(&req->headers, HEADERS_MAX);
	buf_init(&req->out, RESP_MAX);
	req->status = 500;

	req->method = http_param(req, "REQUEST_METHOD");
	if (req->method == NULL)
		req->method = default_param;
	req->query = http_param(req, "QUERY_STRING");
	if (req->query == NULL)
		req->query = default_param;

	/* Plain CGI puts the route in PATH_INFO; behind nginx the path of
	 * REQUEST_URI is the route. */
	p = http_param(req, "PATH_INFO");
	if (p != NULL && *p != '\0') {
		req->path = strdup(p);
	} else {
		p = http_param(req, "REQUEST_URI");
		if (p == NULL)
			p = http_param(req, "DOCUMENT_URI");
		if (p == NULL)
			p = "/";
		req->path = strndup(p, strcspn(p, "?#"));
	}
	if (req->path == NULL)
		return AIGW_ENOMEM;
	req->openai_errors = strncmp(req->path, "/v1/", 4) == 0;

	rid = http_param(req, "HTTP_X_REQUEST_ID");
	if (rid != NULL && request_id_ok(rid)) {
		snprintf(req->request_id, sizeof req->request_id, "%s", rid);
		return AIGW_OK;
	}
	return uuid_new(req->request_id);
}

void
http_req_free(struct http_req *req)
{
	free(req->path);
	req->path = NULL;
	buf_free(&req->body);
	buf_free(&req->headers);
	buf_free(&req->out);
}

static bool
is_json_type(const char *ct)
{
	const char *rest;

	if (ct == NULL || !str_has_prefix_ci(ct, "application/json"))
		return false;
	rest = ct + strlen("application/json");
	return *rest == '\0' || *rest == ';' || *rest == ' ' || *rest == '\t';
}

enum aigw_err
http_read_json_body(struct http_req *req, size_t max)
{
	const char *cl = http_param(req, "CONTENT_LENGTH");
	long declared = 0;
	char chunk[16384];

	if (!is_json_type(http_param(req, "CONTENT_TYPE")))
		return AIGW_EINVAL;
	if (cl != NULL && *cl != '\0' && parse_long(cl, 0, (long)(((unsigned long)-1) >> 1),
						   &declared) != AIGW_OK)
		declared = 0;
	if ((size_t)declared > max)
		return AIGW_ETOOBIG;
	buf_init(&req->body, max);
	/* Never read past CONTENT_LENGTH: a lying length ends the body short,
	 * and JSON parsing rejects what is there. */
	while (req->body.len < (size_t)declared) {
		size_t want = (size_t)declared - req->body.len;
		long n = req->io->read(req->io->ctx, chunk, want < sizeof chunk ? want : sizeof chunk);

		if (n < 0)
			return AIGW_EIO;
		if (n == 0)
			break;
		if (buf_append(&req->body, chunk, (size_t)n) != AIGW_OK)
			return AIGW_ETOOBIG;
	}
	return AIGW_OK;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
http_query_get(const struct http_req *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (*p != '\0') {
		const char *end = p + strcspn(p, "&;");

		if ((size_t)(end - p) >= nlen + 1 && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			size_t o = 0;

			for (const char *q = p + nlen + 1; q < end; q++) {
				char c = *q;

				if (c == '+') {
					c = ' ';
				} else if (c == '%') {
					int hi, lo;
					if (end - q < 3)
						return false;
					hi = hexval(q[1]);
					lo = hexval(q[2]);
					if (hi < 0 || lo < 0)
						return false;
					c = (char)(hi * 16 + lo);
					q += 2;
				}
				if (c == '\0' || o + 1 >= outlen)
					return false;
				out[o++] = c;
			}
			out[o] = '\0';
			return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

bool
http_query_has(const struct http_req *req, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = req->query;

	while (*p != '\0') {
		const char *end = p + strcspn(p, "&;");

		if ((size_t)(end - p) >= nlen && strncmp(p, name, nlen) == 0 &&
		    (p + nlen == end || p[nlen] == '='))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

void
http_resp_header(struct http_req *req, const char *name, const char *value)
{
	if (buf_printf(&req->headers, "%s: %s\r\n", name, value) != AIGW_OK)
		log_warn("http", req->request_id, "response header %s dropped", name);
}

void
http_resp_raw(struct http_req *req, int status, const char *json, size_t len)
{
	buf_reset(&req->out);
	req->status = status;
	req->content_type = NULL;
	if (buf_append(&req->out, json, len) != AIGW_OK) {
		static const char oom[] =
			"{\"success\":false,\"error\":\"internal error\",\"code\":\"internal\"}";
		buf_reset(&req->out);
		req->status = 500;
		/* Fits any buffer that could hold the first byte. */
		if (buf_append(&req->out, oom, sizeof oom - 1) != AIGW_OK)
			buf_free(&req->out);
	}
}

void
http_resp_text(struct http_req *req, int status, const char *content_type, const char *body,
	       size_t len)
{
	http_resp_raw(req, status, body, len);
	/* An out-of-memory answer from http_resp_raw is JSON again. */
	req->content_type = req->status == status ? content_type : NULL;
}

void
http_resp_json(struct http_req *req, int status, json_object *obj)
{
	size_t len = 0;
	const char *s;

	if (obj == NULL) {
		http_resp_error(req, 500, "internal", NULL, "out of memory");
		return;
	}
	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL)
		http_resp_error(req, 500, "internal", NULL, "out of memory");
	else
		http_resp_raw(req, status, s, len);
	json_object_put(obj);
}

const char *
http_openai_error_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 429: return "rate_limit_error";
	case 504: return "timeout_error";
	default: return status >= 500 ? "server_error" : "invalid_request_error";
	}
}

/* The error object of msg in the request's shape; NULL on ENOMEM. */
static json_object *
error_object(const struct http_req *req, int status, const char *code, const char *field,
	     const char *msg)
{
	json_object *o = json_object_new_object(), *e = o;

	if (o == NULL)
		return NULL;
	if (req->openai_errors) {
		e = json_object_new_object();
		if (e == NULL || json_object_object_add(o, "error", e) != 0) {
			json_object_put(e);
			json_object_put(o);
			return NULL;
		}
		if (json_object_object_add(e, "message", json_object_new_string(msg)) == 0 &&
		    json_object_object_add(e, "type",
					   json_object_new_string(http_openai_error_type(status))) == 0 &&
		    json_object_object_add(e, "param",
					   field ? json_object_new_string(field) : NULL) == 0 &&
		    json_object_object_add(e, "code", json_object_new_string(code)) == 0)
			return o;
	} else if (json_object_object_add(o, "success", json_object_new_boolean(0)) == 0 &&
		   json_object_object_add(o, "error", json_object_new_string(msg)) == 0 &&
		   json_object_object_add(o, "code", json_object_new_string(code)) == 0 &&
		   (field == NULL ||
		    json_object_object_add(o, "field", json_object_new_string(field)) == 0)) {
		return o;
	}
	json_object_put(o);
	return NULL;
}

void
http_resp_error(struct http_req *req, int status, const char *code, const char *field,
		const char *fmt, ...)
{
	char msg[512];
	json_object *o;
	va_list ap;
	size_t len = 0;
	const char *s = NULL;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	o = error_object(req, status, code, field, msg);
	if (o != NULL)
		s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s != NULL) {
		http_resp_raw(req, status, s, len);
	} else {
		static const char oom[] =
			"{\"success\":false,\"error\":\"internal error\",\"code\":\"internal\"}";
		static const char oom_v1[] =
			"{\"error\":{\"message\":\"internal error\",\"type\":\"server_error\","
			"\"param\":null,\"code\":\"internal\"}}";

		if (req->openai_errors)
			http_resp_raw(req, 500, oom_v1, sizeof oom_v1 - 1);
		else
			http_resp_raw(req, 500, oom, sizeof oom - 1);
	}
	json_object_put(o);
}

void
http_resp_from_err(struct http_req *req, enum aigw_err err)
{
	switch (err) {
	case AIGW_EDB:
		http_resp_error(req, 503, "unavailable", NULL,
				"the database is unavailable; try again shortly");
		http_resp_header(req, "Retry-After", "2");
		break;
	case AIGW_ENOTFOUND:
		http_resp_error(req, 404, "not_found", NULL, "not found");
		break;
	case AIGW_EINVAL:
		http_resp_error(req, 400, "invalid_field", NULL, "invalid request");
		break;
	case AIGW_ETOOBIG:
		http_resp_error(req, 413, "body_too_large", NULL, "request body too large");
		break;
	default:
		http_resp_error(req, 500, "internal", NULL, "internal error: %s", aigw_strerror(err));
		break;
	}
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* Writes the head made so far (head, n bytes from snprintf), the extra
 * headers and the blank line that ends them. */
static enum aigw_err
write_head(struct http_req *req, const char *head, int n, size_t size)
{
	if (n < 0 || (size_t)n >= size)
		return AIGW_EINVAL;
	if (req->io->write(req->io->ctx, head, (size_t)n) < 0 ||
	    (req->headers.len > 0 &&
	     req->io->write(req->io->ctx, req->headers.data, req->headers.len) < 0) ||
	    req->io->write(req->io->ctx, "\r\n", 2) < 0)
		return AIGW_EIO;
	return AIGW_OK;
}

enum aigw_err
http_resp_send(struct http_req *req)
{
	char head[512];
	enum aigw_err err;
	int n;

	if (req->streamed)
		return AIGW_OK;
	n = snprintf(head, sizeof head,
		     "Status: %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Cache-Control: no-store\r\n"
		     "X-Request-Id: %s\r\n"
		     "Content-Length: %zu\r\n",
		     req->status, http_reason(req->status),
		     req->content_type ? req->content_type : "application/json; charset=utf-8",
		     req->request_id, req->out.len);
	err = write_head(req, head, n, sizeof head);
	if (err == AIGW_OK && req->out.len > 0 &&
	    req->io->write(req->io->ctx, req->out.data, req->out.len) < 0)
		err = AIGW_EIO;
	return err;
}

enum aigw_err
http_stream_start(struct http_req *req, int status, const char *content_type)
{
	char head[512];
	enum aigw_err err;
	int n;

	req->status = status;
	req->streamed = true;
	/* No Content-Length: the body ends when the stream does. The caller
	 * sets Cache-Control (an event stream says no-cache). */
	n = snprintf(head, sizeof head,
		     "Status: %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "X-Request-Id: %s\r\n",
		     status, http_reason(status), content_type, req->request_id);
	err = write_head(req, head, n, sizeof head);
	if (err == AIGW_OK && req->io->flush != NULL && req->io->flush(req->io->ctx) < 0)
		err = AIGW_EIO;
	return err;
}

enum aigw_err
http_stream_write(struct http_req *req, const char *data, size_t len)
{
	if (req->io->write(req->io->ctx, data, len) < 0 ||
	    (req->io->flush != NULL && req->io->flush(req->io->ctx) < 0))
		return AIGW_EIO;
	return AIGW_OK;
}

int
http_hangup_fd(const struct http_req *req)
{
	return req->io->hangup_fd != NULL ? req->io->hangup_fd(req->io->ctx) : -1;
}
