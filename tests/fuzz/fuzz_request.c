/*
 * fuzz_request.c: one HTTP request end to end without a network or a
 * database: CGI parameters and a body through http_req_init(), routing,
 * the bounded body read, the query string, the pure validators each route
 * applies, and the response written back through the transport. Requests
 * that no handler takes (404, 405) go through the real http_handle(); for
 * the others the pure parts of each handler run in its place and answer as
 * if the database had agreed.
 *
 * Input: two bytes saying which parameters are present (bit i of the
 * little-endian pair: param_names[i]), one byte shaping the transport
 * (bits 0-3: bytes per read, 0 for all at once; bit 4: the client goes
 * away at the end of the body instead of closing it; bit 5: writes fail;
 * bits 6-7: the body limit, 256 << n bytes), then the parameter values in
 * param_names order, each ended by '\n', then the body.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "db/jobs.h"
#include "fuzz.h"
#include "http/chat.h"
#include "http/http.h"
#include "http/jobs.h"
#include "http/routes.h"
#include "http/server.h"

static const char *const param_names[] = {
	"REQUEST_METHOD", "REQUEST_URI", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
	"CONTENT_LENGTH", "HTTP_X_REQUEST_ID", "HTTP_IDEMPOTENCY_KEY", "DOCUMENT_URI",
};
#define NPARAMS (sizeof param_names / sizeof param_names[0])

/* The transport: parameters and body from the input, the response kept. */
struct fake_io {
	char *values[NPARAMS];       /* NULL for an absent parameter */
	const uint8_t *body;
	size_t body_len, body_pos;
	size_t chunk;                /* most bytes per read */
	bool read_fails_at_end;
	bool write_fails;
	struct buf written;
};

static struct jobtype_registry *registry;
static struct jobtype *fallback;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	fuzz_load_jobtypes(&registry, &fallback);
	return 0;
}

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake_io *f = ctx;

	for (size_t i = 0; i < NPARAMS; i++)
		if (strcmp(param_names[i], name) == 0)
			return f->values[i];
	return NULL;
}

static long
fake_read(void *ctx, char *buf, size_t n)
{
	struct fake_io *f = ctx;
	size_t left = f->body_len - f->body_pos;

	if (n == 0)
		abort(); /* a zero-byte read would look like the end */
	if (left == 0)
		return f->read_fails_at_end ? -1 : 0;
	if (n > left)
		n = left;
	if (n > f->chunk)
		n = f->chunk;
	memcpy(buf, f->body + f->body_pos, n);
	f->body_pos += n;
	return (long)n;
}

static int
fake_write(void *ctx, const char *buf, size_t n)
{
	struct fake_io *f = ctx;

	if (f->write_fails)
		return -1;
	return buf_append(&f->written, buf, n) == AIGW_OK ? 0 : -1;
}

/* POST /api/ai/chat up to the database. */
static void
chat_submit_pure(struct http_req *req)
{
	struct chat_request cr;
	struct http_field_error fe;
	enum aigw_err err;

	err = chat_request_parse(req->body.data ? req->body.data : "", req->body.len, &cr, &fe);
	if (err == AIGW_EINVAL) {
		http_resp_field_error(req, &fe);
		return;
	}
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return;
	}
	http_resp_header(req, "Retry-After", "1");
	http_resp_raw(req, 202, "{\"success\":true}", 16);
	chat_request_free(&cr);
}

/* POST /api/jobs up to the database. */
static void
jobs_submit_pure(struct http_req *req)
{
	const char *key = http_param(req, "HTTP_IDEMPOTENCY_KEY");
	struct job_request jr;
	struct http_field_error fe;
	enum aigw_err err;

	if (key != NULL && !job_idempotency_key_valid(key)) {
		http_resp_error(req, 400, "invalid_field", "Idempotency-Key", "bad key");
		return;
	}
	err = job_request_parse(req->body.data ? req->body.data : "", req->body.len, registry,
				&jr, &fe);
	if (err == AIGW_EINVAL) {
		http_resp_field_error(req, &fe);
		return;
	}
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return;
	}
	http_resp_header(req, "Location", "/api/jobs/x");
	http_resp_raw(req, 202, jr.fingerprint, strlen(jr.fingerprint));
	job_request_free(&jr);
}

/* GET /api/ai/chat/status?id= up to the database. */
static void
chat_status_pure(struct http_req *req)
{
	char id[UUID_STR_LEN + 2];

	if (!http_query_get(req, "id", id, sizeof id) || !uuid_is_valid(id))
		http_resp_error(req, 400, "invalid_id", "id", "id must be a chat id (a UUID)");
	else
		http_resp_raw(req, 200, "{}", 2);
}

/* One optional query parameter as jobs_list reads it: absent is fine,
 * present but unreadable is an error. */
static bool
list_param(struct http_req *req, const char *name, char *out, size_t outlen)
{
	if (!http_query_has(req, name))
		return true;
	return http_query_get(req, name, out, outlen);
}

/* GET /api/jobs?status=&type=&limit=&cursor= up to the database. */
static void
jobs_list_pure(struct http_req *req)
{
	char status[16], type[JOBTYPE_NAME_MAX + 1], limit[16], cursor[64];
	long n;

	status[0] = type[0] = limit[0] = cursor[0] = '\0';
	if (!list_param(req, "status", status, sizeof status) ||
	    !list_param(req, "type", type, sizeof type) ||
	    !list_param(req, "limit", limit, sizeof limit) ||
	    (limit[0] != '\0' && parse_long(limit, 1, JOB_LIST_LIMIT_MAX, &n) != AIGW_OK) ||
	    !list_param(req, "cursor", cursor, sizeof cursor) ||
	    (cursor[0] != '\0' && !db_job_cursor_valid(cursor))) {
		http_resp_error(req, 400, "invalid_field", NULL, "bad query");
		return;
	}
	http_resp_raw(req, 200, "{\"jobs\":[]}", 11);
}

