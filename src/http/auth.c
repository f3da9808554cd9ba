/* auth.c: authentication and active-work limits (see auth.h). */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/secret.h"
#include "core/util.h"
#include "http/auth.h"
#include "http/status_cache.h"

/* Seconds a client is told to wait at a limit: about one short chat. */
#define LIMIT_RETRY_AFTER "5"
#define IDENTITY_MAX 255

static bool
unauthorized(struct http_req *req, const char *why)
{
	http_resp_header(req, "WWW-Authenticate", "Bearer realm=\"aigw\"");
	http_resp_error(req, 401, "unauthorized", NULL, "%s", why);
	return false;
}

/* An identity from the web server: at most 255 bytes of UTF-8 text
 * without control characters (it ends up in rows and log lines). */
static bool
valid_identity(const char *s)
{
	size_t n = strlen(s);

	if (n > IDENTITY_MAX || utf8_length(s, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/*
 * A key's row as the status cache keeps it (kind DB_CHANNEL_KEY, owner ""):
 * hash, user, org and "1" or "0" (revoked), each ended by a NUL. The
 * cache forgets it when migrations/0020's trigger notifies a change.
 */
static void
key_remember(struct status_cache *c, const struct status_cache_ticket *ticket, const char *id,
	     const struct db_key *k)
{
	char body[sizeof k->hash_hex + sizeof k->user + sizeof k->org + 2];
	int n = snprintf(body, sizeof body, "%s%c%s%c%s%c%c", k->hash_hex, 0, k->user, 0, k->org,
			 0, k->revoked ? '1' : '0');
	struct status_body b = { .json = body, .len = (size_t)n, .final = true, .status = "" };

	if (n > 0 && (size_t)n < sizeof body)
		status_cache_put(c, ticket, DB_CHANNEL_KEY, STATUS_VIEW_KEY, id, "", 0, &b,
				 time_mono_ms());
}

/* The key of a cache hit; false when the body is not one key_remember
 * made. */
static bool
key_recalled(const struct status_hit *h, struct db_key *k)
{
	const char *p = h->json, *end = h->json + h->len;
	const char *fields[3];

	for (int i = 0; i < 3; i++) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));

		if (nul == NULL)
			return false;
		fields[i] = p;
		p = nul + 1;
	}
	if (end - p != 1 || strlen(fields[0]) != SECRET_HASH_HEX_LEN ||
	    strlen(fields[1]) >= sizeof k->user || strlen(fields[2]) >= sizeof k->org)
		return false;
	memcpy(k->hash_hex, fields[0], sizeof k->hash_hex);
	snprintf(k->user, sizeof k->user, "%s", fields[1]);
	snprintf(k->org, sizeof k->org, "%s", fields[2]);
	k->revoked = *p == '1';
	return true;
}

/* The stored key id, from the process's memory when it holds it. */
static enum aigw_err
key_lookup(struct http_thread *t, const char *id, struct db_key *k)
{
	struct status_cache *c = t->app->status_cache;
	struct status_cache_ticket ticket;
	struct status_hit hit;
	enum aigw_err err;

	if (c == NULL)
		return db_key_lookup(t->db, id, k);
	if (status_cache_get(c, DB_CHANNEL_KEY, STATUS_VIEW_KEY, id, "", time_mono_ms(), 0, &hit) ==
	    STATUS_CACHE_HIT) {
		bool ok = key_recalled(&hit, k);

		status_hit_free(&hit);
		if (ok)
			return AIGW_OK;
	}
	status_cache_ticket(c, DB_CHANNEL_KEY, id, &ticket);
	err = db_key_lookup(t->db, id, k);
	if (err == AIGW_OK)
		key_remember(c, &ticket, id, k);
	return err;
}

static bool
by_key(struct http_thread *t, struct http_req *req)
{
	const char *h = http_param(req, "HTTP_AUTHORIZATION");
	char id[SECRET_KEY_ID_LEN + 1], hash[SECRET_HASH_HEX_LEN + 1];
	struct db_key k;
	enum aigw_err err;

	if (h == NULL || !str_has_prefix_ci(h, "Bearer "))
		return unauthorized(req, "an API key is required: Authorization: Bearer <key>");
	h += strlen("Bearer ");
	while (*h == ' ')
		h++;
	if (!secret_key_parse(h, id))
		return unauthorized(req, "the API key is not valid");
	err = key_lookup(t, id, &k);
	if (err == AIGW_ENOTFOUND)
		return unauthorized(req, "the API key is not valid");
	if (err != AIGW_OK) {
		http_resp_from_err(req, err);
		return false;
	}
	if (secret_sha256_hex(h, strlen(h), hash) != AIGW_OK) {
		http_resp_from_err(req, AIGW_ENOMEM);
		return false;
	}
	/* A revoked key answers as an unknown one, after the same work. */
	if (!secret_hash_equal(hash, k.hash_hex) || k.revoked) {
		log_info("auth", req->request_id, "key %s refused%s", id, k.revoked ? " (revoked)" : "");
		return unauthorized(req, "the API key is not valid");
	}
	snprintf(req->user, sizeof req->user, "%s", k.user);
	snprintf(req->org, sizeof req->org, "%s", k.org);
	snprintf(req->key_id, sizeof req->key_id, "%s", id);
	return true;
}

