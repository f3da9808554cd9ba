/*
 * runner.h: the worker's event loop: claims chats and jobs from the queue
 * and runs every provider call of every claimed chat and job step at once.
 *
 * DESIGN. One wait per turn (curl_multi_poll with the database socket as an
 * extra descriptor, and the nearest timer as the timeout); then finished
 * transfers are handled, notifications drained, due retries started,
 * leases renewed. A provider's result is written at the turn after it is
 * final, with the others that came (fenced by the claim's attempt, once
 * per provider); a result that cannot be written because the database is
 * away is kept and written when it returns. The loop is loop.c; the work
 * itself is run by chatrun.c, jobrun.c and batchrun.c over task.c. A chat whose lease was lost is dropped without further writes.
 * The runner exits after AIGW_WORKER_IDLE_S with nothing to do, or at once
 * (handing its chats back) when *stop becomes non-zero.
 */
#ifndef AIGW_WORKER_RUNNER_H
#define AIGW_WORKER_RUNNER_H

#include <signal.h>

#include "core/config.h"
#include "jobtype/jobtype.h"

/* jobtypes: the job types this worker runs (borrowed; NULL: none).
 * slot: the worker slot reserved for this process (0: reserve one).
 * Returns the exit code: 0 after a normal stop, 1 when it could not start,
 * 2 for invalid provider configuration (the reason is logged). */
int runner_run(const struct aigw_config *cfg, const struct jobtype_registry *jobtypes, int slot,
	       volatile sig_atomic_t *stop);

#endif
