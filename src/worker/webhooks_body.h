/*
 * webhooks_body.h: what a delivery says: {"type", "timestamp", "data"}
 * (Standard Webhooks), data being the status body a client would GET for
 * the work: GET /api/ai/chat/status's for a chat (and, until the
 * OpenAI-compatible response object is wired in, for a /v1/ response),
 * GET /api/jobs/{id}/status's for a job. One function per kind.
 * AIGW_ENOTFOUND when the work is no more (deleted by the reaper, or a
 * chat past its expiry), AIGW_EDB, AIGW_ENOMEM.
 */
#ifndef AIGW_WORKER_WEBHOOKS_BODY_H
#define AIGW_WORKER_WEBHOOKS_BODY_H

#include "db/db.h"
#include "db/webhooks.h"

/* The body of w's event; *body is the caller's to free. */
enum aigw_err webhooks_body(struct db *db, const struct db_webhook *w, char **body) AIGW_MUSTCHECK;

#endif
