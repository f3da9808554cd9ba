/*
 * fuzz_openai_request.c: the bodies of the OpenAI-compatible API through
 * oa_parse_response_request() and oa_parse_completion_request(), and an
 * accepted request on through what is stored and shown of it: the
 * conversation and api_request text, the response and completion objects
 * rendered from a row carrying them (with the last user message as the
 * answer's text), and a stream's events.
 *
 * Input: byte 0: which parser (even: Responses, odd: Chat Completions);
 * the rest: the raw request body (not NUL-terminated).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "openai/object.h"
#include "http/openai_request.h"
#include "http/openai_stream.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

/* Renders the objects and a stream of a row made from r. */
static void
render(const struct oa_request *r)
{
	json_object *results = json_object_new_object(), *result = json_object_new_object(),
		    *models = json_object_new_object(), *resp, *done;
	char *results_s, *models_s;
	struct oa_stream st;
	struct buf b;

	if (results == NULL || result == NULL || models == NULL)
		abort();
	json_object_object_add(result, "ok", json_object_new_boolean(1));
	json_object_object_add(result, "text", json_object_new_string(r->last_user));
	json_object_object_add(results, r->provider, result);
	json_object_object_add(models, r->provider, json_object_new_string(r->model));
	results_s = strdup(json_object_to_json_string_ext(results, JSON_C_TO_STRING_PLAIN));
	models_s = strdup(json_object_to_json_string_ext(models, JSON_C_TO_STRING_PLAIN));
	if (results_s == NULL || models_s == NULL)
		abort();
	{
		const struct oa_row row = {
			.chat_id = "123e4567-e89b-12d3-a456-426614174000", .status = "completed",
			.created_at = 1, .completed_at = 2, .results_json = results_s,
			.api_request_json = json_object_to_json_string_ext(r->api_request,
									   JSON_C_TO_STRING_PLAIN),
			.models_json = models_s,
		};

		resp = oa_response_object(&row);
		done = oa_completion_object(&row);
	}
	/* Every stored text came from a validated request: rendering it
	 * cannot fail but for memory. */
	if (resp == NULL || done == NULL)
		abort();
	if (!fuzz_utf8_ok(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN)) ||
	    !fuzz_utf8_ok(json_object_to_json_string_ext(done, JSON_C_TO_STRING_PLAIN)))
		abort();
	for (int completion = 0; completion < 2; completion++) {
		oa_stream_init(&st, completion, true, -1);
		buf_init(&b, 64L << 20);
		if (oa_stream_head(&st, &b, resp) != AIGW_OK ||
		    oa_stream_delta(&st, &b, resp, r->last_user) != AIGW_OK ||
		    oa_stream_end(&st, &b, resp) != AIGW_OK)
			abort();
		buf_free(&b);
		oa_stream_free(&st);
	}
	json_object_put(resp);
	json_object_put(done);
	json_object_put(results);
	json_object_put(models);
	free(results_s);
	free(models_s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oa_request r;
	struct http_field_error fe;
	enum aigw_err err;

	if (size < 1)
		return 0;
	memset(&fe, 0, sizeof fe);
	err = (data[0] & 1) ? oa_parse_completion_request((const char *)data + 1, size - 1, &r, &fe)
			    : oa_parse_response_request((const char *)data + 1, size - 1, &r, &fe);
	if (err == AIGW_EINVAL) {
		if (fe.code == NULL || fe.msg[0] == '\0' || !fuzz_utf8_ok(fe.msg) ||
		    !fuzz_utf8_ok(fe.field))
			abort();
		return 0;
	}
	if (err != AIGW_OK)
		return 0;
	/* What is stored must be text PostgreSQL takes. */
	if (r.last_user == NULL || r.last_user[0] == '\0' || r.model == NULL || r.max_tokens < 1 ||
	    !fuzz_utf8_ok(r.last_user) || !fuzz_utf8_ok(r.system) || !fuzz_utf8_ok(r.model) ||
	    !fuzz_utf8_ok(json_object_to_json_string_ext(r.messages, JSON_C_TO_STRING_PLAIN)) ||
	    !fuzz_utf8_ok(json_object_to_json_string_ext(r.api_request, JSON_C_TO_STRING_PLAIN)))
		abort();
	render(&r);
	oa_request_free(&r);
	return 0;
}
