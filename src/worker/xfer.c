/*
 * xfer.c: libcurl multi transfers (see xfer.h).
 *
 * One wait per loop turn: curl_multi_poll() watches the transfers' sockets
 * and one extra descriptor (the database's), with the caller's timeout.
 *
 * A transfer joins the multi handle only while its host has room in its
 * congestion window (worker/hostwin.h); until then it waits in the host's
 * queue, in order, with no curl timer running: waiting is not an attempt.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "worker/hostwin.h"
#include "worker/xfer.h"

/* scheme://host:port of a URL, the unit a window is kept for. */
#define ORIGIN_MAX 256

struct xfer_host {
	char origin[ORIGIN_MAX];
	struct hostwin win;
	int active;                  /* transfers in the multi handle */
	struct xfer *wait_head, *wait_tail;
};

struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve;   /* req->resolve, or NULL */
	struct buf response;
	char errbuf[CURL_ERROR_SIZE];
	xfer_done_fn done;
	xfer_data_fn data;           /* a streamed answer: NULL when buffered */
	void *arg;
	bool refused;                /* data refused a chunk */
	int64_t idle_ms;             /* > 0: no byte this long ends it as a timeout */
	int64_t last_byte_ms;        /* when the last byte came; 0: none yet */
	int64_t started_ms;          /* when it joined the multi handle */
	bool too_big;
	bool active;                 /* in the multi handle */
	bool queued;                 /* in its host's queue */
	size_t host;                 /* index in the engine's hosts */
	bool spool_failed;
	/* a download: spooled to an unlinked file, then mapped */
	int spool_fd;                /* -1: the answer goes to response */
	long long spooled, spool_max;
	void *map;
	size_t map_len;
	struct xfer *prev, *next;    /* the engine's list of transfers */
	struct xfer *wait_next;      /* the host's queue, while waiting */
};

struct xfer_engine {
	CURLM *multi;
	long host_connections;
	long window_start;           /* a new host's window */
	int in_flight;               /* active and waiting */
	int waiting;
	long long download_max;
	const char *spool_dir;     /* borrowed; absolute */
	struct xfer *head;
	struct xfer_host *hosts;
	size_t nhosts;
};

/* Takes x out of its host's queue (it is in it). */
static void
unqueue(struct xfer_host *h, struct xfer *x)
{
	struct xfer **pp = &h->wait_head, *prev = NULL;

	while (*pp != NULL && *pp != x) {
		prev = *pp;
		pp = &(*pp)->wait_next;
	}
	if (*pp == NULL)
		return;
	*pp = x->wait_next;
	if (h->wait_tail == x)
		h->wait_tail = prev;
	x->wait_next = NULL;
}

static void
unlink_xfer(struct xfer_engine *xe, struct xfer *x)
{
	struct xfer_host *h = &xe->hosts[x->host];

	if (x->active) {
		curl_multi_remove_handle(xe->multi, x->easy);
		h->active--;
	} else if (x->queued) {
		unqueue(h, x);
		xe->waiting--;
	}
	x->active = x->queued = false;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		xe->head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	xe->in_flight--;
}

/* The origin (scheme://authority) of url: the part before the first '/'
 * after "://", or the whole URL. Cut at ORIGIN_MAX - 1 bytes. */
static void
origin_of(const char *url, char out[ORIGIN_MAX])
{
	const char *sep = strstr(url, "://");
	const char *end = sep != NULL ? strchr(sep + 3, '/') : NULL;
	size_t n = end != NULL ? (size_t)(end - url) : strlen(url);

	if (n >= ORIGIN_MAX)
		n = ORIGIN_MAX - 1;
	memcpy(out, url, n);
	out[n] = '\0';
}

/* The index of url's host, added when new; -1 on ENOMEM. */
static long
host_find(struct xfer_engine *xe, const char *url)
{
	char origin[ORIGIN_MAX];
	struct xfer_host *grown;

	origin_of(url, origin);
	for (size_t i = 0; i < xe->nhosts; i++)
		if (strcmp(xe->hosts[i].origin, origin) == 0)
			return (long)i;
	grown = realloc(xe->hosts, (xe->nhosts + 1) * sizeof *grown);
	if (grown == NULL)
		return -1;
	xe->hosts = grown;
	memset(&grown[xe->nhosts], 0, sizeof *grown);
	memcpy(grown[xe->nhosts].origin, origin, sizeof origin);
	hostwin_init(&grown[xe->nhosts].win, xe->host_connections, xe->window_start);
	return (long)xe->nhosts++;
}

