/*
 * xfer.h: the transfer engine: many HTTP requests at once on one libcurl
 * multi handle, and the retry timing policy.
 *
 * The engine owns every CURL handle and every response buffer; a caller
 * gets an opaque struct xfer it may cancel, and one callback when the
 * transfer ends (never after xfer_cancel). Response bodies are bounded:
 * a larger one ends the transfer as a bad body. A download (a batch's
 * result file, req->download) is spooled to an unlinked file in the spool
 * directory (TMPDIR, see xfer_engine_set_spool_dir) and handed to the callback mapped in memory, under the
 * engine's download bound instead of XFER_RESPONSE_MAX. Network failures and
 * timeouts are classified here; HTTP bodies are left to the provider.
 * A streamed answer (xfer_start_stream) is handed to a data callback as
 * its bytes arrive instead of being buffered, unless its status says it
 * failed (>= 400): that body is buffered whole for the provider's error
 * parser; such a transfer also ends as a TIMEOUT when no byte came for its
 * idle bound once its answer began (from its first byte: a model that
 * thinks before it writes is bounded by the transfer's timeout alone, as
 * a whole answer is), checked at each xfer_run: callers wake at least
 * every second.
 * Not thread-safe: one engine per event loop.
 */
#ifndef AIGW_WORKER_XFER_H
#define AIGW_WORKER_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "providers/provider.h"

#define XFER_RESPONSE_MAX (8L << 20)
#define XFER_DOWNLOAD_MAX (4LL << 30)

struct xfer_engine;
struct xfer;

struct xfer_result {
	long http_status;            /* 0 when no HTTP answer came */
	const char *body;            /* borrowed until the callback returns */
	size_t len;
	enum prov_errclass neterr;   /* NETWORK or TIMEOUT when no answer, else NONE */
	const char *neterr_text;     /* a sentence when neterr is set */
	long retry_after_s;          /* from a Retry-After header, -1 when none */
	int64_t elapsed_ms;
	bool refused;                /* the data callback refused a chunk (neterr BAD_BODY) */
};

typedef void (*xfer_done_fn)(void *arg, const struct xfer_result *r);
/* A streamed answer's next bytes (never for a status >= 400); false
 * refuses them and ends the transfer. Runs inside xfer_run: it must not
 * call the engine. */
typedef bool (*xfer_data_fn)(void *arg, const char *p, size_t n);

struct xfer_stream {
	xfer_data_fn data;
	long idle_s;                 /* > 0: no byte this long is a TIMEOUT */
};

/* At most host_connections transfers to one host at once, window_start
 * before it answered any, fewer while it shows overload (worker/hostwin.h);
 * more wait in the engine, their timeout not yet running. NULL on failure (curl could not be
 * initialised). */
struct xfer_engine *xfer_engine_new(long host_connections, long window_start);
/* The bound on a download's size in bytes (XFER_DOWNLOAD_MAX until set). */
void xfer_engine_set_download_max(struct xfer_engine *xe, long long max_bytes);
/* Where downloads are spooled: an absolute directory, borrowed for the
 * engine's life ("/tmp" until set). */
void xfer_engine_set_spool_dir(struct xfer_engine *xe, const char *dir);
/* Abandons every transfer in flight without callbacks. */
void xfer_engine_free(struct xfer_engine *xe);

/* Starts sending req (borrowed: copied as needed). AIGW_ENOMEM or AIGW_EIO
 * (curl refused); then no callback will come. */
enum aigw_err xfer_start(struct xfer_engine *xe, const struct prov_http *req, long timeout_s,
			 xfer_done_fn done, void *arg, struct xfer **out) AIGW_MUSTCHECK;
/* The same for an answer that streams: its body goes to st->data (st is
 * copied) as it arrives, then done is called with an empty body. */
enum aigw_err xfer_start_stream(struct xfer_engine *xe, const struct prov_http *req,
				long timeout_s, const struct xfer_stream *st, xfer_done_fn done,
				void *arg, struct xfer **out) AIGW_MUSTCHECK;
/* Abandons one transfer; its callbacks never run. */
void xfer_cancel(struct xfer_engine *xe, struct xfer *x);
/* Transfers started and not ended: sending, and waiting for room in their
 * host's window. */
int xfer_in_flight(const struct xfer_engine *xe);
/* Of those, the ones waiting for room (worker/hostwin.h). */
int xfer_waiting(const struct xfer_engine *xe);

/* Waits up to timeout_ms for network activity or for extra_fd (-1 for
 * none) to become readable. AIGW_EIO when polling itself failed. */
enum aigw_err xfer_wait(struct xfer_engine *xe, int extra_fd, int timeout_ms) AIGW_MUSTCHECK;
/* Moves every transfer on and runs the callbacks of those that ended. */
void xfer_run(struct xfer_engine *xe);

/*
 * How long to wait before attempt number `attempt` + 1, given that
 * `attempt` attempts (>= 1) have failed: exponential backoff from base_ms,
 * capped at cap_ms, with full jitter (rnd picks uniformly in [0, backoff]);
 * never less than a Retry-After the server gave (retry_after_s >= 0).
 * Pure: the caller supplies the randomness. Cannot fail.
 */
int64_t xfer_retry_delay_ms(int attempt, long retry_after_s, int64_t base_ms, int64_t cap_ms,
			    uint32_t rnd);

#endif
