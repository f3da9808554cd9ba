/*
 * webhooks.h: the webhook outbox (migrations/0016_webhooks.sql): the
 * worker's side of it. Rows are written by a trigger in the transaction
 * that sets a chat's or job's final state; here they are claimed (FOR
 * UPDATE SKIP LOCKED, under a lease, an attempt counted: two workers never
 * send one at once), given their body once, and settled: delivered, to be
 * retried, or given up. Every write after the claim is fenced by
 * (delivery_id, attempts), and counts the attempt's outcome in
 * aigw_webhook_deliveries_total. Structs returned own their strings.
 * Errors: AIGW_EDB, AIGW_ENOMEM.
 */
#ifndef AIGW_DB_WEBHOOKS_H
#define AIGW_DB_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

struct db_webhook {
	char delivery_id[UUID_STR_LEN + 1];
	char kind[8];              /* "chat" or "job" */
	char object_id[UUID_STR_LEN + 1];
	char *owner_user;
	char *event;               /* chat.completed, job.failed, response.cancelled, ... */
	char *url;
	char *key_secret;          /* the submitting key's secret; NULL: AIGW_WEBHOOK_SECRET */
	char *body;                /* NULL until the first attempt stored it */
	char event_time[32];       /* ISO 8601, UTC */
	int attempt;               /* this claim's attempt, from 1 */
};

/* Claims up to limit due deliveries under a lease of lease_s seconds.
 * *out: *n rows (NULL when none) for db_webhooks_free. */
enum aigw_err db_webhook_claim(struct db *db, int limit, long lease_s, struct db_webhook **out,
			       size_t *n) AIGW_MUSTCHECK;
void db_webhooks_free(struct db_webhook *w, size_t n);

/* Stores the body the first attempt rendered, unless one is stored;
 * *body is then the stored one (replaced when another was there). *ours
 * is false when the claim was lost. */
enum aigw_err db_webhook_set_body(struct db *db, const struct db_webhook *w, char **body,
				  bool *ours) AIGW_MUSTCHECK;

/* What became of one attempt. */
enum db_webhook_outcome {
	DB_WEBHOOK_DELIVERED,   /* a 2xx */
	DB_WEBHOOK_FAILED,      /* no 2xx: retried after retry_ms, unless past the deadline */
	DB_WEBHOOK_REFUSED,     /* the URL may not be sent to: given up at once */
	DB_WEBHOOK_GONE,        /* the chat or job is no more: given up at once */
};

/* Settles the attempt: http_status is the receiver's (0: none came), why
 * the failure in a sentence (NULL when delivered), retry_ms the delay
 * before the next attempt; retry_s bounds the retries from the event.
 * *gave_up tells whether this was the last attempt. */
enum aigw_err db_webhook_settle(struct db *db, const struct db_webhook *w,
				enum db_webhook_outcome outcome, long http_status,
				const char *why, long long retry_ms, long retry_s,
				bool *gave_up) AIGW_MUSTCHECK;

/* Deletes deliveries settled more than days ago; *n how many. */
enum aigw_err db_webhook_prune(struct db *db, long days, long *n) AIGW_MUSTCHECK;

#endif