/* Moves x into the multi handle: its timeout starts now. */
static enum aigw_err
activate(struct xfer_engine *xe, struct xfer *x, int64_t now)
{
	if (curl_multi_add_handle(xe->multi, x->easy) != CURLM_OK)
		return AIGW_EIO;
	x->active = true;
	x->started_ms = now;
	x->last_byte_ms = 0;
	xe->hosts[x->host].active++;
	return AIGW_OK;
}

/*
 * Sends what the host's window has room for, oldest first. A transfer curl
 * refuses to add ends at once as a network failure through its callback,
 * which must therefore not be running inside another engine call.
 */
static void finish(struct xfer_engine *xe, struct xfer *x, CURLcode rc, int64_t now);

static void
host_pump(struct xfer_engine *xe, size_t host, int64_t now)
{
	struct xfer_host *h = &xe->hosts[host];

	while (h->wait_head != NULL && h->active < hostwin_limit(&h->win)) {
		struct xfer *x = h->wait_head;

		h->wait_head = x->wait_next;
		if (h->wait_head == NULL)
			h->wait_tail = NULL;
		x->wait_next = NULL;
		x->queued = false;
		xe->waiting--;
		if (activate(xe, x, now) != AIGW_OK) {
			snprintf(x->errbuf, sizeof x->errbuf, "curl refused the transfer");
			x->started_ms = now;
			finish(xe, x, CURLE_FAILED_INIT, now);
			h = &xe->hosts[host];
		}
	}
}

struct xfer_engine *
xfer_engine_new(long host_connections, long window_start)
{
	struct xfer_engine *xe;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	xe = calloc(1, sizeof *xe);
	if (xe == NULL)
		return NULL;
	xe->multi = curl_multi_init();
	if (xe->multi == NULL) {
		free(xe);
		return NULL;
	}
	/* Providers answer many slow requests on few hosts: each call in
	 * flight needs a connection of its own (HTTP/1.1), and idle ones are
	 * reused. */
	curl_multi_setopt(xe->multi, CURLMOPT_MAX_HOST_CONNECTIONS, host_connections);
	xe->host_connections = host_connections;
	xe->window_start = window_start;
	xe->download_max = XFER_DOWNLOAD_MAX;
	xe->spool_dir = "/tmp";
	return xe;
}

void
xfer_engine_set_download_max(struct xfer_engine *xe, long long max_bytes)
{
	xe->download_max = max_bytes;
}

void
xfer_engine_set_spool_dir(struct xfer_engine *xe, const char *dir)
{
	xe->spool_dir = dir;
}

/* An unlinked file for a download; -1 with errno on failure. */
static int
spool_open(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOENT))
		return fd;
	/* a file system without O_TMPFILE */
	if (snprintf(path, sizeof path, "%s/aigw-download-XXXXXX", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Maps the spooled answer, NUL-terminated like a buffered one (the NUL is
 * not counted). false when it cannot be read back. */
static bool
spool_map(struct xfer *x)
{
	void *m;

	if (!write_all(x->spool_fd, "", 1))
		return false;
	m = mmap(NULL, (size_t)x->spooled + 1, PROT_READ, MAP_PRIVATE, x->spool_fd, 0);
	if (m == MAP_FAILED)
		return false;
	x->map = m;
	x->map_len = (size_t)x->spooled + 1;
	return true;
}

static void
xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->resolve);
	buf_free(&x->response);
	if (x->map != NULL)
		munmap(x->map, x->map_len);
	if (x->spool_fd >= 0)
		close(x->spool_fd);
	free(x);
}

void
xfer_cancel(struct xfer_engine *xe, struct xfer *x)
{
	if (x == NULL)
		return;
	unlink_xfer(xe, x);
	xfer_free(x);
}

void
xfer_engine_free(struct xfer_engine *xe)
{
	if (xe == NULL)
		return;
	while (xe->head != NULL)
		xfer_cancel(xe, xe->head);
	curl_multi_cleanup(xe->multi);
	free(xe->hosts);
	free(xe);
	curl_global_cleanup();
}

int
xfer_in_flight(const struct xfer_engine *xe)
{
	return xe->in_flight;
}

int
xfer_waiting(const struct xfer_engine *xe)
{
	return xe->waiting;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;

	if (x->idle_ms > 0)
		x->last_byte_ms = time_mono_ms();
	if (x->data != NULL) {
		long status = 0;

		/* A failure's body goes whole to the error parser. */
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status < 400) {
			if (!x->data(x->arg, ptr, n)) {
				x->refused = true;
				return 0;
			}
			return n;
		}
	}
	if (x->spool_fd >= 0) {
		if ((long long)n > x->spool_max - x->spooled) {
			x->too_big = true;
			return 0;
		}
		if (!write_all(x->spool_fd, ptr, n)) {
			x->spool_failed = true;
			return 0;
		}
		x->spooled += (long long)n;
		return n;
	}
	if (buf_append(&x->response, ptr, n) != AIGW_OK) {
		x->too_big = true;
		return 0; /* makes curl abort the transfer */
	}
	return n;
}

