/* resultjson.c: a provider call's result as stored and shown (see resultjson.h). */
#include <stdio.h>

#include <json-c/json.h>

#include "core/util.h"
#include "db/status.h"
#include "worker/resultjson.h"

static int
add(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return -1;
	return json_object_object_add(o, key, v);
}

/* A token count, or null when the provider did not say (json-c's null
 * is the NULL pointer, which add() would take for a failed allocation). */
static int
add_count(json_object *o, const char *key, long n)
{
	return n >= 0 ? add(o, key, json_object_new_int64(n)) : json_object_object_add(o, key, NULL);
}

/* "usage" and "costUsd" into o; non-zero on ENOMEM. */
static int
add_usage(json_object *o, const char *provider, const char *model, long input, long output)
{
	json_object *usage = json_object_new_object();
	double cost = prov_cost_usd(provider, model, input, output);
	int rc = 0;

	if (usage != NULL) {
		rc |= add_count(usage, "inputTokens", input);
		rc |= add_count(usage, "outputTokens", output);
	}
	rc |= add(o, "usage", usage);
	if (cost >= 0) {
		/* Eight decimals: a cost, not a float's noise. */
		char text[32];

		snprintf(text, sizeof text, "%.8f", cost);
		rc |= add(o, "costUsd", json_object_new_double_s(cost, text));
	} else {
		rc |= json_object_object_add(o, "costUsd", NULL);
	}
	return rc;
}

static char *
json_text(json_object *o)
{
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
}

char *
worker_usage_json(const char *provider, const char *model, long input, long output)
{
	json_object *o = json_object_new_object();
	char *out = NULL;

	if (o != NULL && add_usage(o, provider, model, input, output) == 0)
		out = json_text(o);
	json_object_put(o);
	return out;
}

char *
worker_result_json(const char *provider, const char *model, bool mock,
		   const struct prov_result *pr, int64_t latency_ms, int attempts)
{
	json_object *o = json_object_new_object();
	char *out = NULL;
	int rc = 0;

	if (o == NULL)
		return NULL;
	if (pr->ok) {
		rc |= add(o, "ok", json_object_new_boolean(1));
		rc |= add(o, "text", json_object_new_string(pr->text ? pr->text : ""));
		rc |= add(o, "model", json_object_new_string(pr->model ? pr->model : model));
		rc |= add_usage(o, provider, model, pr->input_tokens, pr->output_tokens);
		if (pr->citations != NULL)
			rc |= add(o, "citations", json_object_get(pr->citations));
	} else {
		rc |= add(o, "ok", json_object_new_boolean(0));
		rc |= add(o, "error", json_object_new_string(pr->error ? pr->error : db_status_name(DB_STATUS_FAILED)));
		rc |= add(o, "errorClass", json_object_new_string(prov_errclass_name(pr->errclass)));
	}
	/* A failure's time is worth seeing too: a timeout, or a quick refusal. */
	rc |= add(o, "latencyMs", json_object_new_int64(latency_ms));
	rc |= add(o, "attempts", json_object_new_int(attempts));
	if (mock)
		rc |= add(o, "mock", json_object_new_boolean(1));
	if (rc == 0)
		out = json_text(o);
	json_object_put(o);
	return out;
}

