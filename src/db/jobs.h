/*
 * jobs.h: the database side of jobs (the HTTP side is http/jobs.h): job
 * rows and their steps: submit (with Idempotency-Key), read,
 * list, cancel, and the worker's side of the queue (claim, step start,
 * per-provider step results, step end, job end, lease renew and hand-back).
 *
 * Reads return the API's JSON text, built by the database from the row, so
 * the handler sends it as it is. Every write after the claim is fenced by
 * (job_id, attempt) and by the job still running: a worker that lost its
 * lease, or whose job was cancelled, updates nothing and is told so.
 * Returned strings are malloc'd and owned by the caller.
 * Errors: AIGW_EDB (database), AIGW_ENOMEM, AIGW_ENOTFOUND (no such row,
 * or another owner's).
 */
#ifndef AIGW_DB_JOBS_H
#define AIGW_DB_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

/* A validated job request, borrowed by db_job_insert. */
struct db_job_new {
	const char *type;
	const char *owner_user;
	const char *owner_org;
	const char *decision_id;     /* NULL when not given */
	const char *input_json;
	int max_attempts;
	long timeout_s;
	const char *steps_json;      /* ["step name", ...] in order */
	const char *idempotency_key; /* NULL when not given */
	const char *fingerprint;     /* the canonical request, compared on key reuse */
	const char *webhook_url;     /* NULL: none (or the submitting key's) */
	const char *webhook_key;     /* the submitting key's id; NULL: none */
};

enum db_job_insert_outcome {
	DB_JOB_CREATED,   /* a new job; *json is its 202 body */
	DB_JOB_REPLAYED,  /* the key's first job, same request; *json is its body */
	DB_JOB_KEY_REUSED /* the key's first job had another request; *json NULL */
};

/* Inserts the job and one pending row per step, unless the owner used the
 * same Idempotency-Key within 24 hours. *json receives the job as
 * {"id", "job_id", "type", "status", "progress", "created_at"}. */
enum aigw_err db_job_insert(struct db *db, const char *id, const struct db_job_new *in,
			    enum db_job_insert_outcome *outcome, char **json) AIGW_MUSTCHECK;

/* The owner's job with this Idempotency-Key (used within 24 hours):
 * REPLAYED with its body when fingerprint matches, KEY_REUSED otherwise;
 * AIGW_ENOTFOUND when there is none. */
/* The 202 body of a stored job, as db_job_insert gives it: after an insert
 * or a commit whose connection was lost. AIGW_ENOTFOUND when not stored. */
enum aigw_err db_job_accepted(struct db *db, const char *id, char **json) AIGW_MUSTCHECK;
enum aigw_err db_job_find_by_key(struct db *db, const char *owner, const char *key,
				 const char *fingerprint, enum db_job_insert_outcome *outcome,
				 char **json) AIGW_MUSTCHECK;

/* The job as GET /api/jobs/<id> shows it (with_output) or as /status does. */
enum aigw_err db_job_get(struct db *db, const char *id, const char *owner, bool with_output,
			 char **json) AIGW_MUSTCHECK;

/* The /status view with what a watcher needs without parsing it: the
 * version and the status. The caller frees json. */
struct db_job_view {
	char *json;
	long version;
	char status[16];
};
enum aigw_err db_job_status_view(struct db *db, const char *id, const char *owner,
				 struct db_job_view *out) AIGW_MUSTCHECK;

/* For /result: status, and the output (JSON text, NULL when none) or the
 * error (NULL when none); status_json is the /status view for a job not
 * finished yet. */
struct db_job_result {
	char status[16];
	char *output_json;
	char *error;
	char *status_json;
};
enum aigw_err db_job_result(struct db *db, const char *id, const char *owner,
			    struct db_job_result *out) AIGW_MUSTCHECK;
void db_job_result_free(struct db_job_result *r);

/* Cancels a pending or running job and tells its worker (NOTIFY
 * aigw_cancel); a finished job is left as it is. AIGW_ENOTFOUND when there
 * is no such job of this owner. */
