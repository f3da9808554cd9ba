/*
 * fuzz_chat_request.c: POST /api/ai/chat bodies through chat_request_parse(),
 * and an accepted request on through each named provider's request builder
 * (and the mock's answer), as the worker would: the strings a client sends
 * end up in provider requests, so the builders see hostile text too.
 *
 * Input: the raw request body, as the handler receives it (not
 * NUL-terminated, so a read past the length is an ASan report).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/chat.h"
#include "providers/provider.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

/* What the worker does with one model of an accepted chat: build the
 * provider request, or answer offline for the mock. */
static void
build_call(const struct chat_request *cr, const char *provider, const char *model)
{
	const struct prov_desc *d = prov_find(provider);
	const struct prov_config cfg = { .api_key = "sk-fuzz", .base_url = "http://127.0.0.1:9/v1/" };
	struct prov_call call = {
		.model = model,
		.message = cr->message,
		.system = cr->system,
		.max_tokens = cr->max_tokens,
		.websearch = cr->websearch,
		.location = cr->location[0] ? cr->location : NULL,
	};

	if (d == NULL)
		abort(); /* chat_request_parse let an unknown provider through */
	for (int json = 0; json < 2; json++) {
		call.json_output = json;
		if (d->build != NULL) {
			struct prov_http h;

			/* A failure must leave h freeable; success needs a URL and body. */
			if (d->build(&cfg, &call, &h) == AIGW_OK && (h.url == NULL || h.body == NULL))
				abort();
			prov_http_free(&h);
		} else {
			struct prov_result r;

			if (prov_mock_answer(&call, &r) == AIGW_OK && (!r.ok || r.text == NULL))
				abort();
			prov_result_free(&r);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_request cr;
	struct http_field_error fe;
	enum aigw_err err;

	memset(&fe, 0, sizeof fe);
	err = chat_request_parse((const char *)data, size, &cr, &fe);
	if (err == AIGW_EINVAL) {
		/* A refusal names a code and a message, as the 400 shows them,
		 * in text a JSON client can read. */
		if (fe.code == NULL || fe.msg[0] == '\0' || !fuzz_utf8_ok(fe.msg) ||
		    !fuzz_utf8_ok(fe.field))
			abort();
		return 0;
	}
	if (err != AIGW_OK)
		return 0;
	/* What is stored must be text PostgreSQL takes. */
	if (cr.message == NULL || cr.models == NULL || cr.max_tokens < 1 ||
	    !fuzz_utf8_ok(cr.message) || !fuzz_utf8_ok(cr.system) ||
	    !fuzz_utf8_ok(json_object_to_json_string_ext(cr.models, JSON_C_TO_STRING_PLAIN)))
		abort();
	json_object_object_foreach(cr.models, provider, model)
		build_call(&cr, provider, json_object_get_string(model));
	chat_request_free(&cr);
	return 0;
}