static CURLcode
set_method(CURL *easy, const struct prov_http *req)
{
	CURLcode rc;

	if (req->method != NULL && strcmp(req->method, "GET") == 0)
		return curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
	if (rc == CURLE_OK && req->method != NULL && strcmp(req->method, "POST") != 0)
		rc = curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	return rc;
}

enum aigw_err
xfer_start(struct xfer_engine *xe, const struct prov_http *req, long timeout_s,
	   xfer_done_fn done, void *arg, struct xfer **out)
{
	return xfer_start_stream(xe, req, timeout_s, NULL, done, arg, out);
}

enum aigw_err
xfer_start_stream(struct xfer_engine *xe, const struct prov_http *req, long timeout_s,
		  const struct xfer_stream *st, xfer_done_fn done, void *arg, struct xfer **out)
{
	struct xfer *x;
	struct xfer_host *target;
	long host;
	enum aigw_err err = AIGW_ENOMEM;

	*out = NULL;
	x = calloc(1, sizeof *x);
	if (x == NULL)
		return AIGW_ENOMEM;
	buf_init(&x->response, XFER_RESPONSE_MAX);
	x->spool_fd = -1;
	if (req->download) {
		if ((x->spool_fd = spool_open(xe->spool_dir)) < 0) {
			log_error("xfer", NULL, "cannot make a file for a download: %s", strerror(errno));
			free(x);
			return AIGW_EIO;
		}
		x->spool_max = xe->download_max;
	}
	x->done = done;
	x->arg = arg;
	x->data = st != NULL ? st->data : NULL;
	x->easy = curl_easy_init();
	if (x->easy == NULL)
		goto fail;
	for (size_t i = 0; i < req->nheaders; i++) {
		struct curl_slist *h = curl_slist_append(x->headers, req->headers[i]);
		if (h == NULL)
			goto fail;
		x->headers = h;
	}
	/* An empty Expect stops curl from waiting a second for "100 Continue". */
	{
		struct curl_slist *h = curl_slist_append(x->headers, "Expect:");
		if (h == NULL)
			goto fail;
		x->headers = h;
	}
	if (req->resolve != NULL && (x->resolve = curl_slist_append(NULL, req->resolve)) == NULL)
		goto fail;
	err = AIGW_EIO;
	if ((x->resolve != NULL &&
	     curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->resolve) != CURLE_OK) ||
	    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) != CURLE_OK ||
	    set_method(x->easy, req) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) != CURLE_OK ||
	    /* a result file of gigabytes takes longer than one answer */
	    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, req->download ? 10 * timeout_s
								       : timeout_s) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT, timeout_s < 15 ? timeout_s : 15L) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
	    curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "aigw/" PACKAGE_VERSION) != CURLE_OK)
		goto fail;
	/* Kept here, not by curl's low-speed check: that one averages the
	 * speed over several seconds, so a burst then silence would run past
	 * the bound by that much. */
	x->idle_ms = st != NULL && st->idle_s > 0 ? (int64_t)st->idle_s * 1000 : 0;
	host = host_find(xe, req->url);
	if (host < 0) {
		err = AIGW_ENOMEM;
		goto fail;
	}
	x->host = (size_t)host;
	target = &xe->hosts[x->host];
	if (target->wait_head == NULL && target->active < hostwin_limit(&target->win)) {
		if (activate(xe, x, time_mono_ms()) != AIGW_OK)
			goto fail;
	} else {
		if (target->wait_tail != NULL)
			target->wait_tail->wait_next = x;
		else
			target->wait_head = x;
		target->wait_tail = x;
		x->queued = true;
		xe->waiting++;
	}
	x->next = xe->head;
	if (xe->head != NULL)
		xe->head->prev = x;
	xe->head = x;
	xe->in_flight++;
	*out = x;
	return AIGW_OK;
fail:
	xfer_free(x);
	return err;
}

enum aigw_err
xfer_wait(struct xfer_engine *xe, int extra_fd, int timeout_ms)
{
	struct curl_waitfd extra = { extra_fd, CURL_WAIT_POLLIN, 0 };
	CURLMcode mc;

	mc = curl_multi_poll(xe->multi, extra_fd >= 0 ? &extra : NULL, extra_fd >= 0 ? 1 : 0,
			     timeout_ms, NULL);
	if (mc != CURLM_OK) {
		log_error("xfer", NULL, "while polling: %s", curl_multi_strerror(mc));
		return AIGW_EIO;
	}
	return AIGW_OK;
}

