/* webhooks.c: the worker's webhook sender (see webhooks.h). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "core/log.h"
#include "core/netaddr.h"
#include "core/webhook.h"
#include "db/webhooks.h"
#include "worker/webhooks.h"
#include "worker/webhooks_body.h"
#include "worker/xfer.h"

#define IN_FLIGHT_MAX 64
#define POLL_MS 2000                /* fallback when no NOTIFY came */
#define BACKOFF_CAP_MS 3600000      /* an hour between attempts at most */
#define PRUNE_EVERY_MS 3600000
#define KEEP_SETTLED_DAYS 7
#define LEASE_MARGIN_S 5            /* past the attempt's timeout */
#define RESOLVE_POLL_MS 10          /* how often a running resolution is looked at */

struct attempt {
	struct webhooks *wh;
	struct db_webhook d;        /* owns its strings */
	struct xfer *x;
	char host[256];             /* the URL's host: the log shows it, never the URL */
	char port[16];
	/* The host's resolution (getaddrinfo_a), while resolving. */
	bool resolving;
	struct gaicb gai;
	struct addrinfo hints;
	int64_t resolve_deadline_ms;
};

struct webhooks {
	struct worker_ctx *w;
	struct attempt *slots[IN_FLIGHT_MAX];
	int in_flight;
	int64_t next_poll_ms;
	int64_t next_prune_ms;
};

struct webhooks *
webhooks_new(struct worker_ctx *w)
{
	struct webhooks *wh = calloc(1, sizeof *wh);

	if (wh != NULL)
		wh->w = w;
	return wh;
}

static void
attempt_free(struct attempt *a)
{
	if (a == NULL)
		return;
	free(a->d.owner_user);
	free(a->d.event);
	free(a->d.url);
	free(a->d.key_secret);
	free(a->d.body);
	free(a);
}

static void
slot_drop(struct webhooks *wh, struct attempt *a)
{
	for (int i = 0; i < IN_FLIGHT_MAX; i++)
		if (wh->slots[i] == a) {
			wh->slots[i] = NULL;
			wh->in_flight--;
			break;
		}
	attempt_free(a);
}

void
webhooks_free(struct webhooks *wh)
{
	if (wh == NULL)
		return;
	for (int i = 0; i < IN_FLIGHT_MAX; i++) {
		struct attempt *a = wh->slots[i];

		if (a == NULL)
			continue;
		if (a->resolving) {
			/* glibc still writes into a: wait for it (bounded by the
			 * resolver's own timeouts) rather than free it under it. */
			const struct gaicb *list[1] = { &a->gai };

			if (gai_cancel(&a->gai) != EAI_CANCELED)
				while (gai_error(&a->gai) == EAI_INPROGRESS)
					(void)gai_suspend(list, 1, NULL);
			if (a->gai.ar_result != NULL)
				freeaddrinfo(a->gai.ar_result);
		}
		xfer_cancel(wh->w->te.xe, a->x);
		attempt_free(a);
	}
	free(wh);
}

int
webhooks_in_flight(const struct webhooks *wh)
{
	return wh != NULL ? wh->in_flight : 0;
}

static uint32_t
jitter(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)time_mono_ms() * 2654435761u;
	return r;
}

/* Settles a's attempt, logs it, and asks for a turn when it comes back. */
static void
settle(struct webhooks *wh, struct attempt *a, enum db_webhook_outcome outcome, long status,
       const char *why, int64_t elapsed_ms)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	long long retry_ms = outcome == DB_WEBHOOK_FAILED
		? webhook_retry_delay_ms(a->d.attempt, cfg->webhook_backoff_ms, BACKOFF_CAP_MS,
					 jitter())
		: 0;
	bool gave_up = false;

	if (db_webhook_settle(wh->w->te.db, &a->d, outcome, status, why, retry_ms,
			      cfg->webhook_retry_s, &gave_up) != AIGW_OK) {
		log_warn("webhook", a->d.delivery_id, "%s to %s: attempt %d not recorded (the"
			 " database failed); sent again when its lease runs out", a->d.event,
			 a->host, a->d.attempt);
		return;
	}
	if (outcome == DB_WEBHOOK_DELIVERED)
		log_info("webhook", a->d.delivery_id, "%s to %s: delivered (%ld) at attempt %d,"
			 " %lld ms", a->d.event, a->host, status, a->d.attempt,
			 (long long)elapsed_ms);
	else if (gave_up)
		log_warn("webhook", a->d.delivery_id, "%s to %s: attempt %d failed: %s; given up",
			 a->d.event, a->host, a->d.attempt, why);
	else {
		log_info("webhook", a->d.delivery_id, "%s to %s: attempt %d failed: %s; next in"
			 " %lld ms", a->d.event, a->host, a->d.attempt, why, retry_ms);
		if (time_mono_ms() + retry_ms < wh->next_poll_ms)
			wh->next_poll_ms = time_mono_ms() + retry_ms;
	}
}

