/*
 * secret.h: API keys: making them, hashing them, and comparing hashes in
 * constant time. SHA-256 and the comparison come from Nettle (GnuTLS's
 * crypto library, which libpq's LDAP support loads anyway): no global
 * state to set up, where OpenSSL's first digest costs a process over a
 * mebibyte.
 *
 * A key is "aigw_" + 16 hex digits (its id, public) + "_" + 64 hex digits
 * (32 random bytes). Only SHA-256 of the whole key is stored. Nothing here
 * logs or keeps a key. Only making a key can fail (AIGW_EIO without kernel
 * randomness); a key that is not well formed is an answer (false), not an
 * error. Thread-safe.
 */
#ifndef AIGW_CORE_SECRET_H
#define AIGW_CORE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define SECRET_KEY_ID_LEN 16
#define SECRET_KEY_LEN (5 + SECRET_KEY_ID_LEN + 1 + 64)
#define SECRET_HASH_HEX_LEN 64

/* Makes a new random key and its id. AIGW_EIO without kernel randomness. */
enum aigw_err secret_key_new(char key[SECRET_KEY_LEN + 1],
			     char id[SECRET_KEY_ID_LEN + 1]) AIGW_MUSTCHECK;

/* Checks the key's form and copies its id out. false for anything that is
 * not a well-formed key. Cannot fail otherwise. */
bool secret_key_parse(const char *key, char id[SECRET_KEY_ID_LEN + 1]);

/* SHA-256 of s as lower-case hex. Cannot fail (AIGW_OK). */
enum aigw_err secret_sha256_hex(const char *s, size_t len,
				char hex[SECRET_HASH_HEX_LEN + 1]) AIGW_MUSTCHECK;

/* Compares two hashes in time that does not depend on where they differ.
 * false when either is not SECRET_HASH_HEX_LEN long. */
bool secret_hash_equal(const char *a, const char *b);

#endif
