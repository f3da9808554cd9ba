/*
 * wake.h: after a submit, wake the workers and start one if none is free,
 * off the request's path.
 *
 * A submit only pokes the waker (a flag and a condition variable); the
 * waker's thread, with its own database connection, sends one NOTIFY for
 * every burst of pokes and reserves a worker slot to spawn into when one is
 * free. Because the poke comes after the submit's commit, the NOTIFY that
 * answers it does too, so a woken worker always sees the row. Every few
 * seconds without pokes it also looks for work left unclaimed (a lost
 * wake-up, dead workers) and wakes or starts a worker for them.
 * Thread-safe. In CGI mode there is no thread: wake_now() does the same
 * inline.
 * Owns the waker thread and its connection. Only starting can fail (NULL);
 * a failed NOTIFY or spawn is logged, and the workers find the rows by
 * their own polling or the next sweep.
 */
#ifndef AIGW_HTTP_WAKE_H
#define AIGW_HTTP_WAKE_H

#include <stdbool.h>

#include "core/config.h"
#include "db/db.h"

struct waker;

/* Starts the waker thread. NULL when it cannot (memory, thread). */
struct waker *waker_start(const struct aigw_config *cfg, char **spawn_env);

/* What the thread does, which waker_start() does on its own connection:
 * work_waiting() (at a sweep: does work wait unclaimed?) and wake() (a
 * round: wake the workers, start one if a slot is free). */
struct waker_ops {
	bool (*work_waiting)(void *arg);
	void (*wake)(void *arg);
	void *arg;
};
/* A waker doing ops instead (for tests). NULL when it cannot start. */
struct waker *waker_start_ops(const struct waker_ops *ops);
/* Cannot fail. */
void waker_poke(struct waker *w);
/* Stops the thread at once: a poke not yet answered is dropped (the next
 * sweep of any aigw-fcgi, or a worker's own poll, finds that work). Safe on
 * NULL. */
void waker_stop(struct waker *w);

/* One round on the caller's connection: NOTIFY, then spawn if a slot is
 * free. Failures are logged; the rows wait for the next worker. */
void wake_now(const struct aigw_config *cfg, char **spawn_env, struct db *db);

#endif