static void
on_done(void *arg, const struct xfer_result *r)
{
	struct attempt *a = arg;
	struct webhooks *wh = a->wh;

	a->x = NULL;
	if (r->http_status >= 200 && r->http_status < 300) {
		settle(wh, a, DB_WEBHOOK_DELIVERED, r->http_status, NULL, r->elapsed_ms);
	} else {
		char why[320];

		if (r->http_status > 0)
			snprintf(why, sizeof why, "the receiver answered %ld", r->http_status);
		else
			snprintf(why, sizeof why, "%s", r->neterr_text != NULL ? r->neterr_text
									  : "no answer");
		settle(wh, a, DB_WEBHOOK_FAILED, r->http_status, why, r->elapsed_ms);
	}
	slot_drop(wh, a);
}

/* The URL's scheme-less parts: host (brackets taken off an IPv6 literal)
 * and port. false when curl cannot read it. */
static bool
url_parts(const char *url, char *host, size_t host_len, char *port, size_t port_len)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	bool ok = false;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		size_t n = strlen(h);

		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			memmove(h, h + 1, n - 2);
			h[n - 2] = '\0';
		}
		ok = strlen(h) < host_len && strlen(p) < port_len && h[0] != '\0';
		if (ok) {
			snprintf(host, host_len, "%s", h);
			snprintf(port, port_len, "%s", p);
		}
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ok;
}

/*
 * Whether every address in res may be sent to; false with why when one
 * may not (a name with one private address among public ones is refused:
 * curl could pick it).
 */
static bool
addresses_allowed(const struct addrinfo *res, bool allow_private, const char *host, char *why,
		  size_t why_len)
{
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		enum netaddr_class c = netaddr_classify(ai->ai_addr);

		if (c != NETADDR_PUBLIC && !allow_private) {
			snprintf(why, why_len, "refused: %s is a %s address"
				 " (AIGW_WEBHOOK_ALLOW_PRIVATE is off)", host, netaddr_class_name(c));
			return false;
		}
	}
	return true;
}

/* The CURLOPT_RESOLVE entry that pins host:port to the addresses of res
 * (all checked): "host:port:a1,[a2],..."; curl then connects to one of
 * them and resolves nothing. NULL when memory is short. */
static char *
pin(const char *host, const char *port, const struct addrinfo *res)
{
	size_t len = strlen(host) + strlen(port) + 3, used;
	char *entry;

	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		len += INET6_ADDRSTRLEN + 3;
	entry = malloc(len);
	if (entry == NULL)
		return NULL;
	used = (size_t)snprintf(entry, len, "%s:%s:", host, port);
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		const void *src = ai->ai_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
		char addr[INET6_ADDRSTRLEN];

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, src, addr, sizeof addr) == NULL)
			continue;
		/* getaddrinfo gives an address once per socket type asked: one. */
		used += (size_t)snprintf(entry + used, len - used,
					 ai->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
					 entry[used - 1] == ':' ? "" : ",", addr);
	}
	if (entry[used - 1] == ':') {
		free(entry);
		return NULL;
	}
	return entry;
}

static char *
header(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 3;
	char *h = malloc(len);

	if (h != NULL)
		snprintf(h, len, "%s: %s", name, value);
	return h;
}

/* Signs a's delivery at unix_s and sends it, connecting where resolve
 * says (NULL: the URL's address literal). false when it was settled. */
