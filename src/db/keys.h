/*
 * keys.h: the database side of API keys (the command is cli/keys.c;
 * AIGW_AUTH=keys) and the active-work counts that the
 * limits are checked against at submit.
 *
 * Keys are stored as their SHA-256 only (core/secret.h); a lookup returns
 * the stored hash for the caller to compare in constant time. The
 * active-work functions run inside the caller's transaction (db_begin):
 * db_active_lock holds advisory locks to its end, so that counting and
 * inserting are one step. Errors: AIGW_EDB, AIGW_ENOMEM, AIGW_ENOTFOUND.
 */
#ifndef AIGW_DB_KEYS_H
#define AIGW_DB_KEYS_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "core/secret.h"
#include "db/db.h"

struct db_key_new {
	const char *key_id, *hash_hex, *user, *org;
	const char *name;           /* NULL: none */
	const char *webhook_url;    /* NULL: no deliveries of its own (docs/webhooks.md) */
	const char *webhook_secret; /* whsec_...: signs them; NULL with no URL */
};
enum aigw_err db_key_create(struct db *db, const struct db_key_new *k) AIGW_MUSTCHECK;

struct db_key {
	char hash_hex[SECRET_HASH_HEX_LEN + 1];
	char user[256];
	char org[256];
	bool revoked;
};
/* AIGW_ENOTFOUND when no key has this id. */
enum aigw_err db_key_lookup(struct db *db, const char *key_id, struct db_key *out) AIGW_MUSTCHECK;

/* Writes one line per key (id, user, org, created, revoked, name, webhook
 * URL) to f; never a secret. */
enum aigw_err db_key_list(struct db *db, FILE *f) AIGW_MUSTCHECK;

/* AIGW_ENOTFOUND when no live key has this id. */
enum aigw_err db_key_revoke(struct db *db, const char *key_id) AIGW_MUSTCHECK;

struct db_active {
	long org, user, decision;
};
/* In a transaction: locks the org ("" for none), user and decision (NULL
 * for none) to its end, then counts their chats and jobs pending or
 * running. */
enum aigw_err db_active_lock_count(struct db *db, const char *org, const char *user,
				   const char *decision, struct db_active *out) AIGW_MUSTCHECK;

#endif
