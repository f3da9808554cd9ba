/*
 * realtime.c: long-poll and event streams over a chat's or a job's status.
 *
 * The order of a wait is what makes it lose nothing: watch first (the
 * process's hub, or a LISTEN of our own under CGI), then read the row,
 * then sleep until a notification; on every wake read again. A change
 * committed after the read is notified after it, and the sleep sees it;
 * one committed before it is in what was read. A notification only says
 * "read again": the row is the truth, so coalesced or extra notifications
 * cost a read at most, and versions that came and went between two reads
 * are never shown (an event carries the row as it is now), while the
 * pieces of a streamed answer are each read and sent once, by their seq
 * (rt_merge), whatever the reads they fall between. When the
 * notifications may have been lost under a read (the hub's or our own
 * connection was replaced), that counts as a database failure. A LISTEN
 * of our own ends with UNLISTEN and the queue drained, so the thread's
 * connection serves its next request clean.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "http/hub.h"
#include "http/metrics.h"
#include "http/realtime.h"
#include "http/status_cache.h"

/* ---- the gate ---- */

void
rt_gate_init(struct rt_gate *g, long max, long max_per_owner)
{
	pthread_mutex_init(&g->lock, NULL);
	g->max = max < 1 ? 1 : max;
	g->max_per_owner = max_per_owner < 1 ? 0 : max_per_owner;
	g->waiting = 0;
	g->closed = false;
	g->places = NULL;
}

void
rt_gate_destroy(struct rt_gate *g)
{
	pthread_mutex_destroy(&g->lock);
}

/* Called under g->lock. At most max places wait, so the walk is short;
 * it stops at the bound. */
static bool
owner_full(const struct rt_gate *g, const char *owner)
{
	long n = 0;

	if (g->max_per_owner == 0)
		return false;
	for (const struct rt_place *p = g->places; p != NULL && n < g->max_per_owner; p = p->next)
		if (strcmp(p->owner, owner) == 0)
			n++;
	return n >= g->max_per_owner;
}

