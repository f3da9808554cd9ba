/* webhook.c: Standard Webhooks signatures and secrets with Nettle, the
 * receiver URL check and the retry delay (see webhook.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <nettle/base64.h>
#include <nettle/hmac.h>

#include "core/webhook.h"

enum aigw_err
webhook_secret_new(char out[WEBHOOK_SECRET_LEN + 1])
{
	uint8_t raw[WEBHOOK_SECRET_BYTES];

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return AIGW_EIO;
	memcpy(out, WEBHOOK_SECRET_PREFIX, 6);
	base64_encode_raw(out + 6, sizeof raw, raw);
	out[WEBHOOK_SECRET_LEN] = '\0';
	memset(raw, 0, sizeof raw);
	return AIGW_OK;
}

bool
webhook_secret_key(const char *secret, uint8_t key[WEBHOOK_KEY_MAX], size_t *key_len)
{
	struct base64_decode_ctx ctx;
	size_t len, out_len = 0;

	*key_len = 0;
	if (secret == NULL)
		return false;
	if (strncmp(secret, WEBHOOK_SECRET_PREFIX, 6) == 0)
		secret += 6;
	len = strlen(secret);
	if (len == 0 || BASE64_DECODE_LENGTH(len) > WEBHOOK_KEY_MAX + 2)
		return false;
	{
		uint8_t buf[WEBHOOK_KEY_MAX + 3];

		base64_decode_init(&ctx);
		out_len = sizeof buf;
		if (!base64_decode_update(&ctx, &out_len, buf, len, secret) ||
		    !base64_decode_final(&ctx) || out_len == 0 || out_len > WEBHOOK_KEY_MAX) {
			memset(buf, 0, sizeof buf);
			return false;
		}
		memcpy(key, buf, out_len);
		memset(buf, 0, sizeof buf);
	}
	*key_len = out_len;
	return true;
}

bool
webhook_sign(const char *secret, const char *id, long long timestamp, const char *body,
	     size_t body_len, char out[WEBHOOK_SIGNATURE_LEN + 1])
{
	struct hmac_sha256_ctx ctx;
	uint8_t key[WEBHOOK_KEY_MAX], digest[SHA256_DIGEST_SIZE];
	size_t key_len;
	char ts[24];
	int n;

	if (!webhook_secret_key(secret, key, &key_len))
		return false;
	n = snprintf(ts, sizeof ts, "%lld", timestamp);
	hmac_sha256_set_key(&ctx, key_len, key);
	hmac_sha256_update(&ctx, strlen(id), (const uint8_t *)id);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
	hmac_sha256_update(&ctx, (size_t)n, (const uint8_t *)ts);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
	hmac_sha256_update(&ctx, body_len, (const uint8_t *)body);
	hmac_sha256_digest(&ctx, sizeof digest, digest);
	memcpy(out, "v1,", 3);
	base64_encode_raw(out + 3, sizeof digest, digest);
	out[WEBHOOK_SIGNATURE_LEN] = '\0';
	memset(key, 0, sizeof key);
	memset(&ctx, 0, sizeof ctx);
	return true;
}

bool
webhook_url_valid(const char *url, const char **why)
{
	const char *p, *host, *host_end;
	size_t len;

	if (url == NULL || (len = strlen(url)) == 0) {
		*why = "must be a URL";
		return false;
	}
	if (len > WEBHOOK_URL_MAX) {
		*why = "is longer than 2048 bytes";
		return false;
	}
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			*why = "must not hold spaces, control or non-ASCII bytes";
			return false;
		}
	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		*why = "must start with http:// or https://";
		return false;
	}
	host_end = host + strcspn(host, "/?#");
	for (p = host; p < host_end; p++)
		if (*p == '@') {
			*why = "must not hold a user or password";
			return false;
		}
	if (host_end == host || *host == ':') {
		*why = "must name a host";
		return false;
	}
	return true;
}

int64_t
webhook_retry_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
	int64_t d = base_ms > 0 ? base_ms : 1;
	int64_t half;

	if (cap_ms < d)
		cap_ms = d;
	for (int i = 1; i < attempt && d < cap_ms; i++)
		d = d > cap_ms / 2 ? cap_ms : d * 2;
	if (d > cap_ms)
		d = cap_ms;
	half = d / 2;
	return d - half + (int64_t)(((uint64_t)half * rnd) / UINT32_MAX);
}