static void
finish(struct xfer_engine *xe, struct xfer *x, CURLcode rc, int64_t now)
{
	struct xfer_result r;
	curl_off_t retry_after = -1;
	long status = 0;
	size_t host = x->host;
	bool was_active = x->active;

	memset(&r, 0, sizeof r);
	r.elapsed_ms = now - x->started_ms;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK)
		retry_after = -1;
	r.retry_after_s = status > 0 && retry_after > 0 ? (long)retry_after : -1;
	if (rc == CURLE_OK && x->spool_fd >= 0 && x->spooled > 0 && !spool_map(x)) {
		r.neterr = PROV_ERR_NETWORK;
		r.neterr_text = "the download could not be read back from its file";
		r.body = "";
	} else if (rc == CURLE_OK && x->spool_fd >= 0) {
		r.http_status = status;
		r.body = x->map != NULL ? x->map : "";
		r.len = (size_t)x->spooled;
	} else if (rc == CURLE_OK) {
		r.http_status = status;
		r.body = x->response.data ? x->response.data : "";
		r.len = x->response.len;
	} else if (x->spool_failed) {
		r.neterr = PROV_ERR_NETWORK;
		r.neterr_text = "the download could not be written to its file (is $TMPDIR full?)";
		r.body = "";
	} else if (x->refused) {
		r.http_status = status;
		r.body = "";
		r.refused = true;
		r.neterr = PROV_ERR_BAD_BODY;
		r.neterr_text = "the stream could not be read";
	} else if (x->too_big) {
		r.http_status = status;
		r.body = "";
		r.neterr = PROV_ERR_BAD_BODY;
		r.neterr_text = x->spool_fd >= 0 ? "the download was larger than "
			"AIGW_BATCH_DOWNLOAD_MAX_MB" : "the response was larger than the limit";
	} else {
		r.neterr = rc == CURLE_OPERATION_TIMEDOUT ? PROV_ERR_TIMEOUT : PROV_ERR_NETWORK;
		r.neterr_text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
		r.body = "";
	}
	if (was_active) {
		struct xfer_host *h = &xe->hosts[host];
		long before = hostwin_limit(&h->win);

		if (hostwin_update(&h->win, hostwin_signal_of(r.http_status != 0 ? r.http_status : status,
							      r.neterr),
				   h->active, x->started_ms, now))
			log_info("xfer", NULL, "%s: %ld calls at once, not %ld, after %s",
				 h->origin, hostwin_limit(&h->win), before,
				 r.neterr == PROV_ERR_TIMEOUT ? "a timeout" :
				 r.neterr != PROV_ERR_NONE ? "a failed connection" : "an overload answer");
	}
	unlink_xfer(xe, x);
	x->done(x->arg, &r);
	xfer_free(x);
}

void
xfer_run(struct xfer_engine *xe)
{
	CURLMsg *msg;
	int running = 0, left = 0;
	int64_t now;

	curl_multi_perform(xe->multi, &running);
	now = time_mono_ms();
	while ((msg = curl_multi_info_read(xe->multi, &left)) != NULL) {
		struct xfer *x = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			finish(xe, x, msg->data.result, now);
	}
	/* Streams silent past their idle bound end as timeouts. */
	for (struct xfer *x = xe->head, *next; x != NULL; x = next) {
		next = x->next;
		if (x->active && x->idle_ms > 0 && x->last_byte_ms > 0 &&
		    now - x->last_byte_ms >= x->idle_ms) {
			snprintf(x->errbuf, sizeof x->errbuf, "no byte of the stream for %lld s",
				 (long long)(x->idle_ms / 1000));
			finish(xe, x, CURLE_OPERATION_TIMEDOUT, now);
		}
	}
	/* Room freed by the transfers that ended (or by cancels), and the
	 * windows that grew, go to the transfers waiting. */
	for (size_t i = 0; i < xe->nhosts; i++)
		host_pump(xe, i, now);
	if (xe->waiting > 0)
		curl_multi_perform(xe->multi, &running);
}

int64_t
xfer_retry_delay_ms(int attempt, long retry_after_s, int64_t base_ms, int64_t cap_ms,
		    uint32_t rnd)
{
	int64_t backoff = base_ms, delay;

	for (int i = 1; i < attempt && backoff < cap_ms; i++)
		backoff *= 2;
	if (backoff > cap_ms)
		backoff = cap_ms;
	delay = (int64_t)(((uint64_t)rnd * (uint64_t)(backoff + 1)) >> 32);
	if (retry_after_s >= 0 && retry_after_s * 1000 > delay)
		delay = retry_after_s * 1000;
	return delay;
}
