/* test_http.c: request parsing, bounded bodies, routing and response format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/routes.h"
#include "http/server.h"

/* A fake transport: parameters from a table, a body of given bytes, and
 * the response collected into a buffer. */
struct fake {
	const char *const *params;   /* name, value, ..., NULL */
	const char *body;
	size_t body_len;
	size_t body_pos;
	size_t reads;
	struct buf written;
};

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake *f = ctx;

	for (size_t i = 0; f->params[i] != NULL; i += 2)
		if (strcmp(f->params[i], name) == 0)
			return f->params[i + 1];
	return NULL;
}

static long
fake_read(void *ctx, char *buf, size_t n)
{
	struct fake *f = ctx;
	size_t left = f->body_len - f->body_pos;

	f->reads++;
	if (n > left)
		n = left;
	memcpy(buf, f->body + f->body_pos, n);
	f->body_pos += n;
	return (long)n;
}

static int
fake_write(void *ctx, const char *buf, size_t n)
{
	struct fake *f = ctx;

	return buf_append(&f->written, buf, n) == AIGW_OK ? 0 : -1;
}

static void
setup_req(struct http_req *req, struct http_io *io, struct fake *f)
{
	io->ctx = f;
	io->param = fake_param;
	io->read = fake_read;
	io->write = fake_write;
	io->flush = NULL;
	io->hangup_fd = NULL;
	buf_init(&f->written, 1 << 20);
	assert_int_equal(http_req_init(req, io), AIGW_OK);
}