static bool
send_signed(struct webhooks *wh, struct attempt *a, char *resolve, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	const char *secret = a->d.key_secret != NULL ? a->d.key_secret : cfg->webhook_secret;
	struct prov_http req;
	char msg_id[48], ts[24], sig[WEBHOOK_SIGNATURE_LEN + 1];
	enum aigw_err err = AIGW_ENOMEM;

	memset(&req, 0, sizeof req);
	req.resolve = resolve;
	snprintf(msg_id, sizeof msg_id, "msg_%s", a->d.delivery_id);
	snprintf(ts, sizeof ts, "%lld", unix_s);
	if (!webhook_sign(secret, msg_id, unix_s, a->d.body, strlen(a->d.body), sig)) {
		prov_http_free(&req);
		settle(wh, a, DB_WEBHOOK_FAILED, 0, "no secret to sign with: the key has none and"
		       " AIGW_WEBHOOK_SECRET is not a whsec_ secret", 0);
		return false;
	}
	req.method = "POST";
	req.url = strdup(a->d.url);
	req.body = strdup(a->d.body);
	req.body_len = strlen(a->d.body);
	req.headers[0] = header("Content-Type", "application/json");
	req.headers[1] = header("webhook-id", msg_id);
	req.headers[2] = header("webhook-timestamp", ts);
	req.headers[3] = header("webhook-signature", sig);
	req.nheaders = 4;
	if (req.url != NULL && req.body != NULL && req.headers[0] != NULL &&
	    req.headers[1] != NULL && req.headers[2] != NULL && req.headers[3] != NULL)
		err = xfer_start(wh->w->te.xe, &req, cfg->webhook_timeout_s, on_done, a, &a->x);
	prov_http_free(&req);
	if (err != AIGW_OK) {
		settle(wh, a, DB_WEBHOOK_FAILED, 0, "could not start the request (memory or curl)", 0);
		return false;
	}
	return true;
}

/*
 * Renders a's body (once) and checks what can be checked before the
 * network: the URL, the secret, an address literal. A host name is
 * resolved without blocking the loop (getaddrinfo_a), and checked and
 * sent by resolved(). false when a was settled (it may be freed).
 */
static bool
attempt_start(struct webhooks *wh, struct attempt *a, int64_t now, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	const char *secret = a->d.key_secret != NULL ? a->d.key_secret : cfg->webhook_secret;
	uint8_t key[WEBHOOK_KEY_MAX];
	size_t key_len = 0;
	struct addrinfo *res = NULL;
	char why[512];
	bool ours = false;
	enum aigw_err err;

	if (!url_parts(a->d.url, a->host, sizeof a->host, a->port, sizeof a->port) ||
	    !webhook_url_valid(a->d.url, &(const char *){ NULL })) {
		snprintf(a->host, sizeof a->host, "(unreadable URL)");
		settle(wh, a, DB_WEBHOOK_REFUSED, 0, "refused: the URL is not a valid http(s) URL", 0);
		return false;
	}
	if (a->d.body == NULL) {
		err = webhooks_body(wh->w->te.db, &a->d, &a->d.body);
		if (err == AIGW_ENOTFOUND) {
			settle(wh, a, DB_WEBHOOK_GONE, 0, "the chat or job is no longer stored", 0);
			return false;
		}
		if (err == AIGW_OK)
			err = db_webhook_set_body(wh->w->te.db, &a->d, &a->d.body, &ours);
		if (err != AIGW_OK || !ours) {
			/* Its lease runs out and another turn tries again. */
			log_warn("webhook", a->d.delivery_id, "%s: its body could not be stored",
				 a->d.event);
			return false;
		}
	}
	if (!webhook_secret_key(secret, key, &key_len)) {
		settle(wh, a, DB_WEBHOOK_FAILED, 0, "no secret to sign with: the key has none and"
		       " AIGW_WEBHOOK_SECRET is not a whsec_ secret", 0);
		return false;
	}
	memset(key, 0, sizeof key);
	memset(&a->hints, 0, sizeof a->hints);
	a->hints.ai_family = AF_UNSPEC;
	a->hints.ai_socktype = SOCK_STREAM;
	a->hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(a->host, a->port, &a->hints, &res) == 0) {
		/* An address literal: nothing to resolve, nothing to pin. */
		bool ok = addresses_allowed(res, cfg->webhook_allow_private, a->host, why,
					    sizeof why);

		freeaddrinfo(res);
		if (!ok) {
			settle(wh, a, DB_WEBHOOK_REFUSED, 0, why, 0);
			return false;
		}
		return send_signed(wh, a, NULL, unix_s);
	}
	a->hints.ai_flags = 0;
	a->gai.ar_name = a->host;
	a->gai.ar_service = a->port;
	a->gai.ar_request = &a->hints;
	a->gai.ar_result = NULL;
	{
		struct gaicb *list[1] = { &a->gai };

		if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
			settle(wh, a, DB_WEBHOOK_FAILED, 0, "cannot start resolving the host", 0);
			return false;
		}
	}
	a->resolving = true;
	a->resolve_deadline_ms = now + wh->w->te.cfg->webhook_timeout_s * 1000;
	return true;
}

