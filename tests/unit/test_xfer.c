/* test_xfer.c: the retry timing policy, with chosen randomness; streamed
 * answers against a one-shot HTTP server on 127.0.0.1. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"
#include "worker/xfer.h"

static void
test_backoff_grows_and_caps(void **state)
{
	(void)state;
	/* the top of the jitter range is the full backoff */
	assert_int_equal(xfer_retry_delay_ms(1, -1, 500, 30000, UINT32_MAX), 500);
	assert_int_equal(xfer_retry_delay_ms(2, -1, 500, 30000, UINT32_MAX), 1000);
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, UINT32_MAX), 2000);
	assert_int_equal(xfer_retry_delay_ms(10, -1, 500, 30000, UINT32_MAX), 30000);
	assert_int_equal(xfer_retry_delay_ms(1000, -1, 500, 30000, UINT32_MAX), 30000);
}

static void
test_full_jitter(void **state)
{
	(void)state;
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, 0), 0);
	assert_int_equal(xfer_retry_delay_ms(3, -1, 500, 30000, UINT32_MAX / 2), 1000);
}

static void
test_retry_after_is_a_floor(void **state)
{
	(void)state;
	assert_int_equal(xfer_retry_delay_ms(1, 1, 500, 30000, 0), 1000);
	assert_int_equal(xfer_retry_delay_ms(1, 0, 500, 30000, UINT32_MAX), 500);
	assert_int_equal(xfer_retry_delay_ms(5, 2, 500, 30000, UINT32_MAX), 8000);
	assert_int_equal(xfer_retry_delay_ms(1, 60, 500, 30000, UINT32_MAX), 60000);
}

/* ---- streamed answers ---- */

/* What the server answers: each part written on its own, pause_ms apart. */
struct server {
	int fd;
	int port;
	const char *parts[4];
	int pause_ms;
	pthread_t thread;
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void *
serve(void *arg)
{
	struct server *sv = arg;
	char req[4096];
	size_t got = 0;
	int c = accept(sv->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	/* The request: headers, then its Content-Length of body. */
	for (;;) {
		ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
		char *end, *cl;

		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = '\0';
		end = strstr(req, "\r\n\r\n");
		cl = strcasestr(req, "Content-Length:");
		if (end != NULL && (cl == NULL ||
				    got >= (size_t)(end + 4 - req) + strtoul(cl + 15, NULL, 10)))
			break;
	}
	for (int i = 0; i < 4 && sv->parts[i] != NULL; i++) {
		if (i > 0)
			sleep_ms(sv->pause_ms);
		if (send(c, sv->parts[i], strlen(sv->parts[i]), MSG_NOSIGNAL) < 0)
			break;
	}
	close(c);
	return NULL;
}

static void
server_start(struct server *sv)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(sv->fd >= 0);
	assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(sv->fd, 1), 0);
	assert_int_equal(getsockname(sv->fd, (struct sockaddr *)&a, &len), 0);
	sv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void
server_stop(struct server *sv)
{
	pthread_join(sv->thread, NULL);
	close(sv->fd);
}

struct outcome {
	struct buf streamed;
	int chunks;
	bool refuse;               /* the data callback refuses the first chunk */
	bool done;
	long status;
	enum prov_errclass neterr;
	bool refused;
	char body[256];
};

static bool
on_data(void *arg, const char *p, size_t n)
{
	struct outcome *o = arg;

	o->chunks++;
	if (o->refuse)
		return false;
	assert_int_equal(buf_append(&o->streamed, p, n), AIGW_OK);
	return true;
}

static void
on_done(void *arg, const struct xfer_result *r)
{
	struct outcome *o = arg;

	o->done = true;
	o->status = r->http_status;
	o->neterr = r->neterr;
	o->refused = r->refused;
	snprintf(o->body, sizeof o->body, "%.*s", (int)r->len, r->body);
}

/* Runs one streamed POST to sv with an idle bound of idle_s; bounded. */
static void
stream_once(struct server *sv, long idle_s, struct outcome *o)
{
	struct xfer_engine *xe = xfer_engine_new(4, 4);
	struct xfer *x = NULL;
	char url[64], body[] = "{}";
	struct prov_http req;
	const struct xfer_stream st = { .data = on_data, .idle_s = idle_s };
	int64_t deadline = time_mono_ms() + 10000;

	assert_non_null(xe);
	server_start(sv);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/stream", sv->port);
	memset(&req, 0, sizeof req);
	req.url = url;
	req.body = body;
	req.body_len = 2;
	assert_int_equal(xfer_start_stream(xe, &req, 30, &st, on_done, o, &x), AIGW_OK);
	while (!o->done && time_mono_ms() < deadline) {
		assert_int_equal(xfer_wait(xe, -1, 100), AIGW_OK);
		xfer_run(xe);
	}
	assert_true(o->done);
	xfer_engine_free(xe);
	server_stop(sv);
}

#define HEAD_200 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

static void
test_a_stream_arrives_in_its_chunks(void **state)
{
	struct server sv = { .parts = { HEAD_200 "data: one\n\n", "data: two\n\n", "data: [DONE]\n\n" },
			     .pause_ms = 100 };
	struct outcome o;

	(void)state;
	memset(&o, 0, sizeof o);
	buf_init(&o.streamed, 1 << 16);
	stream_once(&sv, 5, &o);
	assert_int_equal(o.neterr, PROV_ERR_NONE);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.streamed.data, "data: one\n\ndata: two\n\ndata: [DONE]\n\n");
	/* Handed over as they came, not at the end. */
	assert_true(o.chunks >= 3);
	/* Nothing is buffered for the done callback. */
	assert_string_equal(o.body, "");
	buf_free(&o.streamed);
}

