/*
 * realtime.h: long-poll and Server-Sent Events over the status of one chat
 * or job (docs/api.md, Long-poll and events), woken by the worker's
 * NOTIFY (db/listen.h).
 *
 * A waiting request holds its thread and sleeps in poll() on that
 * thread's eventfd, which the process's one listener (http/hub.h) wakes
 * when the row's notification arrives (under CGI the request's own
 * connection LISTENs instead): no polling loop. The cost is a thread per
 * waiter, so struct rt_gate
 * bounds how many wait at once in one process, and how many of them one
 * owner may hold (AIGW_WAIT_MAX_PER_OWNER), so that one client cannot
 * take every place; past either a request is answered 503 busy at once
 * rather than queued behind the others.
 * rt_longpoll() and rt_events() answer a request completely. The parsers,
 * the event formatter and the gate are pure and thread-safe (the gate is
 * shared by every thread; the rest keeps no state).
 *
 * Stopping: rt_gate_close() wakes every waiting request through the
 * eventfd its place names, and every request checks rt_gate_closed()
 * before it sleeps, so that none sleeps past the close: a long-poll then
 * answers the state as it is (as at its deadline), an event stream ends
 * as at AIGW_SSE_MAX_S, and the process exits without waiting for them.
 *
 * Under plain CGI each waiting request costs a process and a database
 * connection of its own: a long-poll waits at most AIGW_CGI_WAIT_MAX_S,
 * and an event stream is refused with 503.
 * Owns the waiting requests of a process (the gate) and the format of
 * their answers. Parsing fails with a field error (400); the handlers
 * answer every failure themselves (404 for another's row, 503 busy or
 * for the database).
 */
#ifndef AIGW_HTTP_REALTIME_H
#define AIGW_HTTP_REALTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "db/listen.h"
#include "db/pieces_view.h"
#include "http/http.h"
#include "http/server.h"
#include "http/status_cache.h"

#define RT_WAIT_MAX_S 30          /* wait=N is clamped to this (docs/api.md) */
#define RT_RETRY_MS 1000          /* the reconnect delay an event stream suggests */
#define RT_EVENT_STATE "progress" /* every state sent, the final one too (docs/api.md) */
#define RT_EVENT_END "end"        /* after the final state, just before closing */
#define RT_EVENT_DELTA "delta"    /* new text of a provider's answer */
#define RT_EVENT_RESET "reset"    /* a provider's text so far is void */
/* How many pieces one read of an event stream takes at most; a stream
 * with more reads again at once. */
#define RT_PIECES_PER_READ 2000

/* Who waits, for the per-owner bound: "user:<user>\x1f<org>" or
 * "addr:<address>"; identities are at most 255 bytes each. */
#define RT_OWNER_MAX 528

/* One waiting request's place at the gate; lives on its thread's stack
 * from rt_gate_enter() to rt_gate_leave(). */
struct rt_place {
	char owner[RT_OWNER_MAX];
	int wake_fd;              /* an eventfd written when the gate closes; -1: none */
	struct rt_place *next;
};

/* How many requests of one process may wait at once, and which. */
struct rt_gate {
	pthread_mutex_t lock;
	long max;
	long max_per_owner;       /* 0: no bound */
	long waiting;
	bool closed;
	struct rt_place *places;
};

/* Cannot fail. max < 1 is taken as 1; max_per_owner < 1 is no bound. */
void rt_gate_init(struct rt_gate *g, long max, long max_per_owner);
/* No place may remain. */
void rt_gate_destroy(struct rt_gate *g);

enum rt_admit {
	RT_ADMIT_OK,
	RT_ADMIT_FULL,            /* all max places are taken */
	RT_ADMIT_OWNER_FULL,      /* owner holds max_per_owner of them */
};
/* Takes place p for owner's request, woken through wake_fd; nothing is
 * taken unless RT_ADMIT_OK. A NULL gate (CGI: one process per request)
 * always admits. A closed gate admits too: the request does not sleep
 * (rt_gate_closed). An owner longer than RT_OWNER_MAX - 1 is cut. */
