/* prefork.c: the parent of aigw-fcgi's serving processes (see prefork.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/prefork.h"

bool
prefork_child_died(struct prefork_child *c, double now)
{
	double delay = PREFORK_DELAY_MIN_S;

	c->pid = 0;
	if (now - c->started >= PREFORK_STABLE_S) {
		/* A crash after a while of serving: replace it at once. */
		c->quick_deaths = 0;
		c->restart_at = now;
		return true;
	}
	/* Dying at start again and again (a broken listener, memory): wait
	 * longer each time rather than fork in a loop. */
	c->quick_deaths++;
	if (c->quick_deaths >= PREFORK_QUICK_DEATHS_MAX)
		return false;
	for (unsigned i = 1; i < c->quick_deaths && delay < PREFORK_DELAY_MAX_S; i++)
		delay *= 2;
	if (delay > PREFORK_DELAY_MAX_S)
		delay = PREFORK_DELAY_MAX_S;
	c->restart_at = now + delay;
	return true;
}

static double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
signal_children(const struct prefork_child *kids, long n, int sig)
{
	for (long i = 0; i < n; i++) {
		if (kids[i].pid > 0 && kill(kids[i].pid, sig) != 0 && errno != ESRCH)
			log_error("prefork", NULL, "cannot signal process %ld: %s",
				  (long)kids[i].pid, strerror(errno));
	}
}

/* In the child just forked: die with the parent, and take back the
 * caller's signal mask. */
static void
become_child(pid_t parent, const sigset_t *mask)
{
	/* A parent killed by SIGKILL forwards nothing: its children stop
	 * as if told to rather than serve on unsupervised. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(0);
	sigprocmask(SIG_SETMASK, mask, NULL);
}

static void
log_death(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_error("prefork", NULL, "process %ld was killed by signal %d", (long)pid,
			  WTERMSIG(status));
	else
		log_error("prefork", NULL, "process %ld exited with status %d", (long)pid,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int
prefork_run(long nprocs, long *index)
{
	struct prefork_child kids[PREFORK_PROCESSES_MAX];
	const pid_t parent = getpid();
	sigset_t watch, caller;
	bool stopping = false;
	long live = 0;
	int rc = 0;

	if (nprocs < 2 || nprocs > PREFORK_PROCESSES_MAX) {
		fprintf(stderr, "aigw-fcgi: --processes: expected 1 to %d\n", PREFORK_PROCESSES_MAX);
		return 1;
	}
	/* Blocked before the first fork, so that a signal arriving while
	 * children start is taken by sigtimedwait below, never lost. */
	sigemptyset(&watch);
	sigaddset(&watch, SIGTERM);
	sigaddset(&watch, SIGINT);
	sigaddset(&watch, SIGHUP);
	sigaddset(&watch, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &watch, &caller) != 0) {
		fprintf(stderr, "aigw-fcgi: sigprocmask: %s\n", strerror(errno));
		return 1;
	}
	memset(kids, 0, sizeof kids);
	log_info("prefork", NULL, "starting %ld processes", nprocs);
	for (;;) {
		double now = mono_now(), next = now + 1.0;
		struct timespec wait;
		int status, sig;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (long i = 0; i < nprocs; i++) {
				if (kids[i].pid != pid)
					continue;
				live--;
				if (stopping) {
					kids[i].pid = 0;
					break;
				}
				log_death(pid, status);
				if (!prefork_child_died(&kids[i], now)) {
					log_error("prefork", NULL, "a process died %d times in a row"
						  " within %.0f s of its start; stopping",
						  PREFORK_QUICK_DEATHS_MAX, PREFORK_STABLE_S);
					stopping = true;
					rc = 1;
					signal_children(kids, nprocs, SIGTERM);
				}
				break;
			}
		}
		if (stopping && live == 0)
			break;
		for (long i = 0; i < nprocs && !stopping; i++) {
			if (kids[i].pid != 0)
				continue;
			if (kids[i].restart_at > now) {
				if (kids[i].restart_at < next)
					next = kids[i].restart_at;
				continue;
			}
			kids[i].started = now;
			pid = fork();
			if (pid == 0) {
				become_child(parent, &caller);
				*index = i;
				return PREFORK_CHILD;
			}
			if (pid > 0) {
				kids[i].pid = pid;
				live++;
				continue;
			}
			log_error("prefork", NULL, "cannot fork: %s", strerror(errno));
			if (!prefork_child_died(&kids[i], now)) {
				stopping = true;
				rc = 1;
				signal_children(kids, nprocs, SIGTERM);
			} else if (kids[i].restart_at < next) {
				next = kids[i].restart_at;
			}
		}
		if (next < now + 0.001)
			next = now + 0.001;
		wait.tv_sec = (time_t)(next - now);
		wait.tv_nsec = (long)((next - now - (double)wait.tv_sec) * 1e9);
		sig = sigtimedwait(&watch, NULL, &wait);
		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				log_info("prefork", NULL, "stopping on signal %d", sig);
			stopping = true;
			/* Each child stops as a single process would: it
			 * finishes its requests and ends its waits. */
			signal_children(kids, nprocs, sig);
		} else if (sig == SIGHUP) {
			signal_children(kids, nprocs, SIGHUP);
		}
	}
	sigprocmask(SIG_SETMASK, &caller, NULL);
	return rc;
}
