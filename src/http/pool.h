/*
 * pool.h: aigw-fcgi's FastCGI server: its serving threads, what they
 * share, and how they stop.
 *
 * Several threads share one listening socket (from --listen, descriptor 3
 * as systemd's LISTEN_FDS passes it, or descriptor 0 as spawn-fcgi and
 * StandardInput=socket pass it); each thread owns one database connection
 * and one eventfd for its whole life, and accepts in turn. The pool also
 * owns what the threads share: the waker (http/wake.h), the gate of
 * waiting requests (http/realtime.h), the chat group commit
 * (http/commit.h), the hub (http/hub.h) with the status cache
 * (http/status_cache.h), and the writer of the HTTP counts
 * (http/metrics.h).
 *
 * Stopping, on SIGTERM or SIGINT: waiting requests (long-polls, event
 * streams) are woken and answer at once; the threads finish the requests
 * they hold and accept no more. A socket of our own is shut down to end
 * the accept() in progress. An inherited one belongs to systemd (or
 * spawn-fcgi) and must keep listening for the next process, with the
 * connections made meanwhile waiting in its backlog; shutdown() would stop
 * it for everyone, so the thread in accept() is interrupted with SIGUSR1
 * instead; so is it when the socket is shared with the other processes of
 * aigw-fcgi --processes (http/prefork.h).
 *
 * Fails (exit status 1, a line on stderr) when the socket cannot be opened
 * or libfcgi, a signal handler, a shared thread or the first serving
 * thread cannot start. A broken listener stops the process rather than
 * leave it serving with fewer threads.
 */
#ifndef AIGW_HTTP_POOL_H
#define AIGW_HTTP_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "http/server.h"

struct pool_listen {
	const char *addr;   /* --listen HOST:PORT or PATH; NULL: fd is inherited */
	mode_t mode;        /* for a socket PATH (--socket-mode) */
	gid_t gid;          /* for a socket PATH (--socket-group); (gid_t)-1: none */
	int fd;             /* the inherited socket when addr is NULL, or addr's
			     * once pool_listen_open has opened it */
	bool opened;        /* fd is addr's socket, open */
	bool shared;        /* other processes serve on fd too (http/prefork.h):
			     * it is never shut down, as an inherited one */
};

/* Opens l->addr into l->fd (nothing when addr is NULL or it is open
 * already). 0, or 1 with a line on stderr. */
int pool_listen_open(struct pool_listen *l);

/* Serves with nthreads threads until SIGTERM or SIGINT, then stops as
 * above. The exit status: 0 after a signal, 1 when serving failed. */
int pool_serve(struct http_app *app, const struct pool_listen *l, long nthreads);

#endif
