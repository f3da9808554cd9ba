/* test_realtime.c: wait/since/Last-Event-ID parsing, event formatting, the
 * order of a stream's pieces and states, the wait gate, and the streaming
 * response head. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/realtime.h"

static void
test_wait_parsing_and_clamp(void **state)
{
	long s = -7;

	(void)state;
	assert_int_equal(rt_parse_wait("0", &s), AIGW_OK);
	assert_int_equal(s, 0);
	assert_int_equal(rt_parse_wait("5", &s), AIGW_OK);
	assert_int_equal(s, 5);
	assert_int_equal(rt_parse_wait("30", &s), AIGW_OK);
	assert_int_equal(s, 30);
	assert_int_equal(rt_parse_wait("31", &s), AIGW_OK);
	assert_int_equal(s, RT_WAIT_MAX_S);
	assert_int_equal(rt_parse_wait("00012", &s), AIGW_OK);
	assert_int_equal(s, 12);
	/* however many digits: no overflow, just the longest wait */
	assert_int_equal(rt_parse_wait("99999999999999999999999999999999999", &s), AIGW_OK);
	assert_int_equal(s, RT_WAIT_MAX_S);

	s = 3;
	const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1.5", "1e3", "abc", "0x10", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(rt_parse_wait(bad[i], &s), AIGW_EINVAL);
		assert_int_equal(s, 3);
	}
	assert_int_equal(rt_parse_wait(NULL, &s), AIGW_EINVAL);
}

static void
test_version_parsing(void **state)
{
	long v = -1;
	char max[32];

	(void)state;
	assert_int_equal(rt_parse_version("0", &v), AIGW_OK);
	assert_int_equal(v, 0);
	assert_int_equal(rt_parse_version("42", &v), AIGW_OK);
	assert_int_equal(v, 42);
	snprintf(max, sizeof max, "%ld", LONG_MAX);
	assert_int_equal(rt_parse_version(max, &v), AIGW_OK);
	assert_int_equal(v, LONG_MAX);

	v = 9;
	const char *bad[] = { "", "-1", "+1", " 1", "1 ", "1.0", "x", "99999999999999999999", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(rt_parse_version(bad[i], &v), AIGW_EINVAL);
		assert_int_equal(v, 9);
	}
}

/* ---- parameters through a request ---- */

struct fake {
	const char *const *params;
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

/* What the transport wrote and how often it flushed. */
static struct buf written;
static int flushes;

static int
fake_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	return buf_append(&written, buf, n) == AIGW_OK ? 0 : -1;
}

static int
fake_flush(void *ctx)
{
	(void)ctx;
	flushes++;
	return 0;
}

static void
req_with(struct http_req *req, struct http_io *io, struct fake *f, const char *const *params)
{
	f->params = params;
	*io = (struct http_io){ f, fake_param, NULL, fake_write, fake_flush, NULL };
	assert_int_equal(http_req_init(req, io), AIGW_OK);
}

