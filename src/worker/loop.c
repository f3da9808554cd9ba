/*
 * loop.c: the worker's event loop (see runner.h): one wait on curl, the
 * LISTEN socket and the nearest timer; then the runners of each kind of
 * work move on, notifications are drained, claims made, the slot's
 * heartbeat kept, and the reaper's turn taken. The runners never call the
 * loop: what one kind must tell another goes through here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/log.h"
#include "core/util.h"
#include "db/db.h"
#include "db/listen.h"
#include "db/reap.h"
#include "db/workers.h"
#include "worker/batchrun.h"
#include "worker/chatrun.h"
#include "worker/jobrun.h"
#include "worker/pace.h"
#include "worker/loop.h"
#include "worker/webhooks.h"
#include "worker/work.h"

#define CLAIM_POLL_MS 2000          /* fallback when a NOTIFY was missed */
#define LISTEN_RETRY_MS 5000        /* between tries to get the LISTEN back */
#define TURN_MAX_MS 1000
#define REAP_EVERY_MS 60000

struct loop {
	struct worker_ctx w;
	volatile sig_atomic_t *stop;
	struct chatrun *chats;
	struct jobrun *jobs;
	struct batchrun *batches;
	struct webhooks *webhooks;
	/* LISTEN has a connection of its own, past any pooler
	 * (AIGW_LISTEN_DATABASE_URL). */
	struct db *listen_db;
	unsigned long listening;   /* db_connection_id LISTEN was issued on; 0: none */
	struct db_ping ping;       /* of the LISTEN connection */
	int64_t listen_retry_ms;   /* when to try to LISTEN again */
	bool wake;
	int slot;
	int64_t next_claim_ms;
	long claim_limit;          /* chats one claim takes at most (worker/pace.h) */
	int64_t next_heartbeat_ms;
	int64_t idle_since_ms;
	int64_t next_reap_ms;
	int64_t stop_deadline_ms;  /* 0 until SIGTERM */
};

/* Returns how many chats and jobs were claimed. */
static size_t
claim(struct loop *l, int64_t now)
{
	const struct aigw_config *cfg = l->w.te.cfg;
	int nchats = chatrun_count(l->chats);
	size_t n = 0;
	long want;

	l->wake = false;
	l->next_claim_ms = now + CLAIM_POLL_MS;
	if (*l->stop)
		return 0;
	/* Calls already waiting for room at a provider host: more chats
	 * would only wait too, while another worker could run them. */
	if (nchats < cfg->worker_chats_max && xfer_waiting(l->w.te.xe) == 0) {
		want = cfg->worker_chats_max - nchats;
		if (want > l->claim_limit)
			want = l->claim_limit;
		n = chatrun_claim(l->chats, want, now);
	}
	return n + jobrun_claim(l->jobs, now);
}

static void
listen_if_needed(struct loop *l, int64_t now)
{
	static const enum db_channel channels[] = { DB_CHANNEL_WORK, DB_CHANNEL_CANCEL,
						    DB_CHANNEL_STEP };

	if (l->listening != 0 || now < l->listen_retry_ms)
		return;
	/* Connecting may take up to AIGW_DB_TIMEOUT_S: not at every turn. */
	l->listen_retry_ms = now + LISTEN_RETRY_MS;
	if (db_listen(l->listen_db, channels, sizeof channels / sizeof channels[0]) != AIGW_OK) {
		db_reset(l->listen_db);
		return;
	}
	l->listening = db_connection_id(l->listen_db);
	db_ping_start(&l->ping, l->listen_db, now);
	/* Anything submitted while we were not listening is found now. */
	l->wake = true;
}

static void
heard(void *arg, enum db_channel kind, const char *payload)
{
	struct loop *l = arg;

	if (kind == DB_CHANNEL_CANCEL) {
		/* Chat and job ids never meet: each runner drops what it holds. */
		chatrun_cancelled(l->chats, payload);
		jobrun_cancelled(l->jobs, payload);
	}
	else if (kind == DB_CHANNEL_STEP)
		jobrun_step_answered(l->jobs, payload);
	else
		l->wake = true;
}

/* Reads the notifications that came, and keeps the LISTEN connection
 * honest; *next is lowered to the next ping. */
