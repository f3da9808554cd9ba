/*
 * loop.h: the worker's event loop: claims chats, jobs and batches from the
 * queue and runs every provider call of every claimed piece of work at once.
 *
 * One wait per turn (curl_multi_poll with the LISTEN connection's socket as
 * an extra descriptor, and the nearest timer as the timeout); then finished
 * transfers are handled, notifications drained, the runners turned
 * (chatrun.c, jobrun.c, batchrun.c over the task engine, task.c), the
 * turn's final results written together (results.c: one fenced statement
 * per kind of work), leases renewed. A result that cannot be written
 * because the database is away is kept and written when it returns; work
 * whose lease was lost is dropped without further writes. The loop exits
 * after AIGW_WORKER_IDLE_S with nothing to do, or at once (handing its
 * work back) when *stop becomes non-zero; it fails to start when memory,
 * curl or the database slot cannot be had.
 */
#ifndef AIGW_WORKER_LOOP_H
#define AIGW_WORKER_LOOP_H

#include <signal.h>

#include "core/config.h"
#include "jobtype/jobtype.h"

/* jobtypes: the job types this worker runs (borrowed; NULL: none).
 * slot: the worker slot reserved for this process (0: reserve one).
 * Returns the exit code: 0 after a normal stop, 1 when it could not start
 * (the reason is logged). */
int loop_run(const struct aigw_config *cfg, const struct jobtype_registry *jobtypes, int slot,
	     volatile sig_atomic_t *stop);

#endif
