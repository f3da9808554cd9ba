/*
 * prov_fixture.h: the fixture-pair driver shared by the provider unit tests.
 *
 * Fixtures live in $AIGW_SRCDIR/tests/fixtures/providers/<provider>/:
 *   <case>.call.json + <case>.request.json   a call in, the exact request out
 *     (call keys: api_key, base_url, model, message, system, location,
 *      max_tokens, websearch, json_output, turns; a missing one is NULL / 0
 *      / false / none)
 *   <case>.body      + <case>.expect.json    a recorded answer in, the result out
 * A test file defines FX_PROVIDER ("openai", ...) before including this, and
 * lists its cases with FX_REQUEST(name) / FX_RESPONSE(name) plus the generic
 * FX_HOSTILE_TESTS; FX_JSON_IGNORED(name) checks that json_output leaves the
 * request of <case>.call.json byte for byte alone. Everything here is static inline so that a test file
 * that uses only part of it still compiles under -Werror.
 */
#ifndef AIGW_TESTS_PROV_FIXTURE_H
#define AIGW_TESTS_PROV_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/buf.h"
#include "providers/provider.h"
#include "providers/stream.h"

/* The most turns a <case>.call.json may hold. */
#define FX_TURNS_MAX 16

/* Each provider's fixtures use a key with this in it; no error text may. */
#define FX_SECRET "SECRETKEY"

static inline char *
fx_path(const char *provider, const char *file)
{
	const char *src = getenv("AIGW_SRCDIR");
	struct buf b;
	char *out = NULL;

	buf_init(&b, 4096);
	assert_int_equal(buf_printf(&b, "%s/tests/fixtures/providers/%s/%s",
				    src && *src ? src : ".", provider, file), AIGW_OK);
	assert_int_equal(buf_steal(&b, &out), AIGW_OK);
	buf_free(&b);
	return out;
}

/* The whole file, NUL-terminated; *len excludes the NUL. */
static inline char *
fx_read(const char *provider, const char *file, size_t *len)
{
	char *path = fx_path(provider, file);
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;
	char *out = NULL;

	if (f == NULL)
		fail_msg("cannot open fixture %s (is AIGW_SRCDIR the source tree?)", path);
	buf_init(&b, 64u * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), AIGW_OK);
	fclose(f);
	*len = b.len;
	assert_int_equal(buf_steal(&b, &out), AIGW_OK);
	buf_free(&b);
	free(path);
	return out;
}

static inline json_object *
fx_json(const char *provider, const char *file)
{
	size_t len;
	char *s = fx_read(provider, file, &len);
	json_object *o = json_tokener_parse(s);

	if (o == NULL)
		fail_msg("fixture %s/%s is not JSON", provider, file);
	free(s);
	return o;
}

static inline const char *
fx_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static inline void
fx_assert_json_equal(json_object *got, json_object *want, const char *what)
{
	if (!json_object_equal(got, want))
		fail_msg("%s differs\n got:  %s\n want: %s", what,
			 json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN),
			 json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
}

/* What every result must look like, whatever the body was. */
static inline void
fx_assert_consistent(const struct prov_result *r)
{
	if (r->ok) {
		assert_non_null(r->text);
		assert_null(r->error);
		assert_int_equal(r->errclass, PROV_ERR_NONE);
	} else {
		assert_non_null(r->error);
		assert_null(r->text);
		assert_null(r->citations);
		assert_true(r->errclass > PROV_ERR_NONE && r->errclass < PROV_ERR__MAX);
		assert_null(strstr(r->error, FX_SECRET));
		assert_true(strlen(r->error) < 400);
	}
	assert_true(r->input_tokens >= -1);
	assert_true(r->output_tokens >= -1);
	if (r->citations != NULL)
		assert_true(json_object_is_type(r->citations, json_type_array));
}

static inline void
fx_parse(const char *provider, long status, const char *body, size_t len, struct prov_result *r)
{
	const struct prov_desc *d = prov_find(provider);

	assert_non_null(d);
	memset(r, 0xa5, sizeof *r); /* parse must initialise all of it */
	assert_int_equal(d->parse(status, body, len, r), AIGW_OK);
	fx_assert_consistent(r);
}

/* ---- <case>.call.json -> <case>.request.json ---- */

/* The config and call a parsed <case>.call.json describes (borrowing its
 * strings); a missing key is NULL, 0 or false. */