static void
drain_notifications(struct loop *l, int64_t now, int64_t *next)
{
	int64_t ping_next;

	if (l->listening == 0)
		return;
	if (db_notifications(l->listen_db, heard, l) != AIGW_OK ||
	    db_ping(l->listen_db, &l->ping, now, &ping_next) != AIGW_OK) {
		log_warn("worker", NULL, "lost the database connection that listens; polling meanwhile");
		db_reset(l->listen_db);
		l->listening = 0;
		return;
	}
	if (ping_next < *next)
		*next = ping_next;
}

static void
heartbeat(struct loop *l, int64_t now)
{
	struct worker_ctx *w = &l->w;
	bool ok = false;

	if (now < l->next_heartbeat_ms)
		return;
	l->next_heartbeat_ms = now + WORKER_SLOT_HEARTBEAT_MS;
	if (l->slot == 0 || db_slot_heartbeat(w->te.db, l->slot, w->pid, w->host, &ok) != AIGW_OK ||
	    ok)
		return;
	/* Our heartbeat went stale (the database was away) and the slot went
	 * to another worker: take another, or stop claiming once done. */
	log_warn("worker", NULL, "worker slot %d was taken over", l->slot);
	l->slot = 0;
	if (db_slot_reserve(w->te.db, w->te.cfg->workers_max, w->pid, w->host, &l->slot) ==
	    AIGW_OK && l->slot == 0)
		l->idle_since_ms = 0;
}

static int64_t
turn(struct loop *l, int64_t now)
{
	/* Before claim() takes l->wake: a final state's NOTIFY wakes both. */
	int64_t hooks_next = webhooks_turn(l->webhooks, now, (long long)time(NULL), l->wake,
					   *l->stop != 0);
	int64_t next = chatrun_turn(l->chats, now, now + TURN_MAX_MS);
	int64_t jobs_next = jobrun_turn(l->jobs, now), batches_next = batchrun_turn(l->batches, now);

	if (hooks_next < next)
		next = hooks_next;
	if (jobs_next < next)
		next = jobs_next;
	if (batches_next < next)
		next = batches_next;
	if (!*l->stop && batchrun_claim(l->batches, now) > 0)
		return now;
	/* New work has tasks due now: turn again at once. */
	if ((l->wake || now >= l->next_claim_ms) && claim(l, now) > 0)
		return now;
	if (l->next_claim_ms < next)
		next = l->next_claim_ms;
	return next;
}

static void
hand_back(struct loop *l)
{
	chatrun_hand_back(l->chats);
	jobrun_hand_back(l->jobs);
	batchrun_hand_back(l->batches);
}

static int
take_slot(struct loop *l)
{
	struct worker_ctx *w = &l->w;
	bool ok = false;

	if (l->slot > 0) {
		if (db_slot_take(w->te.db, l->slot, w->pid, w->host, &ok) != AIGW_OK)
			return 1;
		if (!ok) {
			log_info("worker", NULL, "slot %d is no longer reserved for us", l->slot);
			return 1;
		}
		return 0;
	}
	if (db_slot_reserve(w->te.db, w->te.cfg->workers_max, w->pid, w->host, &l->slot) != AIGW_OK)
		return 1;
	if (l->slot == 0) {
		log_info("worker", NULL, "all %ld worker slots are taken", w->te.cfg->workers_max);
		return 1;
	}
	return 0;
}

static bool
idle_exit(struct loop *l, int64_t now)
{
	struct worker_ctx *w = &l->w;
	const struct aigw_config *cfg = w->te.cfg;

	if (chatrun_count(l->chats) > 0 || jobrun_count(l->jobs) > 0 ||
	    batchrun_count(l->batches) > 0 || batchrun_calls_waiting(l->batches) ||
	    webhooks_in_flight(l->webhooks) > 0 || xfer_in_flight(w->te.xe) > 0) {
		l->idle_since_ms = now;
		return false;
	}
	if (now - l->idle_since_ms < cfg->worker_idle_s * 1000)
		return false;
	/* Free the slot first, then look once more: work submitted while we
	 * still held the slot got no worker of its own. Work submitted after
	 * the release found the slot free and started a worker; if that worker
	 * has the slot already, the work is its, and we must not claim without
	 * a slot or one more worker than AIGW_WORKERS_MAX would run. */
	if (l->slot > 0 && db_slot_release(w->te.db, l->slot, w->pid, w->host) == AIGW_OK)
		l->slot = 0;
	if (l->slot == 0) {
		long waiting = 0;

		if (db_queue_waiting(w->te.db, cfg->max_attempts, cfg->analysis_concurrency,
				     &waiting) == AIGW_OK &&
		    waiting == 0)
			return true;
		if (db_slot_reserve(w->te.db, cfg->workers_max, w->pid, w->host, &l->slot) !=
		    AIGW_OK || l->slot == 0) {
			l->slot = 0;
			return true;
		}
	}
	l->idle_since_ms = now;
	return false;
}

