/*
 * work.h: what the worker's loop (loop.c) lends to the runners of each
 * kind of work (chatrun.c, jobrun.c, batchrun.c): the task engine and who
 * this worker is. Internal to src/worker/.
 *
 * Nothing here can fail: it is data the loop sets up once (loop.c says
 * what can fail while it does). Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_WORK_H
#define AIGW_WORKER_WORK_H

#include "jobtype/jobtype.h"
#include "worker/task.h"

struct worker_ctx {
	struct task_engine te;
	const struct jobtype_registry *jobtypes;  /* borrowed; NULL: none */
	long pid;
	char host[64];
	char name[96];             /* host:pid, the owner its claims name */
};

#endif
