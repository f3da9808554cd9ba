/*
 * analysis.h: the database side of scheduled prompt analysis (the HTTP
 * side is http/analysis.c, the command line cli/analysis.c): tracked prompts, the daily batch
 * that makes one prompt_analysis job per active prompt, and what the runs
 * recorded (analysis_jobs, ai_responses; see migrations/0008).
 *
 * Responses and counters are written by the database itself as job steps
 * store their results, so nothing here runs inside the worker. Errors:
 * AIGW_EDB, AIGW_ENOMEM, AIGW_ENOTFOUND where said.
 */
#ifndef AIGW_DB_ANALYSIS_H
#define AIGW_DB_ANALYSIS_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

struct db_prompt {
	const char *project;
	const char *user;
	const char *org;
	const char *text;
	const char *platforms_json;   /* JSON array of provider names */
	bool websearch;
	const char *location;         /* two upper-case letters, or NULL */
};

/* Stores a new active prompt; its id is written to id. */
enum aigw_err db_prompt_add(struct db *db, const struct db_prompt *p,
			    char id[UUID_STR_LEN + 1]) AIGW_MUSTCHECK;
/* Writes a table of the prompts (of project, or all when NULL; inactive
 * ones too when all) to f. */
enum aigw_err db_prompt_list(struct db *db, const char *project, bool all,
			     FILE *f) AIGW_MUSTCHECK;
/* AIGW_ENOTFOUND when no active prompt has this id. */
enum aigw_err db_prompt_deactivate(struct db *db, const char *id) AIGW_MUSTCHECK;

/* The scheduler's lock, held by the session: *got is false when another
 * scheduler holds it. */
enum aigw_err db_schedule_lock(struct db *db, bool *got) AIGW_MUSTCHECK;
void db_schedule_unlock(struct db *db);

struct db_schedule_batch {
	char batch_id[UUID_STR_LEN + 1];
	bool complete;    /* every prompt has its job already */
	bool created;     /* made now, not earlier today */
};
/* Today's batch: made now, or (unless forced, which always makes a new
 * one) the one made earlier today. */
enum aigw_err db_schedule_batch(struct db *db, bool forced,
				struct db_schedule_batch *out) AIGW_MUSTCHECK;

/* What a job of the batch is made with. */
struct db_schedule_jobtype {
	const char *name;
	int attempts;
	long timeout_s;
	const char *step_names_json;
};
/* Makes the jobs of the next page of up to limit active prompts after
 * *cursor ("" for the first page; updated to the page's last prompt).
 * *seen is the number of prompts on the page (0: none left), *made the
 * jobs made (prompts that have one in this batch already are skipped). */
enum aigw_err db_schedule_page(struct db *db, const char *batch_id,
			       const struct db_schedule_jobtype *type, long limit,
			       char cursor[UUID_STR_LEN + 1], long *seen,
			       long *made) AIGW_MUSTCHECK;
/* Marks the batch complete: every active prompt has its job. */
enum aigw_err db_schedule_done(struct db *db, const char *batch_id) AIGW_MUSTCHECK;

/* Writes a table per prompt and platform of the batch (status, tokens,
 * cost, ms) and the totals to f. AIGW_ENOTFOUND for a batch with no
 * analyses. */
enum aigw_err db_analysis_show(struct db *db, const char *batch_id, FILE *f) AIGW_MUSTCHECK;

/* The newest batches (at most limit) with analyses of user, as
 * {"success":true,"batches":[..]} in *json (malloc'd). */
enum aigw_err db_analysis_batches(struct db *db, const char *user, long limit,
				  char **json) AIGW_MUSTCHECK;
/* One batch as {"success":true,"batch":{..},"prompts":[..]} in *json
 * (malloc'd), with the
 * analyses of user only; AIGW_ENOTFOUND when user has none in it. */
enum aigw_err db_analysis_batch(struct db *db, const char *user, const char *batch_id,
				char **json) AIGW_MUSTCHECK;

#endif
