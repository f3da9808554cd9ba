/* test_pricing.c: per-model prices, longest-prefix matching and unknowns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "providers/provider.h"

#define M 1000000L

static void
cost_is(const char *provider, const char *model, long in, long out, double want)
{
	double got = prov_cost_usd(provider, model, in, out);
	double d = got - want;

	if (d < 0)
		d = -d;
	if (d > 1e-9)
		fail_msg("%s/%s %ld+%ld costs %.9f, want %.9f", provider, model, in, out, got, want);
}

static void
unknown(const char *provider, const char *model, long in, long out)
{
	if (prov_cost_usd(provider, model, in, out) >= 0)
		fail_msg("%s/%s should have no price", provider ? provider : "(null)",
			 model ? model : "(null)");
}

static void
test_openai(void **state)
{
	(void)state;
	cost_is("openai", "gpt-4o", 1000, 500, 0.0075);
	cost_is("openai", "gpt-4o-2024-08-06", M, M, 12.50);
	cost_is("openai", "gpt-4o-mini", M, M, 0.75);
	cost_is("openai", "gpt-4o-mini-2024-07-18", M, 0, 0.15);
	cost_is("openai", "gpt-4o-search-preview", M, M, 12.50);
	cost_is("openai", "gpt-4.1", M, M, 10.00);
	cost_is("openai", "gpt-4.1-mini-2025-04-14", M, M, 2.00);
	cost_is("openai", "gpt-4.1-nano", M, M, 0.50);
	cost_is("openai", "o3", M, M, 10.00);
	cost_is("openai", "o3-2025-04-16", M, M, 10.00);
	cost_is("openai", "o3-mini", M, M, 5.50);
	cost_is("openai", "o3-pro", M, M, 100.00);
	cost_is("openai", "o4-mini", M, M, 5.50);
	cost_is("openai", "gpt-5", M, M, 11.25);
	cost_is("openai", "gpt-5-mini", M, M, 2.25);
}

static void
test_anthropic(void **state)
{
	(void)state;
	cost_is("anthropic", "claude-3-5-haiku-latest", M, M, 4.80);
	cost_is("anthropic", "claude-3-5-haiku-20241022", 2000, 1000, 0.0056);
	cost_is("anthropic", "claude-3-5-sonnet-20241022", M, M, 18.00);
	cost_is("anthropic", "claude-3-7-sonnet-latest", M, M, 18.00);
	cost_is("anthropic", "claude-sonnet-4-20250514", M, M, 18.00);
	cost_is("anthropic", "claude-opus-4-20250514", M, M, 90.00);
	cost_is("anthropic", "claude-opus-4-1-20250805", M, M, 90.00);
	cost_is("anthropic", "claude-opus-4-5", M, M, 30.00);
	cost_is("anthropic", "claude-haiku-4-5", M, M, 6.00);
}

static void
test_gemini_and_perplexity(void **state)
{
	(void)state;
	cost_is("gemini", "gemini-2.5-flash", M, M, 2.80);
	cost_is("gemini", "gemini-2.5-flash-lite", M, M, 0.50);
	cost_is("gemini", "gemini-2.5-pro", M, M, 11.25);
	cost_is("gemini", "models/gemini-2.5-pro", M, M, 11.25);
	cost_is("gemini", "gemini-2.0-flash", M, M, 0.50);
	cost_is("gemini", "gemini-2.0-flash-001", M, M, 0.50);
	cost_is("perplexity", "sonar", M, M, 2.00);
	cost_is("perplexity", "sonar-pro", M, M, 18.00);
	cost_is("perplexity", "sonar-reasoning-pro", M, M, 10.00);
}

/* The batch APIs bill 50% of the list price; the scraping service has none. */
static void
test_batch(void **state)
{
	static const struct {
		const char *provider, *sync, *model;
	} pairs[] = {
		{ "openai-batch", "openai", "gpt-4o" },
		{ "openai-batch", "openai", "gpt-4o-mini-2024-07-18" },
		{ "openai-batch", "openai", "o3-mini" },
		{ "anthropic-batch", "anthropic", "claude-3-5-haiku-20241022" },
		{ "anthropic-batch", "anthropic", "claude-opus-4-1-20250805" },
	};

	(void)state;
	cost_is("openai-batch", "gpt-4o", M, M, 6.25);
	cost_is("openai-batch", "gpt-4o-mini", 1000, 500, 0.000225);
	cost_is("anthropic-batch", "claude-3-5-haiku-20241022", M, M, 2.40);
	cost_is("anthropic-batch", "claude-sonnet-4-20250514", 2000, 1000, 0.0105);
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		cost_is(pairs[i].provider, pairs[i].model, 12345, 678,
			prov_cost_usd(pairs[i].sync, pairs[i].model, 12345, 678) / 2);
	cost_is("openai-batch", "gpt-4o", 0, 0, 0);
	unknown("openai-batch", "my-finetune", 1, 1);
	unknown("openai-batch", "claude-3-5-haiku", 1, 1);
	unknown("anthropic-batch", "gpt-4o", 1, 1);
	unknown("openai-batch", "gpt-4o", -1, 1);
	unknown("snapshot", "gd_m7aof0k82r803d5bjm", 100, 100);
	unknown("snapshot", "gpt-4o", 1, 1);
	unknown("openai-batchx", "gpt-4o", 1, 1);
}