static inline void
fx_call(json_object *in, struct prov_config *cfg, struct prov_call *call)
{
	json_object *v;

	memset(cfg, 0, sizeof *cfg);
	memset(call, 0, sizeof *call);
	cfg->api_key = fx_str(in, "api_key");
	cfg->base_url = fx_str(in, "base_url");
	call->model = fx_str(in, "model");
	call->message = fx_str(in, "message");
	call->system = fx_str(in, "system");
	call->location = fx_str(in, "location");
	call->max_tokens = json_object_object_get_ex(in, "max_tokens", &v) ? json_object_get_int(v) : 0;
	call->websearch = json_object_object_get_ex(in, "websearch", &v) && json_object_get_boolean(v);
	call->json_output = json_object_object_get_ex(in, "json_output", &v) && json_object_get_boolean(v);
	/* "turns": a conversation, [{"role", "content"}, ...] */
	if (json_object_object_get_ex(in, "turns", &v)) {
		static struct prov_turn turns[FX_TURNS_MAX];
		size_t n = json_object_array_length(v);

		assert_true(n <= FX_TURNS_MAX);
		for (size_t i = 0; i < n; i++) {
			json_object *t = json_object_array_get_idx(v, i);

			turns[i].role = fx_str(t, "role");
			turns[i].content = fx_str(t, "content");
		}
		call->turns = turns;
		call->nturns = n;
	}
}