enum rt_admit rt_gate_enter(struct rt_gate *g, struct rt_place *p, const char *owner,
			    int wake_fd);
void rt_gate_leave(struct rt_gate *g, struct rt_place *p);
/* The process stops: wakes every place's eventfd; for good. */
void rt_gate_close(struct rt_gate *g);
/* True once closed; false for a NULL gate. */
bool rt_gate_closed(struct rt_gate *g);
/* AIGW_WAIT_MAX for a process of threads threads: configured when > 0,
 * else threads less two, at least one. Cannot fail. */
long rt_wait_max(long configured, long threads);

/* Writes who owns a request into out (RT_OWNER_MAX bytes): the
 * authenticated user and organisation, or with auth AUTH_NONE the client
 * address (REMOTE_ADDR; "" when unknown), the only honest identity there.
 * Cannot fail. */
void rt_owner(int auth, const char *user, const char *org, const char *addr, char *out);

/* wait=N: digits only, 0 or more; values above RT_WAIT_MAX_S (however
 * many digits) become RT_WAIT_MAX_S. (The query reader takes at most 63.) AIGW_EINVAL otherwise; *seconds is then
 * untouched. */
enum aigw_err rt_parse_wait(const char *s, long *seconds) AIGW_MUSTCHECK;
/* since=V and Last-Event-ID: a whole number from 0 to LONG_MAX, digits
 * only. AIGW_EINVAL otherwise. */
enum aigw_err rt_parse_version(const char *s, long *version) AIGW_MUSTCHECK;

struct rt_params {
	bool has_wait;
	long wait_s;      /* clamped */
	bool has_since;
	long since;
};

/* /status: wait and since from the query. false with e filled (400
 * invalid_field naming "wait" or "since") when one is given badly. */
bool rt_status_params(const struct http_req *req, struct rt_params *p,
		      struct http_field_error *e);
/* /events: the client's last version from the Last-Event-ID header, else
 * from since in the query (a first connection cannot set headers from a
 * browser). false with e filled (naming "Last-Event-ID" or "since"). */
bool rt_events_params(const struct http_req *req, struct rt_params *p,
		      struct http_field_error *e);

/*
 * Appends one event to b: "event: NAME\n", "id: ID\n" (when id >= 0), one
 * "data: " line per line of data (CR, LF and CRLF all end a line, so that
 * no line of data can end the event early), and a blank line. AIGW_ETOOBIG
 * or AIGW_ENOMEM from b; b may hold part of the event then.
 */
enum aigw_err rt_sse_event(struct buf *b, const char *event, long id, const char *data,
			   size_t len) AIGW_MUSTCHECK;

#define RT_NOT_CACHED (-1)

/* One read of a watched row. */
struct rt_state {
	long version;
	bool final;       /* completed, failed, cancelled: nothing follows */
	char status[16];
	char *json;       /* the /status body; owned */
	size_t len;
	int64_t expires_s; /* when the row stops being shown (epoch s); 0: kept;
			    * RT_NOT_CACHED: unknown, so not for the cache */
	/* An event stream's read: the pieces after the client's last event
	 * (their state_version and how far they reach, db/pieces_view.h). */
	struct db_pieces pieces;
};
void rt_state_free(struct rt_state *s);

/* What is watched: its channel, how to read it, what its 404 says. The
 * reads answer AIGW_ENOTFOUND for a row that is not there for this user.
 * read gives the /status body; read_stream the /events one (as of the
 * last state change, whose version it shows, with streaming providers
 * without their text; version stays the row's) and the pieces with
 * after < seq, at most RT_PIECES_PER_READ of them, read with it at once. */
