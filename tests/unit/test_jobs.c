/* test_jobs.c: validation of POST /api/jobs bodies and Idempotency-Keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/jobs.h"

/* A type with one input of each kind the checks treat differently. */
static const char t1_decl[] =
	"{\"name\":\"t1\",\"timeout_s\":30,\"attempts\":2,\"poll_interval_s\":3,"
	"\"input\":{\"name\":{\"type\":\"string\",\"required\":true,\"max_length\":10},"
	"\"count\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"max_length\":3},"
	"\"extra\":{\"type\":\"object\"}},"
	"\"steps\":[{\"name\":\"first\",\"status_message\":\"F\",\"progress\":50,"
	"\"provider\":\"mock\",\"model\":\"m\",\"prompt\":\"{{input.name}}\"},"
	"{\"name\":\"second\",\"status_message\":\"S\",\"progress\":100,"
	"\"provider\":\"mock\",\"model\":\"m\",\"prompt\":\"{{steps.first.text}}\"}]}";

static struct jobtype_registry *registry;

/* The registry is loaded from a directory, as aigw-fcgi loads it. */
static int
setup(void **state)
{
	char dir[] = "/tmp/aigw-test-jobs-XXXXXX", path[256], err[512] = "";
	FILE *f;
	int rc = -1;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/t1.json", dir);
	f = fopen(path, "w");
	if (f == NULL)
		goto out;
	fputs(t1_decl, f);
	if (fclose(f) != 0)
		goto out;
	if (jobtype_load_dir(dir, &registry, err, sizeof err) != AIGW_OK) {
		fprintf(stderr, "loading t1: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	unlink(path);
	rmdir(dir);
	return rc;
}

static int
teardown(void **state)
{
	(void)state;
	jobtype_registry_free(registry);
	registry = NULL;
	return 0;
}

static void
parse_ok(const char *body, struct job_request *r)
{
	struct http_field_error e;

	memset(&e, 0, sizeof e);
	if (job_request_parse(body, strlen(body), registry, r, &e) != AIGW_OK)
		fail_msg("%s: %s %s: %s", body, e.code, e.field, e.msg);
}

static void
expect_error(const char *body, const char *code, const char *field)
{
	struct job_request r;
	struct http_field_error e;

	memset(&e, 0, sizeof e);
	assert_int_equal(job_request_parse(body, strlen(body), registry, &r, &e), AIGW_EINVAL);
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, code);
	assert_string_equal(e.field, field ? field : "");
	assert_true(e.msg[0] != '\0');
	assert_null(r.root);
	assert_null(r.type);
}

static void
test_good_request(void **state)
{
	struct job_request r;

	(void)state;
	parse_ok("{\"type\":\"t1\",\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000aa\","
		 "\"input\":{\"name\":\"Acme\",\"count\":3,\"tags\":[\"a\"],\"extra\":{\"k\":[1,2]}},"
		 "\"unknown\":true}", &r);
	assert_string_equal(r.type->name, "t1");
	assert_int_equal(r.type->poll_interval_s, 3);
	assert_string_equal(r.decision_id, "5c1e0000-0000-4000-8000-0000000000aa");
	assert_string_equal(r.input_json,
			    "{\"name\":\"Acme\",\"count\":3,\"tags\":[\"a\"],\"extra\":{\"k\":[1,2]}}");
	assert_string_equal(r.steps_json, "[\"first\",\"second\"]");
	assert_string_equal(r.fingerprint,
			    "{\"type\":\"t1\",\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000aa\","
			    "\"input\":{\"name\":\"Acme\",\"count\":3,\"tags\":[\"a\"],\"extra\":{\"k\":[1,2]}}}");
	job_request_free(&r);
	job_request_free(&r); /* a freed request is zeroed: safe again */
}

static void
test_optional_inputs_may_be_left_out(void **state)
{
	struct job_request r;

	(void)state;
	parse_ok("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"count\":null}}", &r);
	assert_string_equal(r.decision_id, "");
	assert_string_equal(r.fingerprint,
			    "{\"type\":\"t1\",\"decision_id\":null,\"input\":{\"name\":\"x\",\"count\":null}}");
	job_request_free(&r);
}

static void
test_fingerprint_ignores_layout_and_unknown_keys(void **state)
{
	struct job_request a, b;

	(void)state;
	parse_ok("{\"type\":\"t1\",\"decision_id\":\"5C1E0000-0000-4000-8000-0000000000AA\","
		 "\"input\":{\"name\":\"x\"}}", &a);
	parse_ok(" { \"input\" : { \"name\" : \"x\" } , \"note\": 1,\n"
		 "\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000aa\", \"type\" : \"t1\" }", &b);
	assert_string_equal(a.fingerprint, b.fingerprint);
	assert_string_equal(a.decision_id, "5c1e0000-0000-4000-8000-0000000000aa");
	job_request_free(&a);
	job_request_free(&b);

	/* and tells a different input apart */
	parse_ok("{\"type\":\"t1\",\"input\":{\"name\":\"x\"}}", &a);
	parse_ok("{\"type\":\"t1\",\"input\":{\"name\":\"y\"}}", &b);
	assert_string_not_equal(a.fingerprint, b.fingerprint);
	job_request_free(&a);
	job_request_free(&b);
}

static void
test_not_json(void **state)
{
	(void)state;
	expect_error("", "invalid_json", NULL);
	expect_error("{", "invalid_json", NULL);
	expect_error("nope", "invalid_json", NULL);
	expect_error("[{\"type\":\"t1\"}]", "invalid_json", NULL);
	expect_error("\"t1\"", "invalid_json", NULL);
	expect_error("null", "invalid_json", NULL);
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\"}} {}", "invalid_json", NULL);
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"\xff\"}}", "invalid_json", NULL);
}

