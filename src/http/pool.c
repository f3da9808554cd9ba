/* pool.c: the serving threads and their stopping (see pool.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/commit.h"
#include "http/fcgi.h"
#include "http/hub.h"
#include "http/listener.h"
#include "http/metrics.h"
#include "http/pool.h"
#include "http/realtime.h"
#include "http/status_cache.h"

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static int listen_fd;

/* Under state_lock: whether we stop, which thread is in accept(), and how
 * many serving threads have not returned yet. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static bool stopping;
static bool accepting;
static pthread_t accepting_thread;
static long threads_running;

/* Shared by every thread for the life of the process. */
static struct rt_gate wait_gate;
static struct commit_group chat_commits;

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

static void *
serve_thread(void *arg)
{
	struct http_thread *t = arg;
	struct fcgi_conn conn;

	if (fcgi_conn_init(&conn, listen_fd) != AIGW_OK) {
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
		rc = fcgi_conn_accept(&conn);
		stop = accept_end();
		pthread_mutex_unlock(&accept_lock);
		if (rc == -EINTR && !stop)
			continue;
		if (rc < 0) {
			if (!stop) {
				/* The listener is broken: stop the whole process
				 * rather than linger with fewer threads. */
				log_error("fcgi", NULL, "accept failed: %s; stopping", strerror(-rc));
				kill(getpid(), SIGTERM);
			}
			break;
		}
		/* Outside the lock: nginx may not have written the request
		 * yet when accept() returns, and the other threads must not
		 * wait for it (they did, and the status path left the CPUs
		 * idle). A connection without a request is closed. */
		if (fcgi_conn_read(&conn) < 0)
			continue;
		fcgi_conn_answer(&conn, t);
	}
	fcgi_conn_free(&conn);
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

/* Every thread blocks SIGTERM and SIGINT (into stop_signals); the main
 * thread waits for them, then shuts the listener so threads leave
 * accept() after finishing the request they hold. SIGUSR1 interrupts an
 * accept(). AIGW_EIO when the handler cannot be installed. */
static enum aigw_err
setup_signals(sigset_t *stop_signals)
{
	struct sigaction interrupt;

	sigemptyset(stop_signals);
	sigaddset(stop_signals, SIGTERM);
	sigaddset(stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, stop_signals, NULL);
	memset(&interrupt, 0, sizeof interrupt);
	interrupt.sa_handler = on_interrupt;
	sigemptyset(&interrupt.sa_mask);
	/* No SA_RESTART: accept() must return EINTR. */
	if (sigaction(SIGUSR1, &interrupt, NULL) != 0) {
		fprintf(stderr, "aigw-fcgi: sigaction: %s\n", strerror(errno));
		return AIGW_EIO;
	}
	return AIGW_OK;
}

/* Starts up to nthreads serving threads; the number started. */
static long
start_threads(struct http_app *app, struct http_thread *threads, pthread_t *tids, long nthreads)
{
	long started = 0;

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
	return started;
}

int
pool_listen_open(struct pool_listen *l)
{
	char errbuf[512];

	if (l->addr == NULL || l->opened)
		return 0;
	l->fd = listener_open(l->addr, l->mode, l->gid, errbuf, sizeof errbuf);
	if (l->fd < 0) {
		fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
		return 1;
	}
	l->opened = true;
	return 0;
}

int
pool_serve(struct http_app *app, const struct pool_listen *l, long nthreads)
{
	struct pool_listen own;
	struct http_thread *threads = NULL;
	struct metrics_flusher *flusher = NULL;
	pthread_t *tids = NULL;
	sigset_t stop_signals;
	long started = 0;
	int rc = 1;

	if (fcgi_init() != AIGW_OK) {
		fprintf(stderr, "aigw-fcgi: cannot initialise FastCGI\n");
		return 1;
	}
	own = *l;
	if (pool_listen_open(&own) != 0)
		return 1;
	listen_fd = own.fd;
	if (setup_signals(&stop_signals) != AIGW_OK)
		return 1;
	app->waker = waker_start(app->cfg, app->spawn_env);
	if (app->waker == NULL) {
		fprintf(stderr, "aigw-fcgi: cannot start the waker thread\n");
		return 1;
	}
	flusher = metrics_flusher_start(app->cfg);
	if (flusher == NULL) {
		fprintf(stderr, "aigw-fcgi: cannot start the metrics thread\n");
		waker_stop(app->waker);
		app->waker = NULL;
		return 1;
	}
	/* Waiting requests hold a thread each: leave threads for the rest. */
	rt_gate_init(&wait_gate, rt_wait_max(app->cfg->wait_max, nthreads),
		     app->cfg->wait_max_per_owner);
	app->gate = &wait_gate;
	commit_group_init(&chat_commits);
	app->chat_commits = &chat_commits;
	if (app->cfg->status_cache_bytes > 0) {
		app->status_cache = status_cache_new((size_t)app->cfg->status_cache_bytes,
						     app->cfg->status_cache_max_age_ms,
						     app->status_cache_stats, app->process_index);
		if (app->status_cache == NULL) {
			fprintf(stderr, "aigw-fcgi: out of memory\n");
			goto out;
		}
	}
	app->hub = hub_start(app->cfg, app->status_cache);
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
	started = start_threads(app, threads, tids, nthreads);
	if (started > 0) {
		int sig = 0;

		log_info("fcgi", NULL, "serving on %s with %ld threads, %ld of them may wait",
			 l->addr ? l->addr
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
	/* A socket other processes accept on must go on listening. */
	stop_threads(l->addr != NULL && !l->shared);
	for (long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	for (long i = 0; i < started; i++) {
		db_free(threads[i].db);
		close(threads[i].wake_fd);
	}
out:
	hub_stop(app->hub);
	app->hub = NULL;
	/* After the hub, which keeps it in step. */
	status_cache_free(app->status_cache);
	app->status_cache = NULL;
	waker_stop(app->waker);
	app->waker = NULL;
	/* After the serving threads: it writes the counts of their last
	 * second when it stops. */
	metrics_flusher_stop(flusher);
	app->gate = NULL;
	rt_gate_destroy(&wait_gate);
	if (app->chat_commits != NULL)
		commit_group_destroy(app->chat_commits);
	app->chat_commits = NULL;
	free(threads);
	free(tids);
	return rc;
}