static void
test_status_params(void **state)
{
	const char *const none[] = { "QUERY_STRING", "id=x", NULL };
	const char *const both[] = { "QUERY_STRING", "id=x&wait=45&since=7", NULL };
	const char *const only_wait[] = { "QUERY_STRING", "wait=3&id=x", NULL };
	const char *const bad_wait[] = { "QUERY_STRING", "id=x&wait=-2&since=1", NULL };
	const char *const empty_since[] = { "QUERY_STRING", "id=x&wait=2&since", NULL };
	const char *const bad_since[] = { "QUERY_STRING", "since=%31x&wait=2", NULL };
	struct fake f;
	struct http_io io;
	struct http_req req;
	struct rt_params p;
	struct http_field_error e;

	(void)state;
	req_with(&req, &io, &f, none);
	assert_true(rt_status_params(&req, &p, &e));
	assert_false(p.has_wait);
	assert_false(p.has_since);
	http_req_free(&req);

	req_with(&req, &io, &f, both);
	assert_true(rt_status_params(&req, &p, &e));
	assert_true(p.has_wait);
	assert_int_equal(p.wait_s, 30);
	assert_true(p.has_since);
	assert_int_equal(p.since, 7);
	http_req_free(&req);

	req_with(&req, &io, &f, only_wait);
	assert_true(rt_status_params(&req, &p, &e));
	assert_true(p.has_wait);
	assert_int_equal(p.wait_s, 3);
	assert_false(p.has_since);
	http_req_free(&req);

	req_with(&req, &io, &f, bad_wait);
	assert_false(rt_status_params(&req, &p, &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "invalid_field");
	assert_string_equal(e.field, "wait");
	http_req_free(&req);

	req_with(&req, &io, &f, empty_since);
	assert_false(rt_status_params(&req, &p, &e));
	assert_string_equal(e.field, "since");
	http_req_free(&req);

	req_with(&req, &io, &f, bad_since);
	assert_false(rt_status_params(&req, &p, &e));
	assert_string_equal(e.field, "since");
	http_req_free(&req);
}

static void
test_events_params_header_wins(void **state)
{
	const char *const header[] = { "QUERY_STRING", "id=x&since=2", "HTTP_LAST_EVENT_ID", "9",
				       NULL };
	const char *const query[] = { "QUERY_STRING", "id=x&since=2", NULL };
	const char *const empty_header[] = { "QUERY_STRING", "id=x", "HTTP_LAST_EVENT_ID", "",
					     NULL };
	const char *const bad_header[] = { "QUERY_STRING", "id=x", "HTTP_LAST_EVENT_ID", "abc",
					   NULL };
	struct fake f;
	struct http_io io;
	struct http_req req;
	struct rt_params p;
	struct http_field_error e;

	(void)state;
	req_with(&req, &io, &f, header);
	assert_true(rt_events_params(&req, &p, &e));
	assert_true(p.has_since);
	assert_int_equal(p.since, 9);
	http_req_free(&req);

	req_with(&req, &io, &f, query);
	assert_true(rt_events_params(&req, &p, &e));
	assert_true(p.has_since);
	assert_int_equal(p.since, 2);
	http_req_free(&req);

	/* an empty header is no header (EventSource sends none before an id) */
	req_with(&req, &io, &f, empty_header);
	assert_true(rt_events_params(&req, &p, &e));
	assert_false(p.has_since);
	http_req_free(&req);

	req_with(&req, &io, &f, bad_header);
	assert_false(rt_events_params(&req, &p, &e));
	assert_string_equal(e.field, "Last-Event-ID");
	http_req_free(&req);
}

/* ---- events ---- */

static void
test_event_format(void **state)
{
	struct buf b;
	const char *json = "{\"status\":\"processing\",\"version\":3}";

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(rt_sse_event(&b, "progress", 3, json, strlen(json)), AIGW_OK);
	assert_string_equal(b.data, "event: progress\nid: 3\ndata: {\"status\":\"processing\","
				    "\"version\":3}\n\n");

	/* No id when told so. */
	buf_reset(&b);
	assert_int_equal(rt_sse_event(&b, "end", -1, "{}", 2), AIGW_OK);
	assert_string_equal(b.data, "event: end\ndata: {}\n\n");

	/* Every kind of line break starts a new data line: none can end the
	 * event early or smuggle in a field. */
	buf_reset(&b);
	assert_int_equal(rt_sse_event(&b, "progress", 1, "a\nb\r\nc\rd", 8), AIGW_OK);
	assert_string_equal(b.data, "event: progress\nid: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
	buf_reset(&b);
	assert_int_equal(rt_sse_event(&b, "progress", 1, "x\n\nid: 99\n", 10), AIGW_OK);
	assert_string_equal(b.data, "event: progress\nid: 1\ndata: x\ndata: \ndata: id: 99\n\n");

	/* Empty data is still one data line (an event with no data line is
	 * not dispatched). */
	buf_reset(&b);
	assert_int_equal(rt_sse_event(&b, "progress", 0, "", 0), AIGW_OK);
	assert_string_equal(b.data, "event: progress\nid: 0\ndata: \n\n");
	buf_free(&b);

	/* The buffer's ceiling holds. */
	buf_init(&b, 16);
	assert_int_equal(rt_sse_event(&b, "progress", 1, json, strlen(json)), AIGW_ETOOBIG);
	buf_free(&b);
}

static void
test_gate(void **state)
{
	struct rt_gate g;
	struct rt_place a, b, c;

	(void)state;
	rt_gate_init(&g, 2, 0);
	assert_int_equal(rt_gate_enter(&g, &a, "o", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &b, "o", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &c, "o", -1), RT_ADMIT_FULL);
	assert_int_equal(rt_gate_enter(&g, &c, "o", -1), RT_ADMIT_FULL);
	rt_gate_leave(&g, &a);
	assert_int_equal(rt_gate_enter(&g, &c, "o", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &a, "o", -1), RT_ADMIT_FULL);
	rt_gate_leave(&g, &b);
	rt_gate_leave(&g, &c);
	assert_int_equal(g.waiting, 0);
	assert_null(g.places);
	rt_gate_destroy(&g);

	/* no gate (CGI): always admitted, never closed */
	assert_int_equal(rt_gate_enter(NULL, &a, "o", -1), RT_ADMIT_OK);
	rt_gate_leave(NULL, &a);
	assert_false(rt_gate_closed(NULL));

	rt_gate_init(&g, 0, 0);
	assert_int_equal(g.max, 1);
	rt_gate_destroy(&g);

	assert_int_equal(rt_wait_max(5, 16), 5);
	assert_int_equal(rt_wait_max(0, 16), 14);
	assert_int_equal(rt_wait_max(0, 8), 6);
	assert_int_equal(rt_wait_max(0, 3), 1);
	assert_int_equal(rt_wait_max(0, 1), 1);
}

/* Closing wakes every waiting place's eventfd, and only those. */
static void
test_gate_close_wakes_the_waiting(void **state)
{
	struct rt_gate g;
	struct rt_place a, b, c;
	int fa = eventfd(0, EFD_NONBLOCK), fb = eventfd(0, EFD_NONBLOCK);
	int fc = eventfd(0, EFD_NONBLOCK);
	uint64_t n = 0;

	(void)state;
	assert_true(fa >= 0 && fb >= 0 && fc >= 0);
	rt_gate_init(&g, 4, 0);
	assert_int_equal(rt_gate_enter(&g, &a, "o", fa), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &b, "o", fb), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &c, "o", fc), RT_ADMIT_OK);
	rt_gate_leave(&g, &c);
	assert_false(rt_gate_closed(&g));
	assert_int_equal(read(fa, &n, sizeof n), -1);  /* nothing yet */
	rt_gate_close(&g);
	assert_true(rt_gate_closed(&g));
	assert_int_equal(read(fa, &n, sizeof n), (ssize_t)sizeof n);
	assert_true(n > 0);
	assert_int_equal(read(fb, &n, sizeof n), (ssize_t)sizeof n);
	assert_int_equal(read(fc, &n, sizeof n), -1);  /* had left */
	/* A request that comes after the close is admitted (it answers
	 * without sleeping) and sees the gate closed. */
	assert_int_equal(rt_gate_enter(&g, &c, "o", fc), RT_ADMIT_OK);
	assert_true(rt_gate_closed(&g));
	rt_gate_leave(&g, &a);
	rt_gate_leave(&g, &b);
	rt_gate_leave(&g, &c);
	rt_gate_destroy(&g);
	close(fa);
	close(fb);
	close(fc);
}