static void
test_path_from_request_uri_and_path_info(void **state)
{
	const char *const p1[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/api/ai/chat/status?id=x",
				   "QUERY_STRING", "id=x", NULL };
	const char *const p2[] = { "REQUEST_METHOD", "POST", "PATH_INFO", "/api/ai/chat",
				   "REQUEST_URI", "/cgi-bin/aigw-fcgi/api/ai/chat", NULL };
	struct fake f = { .params = p1 };
	struct http_io io;
	struct http_req req;

	(void)state;
	setup_req(&req, &io, &f);
	assert_string_equal(req.path, "/api/ai/chat/status");
	assert_string_equal(req.method, "GET");
	assert_int_equal(strlen(req.request_id), 36);
	http_req_free(&req);
	buf_free(&f.written);

	f.params = p2;
	setup_req(&req, &io, &f);
	assert_string_equal(req.path, "/api/ai/chat");
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_request_id_echoed_only_when_sane(void **state)
{
	const char *const good[] = { "HTTP_X_REQUEST_ID", "abc-123_x.y:z", NULL };
	const char *const bad[] = { "HTTP_X_REQUEST_ID", "evil\r\nSet-Cookie: x", NULL };
	struct fake f = { .params = good };
	struct http_io io;
	struct http_req req;

	(void)state;
	setup_req(&req, &io, &f);
	assert_string_equal(req.request_id, "abc-123_x.y:z");
	http_req_free(&req);
	buf_free(&f.written);
	f.params = bad;
	setup_req(&req, &io, &f);
	assert_int_equal(strlen(req.request_id), 36);
	assert_null(strchr(req.request_id, '\r'));
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_body_limits(void **state)
{
	const char *const too_big[] = { "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "2000", NULL };
	const char *const wrong_type[] = { "CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "2", NULL };
	const char *const no_type[] = { "CONTENT_LENGTH", "2", NULL };
	const char *const json_charset[] = { "CONTENT_TYPE", "Application/JSON; charset=utf-8",
					     "CONTENT_LENGTH", "2", NULL };
	struct fake f = { .params = too_big, .body = "{}", .body_len = 2 };
	struct http_io io;
	struct http_req req;

	(void)state;
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_ETOOBIG);
	assert_int_equal(f.reads, 0); /* judged before reading */
	http_req_free(&req);
	buf_free(&f.written);

	f = (struct fake){ .params = wrong_type, .body = "{}", .body_len = 2 };
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_EINVAL);
	http_req_free(&req);
	buf_free(&f.written);

	f = (struct fake){ .params = no_type, .body = "{}", .body_len = 2 };
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_EINVAL);
	http_req_free(&req);
	buf_free(&f.written);

	f = (struct fake){ .params = json_charset, .body = "{}", .body_len = 2 };
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_OK);
	assert_int_equal(req.body.len, 2);
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_lying_content_length(void **state)
{
	/* Says 4, sends 10: only 4 are read. Says 10, sends 4: the body ends short. */
	const char *const short_len[] = { "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "4", NULL };
	const char *const long_len[] = { "CONTENT_TYPE", "application/json", "CONTENT_LENGTH", "10", NULL };
	struct fake f = { .params = short_len, .body = "0123456789", .body_len = 10 };
	struct http_io io;
	struct http_req req;

	(void)state;
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_OK);
	assert_int_equal(req.body.len, 4);
	assert_int_equal(f.body_pos, 4);
	http_req_free(&req);
	buf_free(&f.written);

	f = (struct fake){ .params = long_len, .body = "0123", .body_len = 4 };
	setup_req(&req, &io, &f);
	assert_int_equal(http_read_json_body(&req, 1024), AIGW_OK);
	assert_int_equal(req.body.len, 4);
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_query_get(void **state)
{
	const char *const p[] = { "QUERY_STRING", "a=1&id=ab%2Dc+d&wait=30&bad=%zz&trunc=%4", NULL };
	struct fake f = { .params = p };
	struct http_io io;
	struct http_req req;
	char out[16];

	(void)state;
	setup_req(&req, &io, &f);
	assert_true(http_query_get(&req, "id", out, sizeof out));
	assert_string_equal(out, "ab-c d");
	assert_true(http_query_get(&req, "wait", out, sizeof out));
	assert_string_equal(out, "30");
	assert_false(http_query_get(&req, "missing", out, sizeof out));
	assert_false(http_query_get(&req, "bad", out, sizeof out));
	assert_false(http_query_get(&req, "trunc", out, sizeof out));
	assert_false(http_query_get(&req, "i", out, sizeof out));
	assert_false(http_query_get(&req, "id", out, 4)); /* too long for out */
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_query_has(void **state)
{
	const char *const p[] = { "QUERY_STRING", "a=1&flag&empty=&bad=%zz;semi=2&status=x", NULL };
	struct fake f = { .params = p };
	struct http_io io;
	struct http_req req;

	(void)state;
	setup_req(&req, &io, &f);
	assert_true(http_query_has(&req, "a"));
	assert_true(http_query_has(&req, "flag"));
	assert_true(http_query_has(&req, "empty"));
	assert_true(http_query_has(&req, "bad"));
	assert_true(http_query_has(&req, "semi"));
	assert_true(http_query_has(&req, "status"));
	assert_false(http_query_has(&req, "stat"));
	assert_false(http_query_has(&req, "statuses"));
	assert_false(http_query_has(&req, "missing"));
	assert_false(http_query_has(&req, "1"));
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_error_response_format(void **state)
{
	const char *const p[] = { "HTTP_X_REQUEST_ID", "rid1", NULL };
	struct fake f = { .params = p };
	struct http_io io;
	struct http_req req;
	const char *body;
	json_object *o;

	(void)state;
	setup_req(&req, &io, &f);
	http_resp_header(&req, "Allow", "POST");
	http_resp_error(&req, 405, "method_not_allowed", NULL, "use %s", "POST");
	assert_int_equal(http_resp_send(&req), AIGW_OK);
	assert_non_null(strstr(f.written.data, "Status: 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(f.written.data, "Cache-Control: no-store\r\n"));
	assert_non_null(strstr(f.written.data, "X-Request-Id: rid1\r\n"));
	assert_non_null(strstr(f.written.data, "Allow: POST\r\n"));
	assert_non_null(strstr(f.written.data, "Content-Type: application/json; charset=utf-8\r\n"));
	body = strstr(f.written.data, "\r\n\r\n");
	assert_non_null(body);
	o = json_tokener_parse(body + 4);
	assert_non_null(o);
	assert_false(json_object_get_boolean(json_object_object_get(o, "success")));
	assert_string_equal(json_object_get_string(json_object_object_get(o, "code")), "method_not_allowed");
	assert_string_equal(json_object_get_string(json_object_object_get(o, "error")), "use POST");
	json_object_put(o);
	http_req_free(&req);
	buf_free(&f.written);
}

static void
test_routes(void **state)
{
	const struct http_route *route;
	struct route_args args;
	char allow[64];

	(void)state;
	assert_int_equal(http_route_find("POST", "/api/ai/chat", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, chat_submit);
	assert_true(route->json_body);
	assert_int_equal(http_route_find("GET", "/api/ai/chat/status", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, chat_status);
	assert_int_equal(http_route_find("GET", "/api/ai/chat", &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "POST, DELETE");
	assert_int_equal(http_route_find("DELETE", "/api/ai/chat", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, chat_cancel);
	assert_false(route->json_body);
	assert_int_equal(http_route_find("POST", "/api/ai/chat/cancel", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, chat_cancel);
	assert_false(route->json_body);
	assert_int_equal(http_route_find("GET", "/api/ai/chat/cancel", &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "POST");
	assert_int_equal(http_route_find("DELETE", "/api/health", &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "GET");
	assert_int_equal(http_route_find("GET", "/api/nothing", &route, &args, allow, sizeof allow), ROUTE_NONE);
	assert_int_equal(http_route_find("GET", "/api/ai/chat/", &route, &args, allow, sizeof allow), ROUTE_NONE);
	assert_int_equal(http_route_find("GET", "", &route, &args, allow, sizeof allow), ROUTE_NONE);
}

static void
test_job_routes(void **state)
{
	const char *id = "5c1e0000-0000-4000-8000-0000000000aa";
	const struct http_route *route;
	struct route_args args;
	char allow[64], path[128];

	(void)state;
	assert_int_equal(http_route_find("POST", "/api/jobs", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_submit);
	assert_true(route->json_body);
	assert_int_equal(http_route_find("GET", "/api/jobs", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_list);
	assert_false(route->json_body);
	assert_int_equal(http_route_find("PUT", "/api/jobs", &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "POST, GET");

	snprintf(path, sizeof path, "/api/jobs/%s", id);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_get);
	assert_string_equal(args.id, id);
	assert_int_equal(http_route_find("DELETE", path, &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_cancel);
	assert_false(route->json_body);
	assert_int_equal(http_route_find("POST", path, &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "GET, DELETE");

	snprintf(path, sizeof path, "/api/jobs/%s/status", id);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_status);
	assert_string_equal(args.id, id);
	assert_int_equal(http_route_find("DELETE", path, &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "GET");
	snprintf(path, sizeof path, "/api/jobs/%s/result", id);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_result);
	snprintf(path, sizeof path, "/api/jobs/%s/cancel", id);
	assert_int_equal(http_route_find("POST", path, &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_ptr_equal(route->handler, jobs_cancel);
	assert_false(route->json_body);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_WRONG_METHOD);
	assert_string_equal(allow, "POST");

	/* the id is one segment, whatever it holds; the handler judges it */
	assert_int_equal(http_route_find("GET", "/api/jobs/nope", &route, &args, allow, sizeof allow), ROUTE_FOUND);
	assert_string_equal(args.id, "nope");
	assert_int_equal(http_route_find("GET", "/api/jobs/", &route, &args, allow, sizeof allow), ROUTE_NONE);
	assert_int_equal(http_route_find("GET", "/api/jobs//status", &route, &args, allow, sizeof allow), ROUTE_NONE);
	snprintf(path, sizeof path, "/api/jobs/%s/", id);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_NONE);
	snprintf(path, sizeof path, "/api/jobs/%s/events/x", id);
	assert_int_equal(http_route_find("GET", path, &route, &args, allow, sizeof allow), ROUTE_NONE);
}

/* The error text of a 405 answered by http_handle() for method m; the
 * caller frees it. No handler runs, so no database is needed. */
static char *
method_not_allowed_text(const char *m)
{
	const char *const p[] = { "REQUEST_METHOD", m, "REQUEST_URI", "/api/ai/chat", NULL };
	struct fake f = { .params = p };
	struct http_io io = { &f, fake_param, fake_read, fake_write, NULL, NULL };
	struct aigw_config cfg = { .max_body = 1024 };
	const struct http_app app = { .cfg = &cfg };
	struct http_thread t = { .app = &app, .db = NULL, .wake_fd = -1 };
	const char *body;
	json_object *o;
	char *text;

	buf_init(&f.written, 1 << 20);
	http_handle(&t, &io);
	assert_non_null(strstr(f.written.data, "Status: 405 "));
	body = strstr(f.written.data, "\r\n\r\n");
	assert_non_null(body);
	assert_true(utf8_length(body + 4, strlen(body + 4)) > 0);
	o = json_tokener_parse(body + 4);
	assert_non_null(o);
	text = strdup(json_object_get_string(json_object_object_get(o, "error")));
	assert_non_null(text);
	json_object_put(o);
	buf_free(&f.written);
	return text;
}

/* Found by fuzz_request: a 405 echoed any method, and a method that is not
 * UTF-8 made the answer not UTF-8 either. Only a token is echoed now. */
static void
test_method_echoed_only_when_a_token(void **state)
{
	char *text;

	(void)state;
	text = method_not_allowed_text("PUT");
	assert_string_equal(text, "method PUT is not allowed here; use POST, DELETE");
	free(text);
	text = method_not_allowed_text("\xa9GET");
	assert_string_equal(text, "method ? is not allowed here; use POST, DELETE");
	free(text);
	text = method_not_allowed_text("GET \"x\"");
	assert_string_equal(text, "method ? is not allowed here; use POST, DELETE");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_from_request_uri_and_path_info),
		cmocka_unit_test(test_request_id_echoed_only_when_sane),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_lying_content_length),
		cmocka_unit_test(test_query_get),
		cmocka_unit_test(test_query_has),
		cmocka_unit_test(test_error_response_format),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_job_routes),
		cmocka_unit_test(test_method_echoed_only_when_a_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