struct rt_source {
	enum db_channel channel;
	const char *not_found;
	enum aigw_err (*read)(struct http_thread *t, const struct http_req *req, const char *id,
			      struct rt_state *out);
	enum aigw_err (*read_stream)(struct http_thread *t, const struct http_req *req,
				     const char *id, long after, struct rt_state *out);
	/* Which view of the row read's bodies are in the process's status
	 * cache (http/status_cache.h); STATUS_VIEW_NONE: always read. A
	 * cached read must show the row to its owner alone, until
	 * expires_s, as the cache checks. */
	enum status_view view;
	/* Optional (NULL: aigw's own events): writes the events of one read
	 * s of the pieces after last itself, in its own format, with ctx; sets
	 * *ended when the stream is over. rt_events then reads from the first
	 * piece (no Last-Event-ID or since) and sends no retry line. AIGW_EIO
	 * when the client went away. */
	enum aigw_err (*send)(struct http_req *req, void *ctx, const struct rt_state *s, long last,
			      bool *ended);
	void *ctx;
};

/* What an event stream sends of one read, in this order. */
enum rt_ev_kind { RT_EV_DELTA, RT_EV_RESET, RT_EV_STATE };
struct rt_ev {
	enum rt_ev_kind kind;
	long id;                       /* the piece's seq, or the state_version */
	const struct db_piece *piece;  /* NULL for the state */
};

/*
 * Orders the events of one read (pure): the pieces of p (in rising seq)
 * with last < seq <= p->upto, each a delta (or a reset), and the state as
 * one event with id p->state_version when last < state_version <= upto,
 * placed between the pieces below it and those above (every seq is a piece
 * or a state change, so none equals it). Pieces out of that window or not
 * above the one before are left out. out has room for p->n + 1 events;
 * returns how many it holds. A client that has seen id last and is sent
 * these, then resumes from upto, misses no piece and sees none twice.
 */
size_t rt_merge(const struct db_pieces *p, long last, struct rt_ev *out);

/* Appends the data of a delta or reset event of piece (its step when
 * with_step: a job's) to b as one line of JSON. AIGW_ENOMEM, AIGW_ETOOBIG
 * from b. */
enum aigw_err rt_piece_json(struct buf *b, const struct db_piece *piece, bool with_step)
	AIGW_MUSTCHECK;

/* The body src->read gives, from the process's status cache when it
 * holds src->view of the row, else read and kept there (when no
 * notification of the row came meanwhile). As src->read fails. */
enum aigw_err rt_read(struct http_thread *t, const struct http_req *req,
		      const struct rt_source *src, const char *id, struct rt_state *s)
	AIGW_MUSTCHECK;

/* GET .../status with p: answers the current state at once without wait
 * (or wait=0), else as soon as version > since (since: the version at
 * arrival when not given), else after wait_s seconds (at most
 * AIGW_CGI_WAIT_MAX_S under CGI), or when the process stops, with the
 * state unchanged. 404, 503 (database, or busy: Retry-After 1) as errors. */
void rt_longpoll(struct http_thread *t, struct http_req *req, const struct rt_source *src,
		 const char *id, const struct rt_params *p);

/* The wait of a request that is answered when its work ends (/v1/ without
 * background): reads id, then waits at most wait_s (AIGW_CGI_WAIT_MAX_S
 * under CGI) until it is final; when the gate is full it does not wait.
 * true with s the last read (final or not; the caller answers and frees
 * it), or false when the request was answered (404, 503). */
bool rt_wait_final(struct http_thread *t, struct http_req *req, const struct rt_source *src,
		   const char *id, long wait_s, struct rt_state *s);

/* GET .../events: a text/event-stream of every change and every piece of
 * a streamed answer, in rising id (rt_merge), reading again at once when
 * a read was cut by its bound (see docs/api.md, "Long-poll and events");
 * 503 unavailable under CGI. */
void rt_events(struct http_thread *t, struct http_req *req, const struct rt_source *src,
	       const char *id);

#endif