enum rt_admit
rt_gate_enter(struct rt_gate *g, struct rt_place *p, const char *owner, int wake_fd)
{
	enum rt_admit r = RT_ADMIT_OK;

	if (g == NULL)
		return RT_ADMIT_OK;
	snprintf(p->owner, sizeof p->owner, "%s", owner);
	p->wake_fd = wake_fd;
	pthread_mutex_lock(&g->lock);
	if (g->waiting >= g->max)
		r = RT_ADMIT_FULL;
	else if (owner_full(g, p->owner))
		r = RT_ADMIT_OWNER_FULL;
	if (r == RT_ADMIT_OK) {
		g->waiting++;
		p->next = g->places;
		g->places = p;
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

void
rt_gate_leave(struct rt_gate *g, struct rt_place *p)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	for (struct rt_place **q = &g->places; *q != NULL; q = &(*q)->next) {
		if (*q == p) {
			*q = p->next;
			g->waiting--;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
}

void
rt_gate_close(struct rt_gate *g)
{
	uint64_t one = 1;

	pthread_mutex_lock(&g->lock);
	g->closed = true;
	/* Under the lock: a request checks rt_gate_closed() after its last
	 * drain of the eventfd, so it sees either the flag or this wake. The
	 * counter only has to be non-zero: a full one is fine. */
	for (struct rt_place *p = g->places; p != NULL; p = p->next)
		if (p->wake_fd >= 0)
			fd_wake(p->wake_fd, &one, sizeof one);
	pthread_mutex_unlock(&g->lock);
}

bool
rt_gate_closed(struct rt_gate *g)
{
	bool closed;

	if (g == NULL)
		return false;
	pthread_mutex_lock(&g->lock);
	closed = g->closed;
	pthread_mutex_unlock(&g->lock);
	return closed;
}

long
rt_wait_max(long configured, long threads)
{
	if (configured > 0)
		return configured;
	return threads > 3 ? threads - 2 : 1;
}

void
rt_owner(int auth, const char *user, const char *org, const char *addr, char *out)
{
	/* Without authentication anyone may claim any name, so only the
	 * address the connection came from tells clients apart. Behind a
	 * proxy that is the proxy's, unless nginx restores the client's. */
	if (auth == AUTH_NONE)
		snprintf(out, RT_OWNER_MAX, "addr:%s", addr != NULL ? addr : "");
	else
		snprintf(out, RT_OWNER_MAX, "user:%s\x1f%s", user, org);
}

/* ---- events ---- */

enum aigw_err
rt_sse_event(struct buf *b, const char *event, long id, const char *data, size_t len)
{
	enum aigw_err err;
	size_t i = 0;

	err = buf_printf(b, "event: %s\n", event);
	if (err == AIGW_OK && id >= 0)
		err = buf_printf(b, "id: %ld\n", id);
	while (err == AIGW_OK) {
		size_t n = 0;

		while (i + n < len && data[i + n] != '\n' && data[i + n] != '\r')
			n++;
		err = buf_puts(b, "data: ");
		if (err == AIGW_OK)
			err = buf_append(b, data + i, n);
		if (err == AIGW_OK)
			err = buf_puts(b, "\n");
		i += n;
		if (i >= len)
			break;
		i += (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n') ? 2 : 1;
		if (i >= len)
			break;  /* a line break at the end ends the last line only */
	}
	if (err == AIGW_OK)
		err = buf_puts(b, "\n");
	return err;
}

void
rt_state_free(struct rt_state *s)
{
	free(s->json);
	db_pieces_free(&s->pieces);
	memset(s, 0, sizeof *s);
}

size_t
rt_merge(const struct db_pieces *p, long last, struct rt_ev *out)
{
	bool state = p->state_version > last && p->state_version <= p->upto;
	long prev = last;
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct db_piece *piece = &p->v[i];

		if (piece->seq <= prev || piece->seq > p->upto)
			continue;
		if (state && piece->seq > p->state_version) {
			out[n++] = (struct rt_ev){ RT_EV_STATE, p->state_version, NULL };
			state = false;
		}
		out[n++] = (struct rt_ev){ piece->reset ? RT_EV_RESET : RT_EV_DELTA, piece->seq, piece };
		prev = piece->seq;
	}
	if (state)
		out[n++] = (struct rt_ev){ RT_EV_STATE, p->state_version, NULL };
	return n;
}

/* s as a JSON string: the text is the database's, so valid UTF-8 without
 * NUL; only quotes, backslashes and control characters need escaping. */
static enum aigw_err
json_string(struct buf *b, const char *s)
{
	enum aigw_err err = buf_puts(b, "\"");

	while (err == AIGW_OK && *s != '\0') {
		size_t n = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
				   "\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
				   "\x1b\x1c\x1d\x1e\x1f");

		err = buf_append(b, s, n);
		s += n;
		if (err != AIGW_OK || *s == '\0')
			break;
		if (*s == '"' || *s == '\\')
			err = buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			err = buf_puts(b, "\\n");
		else if (*s == '\r')
			err = buf_puts(b, "\\r");
		else if (*s == '\t')
			err = buf_puts(b, "\\t");
		else
			err = buf_printf(b, "\\u%04x", (unsigned)(unsigned char)*s);
		s++;
	}
	if (err == AIGW_OK)
		err = buf_puts(b, "\"");
	return err;
}

enum aigw_err
rt_piece_json(struct buf *b, const struct db_piece *piece, bool with_step)
{
	enum aigw_err err = buf_puts(b, "{\"provider\":");

	if (err == AIGW_OK)
		err = json_string(b, piece->provider);
	if (err == AIGW_OK && with_step)
		err = buf_printf(b, ",\"step\":%d", piece->step);
	if (err == AIGW_OK && !piece->reset) {
		err = buf_puts(b, ",\"text\":");
		if (err == AIGW_OK)
			err = json_string(b, piece->text);
	}
	if (err == AIGW_OK)
		err = buf_printf(b, ",\"seq\":%ld}", piece->seq);
	return err;
}

/* ---- waiting ---- */

#define NO_STREAM (-2L)  /* read_watched: the /status body, no pieces */

static void
resp_read_err(struct http_req *req, const struct rt_source *src, enum aigw_err err)
{
	if (err == AIGW_ENOTFOUND)
		http_resp_error(req, 404, "not_found", NULL, "%s", src->not_found);
	else
		http_resp_from_err(req, err);
}

static struct rt_gate *
gate_of(const struct http_thread *t)
{
	return t->app->gate;
}

static void
resp_busy(struct http_thread *t, struct http_req *req, enum rt_admit why)
{
	const struct aigw_config *cfg = t->app->cfg;

	metrics_http_busy();
	http_resp_header(req, "Retry-After", "1");
	if (why != RT_ADMIT_OWNER_FULL)
		http_resp_error(req, 503, "busy", NULL,
				"too many requests are waiting for changes; try again shortly");
	else if (cfg->auth == AUTH_NONE)
		http_resp_error(req, 503, "busy", NULL,
				"this address has %ld requests waiting for changes already, the most"
				" one client may; try again when one has answered",
				cfg->wait_max_per_owner);
	else
		http_resp_error(req, 503, "busy", NULL,
				"user '%.64s' has %ld requests waiting for changes already, the most"
				" one user may; try again when one has answered",
				req->user, cfg->wait_max_per_owner);
}

/* Takes a place at the gate for req, or answers 503 busy. */
static bool
enter_gate(struct http_thread *t, struct http_req *req, struct rt_place *place)
{
	char owner[RT_OWNER_MAX];
	enum rt_admit r;

	rt_owner(t->app->cfg->auth, req->user, req->org, http_param(req, "REMOTE_ADDR"), owner);
	r = rt_gate_enter(gate_of(t), place, owner, t->wake_fd);
	if (r == RT_ADMIT_OK)
		return true;
	resp_busy(t, req, r);
	return false;
}

/*
 * How a waiting request hears of changes to its row: through the
 * process's hub (aigw-fcgi), or, alone in its process (CGI), through a
 * LISTEN on its own connection, which must then stay the same one. Behind
 * a transaction pooler that LISTEN needs a direct connection of its own
 * (AIGW_LISTEN_DATABASE_URL): the pooler would hand the session to
 * whoever runs next on its server connection.
 */
struct watch {
	struct hub *hub;           /* NULL: our own LISTEN */
	struct hub_watch hw;
	const char *id;
	struct db *db;             /* our own LISTEN's connection */
	struct db *opened;         /* db, when opened for the watch */
	unsigned long cid;         /* our own LISTEN's connection */
	bool active;
};

static enum aigw_err
watch_begin(struct http_thread *t, const struct rt_source *src, const char *id, struct watch *w)
{
	enum aigw_err err;

	memset(w, 0, sizeof *w);
	w->id = id;
	w->hub = t->app->hub;
	if (w->hub != NULL) {
		err = hub_watch(w->hub, &w->hw, src->channel, id, t->wake_fd);
	} else {
		w->db = t->db;
		if (t->app->cfg->db_pooler != POOLER_NONE) {
			w->db = w->opened = db_open(t->app->cfg, DB_USE_LISTEN);
			if (w->db == NULL)
				return AIGW_ENOMEM;
		}
		err = db_listen_row(w->db, src->channel);
		if (err == AIGW_OK)
			w->cid = db_connection_id(w->db);
	}
	if (err != AIGW_OK) {
		db_free(w->opened);
		w->opened = NULL;
		return err;
	}
	w->active = true;
	return AIGW_OK;
}

static enum aigw_err
watch_wait(const struct watch *w, int hangup_fd, int64_t deadline_ms, enum db_wait_result *out)
{
	if (w->hub != NULL)
		return hub_wait(&w->hw, hangup_fd, deadline_ms, out);
	return db_wait_notify(w->db, w->id, hangup_fd, deadline_ms, out);
}

static void
watch_end(struct watch *w)
{
	if (!w->active)
		return;
	if (w->hub != NULL) {
		hub_unwatch(w->hub, &w->hw);
	} else {
		db_unlisten(w->db);
		db_free(w->opened);
		w->opened = NULL;
	}
	w->active = false;
}

enum aigw_err
rt_read(struct http_thread *t, const struct http_req *req, const struct rt_source *src,
	const char *id, struct rt_state *s)
{
	struct status_cache *cache = t->app->status_cache;
	struct status_cache_ticket ticket;
	struct status_hit hit;
	enum aigw_err err;

	if (cache == NULL || src->view == STATUS_VIEW_NONE)
		return src->read(t, req, id, s);
	switch (status_cache_get(cache, src->channel, src->view, id, req->user, time_mono_ms(),
				 time(NULL), &hit)) {
	case STATUS_CACHE_HIT:
		memset(s, 0, sizeof *s);
		s->json = hit.json;
		s->len = hit.len;
		s->version = hit.version;
		s->final = hit.final;
		memcpy(s->status, hit.status, sizeof s->status);
		return AIGW_OK;
	case STATUS_CACHE_NOT_THERE:
		memset(s, 0, sizeof *s);
		return AIGW_ENOTFOUND;
	case STATUS_CACHE_MISS:
		break;
	}
	status_cache_ticket(cache, src->channel, id, &ticket);
	err = src->read(t, req, id, s);
	if (err == AIGW_OK && s->expires_s != RT_NOT_CACHED) {
		const struct status_body body = {
			.json = s->json, .len = s->len, .version = s->version,
			.final = s->final, .status = s->status,
		};

		status_cache_put(cache, &ticket, src->channel, src->view, id, req->user,
				 s->expires_s, &body, time_mono_ms());
	}
	return err;
}

/* Reads the row (with the pieces after after, for a stream: after >= -1;
 * the /status body when after < -1), and fails when the watch may have
 * missed a change. */
static enum aigw_err
read_watched(struct http_thread *t, const struct http_req *req, const struct rt_source *src,
	     const char *id, long after, const struct watch *w, struct rt_state *s)
{
	enum aigw_err err;
	bool lost;

	rt_state_free(s);
	err = after < -1 ? rt_read(t, req, src, id, s) : src->read_stream(t, req, id, after, s);
	lost = w->hub != NULL ? !hub_watching(w->hub, &w->hw) : db_connection_id(w->db) != w->cid;
	if (err == AIGW_OK && lost) {
		log_warn("http", req->request_id, "lost the database's notifications while waiting");
		err = AIGW_EDB;
	}
	return err;
}

/* Waits after the read s until the row's version passes since (or, with
 * until_final, until it is final), the deadline wait_s from now, the
 * process stopping or the client leaving; s then holds the last read. A
 * full gate answers 503 busy, or with busy_ok does not wait. false: the
 * request was answered (404, 503). */
static bool
wait_for(struct http_thread *t, struct http_req *req, const struct rt_source *src,
	 const char *id, long since, bool until_final, long wait_s, bool busy_ok,
	 struct rt_state *s)
{
	struct watch w = { 0 };
	struct rt_place place;
	char owner[RT_OWNER_MAX];
	enum db_wait_result woke;
	enum rt_admit admit;
	int64_t deadline;
	bool answered = false;
	enum aigw_err err;

	if (t->app->cgi && wait_s > t->app->cfg->cgi_wait_max_s)
		wait_s = t->app->cfg->cgi_wait_max_s;
	if (wait_s <= 0 || (until_final ? s->final : s->version > since))
		return true;
	rt_owner(t->app->cfg->auth, req->user, req->org, http_param(req, "REMOTE_ADDR"), owner);
	admit = rt_gate_enter(gate_of(t), &place, owner, t->wake_fd);
	if (admit != RT_ADMIT_OK) {
		if (busy_ok)
			return true;
		resp_busy(t, req, admit);
		return false;
	}
	deadline = time_mono_ms() + wait_s * 1000;
	err = watch_begin(t, src, id, &w);
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		answered = true;
		goto out;
	}
	for (;;) {
		err = read_watched(t, req, src, id, NO_STREAM, &w, s);
		if (err != AIGW_OK) {
			resp_read_err(req, src, err);
			answered = true;
			goto out;
		}
		if (until_final ? s->final : s->version > since)
			break;
		/* The process stops: the state as it is, as at the deadline. */
		if (rt_gate_closed(gate_of(t)))
			break;
		err = watch_wait(&w, http_hangup_fd(req), deadline, &woke);
		if (err != AIGW_OK) {
			http_resp_from_err(req, AIGW_EDB);
			answered = true;
			goto out;
		}
		/* The deadline, or nobody to answer: the state as it is. */
		if (woke != DB_WAIT_NOTIFIED)
			break;
	}
out:
	watch_end(&w);
	rt_gate_leave(gate_of(t), &place);
	return !answered;
}

void
rt_longpoll(struct http_thread *t, struct http_req *req, const struct rt_source *src,
	    const char *id, const struct rt_params *p)
{
	struct rt_state s = { 0 };
	enum aigw_err err;

	err = rt_read(t, req, src, id, &s);
	if (err != AIGW_OK) {
		resp_read_err(req, src, err);
		goto out;
	}
	/* Without since, "a change" is one after the version seen now. */
	if (p->has_wait &&
	    !wait_for(t, req, src, id, p->has_since ? p->since : s.version, false, p->wait_s,
		      false, &s))
		goto out;
	http_resp_raw(req, 200, s.json, s.len);
out:
	rt_state_free(&s);
}

bool
rt_wait_final(struct http_thread *t, struct http_req *req, const struct rt_source *src,
	      const char *id, long wait_s, struct rt_state *s)
{
	enum aigw_err err;

	memset(s, 0, sizeof *s);
	err = rt_read(t, req, src, id, s);
	if (err != AIGW_OK) {
		resp_read_err(req, src, err);
		return false;
	}
	return wait_for(t, req, src, id, -1, true, wait_s, true, s);
}

/* Writes the events of one read (rt_merge) after the client's last id,
 * and the end when the final state is among them or was sent before;
 * *ended tells which. evs has room for the read's pieces and the state. */
static enum aigw_err
send_events(struct http_req *req, const struct rt_source *src, struct buf *b, struct buf *data,
	    const struct rt_state *s, long last, struct rt_ev *evs, bool *ended)
{
	size_t n = rt_merge(&s->pieces, last, evs);
	enum aigw_err err = AIGW_OK;

	*ended = false;
	buf_reset(b);
	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		const char *name = evs[i].kind == RT_EV_DELTA ? RT_EVENT_DELTA : RT_EVENT_RESET;

		if (evs[i].kind == RT_EV_STATE) {
			err = rt_sse_event(b, RT_EVENT_STATE, evs[i].id, s->json, s->len);
			continue;
		}
		buf_reset(data);
		err = rt_piece_json(data, evs[i].piece, src->channel == DB_CHANNEL_JOB);
		if (err == AIGW_OK)
			err = rt_sse_event(b, name, evs[i].id, data->data, data->len);
	}
	/* What the client needs to stop: the final status and its version,
	 * without repeating the state. No id: the last event id stays the
	 * last one sent. The status is a word of the database's fixed set. */
	if (err == AIGW_OK && s->final && !s->pieces.cut && s->pieces.upto >= s->version) {
		err = buf_printf(b, "event: " RT_EVENT_END "\ndata: {\"status\":\"%s\",\"version\":%ld}\n\n",
				 s->status, s->pieces.state_version);
		*ended = true;
	}
	if (err != AIGW_OK || b->len == 0)
		return err;
	return http_stream_write(req, b->data, b->len);
}