static void
test_type_rules(void **state)
{
	(void)state;
	expect_error("{\"input\":{\"name\":\"x\"}}", "invalid_field", "type");
	expect_error("{\"type\":null,\"input\":{\"name\":\"x\"}}", "invalid_field", "type");
	expect_error("{\"type\":7,\"input\":{\"name\":\"x\"}}", "invalid_field", "type");
	expect_error("{\"type\":[\"t1\"],\"input\":{\"name\":\"x\"}}", "invalid_field", "type");
	expect_error("{\"type\":\"t2\",\"input\":{\"name\":\"x\"}}", "unknown_job_type", "type");
	expect_error("{\"type\":\"\",\"input\":{\"name\":\"x\"}}", "unknown_job_type", "type");
	expect_error("{\"type\":\"T1\",\"input\":{\"name\":\"x\"}}", "unknown_job_type", "type");
	/* a NUL does not cut the name down to a known one */
	expect_error("{\"type\":\"t1\\u0000x\",\"input\":{\"name\":\"x\"}}", "unknown_job_type", "type");
	/* the type is checked before the rest of the body */
	expect_error("{\"type\":\"t2\",\"decision_id\":5}", "unknown_job_type", "type");
}

static void
test_unknown_type_message_names_it(void **state)
{
	const char *body = "{\"type\":\"competitor_analysys\",\"input\":{}}";
	struct job_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(job_request_parse(body, strlen(body), registry, &r, &e), AIGW_EINVAL);
	assert_non_null(strstr(e.msg, "competitor_analysys"));
}

