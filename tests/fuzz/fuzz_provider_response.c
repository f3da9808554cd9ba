/*
 * fuzz_provider_response.c: every provider's parse op on hostile HTTP
 * answers, then what the worker does with the result: the JSON a step
 * wants out of an answer (jobs_answer_json) and the price of the call.
 *
 * Input: byte 0 picks the provider (among those with a parse op, in table
 * order: openai, anthropic, gemini, perplexity), bytes 1-2 are the HTTP
 * status (big-endian), the rest is the body, passed with its length and
 * not NUL-terminated, as curl hands it over.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jobtype/output.h"
#include "providers/provider.h"

static const struct prov_desc *parsers[16];
static size_t nparsers;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct prov_desc *all;
	size_t n;

	fuzz_init(argc, argv);
	all = prov_all(&n);
	for (size_t i = 0; i < n && nparsers < sizeof parsers / sizeof parsers[0]; i++)
		if (all[i].parse != NULL)
			parsers[nparsers++] = &all[i];
	if (nparsers == 0)
		abort();
	return 0;
}

/* What the contract of a parse op promises about a filled result, and
 * what the worker needs of it: every text ends up in PostgreSQL, which
 * refuses invalid UTF-8 (a result it cannot store is retried forever). */
static void
check_result(const struct prov_result *r)
{
	if (!fuzz_utf8_ok(r->text) || !fuzz_utf8_ok(r->model) || !fuzz_utf8_ok(r->error) ||
	    (r->citations != NULL &&
	     !fuzz_utf8_ok(json_object_to_json_string_ext(r->citations, JSON_C_TO_STRING_PLAIN))))
		abort();
	if (r->ok) {
		if (r->text == NULL || r->text[0] == '\0' || r->errclass != PROV_ERR_NONE ||
		    r->error != NULL)
			abort();
	} else if (r->error == NULL || r->errclass == PROV_ERR_NONE ||
		   (unsigned)r->errclass >= PROV_ERR__MAX) {
		abort();
	}
	if (r->input_tokens < -1 || r->output_tokens < -1)
		abort();
	if (r->citations != NULL &&
	    (!json_object_is_type(r->citations, json_type_array) ||
	     json_object_array_length(r->citations) == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct prov_desc *d;
	struct prov_result r;
	json_object *answer;
	long status;
	char *text;

	if (size < 3)
		return 0;
	d = parsers[data[0] % nparsers];
	status = (long)data[1] << 8 | data[2];
	data += 3;
	size -= 3;

	memset(&r, 0, sizeof r);
	if (d->parse(status, (const char *)data, size, &r) == AIGW_OK) {
		check_result(&r);
		(void)prov_err_retryable(r.errclass);
		(void)prov_errclass_name(r.errclass);
		if (r.ok) {
			/* The reported model is the provider's text, looked up in
			 * the price table. */
			(void)prov_cost_usd(d->name, r.model, r.input_tokens, r.output_tokens);
			answer = jobs_answer_json(r.text);
			json_object_put(answer);
		}
	}
	prov_result_free(&r);

	/* The body itself as a model's answer: fenced or bare JSON, or not. */
	text = fuzz_cstr(data, size);
	if (text != NULL) {
		answer = jobs_answer_json(text);
		if (answer != NULL && !json_object_is_type(answer, json_type_object) &&
		    !json_object_is_type(answer, json_type_array))
			abort();
		json_object_put(answer);
		free(text);
	}
	return 0;
}
