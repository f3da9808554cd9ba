/*
 * batches.h: calls to async providers and the batches that carry them.
 *
 * A call waits as a batch item until a worker forms a batch of the waiting
 * items of one provider and model (db_batch_form, which also claims it).
 * Every later write to a batch is fenced by its claim (attempt), like chats
 * and jobs; a batch whose worker died is claimed again (db_batch_claim)
 * and resumed from its stored state. A result is written once, into the
 * item and the chat or job step it belongs to, in one statement. Returned
 * strings are malloc'd and owned by the caller. Errors: AIGW_EDB,
 * AIGW_ENOMEM.
 */
#ifndef AIGW_DB_BATCHES_H
#define AIGW_DB_BATCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

/* A call for a batch: its target is a chat (chat_id) or a job step. */
struct db_batch_call {
	const char *provider;
	const char *model;
	const char *chat_id;      /* or NULL */
	const char *job_id;       /* or NULL */
	int step;
	const char *message;
	const char *system;       /* or NULL */
	int max_tokens;
	bool websearch;
	const char *location;     /* or NULL */
	bool json_output;
	/* The chat's conversation (chat_results.messages as JSON text), whose
	 * last turn is message; NULL: message alone. */
	const char *messages_json;
};
/* Queues the call, unless it is queued already. */
enum aigw_err db_batch_item_add(struct db *db, const struct db_batch_call *c) AIGW_MUSTCHECK;

struct db_batch_group {
	char *provider;
	char *model;
	long count;
	int64_t oldest_ms;        /* how long the oldest has waited */
};
enum aigw_err db_batch_groups(struct db *db, struct db_batch_group **out,
			      size_t *n) AIGW_MUSTCHECK;
void db_batch_groups_free(struct db_batch_group *g, size_t n);

/* Forms and claims a batch (attempt 1) of up to max waiting calls whose
 * estimated size (see prov_async_ops.max_bytes) stays within max_bytes (0:
 * any); *count is how many it took (0: none left, and no batch was made). */
enum aigw_err db_batch_form(struct db *db, const char *batch_id, const char *provider,
			    const char *model, size_t max, size_t max_bytes, long deadline_s,
			    const char *worker, long lease_s, size_t *count) AIGW_MUSTCHECK;

struct db_batch_claim {
	char batch_id[UUID_STR_LEN + 1];
	int attempt;
	char *provider;
	char *model;
	char *state;              /* NULL: nothing sent yet */
	char *external_id;        /* NULL: not accepted yet */
	int64_t deadline_in_ms;
	long long submit_sent_s;  /* when a create first went out (Unix s); 0: never */
};
enum aigw_err db_batch_claim(struct db *db, int limit, long lease_s, const char *worker,
			     struct db_batch_claim **out, size_t *n) AIGW_MUSTCHECK;
void db_batch_claims_free(struct db_batch_claim *c, size_t n);

struct db_batch_item {
	char item_id[UUID_STR_LEN + 1];
	char *message;
	char *system;             /* or NULL */
	int max_tokens;
	bool websearch;
	char *location;           /* or NULL */
	bool json_output;
	char *messages_json;      /* its conversation, or NULL: message alone */
	bool answered;            /* its result is stored already */
	int64_t waited_ms;        /* since it was queued */
};
enum aigw_err db_batch_items(struct db *db, const char *batch_id, struct db_batch_item **out,
			     size_t *n) AIGW_MUSTCHECK;
void db_batch_items_free(struct db_batch_item *it, size_t n);

/* Stores the batch's progress; status is submitting, running, done, failed
 * or cancelled; state, external_id and error NULL leave them (error is
 * cleared). *ours is false when the fence kept it out. */
enum aigw_err db_batch_save(struct db *db, const char *batch_id, int attempt, const char *status,
			    const char *state, const char *external_id, const char *error,
			    int polls, bool *ours) AIGW_MUSTCHECK;
/* Records that the batch's create request goes out now (fenced); *sent_s
 * gets when the first one went (Unix seconds). *ours is false when the
 * fence kept it out: then nothing may be sent. */
enum aigw_err db_batch_submitting(struct db *db, const char *batch_id, int attempt, bool *ours,
				  long long *sent_s) AIGW_MUSTCHECK;
enum aigw_err db_batch_renew(struct db *db, const char *batch_id, int attempt, long lease_s,
			     bool *ours) AIGW_MUSTCHECK;
enum aigw_err db_batch_release(struct db *db, const char *batch_id, int attempt) AIGW_MUSTCHECK;

/* Writes n calls' results (JSON text) to their items and their chats
 * (finishing a chat when it was the last answer it awaited) or job steps,
 * each once, in one statement. */
enum aigw_err db_batch_results(struct db *db, const char *const *item_ids,
			       const char *const *results, size_t n) AIGW_MUSTCHECK;

/* The results stored for a job step so far (JSON object text). */
enum aigw_err db_job_step_read(struct db *db, const char *job_id, int step,
			       char **results_json) AIGW_MUSTCHECK;

#endif
