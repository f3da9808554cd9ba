/*
 * webhook.h: what a webhook delivery is made of, as pure functions: the
 * Standard Webhooks signature (docs/webhooks.md), the secrets that key it,
 * the check of a receiver's URL, and the delay between attempts.
 *
 * A secret is "whsec_" + base64 of its key bytes; the signature of a
 * delivery is "v1," + base64(HMAC-SHA256(key, id "." timestamp "." body)),
 * with Nettle's HMAC and base64. Nothing here logs or keeps a secret.
 * Only making a secret can fail (AIGW_EIO without kernel randomness);
 * a malformed secret or URL is an answer (false), not an error.
 * Thread-safe.
 */
#ifndef AIGW_CORE_WEBHOOK_H
#define AIGW_CORE_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_BYTES 24                       /* a new secret's key */
#define WEBHOOK_SECRET_LEN (6 + 4 * WEBHOOK_SECRET_BYTES / 3) /* "whsec_" + base64 */
#define WEBHOOK_KEY_MAX 64                            /* a decoded key's bytes at most */
#define WEBHOOK_SIGNATURE_LEN (3 + 44)                /* "v1," + base64 of 32 bytes */
#define WEBHOOK_URL_MAX 2048

/* Makes a new random secret. AIGW_EIO without kernel randomness. */
enum aigw_err webhook_secret_new(char out[WEBHOOK_SECRET_LEN + 1]) AIGW_MUSTCHECK;

/* The key bytes of a "whsec_<base64>" secret (the prefix may be left out,
 * as the specification allows). false when it is not base64 or its key is
 * empty or longer than WEBHOOK_KEY_MAX. */
bool webhook_secret_key(const char *secret, uint8_t key[WEBHOOK_KEY_MAX], size_t *key_len);

/* "v1,<base64 signature>" of (id, timestamp, body) under secret; false
 * when the secret is not well formed (webhook_secret_key). */
bool webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
		  size_t body_len, char out[WEBHOOK_SIGNATURE_LEN + 1]);

/* Whether url may receive deliveries: http:// or https://, a host, no
 * user or password, no spaces or control bytes, at most WEBHOOK_URL_MAX
 * bytes. Where it is sent is checked again at each attempt (core/netaddr.h).
 * On false, why names the fault in a sentence. */
bool webhook_url_valid(const char *url, const char **why);

/*
 * The delay before attempt number attempt + 1, given that attempt (>= 1)
 * attempts failed: base_ms doubled for each failure after the first, at
 * most cap_ms, of which a random half is taken off (rnd picks where in
 * [half, whole]): retries spread out, yet never come at once.
 * Pure: the caller supplies the randomness. Cannot fail.
 */
int64_t webhook_retry_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd);

#endif