/*
 * After SIGTERM: nothing new is claimed (claim() looks at *stop), and what
 * is held may finish for AIGW_WORKER_STOP_S. Returns false when it is time
 * to hand the rest back and exit; lowers *next to the deadline.
 */
static bool
stopping(struct loop *l, int64_t now, int64_t *next)
{
	int nchats = chatrun_count(l->chats), njobs = jobrun_count(l->jobs);

	if (l->stop_deadline_ms == 0) {
		l->stop_deadline_ms = now + l->w.te.cfg->worker_stop_s * 1000;
		log_info("worker", NULL, "stopping: finishing %d chat%s and %d job%s for up to %ld s",
			 nchats, nchats == 1 ? "" : "s", njobs, njobs == 1 ? "" : "s",
			 l->w.te.cfg->worker_stop_s);
	}
	if ((nchats == 0 && njobs == 0) || now >= l->stop_deadline_ms)
		return false;
	if (l->stop_deadline_ms < *next)
		*next = l->stop_deadline_ms;
	return true;
}

/*
 * The reaper's cheap statements, once a minute over all the workers that
 * share the database (the turn is a row in it), so that a deployment with
 * no timer still heals. Failures wait for the next minute.
 */
static void
reap(struct loop *l, int64_t now)
{
	const struct aigw_config *cfg = l->w.te.cfg;
	struct db_reap_limits limits = db_reap_limits_of(cfg);
	struct db_reap_counts c;
	bool due = false;

	if (now < l->next_reap_ms)
		return;
	l->next_reap_ms = now + REAP_EVERY_MS;
	if (db_reap_turn(l->w.te.db, REAP_EVERY_MS / 1000 - 5, &due) != AIGW_OK || !due ||
	    db_reap(l->w.te.db, &limits, &c) != AIGW_OK)
		return;
	if (c.chats_unclaimed + c.chats_spent + c.chats_requeued + c.chats_deleted +
	    c.jobs_unclaimed + c.jobs_spent + c.jobs_requeued + c.jobs_deleted +
	    c.batches_deleted > 0)
		log_info("worker", NULL, "reaped: chats %ld unclaimed, %ld spent, %ld requeued,"
			 " %ld deleted; jobs %ld unclaimed, %ld spent, %ld requeued, %ld deleted;"
			 " batches %ld deleted",
			 c.chats_unclaimed, c.chats_spent, c.chats_requeued, c.chats_deleted,
			 c.jobs_unclaimed, c.jobs_spent, c.jobs_requeued, c.jobs_deleted,
			 c.batches_deleted);
	if (c.chats_requeued + c.jobs_requeued > 0)
		l->wake = true;
}

/*
 * Every provider call in flight holds a connection: a worker with its
 * chats' calls and the jobs' open needs far more descriptors than the
 * usual soft limit of 1024. Raised towards the hard limit (curl waits on
 * poll(), which has no FD_SETSIZE bound); a lower limit only queues calls
 * in curl, so failing to raise it is worth a warning, not an exit.
 */
static void
raise_fd_limit(const struct aigw_config *cfg)
{
	/* Three calls a chat, the jobs' fan-outs, and the database. */
	rlim_t want = (rlim_t)cfg->worker_chats_max * 3 + JOBS_MAX * JOBTYPE_MAX_FANOUT + 64;
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= want)
		return;
	lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max > want ? want : lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
		log_warn("worker", NULL, "open files limited to %llu; calls past it wait their turn",
			 (unsigned long long)lim.rlim_cur);
}

