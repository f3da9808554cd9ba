/*
 * jobs.h: the jobs resource (docs/api.md, Jobs): validating a submit and its
 * Idempotency-Key, and the handlers (declared in routes.h) that store a
 * job, show it, cancel it and list them.
 *
 * job_request_parse() is pure: body bytes and the job type registry in, a
 * validated request or a field error out. The request owns its json-c
 * trees; every pointer in it borrows from them or from the registry (which
 * must outlive it). Release with job_request_free() (safe on a zeroed one).
 * Nothing here keeps state between calls: any thread may use it.
 * Parsing fails with a field error (400) or out of memory; the handlers
 * answer every failure themselves (4xx for the client's, 503 for the
 * database's).
 */
#ifndef AIGW_HTTP_JOBS_H
#define AIGW_HTTP_JOBS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "core/err.h"
#include "core/util.h"
#include "http/server.h"
#include "jobtype/jobtype.h"

#define JOB_IDEMPOTENCY_KEY_MAX 255  /* bytes, as the IETF draft's examples */
#define JOB_LIST_LIMIT_DEFAULT 50
#define JOB_LIST_LIMIT_MAX 100
#define JOB_RETRY_AFTER_DEFAULT 2    /* seconds, when the type is unknown */

struct job_request {
	json_object *root;
	const struct jobtype *type;          /* borrowed from the registry */
	char decision_id[UUID_STR_LEN + 1];  /* lower case; "" when absent */
	json_object *input;                  /* borrowed from root */
	/* Texts for db_job_insert, valid until job_request_free(). */
	const char *input_json;              /* compact */
	const char *steps_json;              /* ["step name", ...] in order */
	const char *fingerprint;             /* {"type","decision_id","input"} */
	json_object *canon;                  /* owns fingerprint */
	json_object *steps;                  /* owns steps_json */
};

/* AIGW_OK, or AIGW_EINVAL with e filled (invalid_json, invalid_field,
 * unknown_job_type; field names the culprit: "type", "decision_id",
 * "input", "input.<name>"), or AIGW_ENOMEM. On error out is zeroed.
 * types may be NULL: no type is known then. */
enum aigw_err job_request_parse(const char *body, size_t len,
				const struct jobtype_registry *types, struct job_request *out,
				struct http_field_error *e) AIGW_MUSTCHECK;
void job_request_free(struct job_request *r);

/* True when key is an acceptable Idempotency-Key: 1 to 255 bytes of
 * printable ASCII (space included). Cannot fail. */
bool job_idempotency_key_valid(const char *key);

#endif
