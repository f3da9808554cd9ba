/*
 * hub.h: one LISTEN per aigw-fcgi process for all its waiting requests.
 *
 * PostgreSQL wakes every listening backend for every notification of the
 * database, so a LISTEN per long-poll or event stream would make each
 * change a worker commits wake one backend per waiting request. The hub's
 * thread listens on its own connection and hands each notification to the
 * requests watching that row, through the eventfd each serving thread
 * owns.
 *
 * A request watches its row (hub_watch) before reading it, then reads,
 * then waits (hub_wait) and reads again after each wake: a change
 * committed after a read is notified after it. When the hub loses its
 * connection, every watch is woken and hub_watching() turns false, so
 * that requests answer with what they can (a notification may have been
 * missed); the thread reconnects by itself. The process's status cache
 * (http/status_cache.h) follows the same notifications: a row's entry is
 * forgotten before its waiters wake, and the cache is emptied whenever
 * the LISTEN is lost or made. Thread-safe.
 * Owns the list of watches and the LISTEN connection. Fails: hub_start()
 * when its thread cannot start, hub_watch() while no LISTEN is up
 * (AIGW_EDB), hub_wait() when poll() does (AIGW_EIO).
 */
#ifndef AIGW_HTTP_HUB_H
#define AIGW_HTTP_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/util.h"
#include "db/listen.h"
#include "http/status_cache.h"

struct hub;

struct hub_watch {
	enum db_channel kind;
	char id[UUID_STR_LEN + 1];   /* lower case, as notified */
	int wake_fd;                 /* the serving thread's eventfd */
	unsigned long epoch;         /* the hub's connection when watched */
	struct hub_watch *next;
};

/* Starts the thread; it connects in the background. cache (NULL: none)
 * is kept in step with what the hub hears, and must outlive the hub.
 * NULL when it cannot start (memory, thread, pipe). */
struct hub *hub_start(const struct aigw_config *cfg, struct status_cache *cache);
/* Stops the thread and frees the hub; safe on NULL. No watch may remain. */
void hub_stop(struct hub *h);

/* Watches row id (a UUID) of kind, woken through wake_fd (an eventfd,
 * drained here). AIGW_EDB while the hub is not listening. */
enum aigw_err hub_watch(struct hub *h, struct hub_watch *w, enum db_channel kind, const char *id,
			int wake_fd) AIGW_MUSTCHECK;
/* False when the hub lost its LISTEN since w was watched. */
bool hub_watching(struct hub *h, const struct hub_watch *w);
/* Waits for a wake of w, deadline_ms (time_mono_ms) or the hang-up of
 * hangup_fd (-1: none). AIGW_EIO when poll() fails. */
enum aigw_err hub_wait(const struct hub_watch *w, int hangup_fd, int64_t deadline_ms,
		       enum db_wait_result *out) AIGW_MUSTCHECK;
void hub_unwatch(struct hub *h, struct hub_watch *w);

/* The bookkeeping alone, which hub_start() runs a thread and a connection
 * around, for tests: a hub without thread nor connection, not listening
 * until hub_set_listening(); NULL out of memory. Free it with hub_free(),
 * not hub_stop(). */
struct hub *hub_new(struct status_cache *cache);
void hub_free(struct hub *h);
/* The LISTEN was made (on), or lost: either way every watch is woken,
 * and a watch made before a new LISTEN no longer counts as watching. */
void hub_set_listening(struct hub *h, bool on);
/* A notification for row id of kind: forgets its cache entry, then wakes
 * the watches of that row. */
void hub_heard(struct hub *h, enum db_channel kind, const char *id);

#endif