static inline void
fx_test_request(void **state)
{
	const char *name = *state;
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	char file[256];
	json_object *in, *want, *headers, *body, *v;
	struct prov_config cfg;
	struct prov_call call;
	struct prov_http h;
	size_t n;

	snprintf(file, sizeof file, "%s.call.json", name);
	in = fx_json(FX_PROVIDER, file);
	snprintf(file, sizeof file, "%s.request.json", name);
	want = fx_json(FX_PROVIDER, file);
	fx_call(in, &cfg, &call);

	memset(&h, 0x5a, sizeof h);
	assert_int_equal(d->build(&cfg, &call, &h), AIGW_OK);
	assert_string_equal(h.url, fx_str(want, "url"));
	assert_true(json_object_object_get_ex(want, "headers", &headers));
	n = json_object_array_length(headers);
	assert_int_equal(h.nheaders, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(h.headers[i], json_object_get_string(json_object_array_get_idx(headers, i)));
	for (size_t i = n; i < PROV_MAX_HEADERS; i++)
		assert_null(h.headers[i]);
	assert_non_null(h.body);
	assert_int_equal(h.body_len, strlen(h.body));
	assert_true(json_object_object_get_ex(want, "body", &v));
	body = json_tokener_parse(h.body);
	assert_non_null(body);
	fx_assert_json_equal(body, v, "request body");
	json_object_put(body);
	prov_http_free(&h);
	json_object_put(in);
	json_object_put(want);
}

/*
 * The streaming request of <case>.call.json sends what its plain request
 * (<case>.request.json) does: the same body once "stream" and
 * "stream_options" are set aside.
 */
static inline void
fx_test_stream_request(void **state)
{
	const char *name = *state;
	char file[256];
	json_object *in, *want, *body, *v;
	struct prov_config cfg;
	struct prov_call call;
	struct prov_http h;

	snprintf(file, sizeof file, "%s.call.json", name);
	in = fx_json(FX_PROVIDER, file);
	snprintf(file, sizeof file, "%s.request.json", name);
	want = fx_json(FX_PROVIDER, file);
	fx_call(in, &cfg, &call);
	memset(&h, 0, sizeof h);
	assert_int_equal(prov_stream_build(FX_PROVIDER, &cfg, &call, &h), AIGW_OK);
	body = json_tokener_parse(h.body);
	assert_non_null(body);
	json_object_object_del(body, "stream");
	json_object_object_del(body, "stream_options");
	assert_true(json_object_object_get_ex(want, "body", &v));
	fx_assert_json_equal(body, v, "streaming request body");
	json_object_put(body);
	prov_http_free(&h);
	json_object_put(in);
	json_object_put(want);
}

/*
 * For a provider without a schemaless JSON mode: the request of
 * <case>.call.json is the same, byte for byte, with json_output false and
 * true (the fixture comparison above ignores key order; this does not).
 */
static inline void
fx_test_json_output_ignored(void **state)
{
	const char *name = *state;
	const struct prov_desc *d = prov_find(FX_PROVIDER);
	char file[256];
	json_object *in;
	struct prov_config cfg;
	struct prov_call call;
	struct prov_http plain, json;

	snprintf(file, sizeof file, "%s.call.json", name);
	in = fx_json(FX_PROVIDER, file);
	fx_call(in, &cfg, &call);
	call.json_output = false;
	assert_int_equal(d->build(&cfg, &call, &plain), AIGW_OK);
	call.json_output = true;
	assert_int_equal(d->build(&cfg, &call, &json), AIGW_OK);
	assert_string_equal(json.url, plain.url);
	assert_int_equal(json.nheaders, plain.nheaders);
	for (size_t i = 0; i < plain.nheaders; i++)
		assert_string_equal(json.headers[i], plain.headers[i]);
	assert_int_equal(json.body_len, plain.body_len);
	assert_memory_equal(json.body, plain.body, plain.body_len);
	prov_http_free(&plain);
	prov_http_free(&json);
	json_object_put(in);
}

/* ---- <case>.body -> <case>.expect.json ---- */

static inline void
fx_test_response(void **state)
{
	const char *name = *state;
	char file[256];
	char *body;
	size_t len;
	json_object *want, *v;
	struct prov_result r;

	snprintf(file, sizeof file, "%s.body", name);
	body = fx_read(FX_PROVIDER, file, &len);
	snprintf(file, sizeof file, "%s.expect.json", name);
	want = fx_json(FX_PROVIDER, file);
	assert_true(json_object_object_get_ex(want, "status", &v));
	fx_parse(FX_PROVIDER, json_object_get_int(v), body, len, &r);

	assert_true(json_object_object_get_ex(want, "ok", &v));
	if (json_object_get_boolean(v) != r.ok)
		fail_msg("ok is %d, want %d (error: %s)", r.ok, !r.ok, r.error ? r.error : "-");
	if (r.ok) {
		json_object *cites = NULL;

		assert_string_equal(r.text, fx_str(want, "text"));
		if (fx_str(want, "model") != NULL)
			assert_string_equal(r.model, fx_str(want, "model"));
		else
			assert_null(r.model);
		assert_true(json_object_object_get_ex(want, "input_tokens", &v));
		assert_int_equal(r.input_tokens, json_object_get_int64(v));
		assert_true(json_object_object_get_ex(want, "output_tokens", &v));
		assert_int_equal(r.output_tokens, json_object_get_int64(v));
		assert_true(json_object_object_get_ex(want, "citations", &cites));
		if (cites == NULL)
			assert_null(r.citations);
		else
			fx_assert_json_equal(r.citations, cites, "citations");
	} else {
		assert_string_equal(prov_errclass_name(r.errclass), fx_str(want, "errclass"));
		assert_string_equal(r.error, fx_str(want, "error"));
	}
	prov_result_free(&r);
	json_object_put(want);
	free(body);
}

/* ---- hostile bodies: never a crash, a leak or an inconsistent result ---- */

static inline void
fx_test_every_prefix(void **state)
{
	size_t len, end;
	char *body = fx_read(FX_PROVIDER, "success.body", &len);
	struct prov_result r;

	(void)state;
	end = len;
	while (end > 0 && (body[end - 1] == '\n' || body[end - 1] == ' '))
		end--;
	for (size_t n = 0; n < end; n++) {
		char *copy = malloc(n + 1); /* exact size, so ASan sees any overread */

		assert_non_null(copy);
		memcpy(copy, body, n);
		fx_parse(FX_PROVIDER, 200, copy, n, &r);
		assert_false(r.ok);
		assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
		prov_result_free(&r);
		fx_parse(FX_PROVIDER, 503, copy, n, &r);
		assert_int_equal(r.errclass, PROV_ERR_SERVER);
		prov_result_free(&r);
		free(copy);
	}
	fx_parse(FX_PROVIDER, 200, body, end, &r);
	assert_true(r.ok);
	prov_result_free(&r);
	free(body);
}

static inline uint32_t
fx_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline void
fx_test_mutations(void **state)
{
	static const long statuses[] = { 200, 200, 200, 400, 401, 429, 500, 529 };
	size_t len;
	char *body = fx_read(FX_PROVIDER, "success.body", &len);
	uint32_t seed = 12345;
	struct prov_result r;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t n = i % 3 == 0 ? fx_rand(&seed) % 600 : len;
		char *copy = malloc(n ? n : 1);

		assert_non_null(copy);
		if (i % 3 == 0) {
			for (size_t j = 0; j < n; j++)
				copy[j] = (char)fx_rand(&seed);
		} else {
			memcpy(copy, body, n);
			for (int k = 0; k < 1 + i % 4; k++)
				copy[fx_rand(&seed) % n] = "{}[]\",:0a\\\x00\x01\xff"[fx_rand(&seed) % 14];
		}
		fx_parse(FX_PROVIDER, statuses[i % 8], copy, n, &r);
		prov_result_free(&r);
		free(copy);
	}
	free(body);
}