/* One owner holds at most max_per_owner places; others still enter, and
 * the whole bound still applies. */
static void
test_gate_per_owner(void **state)
{
	struct rt_gate g;
	struct rt_place p[6];

	(void)state;
	rt_gate_init(&g, 5, 2);
	assert_int_equal(rt_gate_enter(&g, &p[0], "user:alice\x1f", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &p[1], "user:alice\x1f", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &p[2], "user:alice\x1f", -1), RT_ADMIT_OWNER_FULL);
	/* the same user of another organisation is another owner */
	assert_int_equal(rt_gate_enter(&g, &p[2], "user:alice\x1f" "acme", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &p[3], "user:bob\x1f", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &p[4], "user:bob\x1f", -1), RT_ADMIT_OK);
	/* the whole bound is reached first */
	assert_int_equal(rt_gate_enter(&g, &p[5], "addr:10.0.0.1", -1), RT_ADMIT_FULL);
	assert_int_equal(g.waiting, 5);
	rt_gate_leave(&g, &p[0]);
	assert_int_equal(rt_gate_enter(&g, &p[0], "user:bob\x1f", -1), RT_ADMIT_OWNER_FULL);
	assert_int_equal(rt_gate_enter(&g, &p[0], "user:alice\x1f", -1), RT_ADMIT_OK);
	for (int i = 0; i < 5; i++)
		rt_gate_leave(&g, &p[i]);
	assert_int_equal(g.waiting, 0);
	rt_gate_destroy(&g);

	/* 0: no bound per owner */
	rt_gate_init(&g, 3, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rt_gate_enter(&g, &p[i], "addr:127.0.0.1", -1), RT_ADMIT_OK);
	assert_int_equal(rt_gate_enter(&g, &p[3], "addr:127.0.0.1", -1), RT_ADMIT_FULL);
	for (int i = 0; i < 3; i++)
		rt_gate_leave(&g, &p[i]);
	rt_gate_destroy(&g);
}