static bool
by_server(struct http_req *req)
{
	const char *user = http_param(req, "REMOTE_USER");
	const char *org = http_param(req, "AIGW_REMOTE_ORG");

	if (user == NULL || *user == '\0')
		return unauthorized(req, "the web server did not authenticate this request");
	if (org == NULL)
		org = "";
	if (!valid_identity(user) || !valid_identity(org)) {
		log_warn("auth", req->request_id, "REMOTE_USER or AIGW_REMOTE_ORG is not a valid name");
		return unauthorized(req, "the web server passed an invalid identity");
	}
	snprintf(req->user, sizeof req->user, "%s", user);
	snprintf(req->org, sizeof req->org, "%s", org);
	return true;
}

bool
http_authenticate(struct http_thread *t, struct http_req *req)
{
	req->user[0] = req->org[0] = req->key_id[0] = '\0';
	switch (t->app->cfg->auth) {
	case AUTH_KEYS:
		return by_key(t, req);
	case AUTH_SERVER:
		return by_server(req);
	default:
		return true;
	}
}

static bool
limits_apply(const struct aigw_config *cfg)
{
	return cfg->auth != AUTH_NONE &&
	       (cfg->limit_org > 0 || cfg->limit_user > 0 || cfg->limit_decision > 0);
}

bool
http_admit_lock(struct http_thread *t, struct http_req *req, const char *decision_id,
		struct http_admission *a)
{
	enum aigw_err err;

	memset(a, 0, sizeof *a);
	if (!limits_apply(t->app->cfg))
		return true;
	err = db_begin(t->db);
	if (err == AIGW_OK) {
		a->open = true;
		err = db_active_lock_count(t->db, req->org, req->user, decision_id, &a->active);
	}
	if (err != AIGW_OK) {
		if (a->open)
			db_rollback(t->db);
		a->open = false;
		http_resp_from_err(req, err);
		return false;
	}
	return true;
}

/* Answers 429 when active work is at the limit (0: none); what names the
 * limited party for the sentence. */
static bool
over(struct http_thread *t, struct http_req *req, struct http_admission *a, long active,
     long limit, const char *what)
{
	if (limit <= 0 || active < limit)
		return false;
	db_rollback(t->db);
	a->open = false;
	http_resp_header(req, "Retry-After", LIMIT_RETRY_AFTER);
	http_resp_error(req, 429, "too_many_active_jobs", NULL,
			"%s has %ld chats and jobs pending or running, and the limit is %ld;"
			" try again when one has finished", what, active, limit);
	return true;
}

bool
http_admit_check(struct http_thread *t, struct http_req *req, struct http_admission *a,
		 const char *decision_id)
{
	const struct aigw_config *cfg = t->app->cfg;
	char what[320];

	if (!a->open)
		return true;
	snprintf(what, sizeof what, "organisation '%.*s'",
		 (int)utf8_cut(req->org, NAME_SHOWN_MAX), req->org);
	if (req->org[0] != '\0' && over(t, req, a, a->active.org, cfg->limit_org, what))
		return false;
	snprintf(what, sizeof what, "user '%.*s'", (int)utf8_cut(req->user, NAME_SHOWN_MAX),
		 req->user);
	if (over(t, req, a, a->active.user, cfg->limit_user, what))
		return false;
	snprintf(what, sizeof what, "decision %.40s", decision_id ? decision_id : "");
	if (decision_id != NULL && over(t, req, a, a->active.decision, cfg->limit_decision, what))
		return false;
	return true;
}

enum aigw_err
http_admit_commit(struct http_thread *t, struct http_admission *a)
{
	if (!a->open)
		return AIGW_OK;
	a->open = false;
	return db_commit(t->db);
}

void
http_admit_abort(struct http_thread *t, struct http_admission *a)
{
	if (a->open)
		db_rollback(t->db);
	a->open = false;
}
