/*
 * chats.h: chat rows: submit, read, and the worker's side of the queue
 * (claim, write one provider's result, finish, renew or hand back a lease).
 *
 * Every write after the claim is fenced by (chat_id, attempt): a worker that
 * lost its lease updates nothing and is told so. Structs returned here own
 * their strings; free them with the matching _free (safe on NULL/zeroed).
 * Errors: AIGW_EDB (database), AIGW_ENOMEM, AIGW_ENOTFOUND (no such row).
 */
#ifndef AIGW_DB_CHATS_H
#define AIGW_DB_CHATS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/util.h"
#include "db/db.h"

/* A validated chat request, borrowed by db_chat_insert. */
struct db_chat_new {
	const char *chat_id;      /* the new chat's UUID */
	const char *owner_user;
	const char *owner_org;
	const char *message;
	const char *system;       /* NULL when not given */
	int max_tokens;
	bool websearch;
	const char *location;     /* NULL when not given */
	const char *models_json;  /* {"provider": "model", ...} */
	long ttl_s;
	/* A conversation: [{"role", "content"}, ...] whose last turn is the
	 * user's and is message too; NULL for message alone. */
	const char *messages_json;
	const char *api;          /* "chat", "response", "completion"; NULL: "chat" */
	const char *api_request_json; /* /v1/ only: what the request asked; else NULL */
	const char *webhook_url;  /* NULL: none (or the owner's key's) */
	const char *webhook_key;  /* the submitting key's id; NULL: none (docs/webhooks.md) */
};

/* Inserts n chats in one statement: all or none. The caller then wakes
 * the workers (http/wake.h). When the connection is lost during the
 * insert, the rows are looked for by their ids (and inserted once more when
 * none is stored) before the answer: AIGW_OK means they are stored. */
enum aigw_err db_chat_insert(struct db *db, const struct db_chat_new *const *rows,
			     size_t n) AIGW_MUSTCHECK;
/* Whether chat_id is stored: after a commit whose connection was lost. */
enum aigw_err db_chat_stored(struct db *db, const char *chat_id, bool *stored) AIGW_MUSTCHECK;

struct db_chat_view {
	char chat_id[UUID_STR_LEN + 1];
	char status[16];
	long version;
	char *results_json;
	char *pending_json;       /* ["provider", ...] still running */
	char created_at[32];
	char completed_at[32];    /* "" while not completed */
	char expires_at[32];
};

/* AIGW_ENOTFOUND when no such chat, expired, or owned by someone else. */
enum aigw_err db_chat_status(struct db *db, const char *id, const char *owner,
			     struct db_chat_view *out) AIGW_MUSTCHECK;
void db_chat_view_free(struct db_chat_view *v);

/* Cancels a pending or processing chat of owner in one statement: status
 * cancelled, its lease dropped, and a result for every provider without
 * one: {"ok": true, "cancelled": true, "text": <text so far>, ...} when it
 * had streamed text, else {"ok": false, "cancelled": true, "error": ...,
 * "errorClass": "cancelled"}; tells the worker (NOTIFY aigw_cancel) and
 * the watchers. A finished chat is left as it is. AIGW_ENOTFOUND when no
 * such chat of this owner, or expired. */
enum aigw_err db_chat_cancel(struct db *db, const char *id, const char *owner) AIGW_MUSTCHECK;

/* What a worker knew of a cancelled call's usage: its provider, and the
 * JSON object ({"usage": ..., "costUsd": ...}) merged into its result. */
struct db_chat_usage {
	const char *provider;
	const char *usage_json;
};

/* Merges n usages into the cancelled results of their providers (results
 * the cancel stored, "cancelled": true; any other is left as it is), in
 * one statement fenced by the claim's attempt and status cancelled; the
 * watchers are told. A chat claimed again, or not cancelled: nothing.
 * AIGW_EDB: nothing was written (the worker drops it: the cancel stored
 * the text, the usage is best effort). */
enum aigw_err db_chat_cancel_usage(struct db *db, const char *id, int attempt,
				   const struct db_chat_usage *rows, size_t n) AIGW_MUSTCHECK;

struct db_chat_claim {
	char chat_id[UUID_STR_LEN + 1];
	int attempt;
	char *message;
	char *system;             /* NULL when none */
	int max_tokens;
	bool websearch;
	char *location;           /* NULL when none */
	char *models_json;
	char *results_json;       /* results already stored by earlier attempts */
	char *messages_json;      /* the conversation, or NULL: message alone */
};

/* Claims up to limit claimable chats under a lease of lease_s seconds.
 * *out is an array of *n claims (NULL when none) for db_chat_claims_free. */
enum aigw_err db_chat_claim(struct db *db, int limit, long lease_s, const char *worker,
			    long max_attempts, struct db_chat_claim **out, size_t *n) AIGW_MUSTCHECK;
void db_chat_claims_free(struct db_chat_claim *c, size_t n);

/* One provider's result to store with db_chat_write_results. */
struct db_chat_result {
	const char *chat_id;
	int attempt;
	const char *provider;
	const char *result_json;
	bool finish;              /* the chat's last call: finish the chat too */
	/* Set by the write: */
	bool written;             /* false: the fence kept it out (lease lost) */
	char status[16];          /* the chat's status after the write */
};

/* Stores n results, each chat's adjacent, in one statement: one commit
 * however many chats. A result already stored for its provider is kept
 * (once only); chats whose rows say finish are finished as db_chat_finish
 * does. AIGW_EDB: nothing was written. */
enum aigw_err db_chat_write_results(struct db *db, struct db_chat_result *rows,
				    size_t n) AIGW_MUSTCHECK;

/* Sets completed or failed from the stored results; status receives it, or
 * "" when the fence kept the write out. */
enum aigw_err db_chat_finish(struct db *db, const char *id, int attempt,
			     char status[16]) AIGW_MUSTCHECK;

/* A lease to renew, and whether it still is ours. */
struct db_chat_lease {
	const char *chat_id;
	int attempt;
	bool ours;                /* set by db_chat_renew */
};

/* Extends n leases by lease_s in one statement; each row's ours is false
 * when its chat is no longer ours. On error every ours is false and
 * nothing was changed. */
enum aigw_err db_chat_renew(struct db *db, struct db_chat_lease *rows, size_t n,
			    long lease_s) AIGW_MUSTCHECK;

/* Ends the lease now so another worker claims the chat at once. */
enum aigw_err db_chat_release(struct db *db, const char *id, int attempt) AIGW_MUSTCHECK;

/* Pending chats and live workers, for /api/health. */
enum aigw_err db_health(struct db *db, long stale_s, long *queue_depth,
			long *workers) AIGW_MUSTCHECK;

#endif
