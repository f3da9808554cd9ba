/*
 * aigw-fcgi.c: the FastCGI responder behind nginx, and a plain CGI program
 * when a CGI server starts it.
 *
 * FastCGI: several threads share one listening socket (from --listen,
 * descriptor 3 as systemd's LISTEN_FDS passes it, or descriptor 0 as
 * spawn-fcgi and StandardInput=socket pass it); each
 * thread owns one database connection for its whole life.
 *
 * Stopping: waiting requests (long-polls, event streams) are woken and
 * answer at once (http/realtime.h); the threads finish the requests they
 * hold and accept no more. A socket of our own is shut down to end the accept() in progress. An
 * inherited one belongs to systemd (or spawn-fcgi) and must keep listening
 * for the next process, with the connections made meanwhile waiting in its
 * backlog; shutdown() would stop it for everyone, so the thread in accept()
 * is interrupted with SIGUSR1 instead.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "http/commit.h"
#include "http/hub.h"
#include "http/listener.h"
#include "http/realtime.h"
#include "http/server.h"
#include "http/spawn.h"

#define THREADS_DEFAULT 16
#define THREADS_MAX 256

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static int listen_fd;
/* For a socket PATH (--socket-mode, --socket-group). */
static mode_t socket_mode = LISTENER_MODE_DEFAULT;
static gid_t socket_gid = (gid_t)-1;

/* Under state_lock: whether we stop, which thread is in accept(), and how
 * many serving threads have not returned yet. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static bool stopping;
static bool accepting;
static pthread_t accepting_thread;
static long threads_running;

/* SIGUSR1 only ends a blocking accept() with EINTR. */
static void
on_interrupt(int sig)
{
	(void)sig;
}

/* Called holding accept_lock: false once stopping, else notes that this
 * thread is about to block in accept(). */
static bool
accept_begin(void)
{
	bool go;

	pthread_mutex_lock(&state_lock);
	go = !stopping;
	if (go) {
		accepting = true;
		accepting_thread = pthread_self();
	}
	pthread_mutex_unlock(&state_lock);
	return go;
}

/* Ends accept_begin; true when the process is stopping. */
static bool
accept_end(void)
{
	bool stop;

	pthread_mutex_lock(&state_lock);
	accepting = false;
	stop = stopping;
	pthread_mutex_unlock(&state_lock);
	return stop;
}
/* Shared by every thread for the life of the process. */
static struct rt_gate wait_gate;
static struct commit_group chat_commits;

/* ---- the FastCGI transport ---- */

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

/* ---- the CGI transport ---- */

static const char *
cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long
cgi_read(void *ctx, char *buf, size_t n)
{
	size_t got;

	(void)ctx;
	got = fread(buf, 1, n, stdin);
	if (got == 0 && ferror(stdin))
		return -1;
	return (long)got;
}