/* A resolution that ended (or ran out of time): check its addresses, pin
 * the first, send. false when a was settled. */
static bool
resolved(struct webhooks *wh, struct attempt *a, int rc, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	struct addrinfo *res = a->gai.ar_result;
	char why[512], *entry;

	a->resolving = false;
	a->gai.ar_result = NULL;
	if (rc != 0 || res == NULL) {
		snprintf(why, sizeof why, "cannot resolve %s: %s", a->host,
			 rc == EAI_AGAIN || rc == EAI_INPROGRESS ? "no answer in time"
								  : gai_strerror(rc));
		if (res != NULL)
			freeaddrinfo(res);
		settle(wh, a, DB_WEBHOOK_FAILED, 0, why, 0);
		return false;
	}
	if (!addresses_allowed(res, cfg->webhook_allow_private, a->host, why, sizeof why)) {
		freeaddrinfo(res);
		settle(wh, a, DB_WEBHOOK_REFUSED, 0, why, 0);
		return false;
	}
	entry = pin(a->host, a->port, res);
	freeaddrinfo(res);
	if (entry == NULL) {
		settle(wh, a, DB_WEBHOOK_FAILED, 0, "out of memory", 0);
		return false;
	}
	return send_signed(wh, a, entry, unix_s); /* takes entry */
}

/* Moves the resolutions on; true while one is still running. */
static bool
resolutions(struct webhooks *wh, int64_t now, long long unix_s)
{
	bool running = false;

	for (int i = 0; i < IN_FLIGHT_MAX; i++) {
		struct attempt *a = wh->slots[i];
		int rc;

		if (a == NULL || !a->resolving)
			continue;
		rc = gai_error(&a->gai);
		if (rc == EAI_INPROGRESS && now >= a->resolve_deadline_ms &&
		    gai_cancel(&a->gai) == EAI_CANCELED)
			rc = EAI_AGAIN;
		if (rc == EAI_INPROGRESS) {
			running = true;
			continue;
		}
		if (!resolved(wh, a, rc, unix_s))
			slot_drop(wh, a);
	}
	return running;
}

static void
claim(struct webhooks *wh, int64_t now, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	struct db_webhook *rows = NULL;
	size_t n = 0;

	/* The host's resolution and the request each have the timeout. */
	if (db_webhook_claim(wh->w->te.db, IN_FLIGHT_MAX - wh->in_flight,
			     2 * cfg->webhook_timeout_s + LEASE_MARGIN_S, &rows, &n) != AIGW_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		struct attempt *a = calloc(1, sizeof *a);
		int slot = 0;

		if (a == NULL) {
			/* Left to its lease, like everything after it. */
			for (size_t j = i; j < n; j++) {
				free(rows[j].owner_user);
				free(rows[j].event);
				free(rows[j].url);
				free(rows[j].key_secret);
				free(rows[j].body);
			}
			break;
		}
		a->wh = wh;
		a->d = rows[i]; /* takes its strings */
		while (wh->slots[slot] != NULL)
			slot++;
		wh->slots[slot] = a;
		wh->in_flight++;
		if (!attempt_start(wh, a, now, unix_s))
			slot_drop(wh, a);
	}
	free(rows);
}

int64_t
webhooks_turn(struct webhooks *wh, int64_t now, long long unix_s, bool wake, bool stopping)
{
	bool resolving = resolutions(wh, now, unix_s);

	if (stopping)
		return resolving ? now + RESOLVE_POLL_MS : now + POLL_MS;
	if (now >= wh->next_prune_ms) {
		long pruned = 0;

		wh->next_prune_ms = now + PRUNE_EVERY_MS;
		if (db_webhook_prune(wh->w->te.db, KEEP_SETTLED_DAYS, &pruned) == AIGW_OK &&
		    pruned > 0)
			log_info("webhook", NULL, "deleted %ld deliveries settled over %d days ago",
				 pruned, KEEP_SETTLED_DAYS);
	}
	if ((wake || now >= wh->next_poll_ms) && wh->in_flight < IN_FLIGHT_MAX) {
		wh->next_poll_ms = now + POLL_MS;
		claim(wh, now, unix_s);
		resolving = resolutions(wh, now, unix_s) || resolving;
	}
	if (resolving && now + RESOLVE_POLL_MS < wh->next_poll_ms)
		return now + RESOLVE_POLL_MS;
	return wh->next_poll_ms;
}
