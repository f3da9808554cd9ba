/*
 * resultjson.h: a provider call's result as aigw stores and shows it, the same
 * for chats, job steps and batch items.
 *
 * Fails only on ENOMEM (NULL). Thread-safe.
 */
#ifndef AIGW_WORKER_RESULTJSON_H
#define AIGW_WORKER_RESULTJSON_H

#include <stdbool.h>
#include <stdint.h>

#include "providers/provider.h"

/* A provider's result as stored and shown: {"ok", "text", "model",
 * "latencyMs", "usage", "costUsd", "citations"} or {"ok": false, "error",
 * "errorClass"}, with "attempts" (and "mock" when the built-in mock stood
 * in for provider). malloc'd; NULL on ENOMEM. */
char *worker_result_json(const char *provider, const char *model, bool mock,
			 const struct prov_result *pr, int64_t latency_ms, int attempts);

/* The "usage" and "costUsd" members worker_result_json gives a call whose
 * provider reported input and output tokens (-1: not said), as a JSON
 * object's text: for a result stored otherwise (a cancelled call's).
 * malloc'd; NULL on ENOMEM. */
char *worker_usage_json(const char *provider, const char *model, long input, long output);

#endif