static inline void
fx_parse_str(long status, const char *s, struct prov_result *r)
{
	fx_parse(FX_PROVIDER, status, s, strlen(s), r);
}

static inline void
fx_test_wrong_roots(void **state)
{
	static const char *const roots[] = { "null", "1", "-1.5e300", "\"text\"", "true", "[]",
		"[{}]", "{}", "{\"choices\":null,\"content\":null,\"candidates\":null}",
		"{\"error\":null}", "{\"error\":5}", "{\"error\":[\"x\"]}",
		"{\"error\":{\"message\":5,\"type\":[]}}", "\"\\u0000\"", "{\"a\":\"\\ud800\"}" };
	struct prov_result r;

	(void)state;
	for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++) {
		fx_parse_str(200, roots[i], &r);
		assert_false(r.ok);
		prov_result_free(&r);
		fx_parse_str(429, roots[i], &r);
		assert_int_equal(r.errclass, PROV_ERR_RATE_LIMIT);
		prov_result_free(&r);
	}
	/* a NULL body with a length of 0 is what an empty answer looks like */
	fx_parse(FX_PROVIDER, 200, NULL, 0, &r);
	assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
	prov_result_free(&r);
	fx_parse(FX_PROVIDER, 500, NULL, 0, &r);
	assert_int_equal(r.errclass, PROV_ERR_SERVER);
	prov_result_free(&r);
}

static inline void
fx_test_deep_and_huge(void **state)
{
	const size_t depth = 200000, big = 8u * 1024 * 1024;
	struct buf b;
	size_t len;
	char *ok_body = fx_read(FX_PROVIDER, "success.body", &len);
	struct prov_result r;

	(void)state;
	/* nesting far past any parser's comfort */
	buf_init(&b, 8 * depth + 64);
	for (size_t i = 0; i < depth; i++)
		assert_int_equal(buf_puts(&b, "{\"a\":["), AIGW_OK);
	fx_parse(FX_PROVIDER, 200, b.data, b.len, &r);
	assert_int_equal(r.errclass, PROV_ERR_BAD_BODY);
	prov_result_free(&r);
	buf_free(&b);

	/* 8 MiB of padding in front of a good answer: still the good answer */
	buf_init(&b, big + len + 64);
	assert_int_equal(buf_puts(&b, "{\"padding\":\""), AIGW_OK);
	for (size_t i = 0; i < big / 64; i++)
		assert_int_equal(buf_puts(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde "), AIGW_OK);
	assert_int_equal(buf_puts(&b, "\","), AIGW_OK);
	assert_int_equal(buf_append(&b, strchr(ok_body, '{') + 1, len - (size_t)(strchr(ok_body, '{') + 1 - ok_body)), AIGW_OK);
	fx_parse(FX_PROVIDER, 200, b.data, b.len, &r);
	assert_true(r.ok);
	prov_result_free(&r);
	buf_free(&b);

	/* a huge, hostile error message: short, printable, no key */
	buf_init(&b, big + 64);
	assert_int_equal(buf_puts(&b, "{\"error\":{\"message\":\"sk-live-" FX_SECRET "abc "), AIGW_OK);
	for (size_t i = 0; i < big / 32; i++)
		assert_int_equal(buf_puts(&b, "\\r\\n\\u0007\\u00e9x\\u001b[31m"), AIGW_OK);
	assert_int_equal(buf_puts(&b, "\"}}"), AIGW_OK);
	fx_parse(FX_PROVIDER, 429, b.data, b.len, &r);
	assert_int_equal(r.errclass, PROV_ERR_RATE_LIMIT);
	assert_true(strlen(r.error) <= 64 + 200 + 3);
	for (const char *p = r.error; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	prov_result_free(&r);
	buf_free(&b);
	free(ok_body);
}

#define FX_REQUEST(name) { "request " name, fx_test_request, NULL, NULL, (void *)(name) }
#define FX_STREAM_REQUEST(name) \
	{ "stream request " name, fx_test_stream_request, NULL, NULL, (void *)(name) }
#define FX_RESPONSE(name) { "response " name, fx_test_response, NULL, NULL, (void *)(name) }
#define FX_JSON_IGNORED(name) \
	{ "json_output ignored " name, fx_test_json_output_ignored, NULL, NULL, (void *)(name) }
#define FX_HOSTILE_TESTS \
	cmocka_unit_test(fx_test_every_prefix), \
	cmocka_unit_test(fx_test_mutations), \
	cmocka_unit_test(fx_test_wrong_roots), \
	cmocka_unit_test(fx_test_deep_and_huge)

#endif