void
rt_events(struct http_thread *t, struct http_req *req, const struct rt_source *src,
	  const char *id)
{
	const struct aigw_config *cfg = t->app->cfg;
	struct rt_params p;
	struct http_field_error fe;
	struct rt_state s = { 0 };
	struct watch w = { 0 };
	struct rt_place place;
	struct buf b, data;
	struct rt_ev *evs = NULL;
	bool entered = false, ended = false;
	enum db_wait_result woke = DB_WAIT_TIMEOUT;
	int64_t now, end_at, beat_at;
	long last;
	const char *why = "the final state was sent";
	enum aigw_err err;
	char retry[32];

	buf_init(&b, 80L << 20);
	buf_init(&data, 16L << 20);
	if (t->app->cgi) {
		/* A process and a database connection for as long as the
		 * stream lasts: a long-poll costs them for a bounded time. */
		http_resp_error(req, 503, "unavailable", NULL,
				"event streams need the FastCGI server; poll with ?wait= instead");
		goto out;
	}
	if (src->send == NULL && !rt_events_params(req, &p, &fe)) {
		http_resp_field_error(req, &fe);
		goto out;
	}
	/* A stream with its own events numbers them itself from the start. */
	last = src->send == NULL && p.has_since ? p.since : -1;
	err = src->read_stream(t, req, id, last, &s);
	if (err != AIGW_OK) {
		resp_read_err(req, src, err);
		goto out;
	}
	if (s.final && last >= s.version) {
		/* The client has seen the end. 204 is what tells a browser's
		 * EventSource to stop reconnecting. */
		http_resp_raw(req, 204, "", 0);
		goto out;
	}
	/* Room for the events of a full read: its pieces and the state. */
	evs = calloc(RT_PIECES_PER_READ + 1, sizeof *evs);
	if (evs == NULL) {
		http_resp_from_err(req, AIGW_ENOMEM);
		goto out;
	}
	if (!enter_gate(t, req, &place))
		goto out;
	entered = true;
	err = watch_begin(t, src, id, &w);
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		goto out;
	}
	http_resp_header(req, "Cache-Control", "no-cache");
	/* nginx passes the stream on unbuffered even where its buffering is on. */
	http_resp_header(req, "X-Accel-Buffering", "no");
	if (http_stream_start(req, 200, "text/event-stream; charset=utf-8") != AIGW_OK) {
		why = "the client went away";
		goto out;
	}
	snprintf(retry, sizeof retry, "retry: %d\n\n", RT_RETRY_MS);
	if (src->send == NULL && http_stream_write(req, retry, strlen(retry)) != AIGW_OK) {
		why = "the client went away";
		goto out;
	}
	now = time_mono_ms();
	end_at = now + cfg->sse_max_s * 1000;
	beat_at = now + cfg->sse_heartbeat_s * 1000;
	for (;;) {
		err = read_watched(t, req, src, id, last, &w, &s);
		if (err != AIGW_OK) {
			/* Expired, or the database went away: the client
			 * reconnects and hears 404 or 503. */
			why = err == AIGW_ENOTFOUND ? "it is gone" : "the database failed";
			break;
		}
		if (s.pieces.n > RT_PIECES_PER_READ) {
			why = "a read gave more pieces than it asks for";
			break;
		}
		if (s.pieces.upto > last || s.final) {
			err = src->send != NULL ? src->send(req, src->ctx, &s, last, &ended)
						: send_events(req, src, &b, &data, &s, last, evs, &ended);
			if (err != AIGW_OK) {
				why = err == AIGW_EIO ? "the client went away" : "its events did not fit";
				break;
			}
			if (s.pieces.upto > last)
				last = s.pieces.upto;
			beat_at = time_mono_ms() + cfg->sse_heartbeat_s * 1000;
			if (ended)
				break;
			/* The bound cut the read short: the rest is there now. */
			if (s.pieces.cut)
				continue;
		}
		if (rt_gate_closed(gate_of(t))) {
			/* As at AIGW_SSE_MAX_S: the client resumes with
			 * Last-Event-ID from the next process. */
			why = "aigw-fcgi is stopping";
			break;
		}
		err = watch_wait(&w, http_hangup_fd(req), beat_at < end_at ? beat_at : end_at,
				 &woke);
		if (err != AIGW_OK) {
			why = "the database failed";
			break;
		}
		if (woke == DB_WAIT_HANGUP) {
			why = "the client went away";
			break;
		}
		if (woke == DB_WAIT_NOTIFIED)
			continue;
		now = time_mono_ms();
		if (now >= end_at) {
			/* Threads are not held forever; the client resumes
			 * with Last-Event-ID. */
			why = "it reached AIGW_SSE_MAX_S";
			break;
		}
		if (now >= beat_at) {
			static const char beat[] = ": keepalive\n\n";

			if (http_stream_write(req, beat, sizeof beat - 1) != AIGW_OK) {
				why = "the client went away";
				break;
			}
			beat_at = now + cfg->sse_heartbeat_s * 1000;
		}
	}
	log_debug("http", req->request_id, "event stream ended at version %ld: %s", last, why);
out:
	watch_end(&w);
	if (entered)
		rt_gate_leave(gate_of(t), &place);
	rt_state_free(&s);
	buf_free(&data);
	buf_free(&b);
	free(evs);
}
