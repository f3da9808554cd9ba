/*
 * pricing.c: the cost of a call from each provider's published per-token
 * list prices (docs/api.md, Poll: "costUsd"): the table of prices.json
 * (AIGW_PRICES_FILE, read once at start), or the built-in one below, the
 * same as the shipped etc/prices.json, when there is no file.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

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

static const struct price builtin_prices[] = {
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


/*
 * The batch APIs bill the same models at a share of the list price: OpenAI's
 * Batch API and Anthropic's Message Batches API at 50% ("Batch API" on each
 * pricing page). Their calls are priced from the sync provider's rows.
 * snapshot is not here: the service bills per record, not per token.
 */
struct batch_price {
	const char *provider;
	const char *priced_as;
	double share;
};

static const struct batch_price builtin_batch_prices[] = {
	{ "openai-batch", "openai", 0.5 },
	{ "anthropic-batch", "anthropic", 0.5 },
};

/* The table in use: the built-in one until prov_prices_load replaces it
 * (at start, before any thread reads it). */
static const struct price *prices = builtin_prices;
static size_t nprices = sizeof builtin_prices / sizeof builtin_prices[0];
static const struct batch_price *batch_prices = builtin_batch_prices;
static size_t nbatch = sizeof builtin_batch_prices / sizeof builtin_batch_prices[0];
/* A loaded table's rows and the parsed file their strings live in. */
static struct price *loaded_prices;
static struct batch_price *loaded_batch;
static json_object *loaded_doc;

bool
prov_price_at(size_t i, const char **provider, const char **model)
{
	if (i >= nprices)
		return false;
	*provider = prices[i].provider;
	*model = prices[i].prefix;
	return true;
}

void
prov_prices_reset(void)
{
	prices = builtin_prices;
	nprices = sizeof builtin_prices / sizeof builtin_prices[0];
	batch_prices = builtin_batch_prices;
	nbatch = sizeof builtin_batch_prices / sizeof builtin_batch_prices[0];
	free(loaded_prices);
	free(loaded_batch);
	json_object_put(loaded_doc);
	loaded_prices = NULL;
	loaded_batch = NULL;
	loaded_doc = NULL;
}

/* o's key as a non-empty string of at most 128 bytes without control
 * characters, or NULL with errbuf saying which. */
static const char *
get_name(json_object *o, const char *where, size_t i, const char *key, char *errbuf,
	 size_t errlen)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    (s = json_object_get_string(v))[0] == '\0' || strlen(s) > 128) {
		snprintf(errbuf, errlen, "%s[%zu].%s: expected a name (1 to 128 characters)", where, i,
			 key);
		return NULL;
	}
	for (const char *c = s; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(errbuf, errlen, "%s[%zu].%s: a control character in the name", where,
				 i, key);
			return NULL;
		}
	}
	return s;
}

/* o's key as a finite number in [0, max], or false with errbuf saying so. */
static bool
get_number(json_object *o, const char *where, size_t i, const char *key, double max,
	   double *out, char *errbuf, size_t errlen)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    !isfinite(*out = json_object_get_double(v)) || *out < 0 || *out > max) {
		snprintf(errbuf, errlen, "%s[%zu].%s: expected a number from 0 to %g", where, i, key,
			 max);
		return false;
	}
	return true;
}

/* The array doc[key] with at least min entries, each an object. */
static json_object *
get_rows(json_object *doc, const char *key, size_t min, char *errbuf, size_t errlen)
{
	json_object *a;

	if (!json_object_object_get_ex(doc, key, &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) < min || json_object_array_length(a) > 10000) {
		snprintf(errbuf, errlen, "%s: expected an array of %zu to 10000 objects", key, min);
		return NULL;
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_object)) {
			snprintf(errbuf, errlen, "%s[%zu]: expected an object", key, i);
			return NULL;
		}
	}
	return a;
}

/* Reads doc's rows into the new table, or fails with errbuf (without the
 * file's name). */
static enum aigw_err
read_table(json_object *doc, struct price **out_prices, size_t *out_n,
	   struct batch_price **out_batch, size_t *out_nbatch, char *errbuf, size_t errlen)
{
	json_object *models, *batch = NULL, *v;
	struct price *p = NULL;
	struct batch_price *b = NULL;
	size_t n, nb = 0;

