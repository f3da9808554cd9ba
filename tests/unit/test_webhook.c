/* test_webhook.c: Standard Webhooks signatures and secrets, the receiver
 * URL check, and the delay between attempts (core/webhook.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/webhook.h"

/* The specification's own example (standard-webhooks, spec and libraries'
 * tests): this id, timestamp and body under this secret. */
static void
test_sign_matches_the_specification_vector(void **state)
{
	const char *body = "{\"test\": 2432232314}";
	char sig[WEBHOOK_SIGNATURE_LEN + 1];

	(void)state;
	assert_true(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				 "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig));
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	/* The prefix is optional. */
	assert_true(webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				 "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig));
	assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void
test_sign_changes_with_every_part(void **state)
{
	const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char a[WEBHOOK_SIGNATURE_LEN + 1], b[WEBHOOK_SIGNATURE_LEN + 1];

	(void)state;
	assert_true(webhook_sign(secret, "msg_1", 1000, "{}", 2, a));
	assert_true(webhook_sign(secret, "msg_2", 1000, "{}", 2, b));
	assert_string_not_equal(a, b);
	assert_true(webhook_sign(secret, "msg_1", 1001, "{}", 2, b));
	assert_string_not_equal(a, b);
	assert_true(webhook_sign(secret, "msg_1", 1000, "{ }", 3, b));
	assert_string_not_equal(a, b);
	assert_true(webhook_sign("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "msg_1", 1000, "{}", 2, b));
	assert_string_not_equal(a, b);
}

static void
test_bad_secrets_sign_nothing(void **state)
{
	char sig[WEBHOOK_SIGNATURE_LEN + 1];
	uint8_t key[WEBHOOK_KEY_MAX];
	size_t n;

	(void)state;
	assert_false(webhook_sign("whsec_", "m", 1, "", 0, sig));
	assert_false(webhook_sign("whsec_not base64!", "m", 1, "", 0, sig));
	assert_false(webhook_sign(NULL, "m", 1, "", 0, sig));
	assert_false(webhook_secret_key("whsec_"
		"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
		"QUFBQUFBQUFBQUFBQUFBQUFB", key, &n)); /* 81 bytes: too long */
}

static void
test_new_secrets_are_random_and_usable(void **state)
{
	char a[WEBHOOK_SECRET_LEN + 1], b[WEBHOOK_SECRET_LEN + 1];
	uint8_t key[WEBHOOK_KEY_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(webhook_secret_new(a), AIGW_OK);
	assert_int_equal(webhook_secret_new(b), AIGW_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(strlen(a), WEBHOOK_SECRET_LEN);
	assert_memory_equal(a, "whsec_", 6);
	assert_true(webhook_secret_key(a, key, &n));
	assert_int_equal(n, WEBHOOK_SECRET_BYTES);
}

static void
test_urls(void **state)
{
	const char *why = NULL;
	char longurl[WEBHOOK_URL_MAX + 2];

	(void)state;
	assert_true(webhook_url_valid("https://example.com/hook", &why));
	assert_true(webhook_url_valid("http://127.0.0.1:8080/x?y=1", &why));
	assert_true(webhook_url_valid("HTTPS://[2001:db8::1]/", &why));
	assert_false(webhook_url_valid("ftp://example.com/", &why));
	assert_string_equal(why, "must start with http:// or https://");
	assert_false(webhook_url_valid("https://user:pw@example.com/", &why));
	assert_false(webhook_url_valid("https:///path", &why));
	assert_false(webhook_url_valid("https://:80/", &why));
	assert_false(webhook_url_valid("https://exa mple.com/", &why));
	assert_false(webhook_url_valid("https://example.com/\n", &why));
	assert_false(webhook_url_valid("", &why));
	assert_false(webhook_url_valid(NULL, &why));
	memcpy(longurl, "https://a.example/", 18);
	memset(longurl + 18, 'a', sizeof longurl - 19);
	longurl[sizeof longurl - 1] = '\0';
	assert_false(webhook_url_valid(longurl, &why));
	assert_string_equal(why, "is longer than 2048 bytes");
}

static void
test_delay_doubles_within_its_jitter_and_cap(void **state)
{
	(void)state;
	/* rnd 0: half the backoff; rnd max: all of it. */
	assert_int_equal(webhook_retry_delay_ms(1, 1000, 3600000, 0), 500);
	assert_int_equal(webhook_retry_delay_ms(1, 1000, 3600000, UINT32_MAX), 1000);
	assert_int_equal(webhook_retry_delay_ms(2, 1000, 3600000, UINT32_MAX), 2000);
	assert_int_equal(webhook_retry_delay_ms(3, 1000, 3600000, 0), 2000);
	assert_int_equal(webhook_retry_delay_ms(4, 1000, 3600000, UINT32_MAX), 8000);
	/* Capped, however many failures. */
	assert_int_equal(webhook_retry_delay_ms(30, 1000, 3600000, UINT32_MAX), 3600000);
	assert_int_equal(webhook_retry_delay_ms(100000, 1000, 3600000, 0), 1800000);
	for (uint32_t r = 0; r < 4000000000u; r += 99999989u) {
		int64_t d = webhook_retry_delay_ms(5, 1000, 3600000, r);

		assert_true(d >= 8000 && d <= 16000);
	}
	/* A cap below the base is the base; nonsense bases are one millisecond. */
	assert_int_equal(webhook_retry_delay_ms(1, 5000, 1000, UINT32_MAX), 5000);
	assert_int_equal(webhook_retry_delay_ms(1, 0, 0, UINT32_MAX), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_matches_the_specification_vector),
		cmocka_unit_test(test_sign_changes_with_every_part),
		cmocka_unit_test(test_bad_secrets_sign_nothing),
		cmocka_unit_test(test_new_secrets_are_random_and_usable),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_delay_doubles_within_its_jitter_and_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