static int
cgi_write(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

static int
cgi_flush(void *ctx)
{
	(void)ctx;
	return fflush(stdout) == 0 ? 0 : -1;
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

static void *
serve_thread(void *arg)
{
	struct http_thread *t = arg;
	FCGX_Request request;
	struct http_io io = { &request, fcgi_param, fcgi_read, fcgi_write, fcgi_flush,
			      fcgi_hangup_fd };

	if (FCGX_InitRequest(&request, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("fcgi", NULL, "cannot initialise a request");
		goto out;
	}
	for (;;) {
		int rc;
		bool stop;

		pthread_mutex_lock(&accept_lock);
		if (!accept_begin()) {
			pthread_mutex_unlock(&accept_lock);
			break;
		}
		rc = FCGX_Accept_r(&request);
		stop = accept_end();
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0) {
			if (!stop) {
				/* The listener is broken: stop the whole process
				 * rather than linger with fewer threads. */
				log_error("fcgi", NULL, "accept failed (%d); stopping", rc);
				kill(getpid(), SIGTERM);
			}
			break;
		}
		no_delay(request.ipcFd);
		http_handle(t, &io);
		FCGX_Finish_r(&request);
	}
	FCGX_Free(&request, 1);
out:
	pthread_mutex_lock(&state_lock);
	threads_running--;
	pthread_mutex_unlock(&state_lock);
	return NULL;
}

/*
 * Stops the serving threads: each finishes its request and accepts no
 * more. The thread blocked in accept() is woken by shutting our own
 * socket down, or, for an inherited one, by SIGUSR1 every 20 ms (a signal
 * sent just before it entered accept() is missed) until all have left.
 */
static void
stop_threads(bool own_socket)
{
	const struct timespec tick = { 0, 20 * 1000 * 1000 };
	bool left;

	pthread_mutex_lock(&state_lock);
	stopping = true;
	pthread_mutex_unlock(&state_lock);
	if (own_socket)
		shutdown(listen_fd, SHUT_RDWR);
	do {
		pthread_mutex_lock(&state_lock);
		if (accepting) {
			int err = pthread_kill(accepting_thread, SIGUSR1);

			if (err != 0)
				log_error("fcgi", NULL, "cannot interrupt accept: %s", strerror(err));
		}
		left = threads_running > 0;
		pthread_mutex_unlock(&state_lock);
		if (left)
			nanosleep(&tick, NULL);
	} while (left);
}

static int
usage(void)
{
	fprintf(stderr, "usage: aigw-fcgi [--listen HOST:PORT|PATH [--socket-mode OCTAL]\n"
			"                 [--socket-group NAME]] [--threads N]\n"
			"A socket PATH is mode 0660 unless --socket-mode says otherwise.\n"
			"Without --listen: a CGI program when GATEWAY_INTERFACE is set, else\n"
			"FastCGI on the socket systemd passes (LISTEN_FDS, descriptor 3) or on\n"
			"descriptor 0 (spawn-fcgi, StandardInput=socket).\n");
	return 2;
}

static int
serve_cgi(struct http_app *app)
{
	struct http_thread t = { app, db_open(app->cfg, DB_USE_REQUEST), -1 };
	struct http_io io = { NULL, cgi_param, cgi_read, cgi_write, cgi_flush, NULL };

	app->cgi = true;
	if (t.db == NULL) {
		fprintf(stderr, "aigw-fcgi: out of memory\n");
		return 1;
	}
	http_handle(&t, &io);
	fflush(stdout);
	db_free(t.db);
	return 0;
}

static int
serve_fcgi(struct http_app *app, const char *listen_addr, long nthreads)
{
	struct http_thread *threads = NULL;
	pthread_t *tids = NULL;
	sigset_t stop_signals;
	struct sigaction interrupt;
	long started = 0;
	int rc = 1;

	if (FCGX_Init() != 0) {
		fprintf(stderr, "aigw-fcgi: cannot initialise FastCGI\n");
		return 1;
	}
	if (listen_addr != NULL) {
		char errbuf[512];

		listen_fd = listener_open(listen_addr, socket_mode, socket_gid, errbuf, sizeof errbuf);
		if (listen_fd < 0) {
			fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
			return 1;
		}
	}
	/* Every thread blocks SIGTERM and SIGINT; the main thread waits for
	 * them, then shuts the listener so threads leave accept() after
	 * finishing the request they hold. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	memset(&interrupt, 0, sizeof interrupt);
	interrupt.sa_handler = on_interrupt;
	sigemptyset(&interrupt.sa_mask);
	/* No SA_RESTART: accept() must return EINTR. */
	if (sigaction(SIGUSR1, &interrupt, NULL) != 0) {
		fprintf(stderr, "aigw-fcgi: sigaction: %s\n", strerror(errno));
		return 1;
	}
	app->waker = waker_start(app->cfg, app->spawn_env);
	if (app->waker == NULL) {
		fprintf(stderr, "aigw-fcgi: cannot start the waker thread\n");
		return 1;
	}
	/* Waiting requests hold a thread each: leave threads for the rest. */
	rt_gate_init(&wait_gate, rt_wait_max(app->cfg->wait_max, nthreads),
		     app->cfg->wait_max_per_owner);
	app->gate = &wait_gate;
	commit_group_init(&chat_commits);
	app->chat_commits = &chat_commits;
	app->hub = hub_start(app->cfg);
	if (app->hub == NULL) {
		fprintf(stderr, "aigw-fcgi: cannot start the notification thread\n");
		goto out;
	}
	threads = calloc((size_t)nthreads, sizeof *threads);
	tids = calloc((size_t)nthreads, sizeof *tids);
	if (threads == NULL || tids == NULL) {
		fprintf(stderr, "aigw-fcgi: out of memory\n");
		goto out;
	}
	for (long i = 0; i < nthreads; i++) {
		threads[i].app = app;
		threads[i].db = db_open(app->cfg, DB_USE_REQUEST);
		threads[i].wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		pthread_mutex_lock(&state_lock);
		threads_running++;
		pthread_mutex_unlock(&state_lock);
		if (threads[i].db == NULL || threads[i].wake_fd < 0 ||
		    pthread_create(&tids[i], NULL, serve_thread, &threads[i]) != 0) {
			fprintf(stderr, "aigw-fcgi: cannot start thread %ld\n", i);
			pthread_mutex_lock(&state_lock);
			threads_running--;
			pthread_mutex_unlock(&state_lock);
			db_free(threads[i].db);
			threads[i].db = NULL;
			if (threads[i].wake_fd >= 0)
				close(threads[i].wake_fd);
			break;
		}
		started++;
	}
	if (started > 0) {
		int sig = 0;

		log_info("fcgi", NULL, "serving on %s with %ld threads, %ld of them may wait",
			 listen_addr ? listen_addr
			 : listen_fd == LISTENER_SD_FD ? "descriptor 3 (LISTEN_FDS)" : "descriptor 0",
			 started, wait_gate.max);
		sigwait(&stop_signals, &sig);
		log_info("fcgi", NULL, "stopping on signal %d", sig);
		rc = 0;
	}
	/* Waiting requests answer now rather than at their deadline, which
	 * could outlast the service manager's patience. */
	rt_gate_close(&wait_gate);
	/* Also when a thread failed to start: the others must leave too. */
	stop_threads(listen_addr != NULL);
	for (long i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		db_free(threads[i].db);
		close(threads[i].wake_fd);
	}
out:
	hub_stop(app->hub);
	app->hub = NULL;
	waker_stop(app->waker);
	app->waker = NULL;
	app->gate = NULL;
	rt_gate_destroy(&wait_gate);
	if (app->chat_commits != NULL)
		commit_group_destroy(app->chat_commits);
	app->chat_commits = NULL;
	free(threads);
	free(tids);
	return rc;
}

int
main(int argc, char **argv)
{
	struct aigw_config cfg;
	struct http_app app;
	struct jobtype_registry *jobtypes = NULL;
	const char *listen_addr = NULL;
	long nthreads = THREADS_DEFAULT;
	bool socket_opts = false;
	char errbuf[512];
	int rc, inherited;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_addr = argv[++i];
		} else if (strcmp(argv[i], "--socket-mode") == 0 && i + 1 < argc) {
			socket_opts = true;
			if (listener_parse_mode(argv[++i], &socket_mode) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --socket-mode: expected an octal mode"
						" from 0 to 0777, as 0660\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--socket-group") == 0 && i + 1 < argc) {
			socket_opts = true;
			if (listener_find_group(argv[++i], &socket_gid) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --socket-group: no group named %s\n",
					argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			if (parse_long(argv[++i], 1, THREADS_MAX, &nthreads) != AIGW_OK) {
				fprintf(stderr, "aigw-fcgi: --threads: expected 1 to %d\n", THREADS_MAX);
				return 2;
			}
		} else {
			return usage();
		}
	}
	if (socket_opts && (listen_addr == NULL || listen_addr[0] != '/')) {
		fprintf(stderr, "aigw-fcgi: --socket-mode and --socket-group set a unix socket's"
				" file: use them with --listen PATH\n");
		return 2;
	}
	/* Before anything reads or copies the environment. */
	inherited = listener_take_inherited(errbuf, sizeof errbuf);
	if (inherited == -2) {
		fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
		return 2;
	}
	if (config_load(&cfg, errbuf, sizeof errbuf) != AIGW_OK) {
		/* A CGI server shows stderr in its log; the client gets a 500. */
		fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
		return 2;
	}
	log_set_level(cfg.log_level);
	log_set_program("aigw-fcgi");
	signal(SIGPIPE, SIG_IGN);
	app.cfg = &cfg;
	app.waker = NULL;
	app.gate = NULL;
	app.chat_commits = NULL;
	app.hub = NULL;
	app.cgi = false;
	if (jobtype_load_program("aigw-fcgi", cfg.jobtypes_dir, &jobtypes) != AIGW_OK) {
		config_free(&cfg);
		return 2;
	}
	app.jobtypes = jobtypes;
	app.spawn_env = spawn_env_new();
	if (app.spawn_env == NULL) {
		fprintf(stderr, "aigw-fcgi: out of memory\n");
		jobtype_registry_free(jobtypes);
		config_free(&cfg);
		return 1;
	}
	if (listen_addr == NULL && inherited >= 0) {
		listen_fd = inherited;
		rc = serve_fcgi(&app, NULL, nthreads);
	} else if (listen_addr == NULL && getenv("GATEWAY_INTERFACE") != NULL) {
		rc = serve_cgi(&app);
	} else if (listen_addr == NULL && FCGX_IsCGI()) {
		/* Descriptor 0 is no listening socket: started by hand. */
		rc = usage();
	} else {
		rc = serve_fcgi(&app, listen_addr, nthreads);
	}
	spawn_env_free(app.spawn_env);
	jobtype_registry_free(jobtypes);
	config_free(&cfg);
	return rc;
}