/* What dispatch() in http/server.c does once a route is found, with the
 * pure handlers above in place of the ones that need the database. */
static void
dispatch_found(struct http_req *req, const struct http_route *route,
	       const struct route_args *args, size_t max_body)
{
	enum aigw_err err;

	if (route->json_body) {
		err = http_read_json_body(req, max_body);
		if (err == AIGW_OK && req->body.len > max_body)
			abort(); /* the limit did not hold */
		if (err == AIGW_EINVAL) {
			http_resp_error(req, 415, "unsupported_media_type", NULL,
					"the body must be application/json");
			return;
		}
		if (err == AIGW_ETOOBIG) {
			http_resp_error(req, 413, "body_too_large", NULL, "the body is too large");
			return;
		}
		if (err != AIGW_OK) {
			http_resp_error(req, 400, "invalid_json", NULL, "the body could not be read");
			return;
		}
	}
	if (route->handler == chat_submit)
		chat_submit_pure(req);
	else if (route->handler == jobs_submit)
		jobs_submit_pure(req);
	else if (route->handler == chat_status)
		chat_status_pure(req);
	else if (route->handler == jobs_list)
		jobs_list_pure(req);
	else if (route->handler == ops_health)
		http_resp_raw(req, 200, "{\"ok\":true}", 11);
	else if (!uuid_is_valid(args->id)) /* a job by id */
		http_resp_error(req, 400, "invalid_id", "id", "the job id must be a UUID");
	else
		http_resp_raw(req, 200, "{}", 2);
}

/* The response as written: a status line, headers that are each one
 * "Name: value" line (nothing a client could take for another header),
 * a blank line and a JSON body in UTF-8 of the announced length. */
static void
check_response(const struct buf *w)
{
	const char *p = w->data, *end, *body;
	long announced = -1;
	json_object *o;

	if (p == NULL || strncmp(p, "Status: ", 8) != 0)
		abort();
	body = strstr(p, "\r\n\r\n");
	if (body == NULL)
		abort();
	for (; p < body; p = end + 2) {
		end = strstr(p, "\r\n");
		if (memchr(p, '\n', (size_t)(end - p)) != NULL ||
		    memchr(p, '\r', (size_t)(end - p)) != NULL || memchr(p, ':', (size_t)(end - p)) == NULL)
			abort();
		if (strncmp(p, "Content-Length: ", 16) == 0) {
			char n[24];

			snprintf(n, sizeof n, "%.*s", (int)(end - p - 16), p + 16);
			if (parse_long(n, 0, 1L << 30, &announced) != AIGW_OK)
				abort();
		}
	}
	body += 4;
	if (announced < 0 || (size_t)announced != w->len - (size_t)(body - w->data) ||
	    strlen(body) != (size_t)announced)
		abort();
	o = json_tokener_parse(body);
	if (o == NULL || !fuzz_utf8_ok(body))
		abort();
	json_object_put(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_io f;
	struct http_io io = { &f, fake_param, fake_read, fake_write, NULL, NULL };
	struct http_req req;
	struct aigw_config cfg = { .max_body = 0 };
	const struct http_app app = { .cfg = &cfg };
	struct http_thread thread = { .app = &app, .db = NULL };
	const struct http_route *route;
	struct route_args args;
	enum route_match match;
	char allow[64];
	size_t max_body;
	unsigned mask;
	uint8_t mode;
	enum aigw_err err;

	if (size < 3)
		return 0;
	memset(&f, 0, sizeof f);
	mask = (unsigned)data[0] | (unsigned)data[1] << 8;
	mode = data[2];
	data += 3;
	size -= 3;
	for (size_t i = 0; i < NPARAMS; i++) {
		char *v = fuzz_take(&data, &size, '\n');

		if (v == NULL)
			goto out;
		if (mask & (1u << i))
			f.values[i] = v;
		else
			free(v);
	}
	f.body = data;
	f.body_len = size;
	f.chunk = (mode & 15) ? (size_t)(mode & 15) : SIZE_MAX;
	f.read_fails_at_end = (mode & 16) != 0;
	f.write_fails = (mode & 32) != 0;
	buf_init(&f.written, 1 << 20);
	max_body = (size_t)256 << (mode >> 6);
	cfg.max_body = (long)max_body;

	err = http_req_init(&req, &io);
	if (err != AIGW_OK) {
		http_req_free(&req);
		goto out;
	}
	memset(&args, 0, sizeof args);
	match = http_route_find(req.method, req.path, &route, &args, allow, sizeof allow);
	if (match == ROUTE_WRONG_METHOD && (allow[0] == '\0' || strlen(allow) >= sizeof allow))
		abort();
	if (match != ROUTE_FOUND) {
		/* 404 and 405 never reach a handler: the real front door
		 * answers them, from a fresh request as the server would. */
		http_req_free(&req);
		http_handle(&thread, &io);
	} else {
		dispatch_found(&req, route, &args, max_body);
		if (req.status < 200 || req.status > 599 || http_reason(req.status)[0] == '\0')
			abort(); /* a status we never meant to send */
		err = http_resp_send(&req);
		http_req_free(&req);
		if ((err == AIGW_OK) == f.write_fails)
			abort();
	}
	if (!f.write_fails)
		check_response(&f.written);
out:
	buf_free(&f.written);
	for (size_t i = 0; i < NPARAMS; i++)
		free(f.values[i]);
	return 0;
}
