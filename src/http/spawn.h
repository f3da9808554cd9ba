/*
 * spawn.h: starts a detached worker that outlives the request.
 *
 * The worker is double-forked into its own session with every inherited
 * descriptor closed, stdin and stdout on /dev/null and stderr on the log
 * file (or /dev/null), so that neither a FastCGI connection nor a CGI
 * server's pipe is held open by it. The environment is prepared before
 * the fork (spawn_env_new) because a forked child of a threaded process
 * may not allocate. Safe to call from any thread.
 */
#ifndef AIGW_HTTP_SPAWN_H
#define AIGW_HTTP_SPAWN_H

#include "core/err.h"

/* A copy of environ with room for AIGW_WORKER_SLOT; NULL on ENOMEM. */
char **spawn_env_new(void);
void spawn_env_free(char **env);

/* Starts bin detached for the given worker slot. AIGW_EIO when fork
 * fails; a failing exec is only seen by the log, and the reserved slot
 * frees itself when its heartbeat goes stale. */
enum aigw_err spawn_worker(const char *bin, char **env, int slot,
			   const char *log_file) AIGW_MUSTCHECK;

#endif