static void
test_no_registry_knows_no_type(void **state)
{
	const char *body = "{\"type\":\"t1\",\"input\":{\"name\":\"x\"}}";
	struct job_request r;
	struct http_field_error e;

	(void)state;
	assert_int_equal(job_request_parse(body, strlen(body), NULL, &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, "unknown_job_type");
	assert_string_equal(e.field, "type");
}

static void
test_decision_id_forms(void **state)
{
	struct job_request r;

	(void)state;
	parse_ok("{\"type\":\"t1\",\"decision_id\":null,\"input\":{\"name\":\"x\"}}", &r);
	assert_string_equal(r.decision_id, "");
	job_request_free(&r);
	parse_ok("{\"type\":\"t1\",\"decision_id\":\"ABCDEF00-0000-4000-8000-00000000000F\","
		 "\"input\":{\"name\":\"x\"}}", &r);
	assert_string_equal(r.decision_id, "abcdef00-0000-4000-8000-00000000000f");
	job_request_free(&r);

	expect_error("{\"type\":\"t1\",\"decision_id\":\"\",\"input\":{\"name\":\"x\"}}",
		     "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":\"abc\",\"input\":{\"name\":\"x\"}}",
		     "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":5,\"input\":{\"name\":\"x\"}}",
		     "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":{},\"input\":{\"name\":\"x\"}}",
		     "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000a\","
		     "\"input\":{\"name\":\"x\"}}", "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000aag\","
		     "\"input\":{\"name\":\"x\"}}", "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":\"5c1e0000x0000-4000-8000-0000000000aa\","
		     "\"input\":{\"name\":\"x\"}}", "invalid_field", "decision_id");
	expect_error("{\"type\":\"t1\",\"decision_id\":\"5c1e0000-0000-4000-8000-0000000000aa\\u0000\","
		     "\"input\":{\"name\":\"x\"}}", "invalid_field", "decision_id");
}

static void
test_input_rules(void **state)
{
	(void)state;
	expect_error("{\"type\":\"t1\"}", "invalid_field", "input");
	expect_error("{\"type\":\"t1\",\"input\":null}", "invalid_field", "input");
	expect_error("{\"type\":\"t1\",\"input\":[]}", "invalid_field", "input");
	expect_error("{\"type\":\"t1\",\"input\":\"Acme\"}", "invalid_field", "input");
	expect_error("{\"type\":\"t1\",\"input\":{}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":null}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"\"}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"12345678901\"}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":5}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"a\\u0000b\"}}", "invalid_field", "input.name");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"count\":1.5}}", "invalid_field", "input.count");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"count\":\"3\"}}", "invalid_field", "input.count");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"tags\":[1,2,3,4]}}", "invalid_field", "input.tags");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"extra\":[]}}", "invalid_field", "input.extra");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"bogus\":1}}", "invalid_field", "input.bogus");
	/* NUL deep inside an array or object input: jsonb could not store it */
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"tags\":[\"\\u0000\"]}}",
		     "invalid_field", "input.tags");
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"extra\":{\"a\":[{\"b\":\"x\\u0000\"}]}}}",
		     "invalid_field", "input.extra");
}

/* prefix followed by n e-acutes (two bytes each) into out. */
static void
e_acutes(char *out, const char *prefix, int n)
{
	size_t len = strlen(prefix);

	memcpy(out, prefix, len);
	for (int i = 0; i < n; i++) {
		out[len++] = '\xc3';
		out[len++] = '\xa9';
	}
	out[len] = '\0';
}

/* Found by fuzz_job_request: json-c's UTF-8 check passes overlong forms,
 * surrogates and code points past U+10FFFF deep in an input; PostgreSQL
 * refused the job's input then, a 503 for the client's mistake. */
static void
test_body_must_be_strict_utf8(void **state)
{
	(void)state;
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"tags\":[\"\xc0\x80\"]}}",
		     "invalid_json", NULL);
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"extra\":{\"\xed\xa0\x80\":1}}}",
		     "invalid_json", NULL);
	expect_error("{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"extra\":{\"a\":\"\xf4\x90\x80\x80\"}}}",
		     "invalid_json", NULL);
	expect_error("{\"type\":\"t\xe0\x80\xb1\",\"input\":{}}", "invalid_json", NULL);
}

/* Found by fuzz_job_request: "%.64s" cut a long unknown input field name
 * inside a UTF-8 character, and the 400 answer was no longer UTF-8. */