static void
test_zero_and_mock(void **state)
{
	(void)state;
	cost_is("openai", "gpt-4o", 0, 0, 0);
	cost_is("mock", "anything at all", 123, 456, 0);
	cost_is("mock", "gpt-4o", M, M, 0);
	unknown("mock", "m", -1, 5);
}

/* Prefixes end at a separator, and the mock provider's directives are one. */
static void
test_prefix_boundaries(void **state)
{
	(void)state;
	cost_is("openai", "gpt-4o~delay=300", M, M, 12.50);
	cost_is("anthropic", "claude-3-5-haiku-latest~status=529~retry_after=1", M, M, 4.80);
	unknown("openai", "o10", 1, 1);
	unknown("openai", "gpt-4oo", 1, 1);
	unknown("perplexity", "sonarx", 1, 1);
	unknown("openai", "gpt", 1, 1);
}

static void
test_unknowns(void **state)
{
	(void)state;
	unknown("openai", "my-finetune", 1, 1);
	unknown("openai", "", 1, 1);
	unknown("openai", "claude-3-5-haiku", 1, 1); /* prices are per provider */
	unknown("nobody", "gpt-4o", 1, 1);
	unknown(NULL, "gpt-4o", 1, 1);
	unknown("openai", NULL, 1, 1);
	unknown("openai", "gpt-4o", -1, 1);
	unknown("openai", "gpt-4o", 1, -1);
	unknown("openai", "GPT-4O", 1, 1);
}

/* A file under the source tree, or skip when the tests run without it. */
static const char *
src_path(const char *rel)
{
	static char path[1024];
	const char *srcdir = getenv("AIGW_SRCDIR");

	if (srcdir == NULL)
		skip();
	snprintf(path, sizeof path, "%s/%s", srcdir, rel);
	return path;
}

/* The shipped etc/prices.json is today's built-in table, row for row. */
static void
test_the_shipped_file_is_the_builtin_table(void **state)
{
	const char *provider, *model, *fprovider, *fmodel;
	char errbuf[512];
	double builtin[64][2];
	size_t n = 0, fn = 0;

	(void)state;
	prov_prices_reset();
	for (; prov_price_at(n, &provider, &model); n++) {
		assert_true(n < 64);
		builtin[n][0] = prov_cost_usd(provider, model, M, 0);
		builtin[n][1] = prov_cost_usd(provider, model, 0, M);
	}
	if (prov_prices_load(src_path("etc/prices.json"), errbuf, sizeof errbuf) != AIGW_OK)
		fail_msg("%s", errbuf);
	for (; prov_price_at(fn, &fprovider, &fmodel); fn++) {
		assert_true(fn < n);
		cost_is(fprovider, fmodel, M, 0, builtin[fn][0]);
		cost_is(fprovider, fmodel, 0, M, builtin[fn][1]);
	}
	assert_int_equal(fn, n);
	cost_is("openai-batch", "gpt-4o", M, M, 6.25);
	cost_is("anthropic-batch", "claude-3-5-haiku-20241022", M, M, 2.40);
	prov_prices_reset();
}