enum aigw_err db_job_cancel(struct db *db, const char *id, const char *owner) AIGW_MUSTCHECK;

/* Newest first. status and type filter when not NULL; after is a cursor
 * from an earlier page or NULL. *json receives {"jobs": [...], "next_cursor"}.
 * AIGW_EINVAL for a malformed cursor. */
struct db_job_list {
	const char *owner;
	const char *status;
	const char *type;
	int limit;
	const char *after;
};
enum aigw_err db_job_list(struct db *db, const struct db_job_list *q, char **json) AIGW_MUSTCHECK;
/* True when s has the shape of a cursor db_job_list hands out. */
bool db_job_cursor_valid(const char *s);

/* ---- the worker's side ---- */

struct db_job_claim {
	char job_id[UUID_STR_LEN + 1];
	int attempt;
	char *type;
	char *input_json;
	int progress;
	/* [{"status": ..., "results": {...}, "output": ...|null}, ...] by step */
	char *steps_json;
};

/* Claims up to limit pending jobs, or running ones whose lease ran out with
 * attempts left, but no job of an analysis batch. *out is an array of *n
 * (NULL when none). */
enum aigw_err db_job_claim(struct db *db, int limit, long lease_s, const char *worker,
			   struct db_job_claim **out, size_t *n) AIGW_MUSTCHECK;
/* The same for jobs of analysis batches, so that no more than most_running
 * of them run at once over every worker (a transaction-scoped lock orders
 * the claims). One cheap statement when none waits. */
enum aigw_err db_job_claim_analysis(struct db *db, int limit, long most_running, long lease_s,
				    const char *worker, struct db_job_claim **out,
				    size_t *n) AIGW_MUSTCHECK;
void db_job_claims_free(struct db_job_claim *c, size_t n);

/* Marks a step running and shows its status message. *ours is false when
 * the job is no longer this attempt's (lease lost, cancelled). */
enum aigw_err db_job_step_start(struct db *db, const char *id, int attempt, int step,
				const char *status_message, bool *ours) AIGW_MUSTCHECK;

/* One provider's result of a step, to store with db_job_step_results. */
struct db_job_step_result_row {
	const char *job_id;
	int attempt;
	int step;
	const char *provider;
	const char *result_json;
	bool written;             /* set by the write: false when the fence or
				   * the once-only rule kept it out */
};

/* Stores n results of any jobs' steps in one statement: one commit however
 * many jobs. Each is stored once per provider (a result already stored is
 * kept). AIGW_EDB (the database is away), AIGW_ENOMEM: nothing was
 * written. */
enum aigw_err db_job_step_results(struct db *db, struct db_job_step_result_row *rows,
				  size_t n) AIGW_MUSTCHECK;

/* Ends a step and, with final_status ("completed" or "failed"), the job.
 * step_status is "completed" or "failed"; progress is the step's (raised
 * only, never lowered); job_output_json and job_error are for the final
 * write. *ours is false when the fence kept it out. */
struct db_job_step_end {
	int step;
	const char *step_status;
	const char *step_output_json;  /* NULL when none */
	const char *step_error;        /* NULL when none */
	int progress;
	const char *final_status;      /* NULL: the job goes on */
	const char *job_output_json;
	const char *job_error;
};
enum aigw_err db_job_step_end(struct db *db, const char *id, int attempt,
			      const struct db_job_step_end *e, bool *ours) AIGW_MUSTCHECK;

/* Fails the job as a whole (no step to blame: unknown type, bad stored
 * input). *ours as above. */
enum aigw_err db_job_fail(struct db *db, const char *id, int attempt, const char *error,
			  bool *ours) AIGW_MUSTCHECK;

enum aigw_err db_job_renew(struct db *db, const char *id, int attempt, long lease_s,
			   bool *ours) AIGW_MUSTCHECK;
enum aigw_err db_job_release(struct db *db, const char *id, int attempt) AIGW_MUSTCHECK;

#endif
