/* fcgi.c: the libfcgi transport (see fcgi.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "http/fcgi.h"

static const char *
fcgi_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static long
fcgi_read(void *ctx, char *buf, size_t n)
{
	int got = FCGX_GetStr(buf, n > 65536 ? 65536 : (int)n, ((FCGX_Request *)ctx)->in);

	if (got == 0 && FCGX_GetError(((FCGX_Request *)ctx)->in) != 0)
		return -1;
	return got;
}

static int
fcgi_write(void *ctx, const char *buf, size_t n)
{
	FCGX_Stream *out = ((FCGX_Request *)ctx)->out;

	while (n > 0) {
		int chunk = n > 65536 ? 65536 : (int)n;

		if (FCGX_PutStr(buf, chunk, out) != chunk)
			return -1;
		buf += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

static int
fcgi_flush(void *ctx)
{
	return FCGX_FFlush(((FCGX_Request *)ctx)->out);
}

/* The connection from nginx: it closes it when its client goes away. */
static int
fcgi_hangup_fd(void *ctx)
{
	return ((FCGX_Request *)ctx)->ipcFd;
}

/*
 * A response leaves in several writes (its records, then the end of the
 * request): over TCP, Nagle's algorithm would hold the last one until
 * nginx acknowledges the first, which a delayed ACK can put off by 40 ms.
 * A Unix socket refuses the option, harmlessly.
 */
static void
no_delay(int fd)
{
	int on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

enum aigw_err
fcgi_init(void)
{
	return FCGX_Init() == 0 ? AIGW_OK : AIGW_EIO;
}

bool
fcgi_stdin_not_socket(void)
{
	return FCGX_IsCGI() != 0;
}

enum aigw_err
fcgi_conn_init(struct fcgi_conn *c, int listen_fd)
{
	c->io = (struct http_io){ &c->request, fcgi_param, fcgi_read, fcgi_write, fcgi_flush,
				  fcgi_hangup_fd };
	c->listen_fd = listen_fd;
	/* No listening socket for libfcgi: when a connection brings no
	 * request, FCGX_Accept_r() would accept the next one itself, outside
	 * our serialisation and where a stop could not interrupt it; with -1
	 * its accept() fails at once instead (EBADF) and we accept again. */
	return FCGX_InitRequest(&c->request, -1, FCGI_FAIL_ACCEPT_ON_INTR) == 0
	       ? AIGW_OK : AIGW_ENOMEM;
}

/* Errors of the connection being taken, not of the listener: accept(2)
 * says to take the next one (libfcgi did the same). Not EOPNOTSUPP:
 * a listener of the wrong type would make a tight loop of it. */
static bool
accept_error_transient(int err)
{
	switch (err) {
	case ECONNABORTED:
	case ECONNRESET:
	case EPROTO:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case ENONET:
		return true;
	default:
		return false;
	}
}

int
fcgi_conn_accept(struct fcgi_conn *c)
{
	int fd;

	if (c->request.ipcFd >= 0)
		return 0;
	/* Close-on-exec: a worker spawned meanwhile must not hold nginx's
	 * connection open (libfcgi's accept() did not set it). */
	while ((fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		if (!accept_error_transient(errno))
			return -errno;
	}
	c->request.ipcFd = fd;
	/* FCGX_Accept_r() first finishes the request before: with nothing
	 * left of it, only keepConnection decides whether it closes ipcFd. */
	c->request.keepConnection = 1;
	return 0;
}

int
fcgi_conn_read(struct fcgi_conn *c)
{
	return FCGX_Accept_r(&c->request);
}

void
fcgi_conn_answer(struct fcgi_conn *c, struct http_thread *t)
{
	no_delay(c->request.ipcFd);
	http_handle(t, &c->io);
	FCGX_Finish_r(&c->request);
}

void
fcgi_conn_free(struct fcgi_conn *c)
{
	FCGX_Free(&c->request, 1);
}
