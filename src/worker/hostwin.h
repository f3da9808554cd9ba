/*
 * hostwin.h: how many calls one worker sends one provider host at once.
 *
 * A congestion window moved by how calls end, as TCP moves its own: it
 * starts at AIGW_PROVIDER_WINDOW_START (128) and grows by one a call that
 * ends well (doubling every round of calls, "slow start") until the host
 * first shows overload (a timeout, a 429, 503 or 529, a broken
 * connection); then it becomes half the calls in flight, and grows again
 * by one a round (additive increase, multiplicative decrease). The start
 * is a trade: a burst larger than it takes a round more for each doubling,
 * and calls sent past what a host can serve are served late and sent
 * again; 128 covers an ordinary burst (a hundred chats of a few providers)
 * at once.
 * Calls past the window wait in the worker, not at the host: they are not
 * attempts and their time does not count against the attempt timeout.
 *
 * Pure: no I/O, no allocation; time is an argument. Cannot fail. Not
 * thread-safe (one window per host per event loop).
 */
#ifndef AIGW_WORKER_HOSTWIN_H
#define AIGW_WORKER_HOSTWIN_H

#include <stdbool.h>
#include <stdint.h>

#include "providers/provider.h"

enum hostwin_signal {
	HOSTWIN_OK,        /* an answer the host served without strain (errors included) */
	HOSTWIN_OVERLOAD,  /* the host is overloaded or too slow: send fewer at once */
};

struct hostwin {
	double window;      /* calls allowed in flight, fractional between steps */
	long max;           /* AIGW_PROVIDER_CONNECTIONS: never more */
	bool slow_start;    /* no overload seen yet */
	int64_t cut_ms;     /* when the window was last cut; 0 never */
};

/* A host's window before any call ended: start calls (at most max). */
void hostwin_init(struct hostwin *w, long max, long start);

/* The calls that may be in flight now: at least 1, at most max. */
long hostwin_limit(const struct hostwin *w);

/* What the end of a call says about its host: its HTTP status (0 when none
 * came) and the transfer's own failure class. */
enum hostwin_signal hostwin_signal_of(long http_status, enum prov_errclass neterr);

/*
 * A call sent at started_ms ended at now with sig, while in_flight calls
 * (itself included) were in flight to the host. An overload cuts the
 * window to half of those, at most once a round: calls sent before the
 * last cut were sent under the old window and say nothing about the new
 * one. Returns true when the window was cut (worth a log line).
 */
bool hostwin_update(struct hostwin *w, enum hostwin_signal sig, long in_flight,
		    int64_t started_ms, int64_t now);

#endif
