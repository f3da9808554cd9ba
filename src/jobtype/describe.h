/*
 * describe.h: a job type as a client sees it, as JSON.
 *
 * Owns which parts of a declaration leave the gateway: never the prompts,
 * which are the operator's. Each function builds a new object the caller
 * owns; it fails only out of memory (NULL).
 */
#ifndef AIGW_JOBS_DESCRIBE_H
#define AIGW_JOBS_DESCRIBE_H

#include <json-c/json.h>

struct jobtype;

/* The names of the type's steps in order, as a new JSON array; NULL on
 * ENOMEM. */
json_object *jobtype_step_names(const struct jobtype *t);

/* What a client needs to offer the type (GET /api/jobtypes), as a new
 * object: name, description, timeout_s, poll_interval_s, input (each
 * field's type, required, max_length, description) and steps (name,
 * status_message, progress, the providers and models it calls). The
 * prompts are left out: they are the operator's. NULL on ENOMEM. */
json_object *jobtype_public_json(const struct jobtype *t);

#endif
