/*
 * auth.h: who asks (AIGW_AUTH), and whether they may start more work
 * (the active-work limits: docs/architecture.md, Authentication and
 * limits).
 *
 * none: one anonymous caller (user "" and org ""); no limits apply.
 * keys: "Authorization: Bearer <key>", checked against the stored SHA-256
 * in constant time; a revoked or unknown key is 401.
 * server: the web server authenticated the caller and set the CGI variable
 * REMOTE_USER and the FastCGI parameter AIGW_REMOTE_ORG; request headers
 * (X-Remote-User and the like) are never read.
 * Keys are never logged or echoed. Functions that answer the request
 * themselves return false; the caller then only returns.
 * Owns who the caller is and the limit check before a submit; fails with
 * 401 (no or bad credentials), 429 (a limit reached) or 503 (the database
 * is away), each answered here, or AIGW_EDB when a submit's commit fails.
 */
#ifndef AIGW_HTTP_AUTH_H
#define AIGW_HTTP_AUTH_H

#include <stdbool.h>

#include "db/keys.h"
#include "http/server.h"

/* Fills req->user and req->org, or answers 401 (or 503 when the database
 * is away) and returns false. */
bool http_authenticate(struct http_thread *t, struct http_req *req);

/*
 * A submit's admission: http_admit_lock opens the transaction the insert
 * runs in and counts the caller's active work under locks (nothing is
 * opened when no limit applies); http_admit_check answers 429
 * too_many_active_jobs, with Retry-After, when a limit is reached;
 * http_admit_commit commits, http_admit_abort rolls back (both do nothing
 * when no transaction is open). A false return has answered the request
 * and closed the transaction.
 */
struct http_admission {
	bool open;                /* a transaction is open */
	struct db_active active;
};
bool http_admit_lock(struct http_thread *t, struct http_req *req, const char *decision_id,
		     struct http_admission *a);
bool http_admit_check(struct http_thread *t, struct http_req *req, struct http_admission *a,
		      const char *decision_id);
/* AIGW_EDB when the commit failed: then nothing was stored. */
enum aigw_err http_admit_commit(struct http_thread *t, struct http_admission *a) AIGW_MUSTCHECK;
void http_admit_abort(struct http_thread *t, struct http_admission *a);

#endif