	if (!json_object_is_type(doc, json_type_object)) {
		snprintf(errbuf, errlen, "expected a JSON object {\"models\": [...], \"batch\": [...]}");
		return AIGW_EINVAL;
	}
	models = get_rows(doc, "models", 1, errbuf, errlen);
	if (models == NULL)
		return AIGW_EINVAL;
	if (json_object_object_get_ex(doc, "batch", &v)) {
		batch = get_rows(doc, "batch", 0, errbuf, errlen);
		if (batch == NULL)
			return AIGW_EINVAL;
		nb = json_object_array_length(batch);
	}
	n = json_object_array_length(models);
	p = calloc(n, sizeof *p);
	b = calloc(nb > 0 ? nb : 1, sizeof *b);
	if (p == NULL || b == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *row = json_object_array_get_idx(models, i);

		p[i].provider = get_name(row, "models", i, "provider", errbuf, errlen);
		p[i].prefix = p[i].provider ? get_name(row, "models", i, "model", errbuf, errlen)
					    : NULL;
		if (p[i].prefix == NULL ||
		    !get_number(row, "models", i, "input", 10000, &p[i].in, errbuf, errlen) ||
		    !get_number(row, "models", i, "output", 10000, &p[i].out, errbuf, errlen))
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(p[j].provider, p[i].provider) == 0 &&
			    strcmp(p[j].prefix, p[i].prefix) == 0) {
				snprintf(errbuf, errlen, "models[%zu]: %.128s/%.128s is listed twice"
					 " (first at models[%zu])", i, p[i].provider, p[i].prefix, j);
				goto fail;
			}
		}
	}
	for (size_t i = 0; i < nb; i++) {
		json_object *row = json_object_array_get_idx(batch, i);

		b[i].provider = get_name(row, "batch", i, "provider", errbuf, errlen);
		b[i].priced_as = b[i].provider ? get_name(row, "batch", i, "pricedAs", errbuf, errlen)
					       : NULL;
		if (b[i].priced_as == NULL ||
		    !get_number(row, "batch", i, "share", 1, &b[i].share, errbuf, errlen))
			goto fail;
	}
	*out_prices = p, *out_n = n, *out_batch = b, *out_nbatch = nb;
	return AIGW_OK;
fail:
	free(p);
	free(b);
	return AIGW_EINVAL;
}

/* The file as JSON, or NULL with errbuf saying why (a read error, or
 * where the JSON breaks, by line). */
static json_object *
parse_file(const char *path, char *errbuf, size_t errlen)
{
	enum { MAX_BYTES = 1 << 20 };
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	json_tokener *tok = NULL;
	json_object *doc = NULL;

	if (f == NULL) {
		snprintf(errbuf, errlen, "%s", strerror(errno));
		return NULL;
	}
	text = malloc(MAX_BYTES + 1);
	if (text != NULL)
		len = fread(text, 1, MAX_BYTES + 1, f);
	if (text == NULL || ferror(f)) {
		snprintf(errbuf, errlen, "%s", text == NULL ? "out of memory" : strerror(errno));
	} else if (len > MAX_BYTES) {
		snprintf(errbuf, errlen, "larger than %d bytes", MAX_BYTES);
	} else if ((tok = json_tokener_new()) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
	} else {
		doc = json_tokener_parse_ex(tok, text, (int)len);
		if (doc == NULL || json_tokener_get_parse_end(tok) < len) {
			enum json_tokener_error e = json_tokener_get_error(tok);
			size_t at = json_tokener_get_parse_end(tok), line = 1;

			for (size_t i = 0; i < at && i < len; i++)
				line += text[i] == '\n';
			snprintf(errbuf, errlen, "not JSON, line %zu: %s", line,
				 e == json_tokener_continue ? "the file ends inside a value"
				 : e == json_tokener_success ? "text after the object"
				 : json_tokener_error_desc(e));
			json_object_put(doc);
			doc = NULL;
		}
	}
	json_tokener_free(tok);
	free(text);
	fclose(f);
	return doc;
}

enum aigw_err
prov_prices_load(const char *path, char *errbuf, size_t errlen)
{
	char why[400] = "";
	struct price *p = NULL;
	struct batch_price *b = NULL;
	size_t n = 0, nb = 0;
	json_object *doc = parse_file(path, why, sizeof why);
	enum aigw_err err;

	if (doc == NULL) {
		snprintf(errbuf, errlen, "prices file %s: %s", path, why);
		return AIGW_EINVAL;
	}
	err = read_table(doc, &p, &n, &b, &nb, why, sizeof why);
	if (err != AIGW_OK) {
		snprintf(errbuf, errlen, "prices file %s: %s", path, why);
		json_object_put(doc);
		return err;
	}
	prov_prices_reset();
	loaded_doc = doc, loaded_prices = p, loaded_batch = b;
	prices = p, nprices = n, batch_prices = b, nbatch = nb;
	return AIGW_OK;
}

enum aigw_err
prov_prices_load_configured(const char *setting, const char *default_path, bool *from_file,
			    char *errbuf, size_t errlen)
{
	*from_file = false;
	if (setting == NULL || *setting == '\0')
		setting = default_path;
	/* The default place holds nothing: the built-in table (a build run
	 * from its tree, not installed). A file named otherwise must be. */
	if (strcmp(setting, default_path) == 0 && access(default_path, F_OK) != 0 &&
	    errno == ENOENT) {
		prov_prices_reset();
		return AIGW_OK;
	}
	*from_file = true;
	return prov_prices_load(setting, errbuf, errlen);
}

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
	for (size_t i = 0; i < nbatch; i++) {
		if (strcmp(provider, batch_prices[i].provider) == 0) {
			provider = batch_prices[i].priced_as;
			share = batch_prices[i].share;
			break;
		}
	}
	/* Gemini's own listings name models "models/gemini-...". */
	if (strncmp(model, "models/", 7) == 0)
		model += 7;
	for (size_t i = 0; i < nprices; i++) {
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
