/*
 * fcgi.h: the libfcgi transport of one serving thread.
 *
 * Owns a thread's FastCGI request (struct fcgi_conn, on that thread's
 * stack) and the http_io that reads and writes it: fcgi_conn_accept()
 * takes the next connection from nginx on the shared listening socket,
 * fcgi_conn_read() reads its request, fcgi_conn_answer() hands it to
 * http_handle() and finishes it.
 *
 * accept() is ours, not libfcgi's: FCGX_Accept_r() would also read the
 * begin record and the parameters, waiting for nginx to write them, and
 * callers serialise accepts; only the accept() itself needs to be (see
 * http/pool.h), the reading is done by each thread on its own. Accepting
 * fails when the listener is broken, or with EINTR when a signal (SIGUSR1,
 * see http/pool.h) interrupts the accept() in progress; a connection that
 * brings no request is closed and skipped. Writes fail when nginx has
 * closed the connection, which http_handle() takes as its client gone.
 */
#ifndef AIGW_HTTP_FCGI_H
#define AIGW_HTTP_FCGI_H

#include <stdbool.h>

#include <fcgiapp.h>

#include "core/err.h"
#include "http/server.h"

struct fcgi_conn {
	FCGX_Request request;
	struct http_io io;
	int listen_fd;
};

/* Initialises libfcgi, once per process. AIGW_EIO when it cannot. */
enum aigw_err fcgi_init(void) AIGW_MUSTCHECK;
/* Whether descriptor 0 is not a listening socket (then the process was
 * started by hand or as CGI, not by spawn-fcgi or systemd). */
bool fcgi_stdin_not_socket(void);

/* Prepares c for requests on listen_fd. AIGW_ENOMEM when libfcgi cannot. */
enum aigw_err fcgi_conn_init(struct fcgi_conn *c, int listen_fd) AIGW_MUSTCHECK;
/* Waits for the next connection: 0, or a negated errno when accept()
 * failed (the listener is broken) or was interrupted (-EINTR). Errors of
 * one connection (reset before it was taken) are skipped. Returns 0 at
 * once when nginx kept the last connection open (FCGI_KEEP_CONN). */
int fcgi_conn_accept(struct fcgi_conn *c);
/* Reads the accepted connection's begin record and parameters: 0, or < 0
 * when it brought no request (it is closed then). */
int fcgi_conn_read(struct fcgi_conn *c);
/* Answers the accepted request completely and finishes it. */
void fcgi_conn_answer(struct fcgi_conn *c, struct http_thread *t);
/* Frees what fcgi_conn_init() allocated. */
void fcgi_conn_free(struct fcgi_conn *c);

#endif
