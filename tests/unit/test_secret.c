/* test_secret.c: API keys, their SHA-256, and comparing hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/secret.h"

static void
check_sha256(const char *in, const char *want)
{
	char hex[SECRET_HASH_HEX_LEN + 1];

	assert_int_equal(secret_sha256_hex(in, strlen(in), hex), AIGW_OK);
	assert_string_equal(hex, want);
}

static void
test_sha256_of_the_standard_vectors(void **state)
{
	(void)state;
	/* FIPS 180-2's examples */
	check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void
test_new_key_parses_to_its_id(void **state)
{
	char key[SECRET_KEY_LEN + 1], id[SECRET_KEY_ID_LEN + 1], parsed[SECRET_KEY_ID_LEN + 1];
	char other[SECRET_KEY_LEN + 1], other_id[SECRET_KEY_ID_LEN + 1];

	(void)state;
	assert_int_equal(secret_key_new(key, id), AIGW_OK);
	assert_int_equal(strlen(key), SECRET_KEY_LEN);
	assert_true(secret_key_parse(key, parsed));
	assert_string_equal(parsed, id);
	assert_int_equal(secret_key_new(other, other_id), AIGW_OK);
	assert_string_not_equal(key, other);
}

static void
test_malformed_keys_do_not_parse(void **state)
{
	char key[SECRET_KEY_LEN + 1], id[SECRET_KEY_ID_LEN + 1];

	(void)state;
	assert_int_equal(secret_key_new(key, id), AIGW_OK);
	key[SECRET_KEY_LEN - 1] = 'G'; /* not hex */
	assert_false(secret_key_parse(key, id));
	key[SECRET_KEY_LEN - 1] = '\0'; /* one short */
	assert_false(secret_key_parse(key, id));
	assert_false(secret_key_parse("", id));
	assert_false(secret_key_parse("Bearer aigw_", id));
}

static void
test_hashes_compare_by_value_and_length(void **state)
{
	char a[SECRET_HASH_HEX_LEN + 1], b[SECRET_HASH_HEX_LEN + 1];

	(void)state;
	assert_int_equal(secret_sha256_hex("x", 1, a), AIGW_OK);
	memcpy(b, a, sizeof b);
	assert_true(secret_hash_equal(a, b));
	b[SECRET_HASH_HEX_LEN - 1] ^= 1;
	assert_false(secret_hash_equal(a, b));
	assert_false(secret_hash_equal(a, "abc"));
	assert_false(secret_hash_equal("", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_of_the_standard_vectors),
		cmocka_unit_test(test_new_key_parses_to_its_id),
		cmocka_unit_test(test_malformed_keys_do_not_parse),
		cmocka_unit_test(test_hashes_compare_by_value_and_length),
	};

	return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
