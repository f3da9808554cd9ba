/*
 * webhooks.h: the worker's webhook sender (docs/webhooks.md). Each turn it
 * claims the due rows of the outbox (db/webhooks.h), renders a row's body
 * once (the status body a client would GET, by kind: webhooks_body.c),
 * checks where its URL leads (the host is resolved by getaddrinfo_a, so
 * the loop never waits on DNS; every address must be public,
 * core/netaddr.h, unless AIGW_WEBHOOK_ALLOW_PRIVATE), signs it
 * (core/webhook.h) and POSTs it on the loop's transfer engine, pinned to
 * the checked addresses, without redirects, within AIGW_WEBHOOK_TIMEOUT_S.
 * A 2xx is delivered; anything else is retried with backoff and jitter
 * until AIGW_WEBHOOK_RETRY_S after the event; a refused address is given
 * up at once. Each attempt is logged (host only: a URL may carry a token;
 * never a secret) and counted. What fails here is an attempt, never the
 * loop: a delivery whose settling the database missed is sent again when
 * its lease runs out (at-least-once). Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_WEBHOOKS_H
#define AIGW_WORKER_WEBHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/work.h"

struct webhooks;

/* NULL when memory is short. w is borrowed for the sender's life. */
struct webhooks *webhooks_new(struct worker_ctx *w);
/* Abandons the attempts in flight: their leases run out and they are
 * sent again. */
void webhooks_free(struct webhooks *wh);

/* Claims and starts what is due (at once when wake, else when its timer
 * says; nothing new when stopping), at monotonic now and wall-clock
 * unix_s; returns when it wants its next turn. */
int64_t webhooks_turn(struct webhooks *wh, int64_t now, long long unix_s, bool wake,
		      bool stopping);

/* Attempts in flight. */
int webhooks_in_flight(const struct webhooks *wh);

#endif