static void
test_owner(void **state)
{
	char o[RT_OWNER_MAX], longname[300];

	(void)state;
	/* without authentication only the address tells clients apart */
	rt_owner(AUTH_NONE, "", "", "192.0.2.7", o);
	assert_string_equal(o, "addr:192.0.2.7");
	rt_owner(AUTH_NONE, "", "", NULL, o);
	assert_string_equal(o, "addr:");
	rt_owner(AUTH_KEYS, "alice", "acme", "192.0.2.7", o);
	assert_string_equal(o, "user:alice\x1f" "acme");
	rt_owner(AUTH_SERVER, "alice", "", "192.0.2.7", o);
	assert_string_equal(o, "user:alice\x1f");
	/* the longest identities fit whole */
	memset(longname, 'x', 255);
	longname[255] = '\0';
	rt_owner(AUTH_SERVER, longname, longname, NULL, o);
	assert_int_equal(strlen(o), 5 + 255 + 1 + 255);
}

static void
test_stream_head_and_no_second_response(void **state)
{
	const char *const params[] = { "HTTP_X_REQUEST_ID", "rid-1", NULL };
	struct fake f;
	struct http_io io;
	struct http_req req;

	(void)state;
	buf_init(&written, 1 << 16);
	flushes = 0;
	req_with(&req, &io, &f, params);
	http_resp_header(&req, "Cache-Control", "no-cache");
	assert_int_equal(http_stream_start(&req, 200, "text/event-stream; charset=utf-8"), AIGW_OK);
	assert_string_equal(written.data, "Status: 200 OK\r\n"
					  "Content-Type: text/event-stream; charset=utf-8\r\n"
					  "X-Request-Id: rid-1\r\n"
					  "Cache-Control: no-cache\r\n"
					  "\r\n");
	assert_int_equal(flushes, 1);
	assert_int_equal(http_stream_write(&req, ": keepalive\n\n", 13), AIGW_OK);
	assert_int_equal(flushes, 2);
	/* what a handler leaves behind is not sent after the stream */
	http_resp_error(&req, 500, "internal", NULL, "late");
	assert_int_equal(http_resp_send(&req), AIGW_OK);
	assert_null(strstr(written.data, "late"));
	assert_non_null(strstr(written.data, "\r\n\r\n: keepalive\n\n"));
	assert_int_equal(http_hangup_fd(&req), -1);
	http_req_free(&req);
	buf_free(&written);
}

/* ---- the order of a stream's events ---- */

static struct db_piece
piece(long seq, const char *provider, bool reset, const char *text)
{
	struct db_piece p = { .seq = seq, .reset = reset, .text = (char *)text };

	snprintf(p.provider, sizeof p.provider, "%s", provider);
	return p;
}