static void
test_a_failure_status_keeps_its_body_for_the_error_parser(void **state)
{
	struct server sv = { .parts = { "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n"
					"Content-Length: 18\r\n\r\n{\"error\": \"slow\"} " } };
	struct outcome o;

	(void)state;
	memset(&o, 0, sizeof o);
	buf_init(&o.streamed, 1 << 16);
	stream_once(&sv, 5, &o);
	assert_int_equal(o.neterr, PROV_ERR_NONE);
	assert_int_equal(o.status, 429);
	assert_int_equal(o.chunks, 0);
	assert_string_equal(o.body, "{\"error\": \"slow\"} ");
	buf_free(&o.streamed);
}

static void
test_a_silent_stream_is_a_timeout(void **state)
{
	/* One chunk, then 3 s of silence against an idle bound of 1 s. */
	struct server sv = { .parts = { HEAD_200 "data: one\n\n", "data: late\n\n" },
			     .pause_ms = 3000 };
	struct outcome o;
	int64_t start = time_mono_ms();

	(void)state;
	memset(&o, 0, sizeof o);
	buf_init(&o.streamed, 1 << 16);
	stream_once(&sv, 1, &o);
	assert_int_equal(o.neterr, PROV_ERR_TIMEOUT);
	assert_string_equal(o.streamed.data, "data: one\n\n");
	/* Cut at the idle bound, well before the provider's timeout (30 s). */
	assert_true(time_mono_ms() - start < 9000);
	buf_free(&o.streamed);
}

static void
test_a_slow_first_byte_is_not_idle(void **state)
{
	/* A model that thinks before it writes: 2 s before the first byte
	 * against an idle bound of 1 s; the transfer's own timeout rules it. */
	struct server sv = { .parts = { HEAD_200, "data: one\n\n" }, .pause_ms = 2000 };
	struct outcome o;

	(void)state;
	memset(&o, 0, sizeof o);
	buf_init(&o.streamed, 1 << 16);
	stream_once(&sv, 1, &o);
	assert_int_equal(o.neterr, PROV_ERR_NONE);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.streamed.data, "data: one\n\n");
	buf_free(&o.streamed);
}

static void
test_a_refused_chunk_ends_the_transfer(void **state)
{
	struct server sv = { .parts = { HEAD_200 "garbage\n\n", "data: more\n\n" }, .pause_ms = 200 };
	struct outcome o;

	(void)state;
	memset(&o, 0, sizeof o);
	buf_init(&o.streamed, 1 << 16);
	o.refuse = true;
	stream_once(&sv, 5, &o);
	assert_true(o.refused);
	assert_int_equal(o.neterr, PROV_ERR_BAD_BODY);
	assert_int_equal(o.chunks, 1);
	buf_free(&o.streamed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_grows_and_caps),
		cmocka_unit_test(test_full_jitter),
		cmocka_unit_test(test_retry_after_is_a_floor),
		cmocka_unit_test(test_a_stream_arrives_in_its_chunks),
		cmocka_unit_test(test_a_failure_status_keeps_its_body_for_the_error_parser),
		cmocka_unit_test(test_a_silent_stream_is_a_timeout),
		cmocka_unit_test(test_a_slow_first_byte_is_not_idle),
		cmocka_unit_test(test_a_refused_chunk_ends_the_transfer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
