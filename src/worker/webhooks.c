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

struct attempt {
	struct webhooks *wh;
	struct db_webhook d;        /* owns its strings */
	struct xfer *x;
	char host[256];             /* for the log: never the whole URL */
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
	for (int i = 0; i < IN_FLIGHT_MAX; i++)
		if (wh->slots[i] != NULL) {
			xfer_cancel(wh->w->te.xe, wh->slots[i]->x);
			attempt_free(wh->slots[i]);
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
 * Where the URL leads: every address its host resolves to must be public
 * (unless allowed), and the first is where curl connects (*resolve, a
 * CURLOPT_RESOLVE entry; NULL for an address literal, which curl does not
 * resolve). false with why: refused (*refused true) or not resolved.
 */
static bool
destination(const char *url, bool allow_private, char **resolve, bool *refused, char *why,
	    size_t why_len)
{
	struct addrinfo hints, *res = NULL;
	char host[256], port[16];
	bool literal;

	*resolve = NULL;
	*refused = false;
	if (!url_parts(url, host, sizeof host, port, sizeof port)) {
		*refused = true;
		snprintf(why, why_len, "the URL cannot be read");
		return false;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	literal = getaddrinfo(host, port, &hints, &res) == 0;
	if (!literal) {
		int rc;

		hints.ai_flags = 0;
		rc = getaddrinfo(host, port, &hints, &res);
		if (rc != 0) {
			snprintf(why, why_len, "cannot resolve %s: %s", host, gai_strerror(rc));
			return false;
		}
	}
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		enum netaddr_class c = netaddr_classify(ai->ai_addr);

		if (c != NETADDR_PUBLIC && !allow_private) {
			*refused = true;
			snprintf(why, why_len, "refused: %s is a %s address"
				 " (AIGW_WEBHOOK_ALLOW_PRIVATE is off)", host, netaddr_class_name(c));
			freeaddrinfo(res);
			return false;
		}
	}
	if (!literal && res != NULL) {
		const void *src = res->ai_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)res->ai_addr)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)res->ai_addr)->sin_addr;
		char addr[INET6_ADDRSTRLEN];
		size_t len;

		if (inet_ntop(res->ai_family, src, addr, sizeof addr) == NULL) {
			freeaddrinfo(res);
			snprintf(why, why_len, "cannot resolve %s", host);
			return false;
		}
		len = strlen(host) + strlen(port) + strlen(addr) + 5;
		*resolve = malloc(len);
		if (*resolve != NULL)
			snprintf(*resolve, len, res->ai_family == AF_INET6 ? "%s:%s:[%s]" : "%s:%s:%s",
				 host, port, addr);
	}
	freeaddrinfo(res);
	if (!literal && *resolve == NULL) {
		snprintf(why, why_len, "out of memory");
		return false;
	}
	return true;
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

/* Renders (once), checks, signs and sends a's delivery; settles it when
 * it cannot be sent. false when a was settled (and may be freed). */
static bool
attempt_start(struct webhooks *wh, struct attempt *a, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	const char *secret = a->d.key_secret != NULL ? a->d.key_secret : cfg->webhook_secret;
	struct prov_http req;
	char why[512], msg_id[48], ts[24], sig[WEBHOOK_SIGNATURE_LEN + 1];
	bool refused = false, ours = false;
	enum aigw_err err;

	memset(&req, 0, sizeof req);
	if (!url_parts(a->d.url, a->host, sizeof a->host, ts, sizeof ts))
		snprintf(a->host, sizeof a->host, "(unreadable URL)");
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
	if (!webhook_url_valid(a->d.url, &(const char *){ NULL })) {
		settle(wh, a, DB_WEBHOOK_REFUSED, 0, "refused: the URL is not a valid http(s) URL", 0);
		return false;
	}
	snprintf(msg_id, sizeof msg_id, "msg_%s", a->d.delivery_id);
	snprintf(ts, sizeof ts, "%lld", unix_s);
	if (secret == NULL || !webhook_sign(secret, msg_id, unix_s, a->d.body, strlen(a->d.body),
					    sig)) {
		settle(wh, a, DB_WEBHOOK_FAILED, 0, "no secret to sign with: the key has none and"
		       " AIGW_WEBHOOK_SECRET is not a whsec_ secret", 0);
		return false;
	}
	if (!destination(a->d.url, cfg->webhook_allow_private, &req.resolve, &refused, why,
			 sizeof why)) {
		settle(wh, a, refused ? DB_WEBHOOK_REFUSED : DB_WEBHOOK_FAILED, 0, why, 0);
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
	err = AIGW_ENOMEM;
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

static void
claim(struct webhooks *wh, long long unix_s)
{
	const struct aigw_config *cfg = wh->w->te.cfg;
	struct db_webhook *rows = NULL;
	size_t n = 0;

	if (db_webhook_claim(wh->w->te.db, IN_FLIGHT_MAX - wh->in_flight,
			     cfg->webhook_timeout_s + LEASE_MARGIN_S, &rows, &n) != AIGW_OK)
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
		if (!attempt_start(wh, a, unix_s))
			slot_drop(wh, a);
	}
	free(rows);
}

int64_t
webhooks_turn(struct webhooks *wh, int64_t now, long long unix_s, bool wake, bool stopping)
{
	if (stopping)
		return now + POLL_MS;
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
		claim(wh, unix_s);
	}
	return wh->next_poll_ms;
}