/* "D1 R2 S3 ..." of the events of out. */
static void
events_text(const struct rt_ev *out, size_t n, char *text, size_t len)
{
	size_t used = 0;

	text[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		char k = out[i].kind == RT_EV_STATE ? 'S' : out[i].kind == RT_EV_RESET ? 'R' : 'D';
		int w = snprintf(text + used, len - used, "%s%c%ld", i ? " " : "", k, out[i].id);

		if (w > 0)
			used += (size_t)w;
	}
}

static void
test_merge_places_the_state_between_pieces(void **state)
{
	struct db_piece v[] = {
		piece(1, "openai", false, "Hel"), piece(2, "gemini", false, "Hi"),
		piece(4, "openai", true, ""), piece(5, "openai", false, "lo"),
	};
	struct db_pieces p = { .v = v, .n = 4, .state_version = 3, .upto = 5 };
	struct rt_ev out[5];
	char text[128];
	struct { long last; const char *want; } cases[] = {
		{ -1, "D1 D2 S3 R4 D5" }, { 0, "D1 D2 S3 R4 D5" }, { 1, "D2 S3 R4 D5" },
		{ 2, "S3 R4 D5" }, { 3, "R4 D5" }, { 4, "D5" }, { 5, "" }, { 99, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = rt_merge(&p, cases[i].last, out);

		events_text(out, n, text, sizeof text);
		assert_string_equal(text, cases[i].want);
	}
	/* the state after every piece, and a state change with no piece */
	p.state_version = 6;
	p.upto = 6;
	events_text(out, rt_merge(&p, -1, out), text, sizeof text);
	assert_string_equal(text, "D1 D2 R4 D5 S6");
	p.n = 0;
	events_text(out, rt_merge(&p, 5, out), text, sizeof text);
	assert_string_equal(text, "S6");
	assert_ptr_equal(out[0].piece, NULL);
}

static void
test_merge_stops_where_the_read_was_cut(void **state)
{
	struct db_piece v[] = {
		piece(3, "openai", false, "a"), piece(4, "openai", false, "b"),
		piece(4, "openai", false, "again"), piece(2, "openai", false, "old"),
		piece(9, "openai", false, "beyond"),
	};
	struct db_pieces p = { .v = v, .n = 5, .state_version = 6, .upto = 4, .cut = true };
	struct rt_ev out[6];
	char text[128];

	(void)state;
	/* a state above the cut waits for the next read; a piece repeated,
	 * out of order, or above upto is not sent */
	events_text(out, rt_merge(&p, 2, out), text, sizeof text);
	assert_string_equal(text, "D3 D4");
	assert_ptr_equal(out[1].piece, &v[1]);
}

/*
 * A random history of pieces and state changes, read by a client at
 * random moments with a random bound on pieces per read, dropping its
 * connection after a random event and resuming from the last id it saw:
 * every piece arrives once, in order, and the texts it rebuilds are the
 * history's.
 */
#define HIST_MAX 400
struct history {
	struct db_piece v[HIST_MAX];  /* seq i + 1 at index i; provider "" a state */
	long n;
};

static unsigned long rnd_state = 12345;
static unsigned long
rnd(unsigned long below)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (rnd_state >> 33) % below;
}

static const char *const provs[] = { "openai", "anthropic", "gemini" };
static const char *const words[] = { "a", "bc", "d e", "\"q\"", "\n" };

/* What a stream reads at version version after last, at most limit
 * pieces: as pieces_view.c does. */
static void
read_at(const struct history *h, long version, long last, size_t limit, struct db_pieces *p,
	struct db_piece *buf)
{
	memset(p, 0, sizeof *p);
	p->v = buf;
	p->upto = version;
	for (long s = version; s >= 1; s--)
		if (h->v[s - 1].provider[0] == '\0') {
			p->state_version = s;
			break;
		}
	for (long s = last < 0 ? 1 : last + 1; s <= version && p->n < limit; s++)
		if (h->v[s - 1].provider[0] != '\0')
			buf[p->n++] = h->v[s - 1];
	if (p->n == limit) {
		p->cut = true;
		p->upto = buf[p->n - 1].seq;
	}
}

