/*
 * status.h: the one table of the status names aigw stores in the status
 * columns (chats, jobs, job_steps, batches, analysis runs) and shows in the
 * API. C code outside this table names a status by its enum value; the
 * strings live only here and in the SQL of src/db/ that the migrations'
 * CHECK constraints mirror.
 *
 * Which column takes which names:
 *   chats.status          pending processing completed failed cancelled
 *   jobs.status           pending running completed failed cancelled
 *   job_steps.status      pending running completed failed cancelled
 *   batches.status        submitting running done failed cancelled
 *   analysis runs         pending running completed partial failed cancelled
 *
 * Nothing here can fail: an unknown name is reported by db_status_parse.
 */
#ifndef AIGW_DB_STATUS_H
#define AIGW_DB_STATUS_H

#include <stdbool.h>

enum db_status {
	DB_STATUS_PENDING,     /* queued: no worker holds it */
	DB_STATUS_PROCESSING,  /* a chat a worker holds */
	DB_STATUS_RUNNING,     /* a job, step or run a worker holds; a batch the provider has */
	DB_STATUS_SUBMITTING,  /* a batch being created at its provider */
	DB_STATUS_COMPLETED,   /* finished with an answer */
	DB_STATUS_PARTIAL,     /* an analysis run of which some calls answered */
	DB_STATUS_FAILED,      /* finished without an answer */
	DB_STATUS_CANCELLED,   /* stopped by a client or by a deadline */
	DB_STATUS_DONE,        /* a batch whose results are all written */
	DB_STATUS_COUNT
};

/* The same names as SQL literals, for the statements of src/db/: joined to
 * the SQL text when it is compiled (never a value a client sent). */
#define SQL_PENDING "'pending'"
#define SQL_PROCESSING "'processing'"
#define SQL_RUNNING "'running'"
#define SQL_SUBMITTING "'submitting'"
#define SQL_COMPLETED "'completed'"
#define SQL_PARTIAL "'partial'"
#define SQL_FAILED "'failed'"
#define SQL_CANCELLED "'cancelled'"
#define SQL_DONE "'done'"

/* The stored name of s ("pending", ...); "" for a value out of range. */
const char *db_status_name(enum db_status s);

/* Sets *out to the status named name; false (and *out untouched) for a
 * NULL or unknown name. */
bool db_status_parse(const char *name, enum db_status *out);

/* True for the statuses nothing moves on from: completed, partial, failed,
 * cancelled, done. */
bool db_status_final(enum db_status s);

/* True when name is the stored name of s (false for a NULL name). */
bool db_status_is(const char *name, enum db_status s);

/* True when name is the stored name of a final status (db_status_final);
 * false for a NULL or unknown name. */
bool db_status_name_final(const char *name);

/* True for the names jobs.status (and job_steps.status) takes. */
bool db_status_of_job(enum db_status s);

#endif
