/*
 * workers.h: worker slots, which bound how many workers run at once over
 * every host sharing the database.
 *
 * A slot belongs to the worker whose (pid, host) it holds while its
 * heartbeat is fresh (WORKER_SLOT_STALE_S). A submit reserves a slot before
 * spawning (db_chat_insert); the spawned worker takes it; a worker started
 * by hand reserves any free one. Errors: AIGW_EDB, with nothing changed.
 */
#ifndef AIGW_DB_WORKERS_H
#define AIGW_DB_WORKERS_H

#include <stdbool.h>

#include "core/err.h"
#include "db/db.h"

/* A slot not heartbeated for this long is free again. */
#define WORKER_SLOT_STALE_S 15L
/* How often a worker heartbeats its slot: well inside the stale time. */
#define WORKER_SLOT_HEARTBEAT_MS 3000

/* Takes the slot reserved for this worker; *ok is false when it is gone. */
enum aigw_err db_slot_take(struct db *db, int slot, long pid, const char *host,
			   bool *ok) AIGW_MUSTCHECK;
/* Reserves the first free slot in 1..max for this worker; *slot is 0 when
 * none is free. */
enum aigw_err db_slot_reserve(struct db *db, long max, long pid, const char *host,
			      int *slot) AIGW_MUSTCHECK;
/* Reserves the first free slot in 1..max for a worker about to be
 * spawned, which takes it with db_slot_take; *slot is 0 when none is free. */
enum aigw_err db_slot_reserve_spawn(struct db *db, long max, int *slot) AIGW_MUSTCHECK;
/* *ok is false when the slot is no longer this worker's. */
enum aigw_err db_slot_heartbeat(struct db *db, int slot, long pid, const char *host,
				bool *ok) AIGW_MUSTCHECK;
enum aigw_err db_slot_release(struct db *db, int slot, long pid,
			      const char *host) AIGW_MUSTCHECK;

/* Work a worker could claim now: chats and jobs pending or whose lease ran
 * out with attempts left (analysis jobs only while fewer than analysis_max
 * of them run), calls waiting for a batch, and batches whose worker is
 * gone (max_attempts is the chats' AIGW_MAX_ATTEMPTS). */
enum aigw_err db_queue_waiting(struct db *db, long max_attempts, long analysis_max,
			       long *n) AIGW_MUSTCHECK;

#endif
