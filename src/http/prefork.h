/*
 * prefork.h: aigw-fcgi --processes N: a parent that forks N serving
 * processes on one listening socket and keeps them running.
 *
 * The parent opens (or inherits) the socket before it forks and starts no
 * thread: each child starts its own (the SIGHUP log thread, then the pool
 * of http/pool.h with its hub, gate, commit group and connections), so
 * that nothing threaded crosses a fork(); what main() made before the fork
 * (a shared memory block) is inherited by every child.
 *
 * The parent forwards SIGTERM, SIGINT and SIGHUP to the children. A child
 * that dies unasked is started again: at once when it had served for
 * PREFORK_STABLE_S, else after a delay that doubles with each quick death
 * in a row (PREFORK_DELAY_MIN_S up to PREFORK_DELAY_MAX_S), and after
 * PREFORK_QUICK_DEATHS_MAX quick deaths in a row the parent stops the
 * others and exits 1, leaving the restart to the service manager. On a
 * stop signal it waits for every child, then exits 0. A child whose
 * parent dies gets SIGTERM (PR_SET_PDEATHSIG).
 *
 * The back-off is a pure function of the child's record and `now`
 * (prefork_child_died); prefork_run does the processes and signals.
 */
#ifndef AIGW_HTTP_PREFORK_H
#define AIGW_HTTP_PREFORK_H

#include <stdbool.h>
#include <sys/types.h>

#define PREFORK_PROCESSES_MAX 64
#define PREFORK_STABLE_S 10.0        /* a child alive this long died "late" */
#define PREFORK_DELAY_MIN_S 0.5
#define PREFORK_DELAY_MAX_S 30.0
#define PREFORK_QUICK_DEATHS_MAX 8

/* What the parent knows of one child slot. */
struct prefork_child {
	pid_t pid;              /* 0: not running */
	double started;         /* when it was forked (the caller's clock) */
	double restart_at;      /* when to fork it again while pid is 0 */
	unsigned quick_deaths;  /* deaths in a row before PREFORK_STABLE_S */
};

/* Notes that c's process ended at now: sets pid 0, the restart time and
 * the count of quick deaths. Returns false when the slot has died quickly
 * PREFORK_QUICK_DEATHS_MAX times in a row (then give up). */
bool prefork_child_died(struct prefork_child *c, double now);

/* Returned in a child by prefork_run: serve, then exit. */
#define PREFORK_CHILD (-1)

/* Forks nprocs children (2 .. PREFORK_PROCESSES_MAX) and supervises them
 * as above. Returns PREFORK_CHILD in each child, with *index its slot
 * (0 .. nprocs - 1, kept by its replacement), the signal mask and
 * dispositions the caller had; in the parent, once the children are gone,
 * its exit status: 0 after a stop signal, 1 when it gave up or could not
 * set its signals up (a line on stderr). */
int prefork_run(long nprocs, long *index);

#endif