/* The loop proper, once everything is set up; returns when it must end. */
static void
run(struct loop *l)
{
	const struct aigw_config *cfg = l->w.te.cfg;

	for (;;) {
		int64_t next, now, turn_start;
		int fd = -1;

		listen_if_needed(l, time_mono_ms());
		/* The slot's heartbeat first: a long turn must not let it go
		 * stale. */
		turn_start = time_mono_ms();
		heartbeat(l, turn_start);
		next = turn(l, time_mono_ms());
		now = time_mono_ms();
		l->claim_limit = pace_claim_next(l->claim_limit, now - turn_start, cfg->lease_s,
						 cfg->worker_chats_max);
		reap(l, now);
		if (*l->stop && !stopping(l, now, &next))
			break;
		if (!*l->stop && idle_exit(l, now))
			break;
		drain_notifications(l, now, &next);
		if (l->listening != 0)
			fd = PQsocket(db_conn(l->listen_db));
		if (xfer_wait(l->w.te.xe, fd, (int)(next > now ? next - now : 0)) != AIGW_OK)
			break;
		xfer_run(l->w.te.xe);
		drain_notifications(l, time_mono_ms(), &next);
	}
}

int
loop_run(const struct aigw_config *cfg, const struct jobtype_registry *jobtypes, int slot,
	 volatile sig_atomic_t *stop)
{
	struct loop l;
	struct worker_ctx *w = &l.w;
	int rc = 1;

	memset(&l, 0, sizeof l);
	w->te.cfg = cfg;
	w->jobtypes = jobtypes;
	l.stop = stop;
	l.slot = slot;
	w->pid = (long)getpid();
	if (gethostname(w->host, sizeof w->host) != 0)
		snprintf(w->host, sizeof w->host, "localhost");
	w->host[sizeof w->host - 1] = '\0';
	snprintf(w->name, sizeof w->name, "%s:%ld", w->host, w->pid);
	if (getrandom(&w->te.rng, sizeof w->te.rng, 0) != (ssize_t)sizeof w->te.rng ||
	    w->te.rng == 0)
		w->te.rng = (uint64_t)time_mono_ms() | 1;

	rc = routes_init(&w->te.routes, cfg);
	if (rc != 0)
		goto out;
	rc = 1;
	w->te.db = db_open(cfg, DB_USE_WORK);
	l.listen_db = db_open(cfg, DB_USE_LISTEN);
	raise_fd_limit(cfg);
	w->te.xe = xfer_engine_new(cfg->provider_connections, cfg->provider_window_start);
	l.chats = chatrun_new(w);
	l.jobs = jobrun_new(w);
	l.batches = batchrun_new(w);
	l.webhooks = webhooks_new(w);
	if (w->te.db == NULL || l.listen_db == NULL || w->te.xe == NULL || l.chats == NULL ||
	    l.jobs == NULL || l.batches == NULL || l.webhooks == NULL) {
		log_error("worker", NULL, "cannot start: out of memory or curl failed");
		goto out;
	}
	xfer_engine_set_download_max(w->te.xe, (long long)cfg->batch_download_max_mb << 20);
	xfer_engine_set_spool_dir(w->te.xe, cfg->spool_dir);
	if (take_slot(&l) != 0)
		goto out;
	log_info("worker", NULL, "started in slot %d", l.slot);
	l.idle_since_ms = time_mono_ms();
	l.wake = true;
	l.claim_limit = pace_claim_start(cfg->worker_chats_max);
	run(&l);
	{
		int nchats = chatrun_count(l.chats), njobs = jobrun_count(l.jobs);

		if (nchats > 0 || njobs > 0)
			log_info("worker", NULL, "handing back %d chat%s and %d job%s", nchats,
				 nchats == 1 ? "" : "s", njobs, njobs == 1 ? "" : "s");
	}
	hand_back(&l);
	if (l.slot > 0 && db_slot_release(w->te.db, l.slot, w->pid, w->host) != AIGW_OK)
		log_warn("worker", NULL, "slot %d not released; it frees itself when stale", l.slot);
	log_info("worker", NULL, "exiting");
	rc = 0;
out:
	chatrun_free(l.chats);
	jobrun_free(l.jobs);
	batchrun_free(l.batches);
	webhooks_free(l.webhooks);
	xfer_engine_free(w->te.xe);
	db_free(l.listen_db);
	db_free(w->te.db);
	routes_free(&w->te.routes);
	return rc;
}
