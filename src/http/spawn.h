/*
 * spawn.h: starts a detached worker that outlives the request.
 *
 * The worker is double-forked into its own session with every inherited
 * descriptor closed, stdin and stdout on /dev/null and stderr on the log
 * file (or /dev/null), so that neither a FastCGI connection nor a CGI
 * server's pipe is held open by it. The environment is prepared before
 * the fork (spawn_env_new) because a forked child of a threaded process
 * may not allocate. Safe to call from any thread.
 * Owns the worker's start; fails when fork does (AIGW_EIO) or the
 * environment cannot be prepared (NULL); a failing exec shows in the log
 * only.
 */
#ifndef AIGW_HTTP_SPAWN_H
#define AIGW_HTTP_SPAWN_H

#include <stdbool.h>

#include "core/err.h"

/* Whether a worker inherits the NAME=value entry: aigw's own AIGW_*
 * variables, the database's (DATABASE_URL, PG*), each provider's key and
 * base URL (as the config table names them), the system's (PATH, TZ, HOME, locale, CA bundle, proxies) and
 * the sanitizers' options. Nothing else: under CGI the environment is the
 * request (HTTP_AUTHORIZATION, HTTP_COOKIE, QUERY_STRING...), which must
 * not live on in the worker. Cannot fail. */
bool spawn_env_allowed(const char *entry);

/* The allowed entries of from (borrowed, not copied) with room for
 * AIGW_WORKER_SLOT; NULL on ENOMEM. spawn_env_new takes them from
 * environ: call it once, before threads start. */
char **spawn_env_new_from(char *const *from);
char **spawn_env_new(void);
void spawn_env_free(char **env);

/* Starts bin detached for the given worker slot. AIGW_EIO when fork
 * fails; a failing exec is only seen by the log, and the reserved slot
 * frees itself when its heartbeat goes stale. */
enum aigw_err spawn_worker(const char *bin, char **env, int slot,
			   const char *log_file) AIGW_MUSTCHECK;

#endif