/* Applies an event to texts (one per provider), as a client does. */
static void
apply(char texts[3][HIST_MAX * 4], const struct db_piece *piece)
{
	for (int k = 0; k < 3; k++) {
		if (strcmp(piece->provider, provs[k]) != 0)
			continue;
		if (piece->reset)
			texts[k][0] = '\0';
		else
			strcat(texts[k], piece->text);
	}
}

static void
test_merge_resumes_exactly_from_any_event(void **state)
{
	static struct history h;
	static struct db_piece buf[HIST_MAX];
	static char want[3][HIST_MAX * 4], got[3][HIST_MAX * 4];
	static long seen[HIST_MAX + 1];
	struct rt_ev out[HIST_MAX + 1];

	(void)state;
	for (int round = 0; round < 200; round++) {
		long version, last = -1, states = 0;

		memset(&h, 0, sizeof h);
		memset(want, 0, sizeof want);
		memset(got, 0, sizeof got);
		memset(seen, 0, sizeof seen);
		h.n = 20 + (long)rnd(HIST_MAX - 20);
		for (long i = 0; i < h.n; i++) {
			unsigned long r = rnd(10);

			if (r < 2) {
				h.v[i] = piece(i + 1, "", false, "");
				continue;
			}
			h.v[i] = piece(i + 1, provs[rnd(3)], r == 2, r == 2 ? "" : words[rnd(5)]);
			apply(want, &h.v[i]);
		}
		version = 0;
		while (last < h.n) {
			struct db_pieces p;
			size_t n, stop;

			/* the row moved on by some versions, or not at all */
			version += (long)rnd(30);
			if (version > h.n)
				version = h.n;
			read_at(&h, version, last, 1 + rnd(40), &p, buf);
			n = rt_merge(&p, last, out);
			/* the connection drops after a random event, or none */
			stop = rnd(4) == 0 && n > 0 ? rnd(n) + 1 : n;
			for (size_t i = 0; i < stop; i++) {
				assert_true(out[i].id > last);
				if (out[i].kind == RT_EV_STATE) {
					states++;
				} else {
					assert_int_equal(seen[out[i].id], 0);
					seen[out[i].id] = 1;
					apply(got, out[i].piece);
				}
				last = out[i].id;
			}
			if (stop == n && p.upto > last)
				last = p.upto;
		}
		for (long s = 1; s <= h.n; s++)
			assert_int_equal(seen[s], h.v[s - 1].provider[0] != '\0');
		for (int k = 0; k < 3; k++)
			assert_string_equal(got[k], want[k]);
	}
}

static void
test_piece_json(void **state)
{
	struct db_piece d = piece(7, "openai", false, "a\"b\\c\nd\x01 \xc3\xa9/");
	struct db_piece r = piece(9, "gemini", true, "");
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(rt_piece_json(&b, &d, false), AIGW_OK);
	assert_string_equal(b.data,
			    "{\"provider\":\"openai\",\"text\":\"a\\\"b\\\\c\\nd\\u0001 \xc3\xa9/\",\"seq\":7}");
	buf_reset(&b);
	r.step = 2;
	assert_int_equal(rt_piece_json(&b, &r, true), AIGW_OK);
	assert_string_equal(b.data, "{\"provider\":\"gemini\",\"step\":2,\"seq\":9}");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_parsing_and_clamp),
		cmocka_unit_test(test_version_parsing),
		cmocka_unit_test(test_status_params),
		cmocka_unit_test(test_events_params_header_wins),
		cmocka_unit_test(test_event_format),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_gate_close_wakes_the_waiting),
		cmocka_unit_test(test_gate_per_owner),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_stream_head_and_no_second_response),
		cmocka_unit_test(test_merge_places_the_state_between_pieces),
		cmocka_unit_test(test_merge_stops_where_the_read_was_cut),
		cmocka_unit_test(test_merge_resumes_exactly_from_any_event),
		cmocka_unit_test(test_piece_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