static void
test_unknown_input_named_only_when_short(void **state)
{
	char body[512], name[128];
	struct job_request r;
	struct http_field_error e;

	(void)state;
	e_acutes(name, "x", 40); /* 81 bytes: a cut at 64 splits an e-acute */
	snprintf(body, sizeof body, "{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"%s\":1}}", name);
	memset(&e, 0, sizeof e);
	assert_int_equal(job_request_parse(body, strlen(body), registry, &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, "invalid_field");
	assert_string_equal(e.field, "input");
	assert_string_equal(e.msg, "t1 takes no such input field");
	/* a name that fits is still named */
	e_acutes(name, "xx", 31); /* 64 bytes */
	snprintf(body, sizeof body, "{\"type\":\"t1\",\"input\":{\"name\":\"x\",\"%s\":1}}", name);
	assert_int_equal(job_request_parse(body, strlen(body), registry, &r, &e), AIGW_EINVAL);
	assert_int_equal(strlen(e.field), strlen("input.") + 64);
	assert_true(utf8_length(e.msg, strlen(e.msg)) > 0);
	assert_non_null(strstr(e.msg, name));
}

static void
test_a_shipped_type(void **state)
{
	const char *srcdir = getenv("AIGW_SRCDIR");
	struct jobtype_registry *shipped = NULL;
	struct job_request r;
	struct http_field_error e;
	char dir[1024], err[512] = "";
	const char *good = "{\"type\":\"competitor_analysis\",\"input\":{\"company_name\":\"Acme Corp\","
			   "\"company_url\":\"https://acme.com\"}}";
	const char *bad = "{\"type\":\"competitor_analysis\",\"input\":{\"company_url\":\"https://acme.com\"}}";

	(void)state;
	if (srcdir == NULL)
		skip();
	snprintf(dir, sizeof dir, "%s/jobtypes", srcdir);
	assert_int_equal(jobtype_load_dir(dir, &shipped, err, sizeof err), AIGW_OK);
	assert_int_equal(job_request_parse(good, strlen(good), shipped, &r, &e), AIGW_OK);
	assert_string_equal(r.steps_json, "[\"research\",\"profile\"]");
	assert_int_equal(r.type->poll_interval_s, 2);
	job_request_free(&r);
	assert_int_equal(job_request_parse(bad, strlen(bad), shipped, &r, &e), AIGW_EINVAL);
	assert_string_equal(e.code, "invalid_field");
	assert_string_equal(e.field, "input.company_name");
	jobtype_registry_free(shipped);
}

static void
test_idempotency_key(void **state)
{
	char key[JOB_IDEMPOTENCY_KEY_MAX + 2];

	(void)state;
	assert_true(job_idempotency_key_valid("a"));
	assert_true(job_idempotency_key_valid("order-42 retry #1"));
	assert_true(job_idempotency_key_valid("!~ \"{}\"")); /* 0x21, 0x7e, space */
	assert_true(job_idempotency_key_valid("8e03978e-40d5-43e8-bc93-6894a57f9324"));
	assert_false(job_idempotency_key_valid(""));
	assert_false(job_idempotency_key_valid("tab\there"));
	assert_false(job_idempotency_key_valid("new\nline"));
	assert_false(job_idempotency_key_valid("del\x7f"));
	assert_false(job_idempotency_key_valid("caf\xc3\xa9"));

	memset(key, 'k', JOB_IDEMPOTENCY_KEY_MAX);
	key[JOB_IDEMPOTENCY_KEY_MAX] = '\0';
	assert_true(job_idempotency_key_valid(key));
	key[JOB_IDEMPOTENCY_KEY_MAX] = 'k';
	key[JOB_IDEMPOTENCY_KEY_MAX + 1] = '\0';
	assert_false(job_idempotency_key_valid(key));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_request),
		cmocka_unit_test(test_optional_inputs_may_be_left_out),
		cmocka_unit_test(test_fingerprint_ignores_layout_and_unknown_keys),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_type_rules),
		cmocka_unit_test(test_unknown_type_message_names_it),
		cmocka_unit_test(test_no_registry_knows_no_type),
		cmocka_unit_test(test_decision_id_forms),
		cmocka_unit_test(test_input_rules),
		cmocka_unit_test(test_body_must_be_strict_utf8),
		cmocka_unit_test(test_unknown_input_named_only_when_short),
		cmocka_unit_test(test_a_shipped_type),
		cmocka_unit_test(test_idempotency_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