static void
test_a_file_replaces_the_table(void **state)
{
	char errbuf[512];

	(void)state;
	if (prov_prices_load(src_path("tests/fixtures/prices/good.json"), errbuf,
			     sizeof errbuf) != AIGW_OK)
		fail_msg("%s", errbuf);
	cost_is("openai", "gpt-4o-2024-08-06", M, M, 3.00);
	cost_is("openai", "gpt-4o-mini", M, M, 1.00);
	cost_is("acme", "rocket-7", M, 2 * M, 17.50);
	cost_is("openai-batch", "gpt-4o", M, M, 0.75);
	/* What the file does not list has no price: no mixing with the
	 * built-in table. */
	unknown("openai", "gpt-5", 1, 1);
	unknown("anthropic-batch", "claude-3-5-haiku", 1, 1);
	cost_is("mock", "m", M, M, 0);
	prov_prices_reset();
	cost_is("openai", "gpt-4o", M, M, 12.50);
}

/* A bad file: AIGW_EINVAL, one line naming the file and the fault, and
 * the table in use unchanged. */
static void
bad_file(const char *name, const char *fault)
{
	char errbuf[512] = "";
	const char *path = src_path(name);

	if (prov_prices_load(path, errbuf, sizeof errbuf) != AIGW_EINVAL)
		fail_msg("%s loaded", name);
	if (strstr(errbuf, path) == NULL || strstr(errbuf, fault) == NULL ||
	    strchr(errbuf, '\n') != NULL)
		fail_msg("%s: the message \"%s\" does not say %s in one line", name, errbuf, fault);
	cost_is("openai", "gpt-4o", M, M, 12.50);
}

static void
test_a_bad_file_is_refused_with_one_line(void **state)
{
	(void)state;
	prov_prices_reset();
	bad_file("tests/fixtures/prices/negative_price.json", "models[1].input");
	bad_file("tests/fixtures/prices/twice.json", "openai/gpt-4o is listed twice");
	bad_file("tests/fixtures/prices/no_model.json", "models[0].model");
	bad_file("tests/fixtures/prices/share_over_one.json", "batch[0].share");
	bad_file("tests/fixtures/prices/empty_models.json", "models: expected an array");
	bad_file("tests/fixtures/prices/truncated.json", "prices file");
	bad_file("tests/fixtures/prices/absent.json", "No such file");
}

static void
test_the_default_may_be_absent_another_path_not(void **state)
{
	char errbuf[512] = "";
	bool from_file = true;
	char absent[1024], good[1024];

	(void)state;
	/* src_path's buffer is one: copies. */
	snprintf(absent, sizeof absent, "%s", src_path("tests/fixtures/prices/absent.json"));
	snprintf(good, sizeof good, "%s", src_path("tests/fixtures/prices/good.json"));
	/* Empty: the default, absent here: the built-in table. */
	assert_int_equal(prov_prices_load_configured("", absent, &from_file, errbuf,
						     sizeof errbuf), AIGW_OK);
	assert_false(from_file);
	cost_is("openai", "gpt-4o", M, M, 12.50);
	/* An absent file named otherwise stops the program. */
	assert_int_equal(prov_prices_load_configured(absent, good, &from_file, errbuf,
						     sizeof errbuf), AIGW_EINVAL);
	assert_non_null(strstr(errbuf, absent));
	/* The default, present: read and checked. */
	assert_int_equal(prov_prices_load_configured(good, good, &from_file, errbuf,
						     sizeof errbuf), AIGW_OK);
	assert_true(from_file);
	cost_is("openai", "gpt-4o", M, M, 3.00);
	prov_prices_reset();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai),
		cmocka_unit_test(test_anthropic),
		cmocka_unit_test(test_gemini_and_perplexity),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_zero_and_mock),
		cmocka_unit_test(test_prefix_boundaries),
		cmocka_unit_test(test_unknowns),
		cmocka_unit_test(test_the_shipped_file_is_the_builtin_table),
		cmocka_unit_test(test_a_file_replaces_the_table),
		cmocka_unit_test(test_a_bad_file_is_refused_with_one_line),
		cmocka_unit_test(test_the_default_may_be_absent_another_path_not),
	};

	return cmocka_run_group_tests_name("pricing", tests, NULL, NULL);
}
