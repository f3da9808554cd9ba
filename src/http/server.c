/* server.c: answers one request: route, bound and parse the body, dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "http/auth.h"
#include "http/cors.h"
#include "http/routes.h"
#include "http/metrics.h"
#include "http/server.h"

#define JSON_MAX_DEPTH 32

void
http_field_error_set(struct http_field_error *e, int status, const char *code,
		     const char *field, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->code = code;
	snprintf(e->field, sizeof e->field, "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
}

bool
http_check_text(json_object *v, const char *field, long min, long max,
		const char *code_type, const char *code_value, struct http_field_error *e)
{
	long chars;

	if (!json_object_is_type(v, json_type_string)) {
		http_field_error_set(e, 400, code_type, field, "%s must be a string", field);
		return false;
	}
	chars = utf8_length(json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (chars < 0) {
		http_field_error_set(e, 400, code_value, field,
				     "%s must be UTF-8 text without NUL characters", field);
		return false;
	}
	if (chars < min || chars > max) {
		http_field_error_set(e, 400, code_value, field, "%s must be %ld to %ld characters",
				     field, min, max);
		return false;
	}
	return true;
}

void
http_resp_field_error(struct http_req *req, const struct http_field_error *e)
{
	http_resp_error(req, e->status, e->code, e->field[0] ? e->field : NULL, "%s", e->msg);
}

/* Object members written in the text: every string followed by a colon.
 * The text is valid JSON already, so nothing else can be followed by one. */
static size_t
text_members(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"')
			continue;
		for (i++; i < len && s[i] != '"'; i++)
			if (s[i] == '\\')
				i++;
		for (i++; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'); i++)
			;
		if (i < len && s[i] == ':')
			n++;
		i--;
	}
	return n;
}

/* Object members in the parsed tree (its depth is bounded by the parser). */
static size_t
tree_members(json_object *v)
{
	size_t n = 0;

	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(v); i++)
			n += tree_members(json_object_array_get_idx(v, i));
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val) {
			(void)key;
			n += 1 + tree_members(val);
		}
	}
	return n;
}

json_object *
http_parse_json(const char *body, size_t len, struct http_field_error *e)
{
	struct json_tokener *tok;
	json_object *obj = NULL;
	size_t end;

	if (len == 0) {
		http_field_error_set(e, 400, "invalid_json", NULL, "the request body is empty");
		return NULL;
	}
	/* json-c's own UTF-8 check lets overlong forms, surrogates and code
	 * points past U+10FFFF through; PostgreSQL refuses them (a 503 for the
	 * client's mistake) and answers that echo them would not be UTF-8. */
	if (utf8_length(body, len) < 0) {
		http_field_error_set(e, 400, "invalid_json", NULL,
				     "the request body is not valid UTF-8 text");
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL) {
		http_field_error_set(e, 500, "internal", NULL, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		http_field_error_set(e, 400, "invalid_json", NULL,
				     "the request body is not valid JSON: %s",
				     json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(obj);
		obj = NULL;
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (body[end] != ' ' && body[end] != '\t' && body[end] != '\r' && body[end] != '\n') {
			http_field_error_set(e, 400, "invalid_json", NULL,
					     "the request body has data after the JSON value");
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
	/* json-c keeps the last of duplicate keys silently; which one a client
	 * meant is unknowable, so the request is refused. */
	if (obj != NULL && text_members(body, len) != tree_members(obj)) {
		http_field_error_set(e, 400, "invalid_json", NULL,
				     "the request body names the same key twice in one object");
		json_object_put(obj);
		obj = NULL;
	}
out:
	json_tokener_free(tok);
	return obj;
}

/* An HTTP method is a token (RFC 9110, 5.6.2); web servers pass on no
 * other, but only a token may be echoed in an answer that must stay UTF-8. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s) != NULL))
			return false;
	return true;
}

/* Answers req; returns the route's pattern (for the metrics), NULL when
 * no route took it. */
static const char *
dispatch(struct http_thread *t, struct http_req *req)
{
	const struct http_route *route;
	struct route_args args;
	char allow[64];
	enum aigw_err err;
	const char *cors = t->app->cfg->cors_origins;
	bool cors_listed = cors_answer_headers(req, cors);

	switch (http_route_find(req->method, req->path, &route, &args, allow, sizeof allow)) {
	case ROUTE_NONE:
		http_resp_error(req, 404, "not_found", NULL, "no such resource");
		return NULL;
	case ROUTE_WRONG_METHOD:
		/* A browser's preflight carries no credentials: answered before
		 * authentication, and only while CORS is on (else 405 as ever). */
		if (cors != NULL && *cors != '\0' && strcmp(req->method, "OPTIONS") == 0) {
			cors_preflight(req, cors_listed, allow);
			return NULL;
		}
		http_resp_header(req, "Allow", allow);
		http_resp_error(req, 405, "method_not_allowed", NULL,
				"method %.16s is not allowed here; use %s",
				is_token(req->method) ? req->method : "?", allow);
		return NULL;
	case ROUTE_FOUND:
		break;
	}
	if (!route->open && !http_authenticate(t, req))
		return route->pattern;
	if (route->json_body) {
		err = http_read_json_body(req, (size_t)t->app->cfg->max_body);
		if (err == AIGW_EINVAL) {
			http_resp_error(req, 415, "unsupported_media_type", NULL,
					"the body must be application/json");
			return route->pattern;
		}
		if (err == AIGW_ETOOBIG) {
			http_resp_error(req, 413, "body_too_large", NULL,
					"the body is larger than %ld bytes", t->app->cfg->max_body);
			return route->pattern;
		}
		if (err != AIGW_OK) {
			http_resp_error(req, 400, "invalid_json", NULL, "the body could not be read");
			return route->pattern;
		}
	}
	route->handler(t, req, &args);
	return route->pattern;
}

void
http_handle(struct http_thread *t, const struct http_io *io)
{
	struct http_req req;
	int64_t start = time_mono_ms();
	const char *route = NULL;
	enum aigw_err err;

	err = http_req_init(&req, io);
	if (err != AIGW_OK)
		http_resp_from_err(&req, err);
	else
		route = dispatch(t, &req);
	{
		const struct log_attr attrs[] = {
			LOG_STR("method", req.method), LOG_STR("path", req.path),
			LOG_NUM("status", req.status), LOG_NUM("duration_ms", time_mono_ms() - start),
		};
		const char *method = req.method ? req.method : "?", *path = req.path ? req.path : "?";

		log_event(LOG_INFO, "http", req.request_id, attrs, sizeof attrs / sizeof attrs[0],
			  "%.*s %.*s %d", (int)utf8_cut(method, 16), method, (int)utf8_cut(path, 200),
			  path, req.status);
	}
	/* Counted before the response leaves, so that a client's next
	 * request (a scrape, whose flush writes what is counted) finds it.
	 * aigw-fcgi's flusher thread writes the counts (http/metrics.h); a
	 * CGI process answers one request: its count is written now, unless
	 * the database was just found away. */
	metrics_http_count(route, req.status);
	if (http_resp_send(&req) != AIGW_OK)
		log_info("http", req.request_id, "client went away before the response was sent");
	if (t->app->cgi && t->db != NULL && !db_connection_lost(t->db))
		metrics_http_flush(t->db, time_mono_ms(), true);
	http_req_free(&req);
}
