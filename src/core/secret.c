/* secret.c: API keys and their hashes (see secret.h). */
#include <string.h>
#include <sys/random.h>

#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "core/secret.h"

static const char hexdigits[] = "0123456789abcdef";

static void
to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

enum aigw_err
secret_key_new(char key[SECRET_KEY_LEN + 1], char id[SECRET_KEY_ID_LEN + 1])
{
	unsigned char raw[SECRET_KEY_ID_LEN / 2 + 32];
	char hex[2 * sizeof raw + 1];

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return AIGW_EIO;
	to_hex(raw, sizeof raw, hex);
	memcpy(key, "aigw_", 5);
	memcpy(key + 5, hex, SECRET_KEY_ID_LEN);
	key[5 + SECRET_KEY_ID_LEN] = '_';
	memcpy(key + 6 + SECRET_KEY_ID_LEN, hex + SECRET_KEY_ID_LEN, 64);
	key[SECRET_KEY_LEN] = '\0';
	memcpy(id, hex, SECRET_KEY_ID_LEN);
	id[SECRET_KEY_ID_LEN] = '\0';
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(hex, sizeof hex);
	return AIGW_OK;
}

bool
secret_key_parse(const char *key, char id[SECRET_KEY_ID_LEN + 1])
{
	if (strnlen(key, SECRET_KEY_LEN + 1) != SECRET_KEY_LEN || strncmp(key, "aigw_", 5) != 0 ||
	    key[5 + SECRET_KEY_ID_LEN] != '_' || !all_hex(key + 5, SECRET_KEY_ID_LEN) ||
	    !all_hex(key + 6 + SECRET_KEY_ID_LEN, 64))
		return false;
	memcpy(id, key + 5, SECRET_KEY_ID_LEN);
	id[SECRET_KEY_ID_LEN] = '\0';
	return true;
}

enum aigw_err
secret_sha256_hex(const char *s, size_t len, char hex[SECRET_HASH_HEX_LEN + 1])
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, (const uint8_t *)s);
	sha256_digest(&ctx, sizeof md, md);
	to_hex(md, sizeof md, hex);
	return AIGW_OK;
}

bool
secret_hash_equal(const char *a, const char *b)
{
	if (strnlen(a, SECRET_HASH_HEX_LEN + 1) != SECRET_HASH_HEX_LEN ||
	    strnlen(b, SECRET_HASH_HEX_LEN + 1) != SECRET_HASH_HEX_LEN)
		return false;
	return memeql_sec(a, b, SECRET_HASH_HEX_LEN) != 0;
}
