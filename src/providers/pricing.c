/*
 * pricing.c: the cost of a call from each provider's published per-token
 * list prices (docs/api.md, Poll: "costUsd").
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "providers/provider.h"

/*
 * US dollars per million tokens, standard (not batch, not cached) text
 * prices. Where a provider tiers by prompt length (gemini-2.5-pro above 200k
 * tokens) the lower tier is used; per-request search fees are not included.
 * The estimate is for display, not for billing.
 */
struct price {
	const char *provider;
	const char *prefix;
	double in;
	double out;
};

static const struct price prices[] = {
	{ "openai", "gpt-5", 1.25, 10.00 },
	{ "openai", "gpt-5-mini", 0.25, 2.00 },
	{ "openai", "gpt-5-nano", 0.05, 0.40 },
	{ "openai", "gpt-4.1", 2.00, 8.00 },
	{ "openai", "gpt-4.1-mini", 0.40, 1.60 },
	{ "openai", "gpt-4.1-nano", 0.10, 0.40 },
	{ "openai", "gpt-4o", 2.50, 10.00 },
	{ "openai", "gpt-4o-mini", 0.15, 0.60 },
	{ "openai", "gpt-4-turbo", 10.00, 30.00 },
	{ "openai", "gpt-3.5-turbo", 0.50, 1.50 },
	{ "openai", "o1", 15.00, 60.00 },
	{ "openai", "o1-mini", 1.10, 4.40 },
	{ "openai", "o3", 2.00, 8.00 },
	{ "openai", "o3-mini", 1.10, 4.40 },
	{ "openai", "o3-pro", 20.00, 80.00 },
	{ "openai", "o4-mini", 1.10, 4.40 },

	{ "anthropic", "claude-3-haiku", 0.25, 1.25 },
	{ "anthropic", "claude-3-opus", 15.00, 75.00 },
	{ "anthropic", "claude-3-5-haiku", 0.80, 4.00 },
	{ "anthropic", "claude-3-5-sonnet", 3.00, 15.00 },
	{ "anthropic", "claude-3-7-sonnet", 3.00, 15.00 },
	{ "anthropic", "claude-haiku-4-5", 1.00, 5.00 },
	{ "anthropic", "claude-sonnet-4", 3.00, 15.00 },
	{ "anthropic", "claude-opus-4", 15.00, 75.00 },
	{ "anthropic", "claude-opus-4-5", 5.00, 25.00 },

	{ "gemini", "gemini-1.5-flash", 0.075, 0.30 },
	{ "gemini", "gemini-1.5-pro", 1.25, 5.00 },
	{ "gemini", "gemini-2.0-flash", 0.10, 0.40 },
	{ "gemini", "gemini-2.0-flash-lite", 0.075, 0.30 },
	{ "gemini", "gemini-2.5-flash", 0.30, 2.50 },
	{ "gemini", "gemini-2.5-flash-lite", 0.10, 0.40 },
	{ "gemini", "gemini-2.5-pro", 1.25, 10.00 },

	{ "perplexity", "sonar", 1.00, 1.00 },
	{ "perplexity", "sonar-pro", 3.00, 15.00 },
	{ "perplexity", "sonar-reasoning", 1.00, 5.00 },
	{ "perplexity", "sonar-reasoning-pro", 2.00, 8.00 },
	{ "perplexity", "sonar-deep-research", 2.00, 8.00 },
};

bool
prov_price_at(size_t i, const char **provider, const char **model)
{
	if (i >= sizeof prices / sizeof prices[0])
		return false;
	*provider = prices[i].provider;
	*model = prices[i].prefix;
	return true;
}

/*
 * The batch APIs bill the same models at a share of the list price: OpenAI's
 * Batch API and Anthropic's Message Batches API at 50% ("Batch API" on each
 * pricing page). Their calls are priced from the sync provider's rows.
 * snapshot is not here: the service bills per record, not per token.
 */
static const struct {
	const char *provider;
	const char *priced_as;
	double share;
} batch_prices[] = {
	{ "openai-batch", "openai", 0.5 },
	{ "anthropic-batch", "anthropic", 0.5 },
};

/* A prefix matches only up to a separator, so "o1" prices "o1-2024-12-17"
 * but not a future "o10", and "sonar" not "sonarx". */
static bool
prefix_matches(const char *model, const char *prefix, size_t n)
{
	char next = strncmp(model, prefix, n) == 0 ? model[n] : 'x';

	return !((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
		 (next >= '0' && next <= '9'));
}

double
prov_cost_usd(const char *provider, const char *model, long input_tokens, long output_tokens)
{
	const struct price *best = NULL;
	size_t best_len = 0;
	double cost = -1, share = 1;

	if (provider == NULL || model == NULL || input_tokens < 0 || output_tokens < 0)
		goto out;
	if (strcmp(provider, "mock") == 0) {
		cost = 0;
		goto out;
	}
	for (size_t i = 0; i < sizeof batch_prices / sizeof batch_prices[0]; i++) {
		if (strcmp(provider, batch_prices[i].provider) == 0) {
			provider = batch_prices[i].priced_as;
			share = batch_prices[i].share;
			break;
		}
	}
	/* Gemini's own listings name models "models/gemini-...". */
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
		size_t n = strlen(prices[i].prefix);

		if (n > best_len && strcmp(prices[i].provider, provider) == 0 &&
		    prefix_matches(model, prices[i].prefix, n)) {
			best = &prices[i];
			best_len = n;
		}
	}
	if (best != NULL)
		cost = share * ((double)input_tokens * best->in + (double)output_tokens * best->out) / 1e6;
out:
	return cost;
}
