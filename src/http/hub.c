/* hub.c: one LISTEN per process for every waiting request (see hub.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "http/hub.h"

#define HUB_RETRY_MS 1000           /* between tries to get the LISTEN back */

struct hub {
	struct db *db;
	pthread_t thread;
	pthread_mutex_t lock;
	struct hub_watch *watches;
	struct status_cache *cache;  /* NULL: none */
	bool listening;
	unsigned long epoch;         /* counts the LISTENs made */
	int stop_pipe[2];
};

static void
wake(const struct hub_watch *w)
{
	uint64_t one = 1;

	/* The counter only has to be non-zero: a full one is fine. */
	fd_wake(w->wake_fd, &one, sizeof one);
}

static void
wake_all(struct hub *h)
{
	for (struct hub_watch *w = h->watches; w != NULL; w = w->next)
		wake(w);
}

void
hub_heard(struct hub *h, enum db_channel kind, const char *id)
{
	/* First: a woken request must not find the old state in memory. */
	if (h->cache != NULL)
		status_cache_forget(h->cache, kind, id);
	pthread_mutex_lock(&h->lock);
	for (struct hub_watch *w = h->watches; w != NULL; w = w->next)
		if (w->kind == kind && strcmp(w->id, id) == 0)
			wake(w);
	pthread_mutex_unlock(&h->lock);
}

static void
heard(void *arg, enum db_channel kind, const char *id)
{
	hub_heard(arg, kind, id);
}

void
hub_set_listening(struct hub *h, bool on)
{
	/* Lost: changes may go unheard. Made: reads begun while it was down
	 * may hold what a missed notification changed. */
	if (h->cache != NULL)
		status_cache_enable(h->cache, on);
	pthread_mutex_lock(&h->lock);
	h->listening = on;
	if (on)
		h->epoch++;
	/* Lost: what was missed is unknown. Back: read again anyway. */
	wake_all(h);
	pthread_mutex_unlock(&h->lock);
}

/* Sleeps ms, or until stopped; true when stopped. */
static bool
stopped_within(struct hub *h, int ms)
{
	struct pollfd p = { .fd = h->stop_pipe[0], .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

static void *
hub_main(void *arg)
{
	struct hub *h = arg;
	struct db_ping ping;

	for (;;) {
		struct pollfd pfd[2];

		if (db_listen_all(h->db) != AIGW_OK) {
			db_reset(h->db);
			if (stopped_within(h, HUB_RETRY_MS))
				break;
			continue;
		}
		hub_set_listening(h, true);
		db_ping_start(&ping, h->db, time_mono_ms());
		pfd[1].revents = 0;
		for (;;) {
			int64_t now = time_mono_ms(), next;

			if (db_ping(h->db, &ping, now, &next) != AIGW_OK)
				break;
			pfd[0] = (struct pollfd){ .fd = PQsocket(db_conn(h->db)), .events = POLLIN };
			pfd[1] = (struct pollfd){ .fd = h->stop_pipe[0], .events = POLLIN };
			if (poll(pfd, 2, next > now ? (int)(next - now) : 0) < 0 && errno != EINTR)
				break;
			if (pfd[1].revents != 0 || db_notifications(h->db, heard, h) != AIGW_OK)
				break;
		}
		hub_set_listening(h, false);
		if (pfd[1].revents != 0)
			break;
		log_warn("hub", NULL, "lost the database connection that listens for changes;"
			 " waiting requests answer now");
		db_reset(h->db);
	}
	return NULL;
}

struct hub *
hub_new(struct status_cache *cache)
{
	struct hub *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->cache = cache;
	h->stop_pipe[0] = h->stop_pipe[1] = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

struct hub *
hub_start(const struct aigw_config *cfg, struct status_cache *cache)
{
	struct hub *h = hub_new(cache);

	if (h == NULL)
		return NULL;
	h->db = db_open(cfg, DB_USE_LISTEN);
	if (h->db == NULL || pipe2(h->stop_pipe, O_CLOEXEC) != 0)
		goto fail;
	if (pthread_create(&h->thread, NULL, hub_main, h) != 0)
		goto fail;
	return h;
fail:
	if (h->stop_pipe[0] >= 0) {
		close(h->stop_pipe[0]);
		close(h->stop_pipe[1]);
	}
	db_free(h->db);
	hub_free(h);
	return NULL;
}

void
hub_stop(struct hub *h)
{
	if (h == NULL)
		return;
	fd_wake(h->stop_pipe[1], "x", 1);
	pthread_join(h->thread, NULL);
	close(h->stop_pipe[0]);
	close(h->stop_pipe[1]);
	db_free(h->db);
	hub_free(h);
}

static void
drain_fd(int fd)
{
	uint64_t n;

	while (read(fd, &n, sizeof n) > 0)
		;
}

enum aigw_err
hub_watch(struct hub *h, struct hub_watch *w, enum db_channel kind, const char *id, int wake_fd)
{
	enum aigw_err err = AIGW_EDB;

	memset(w, 0, sizeof *w);
	w->kind = kind;
	w->wake_fd = wake_fd;
	for (size_t i = 0; i < UUID_STR_LEN && id[i] != '\0'; i++)
		w->id[i] = (id[i] >= 'A' && id[i] <= 'F') ? (char)(id[i] + ('a' - 'A')) : id[i];
	/* A wake left over from an earlier request of this thread. */
	drain_fd(wake_fd);
	pthread_mutex_lock(&h->lock);
	if (h->listening) {
		w->epoch = h->epoch;
		w->next = h->watches;
		h->watches = w;
		err = AIGW_OK;
	}
	pthread_mutex_unlock(&h->lock);
	return err;
}

bool
hub_watching(struct hub *h, const struct hub_watch *w)
{
	bool ok;

	pthread_mutex_lock(&h->lock);
	ok = h->listening && h->epoch == w->epoch;
	pthread_mutex_unlock(&h->lock);
	return ok;
}

enum aigw_err
hub_wait(const struct hub_watch *w, int hangup_fd, int64_t deadline_ms, enum db_wait_result *out)
{
	short revents;

	*out = DB_WAIT_TIMEOUT;
	switch (fd_wait_readable(w->wake_fd, hangup_fd, deadline_ms, &revents)) {
	case FD_WAIT_READY:
		drain_fd(w->wake_fd);
		*out = DB_WAIT_NOTIFIED;
		return AIGW_OK;
	case FD_WAIT_HANGUP:
		*out = DB_WAIT_HANGUP;
		return AIGW_OK;
	case FD_WAIT_ERROR:
		log_error("hub", NULL, "poll failed while waiting: %s", strerror(errno));
		return AIGW_EIO;
	default:
		return AIGW_OK;
	}
}

void
hub_unwatch(struct hub *h, struct hub_watch *w)
{
	pthread_mutex_lock(&h->lock);
	for (struct hub_watch **p = &h->watches; *p != NULL; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
}
