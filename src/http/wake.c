/* wake.c: the waker thread (see wake.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "db/workers.h"
#include "http/spawn.h"
#include "http/wake.h"

/* How often the waker looks for chats nobody is running. */
#define WAKE_SWEEP_S 3
/* Submits within this long of a wake-up share the next one. */
#define WAKE_GAP_MS 10

struct waker {
	const struct aigw_config *cfg;
	char **spawn_env;
	struct db *db;             /* NULL with a test's ops */
	struct waker_ops ops;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pending;
	bool stopping;
};

void
wake_now(const struct aigw_config *cfg, char **spawn_env, struct db *db)
{
	int slot = 0;

	if (db_notify_work(db) != AIGW_OK)
		log_warn("wake", NULL, "workers not notified; they find the work by polling");
	if (!cfg->spawn)
		return;
	if (db_slot_reserve_spawn(db, cfg->workers_max, &slot) != AIGW_OK || slot == 0)
		return;
	if (spawn_worker(cfg->worker_bin, spawn_env, slot, cfg->log_file) != AIGW_OK)
		log_warn("wake", NULL, "no worker started for slot %d; it frees itself when stale", slot);
}

/* True when work waits unclaimed: a wake-up was lost (a worker left idle
 * just as it came), every worker died, or a lease ran out with no worker
 * left to take it. The sweep wakes or starts one. */
static bool
queue_waiting(void *arg)
{
	struct waker *w = arg;
	long n = 0;

	return db_queue_waiting(w->db, w->cfg->max_attempts, w->cfg->analysis_concurrency, &n) ==
	       AIGW_OK && n > 0;
}

static void
wake_round(void *arg)
{
	struct waker *w = arg;

	wake_now(w->cfg, w->spawn_env, w->db);
}

static void *
waker_main(void *arg)
{
	struct waker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct timespec until;
		bool sweep = false;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += WAKE_SWEEP_S;
		while (!w->pending && !w->stopping && !sweep)
			sweep = pthread_cond_timedwait(&w->cond, &w->lock, &until) == ETIMEDOUT;
		if (w->stopping)
			break;
		w->pending = false;
		pthread_mutex_unlock(&w->lock);
		if (!sweep || w->ops.work_waiting(w->ops.arg))
			w->ops.wake(w->ops.arg);
		pthread_mutex_lock(&w->lock);
		/*
		 * Under a stream of submits a wake-up per submit would be a
		 * NOTIFY transaction per submit, as costly to the database as
		 * the submit itself. A worker claims everything waiting when it
		 * wakes, so one wake-up per gap loses nothing but a few
		 * milliseconds.
		 */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += WAKE_GAP_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!w->stopping && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Starts w's thread; frees w when it cannot. */
static struct waker *
waker_run(struct waker *w)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&w->thread, NULL, waker_main, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		db_free(w->db);
		free(w);
		return NULL;
	}
	return w;
}

struct waker *
waker_start(const struct aigw_config *cfg, char **spawn_env)
{
	struct waker *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->cfg = cfg;
	w->spawn_env = spawn_env;
	w->db = db_open(cfg, DB_USE_WORK);
	if (w->db == NULL) {
		free(w);
		return NULL;
	}
	w->ops = (struct waker_ops){ queue_waiting, wake_round, w };
	return waker_run(w);
}

struct waker *
waker_start_ops(const struct waker_ops *ops)
{
	struct waker *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->ops = *ops;
	return waker_run(w);
}

void
waker_poke(struct waker *w)
{
	pthread_mutex_lock(&w->lock);
	if (!w->pending) {
		w->pending = true;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
}

void
waker_stop(struct waker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	db_free(w->db);
	free(w);
}
