/* test_metrics.c: the Prometheus text rendering and who may read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "http/metrics.h"

static void
render(const struct db_metric_sample *samples, size_t n, struct buf *out)
{
	struct metrics_text t = { .out = out, .err = AIGW_OK };

	buf_init(out, 1 << 20);
	for (size_t i = 0; i < n; i++)
		metrics_text_add(&t, &samples[i]);
	assert_int_equal(t.err, AIGW_OK);
}

static void
test_each_family_gets_its_header_once(void **state)
{
	const struct db_metric_sample s[] = {
		{ "aigw_jobs_total", "", "type=\"a\",status=\"completed\"", "", 3 },
		{ "aigw_jobs_total", "", "type=\"a\",status=\"failed\"", "", 1 },
		{ "aigw_queue_depth", "", "kind=\"chat\"", "", 0 },
		{ "aigw_stuck_jobs", "", "", "", 2 },
	};
	struct buf out;

	(void)state;
	render(s, 4, &out);
	assert_string_equal(out.data,
		"# HELP aigw_jobs_total Jobs finished, by type and status.\n"
		"# TYPE aigw_jobs_total counter\n"
		"aigw_jobs_total{type=\"a\",status=\"completed\"} 3\n"
		"aigw_jobs_total{type=\"a\",status=\"failed\"} 1\n"
		"# HELP aigw_queue_depth Chats and jobs waiting for a worker.\n"
		"# TYPE aigw_queue_depth gauge\n"
		"aigw_queue_depth{kind=\"chat\"} 0\n"
		"# HELP aigw_stuck_jobs Running jobs whose lease ran out or that ran past their"
		" type's timeout.\n"
		"# TYPE aigw_stuck_jobs gauge\n"
		"aigw_stuck_jobs 2\n");
	buf_free(&out);
}

static void
test_histogram_buckets_sum_and_count(void **state)
{
	const struct db_metric_sample s[] = {
		{ "aigw_job_duration_seconds", "_bucket", "type=\"a\"", "0.5", 0 },
		{ "aigw_job_duration_seconds", "_bucket", "type=\"a\"", "+Inf", 2 },
		{ "aigw_job_duration_seconds", "_sum", "type=\"a\"", "", 3.25 },
		{ "aigw_job_duration_seconds", "_count", "type=\"a\"", "", 2 },
		{ "aigw_chat_duration_seconds", "_bucket", "", "1", 1 },
	};
	struct buf out;

	(void)state;
	render(s, 5, &out);
	assert_non_null(strstr(out.data, "# TYPE aigw_job_duration_seconds histogram\n"
		"aigw_job_duration_seconds_bucket{type=\"a\",le=\"0.5\"} 0\n"
		"aigw_job_duration_seconds_bucket{type=\"a\",le=\"+Inf\"} 2\n"
		"aigw_job_duration_seconds_sum{type=\"a\"} 3.25\n"
		"aigw_job_duration_seconds_count{type=\"a\"} 2\n"));
	/* A bucket without other labels. */
	assert_non_null(strstr(out.data, "aigw_chat_duration_seconds_bucket{le=\"1\"} 1\n"));
	buf_free(&out);
}

static void
test_values_and_unknown_families(void **state)
{
	const struct db_metric_sample s[] = {
		{ "aigw_rate_limit_wait_seconds_total", "", "provider=\"gemini\"", "", 61.5 },
		{ "aigw_workers_alive", "", "", "", 1e20 },
		{ "aigw_something_new", "", "", "", 7 },
	};
	struct buf out;

	(void)state;
	render(s, 3, &out);
	assert_non_null(strstr(out.data, "aigw_rate_limit_wait_seconds_total{provider=\"gemini\"} 61.5\n"));
	assert_non_null(strstr(out.data, "aigw_workers_alive 1e+20\n"));
	assert_non_null(strstr(out.data, "# TYPE aigw_something_new untyped\naigw_something_new 7\n"));
	buf_free(&out);
}

/* A family without a sample yet (no rate-limit wait so far) is still
 * declared, once, after the samples. */
static void
test_families_without_samples_are_declared(void **state)
{
	const struct db_metric_sample s = { "aigw_stuck_jobs", "", "", "", 1 };
	struct metrics_text t;
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	t = (struct metrics_text){ .out = &out, .err = AIGW_OK };
	metrics_text_add(&t, &s);
	metrics_text_finish(&t);
	assert_int_equal(t.err, AIGW_OK);
	assert_non_null(strstr(out.data, "# HELP aigw_rate_limit_waits_total Provider calls that"));
	assert_non_null(strstr(out.data, "# TYPE aigw_rate_limit_waits_total counter\n"));
	assert_non_null(strstr(out.data, "# TYPE aigw_chat_duration_seconds histogram\n"));
	/* the family that had a sample is not declared a second time */
	assert_non_null(strstr(out.data, "# TYPE aigw_stuck_jobs gauge\naigw_stuck_jobs 1\n"));
	assert_null(strstr(strstr(out.data, "# TYPE aigw_stuck_jobs") + 1, "# TYPE aigw_stuck_jobs"));
	buf_free(&out);
}

static void
test_a_full_buffer_stops_the_rendering(void **state)
{
	const struct db_metric_sample s = { "aigw_stuck_jobs", "", "", "", 1 };
	struct metrics_text t;
	struct buf out;

	(void)state;
	buf_init(&out, 16);
	t = (struct metrics_text){ .out = &out, .err = AIGW_OK };
	metrics_text_add(&t, &s);
	assert_int_equal(t.err, AIGW_ETOOBIG);
	buf_free(&out);
}

static void
test_access(void **state)
{
	struct aigw_config cfg;
	char token[] = "0123456789abcdef-secret";

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.metrics_token = token;
	cfg.metrics_access = METRICS_OPEN;
	assert_true(metrics_access_allowed(&cfg, "203.0.113.9", NULL));
	assert_true(metrics_access_allowed(&cfg, NULL, NULL));

	cfg.metrics_access = METRICS_LOCAL;
	assert_true(metrics_access_allowed(&cfg, "127.0.0.1", NULL));
	assert_true(metrics_access_allowed(&cfg, "::1", NULL));
	assert_false(metrics_access_allowed(&cfg, "10.0.0.1", NULL));
	assert_false(metrics_access_allowed(&cfg, "1270.0.0.1", NULL));
	assert_false(metrics_access_allowed(&cfg, NULL, NULL));
	/* A token is no way round the address check. */
	assert_false(metrics_access_allowed(&cfg, "10.0.0.1", "Bearer 0123456789abcdef-secret"));

	cfg.metrics_access = METRICS_TOKEN;
	assert_true(metrics_access_allowed(&cfg, "10.0.0.1", "Bearer 0123456789abcdef-secret"));
	assert_false(metrics_access_allowed(&cfg, "127.0.0.1", NULL));
	assert_false(metrics_access_allowed(&cfg, "127.0.0.1", "Bearer 0123456789abcdef-secreT"));
	assert_false(metrics_access_allowed(&cfg, "127.0.0.1", "Bearer 0123456789abcdef-secret "));
	assert_false(metrics_access_allowed(&cfg, "127.0.0.1", "Basic 0123456789abcdef-secret"));
	assert_false(metrics_access_allowed(&cfg, "127.0.0.1", "Bearer "));
}

/* The n of the entry {route, status} in the taken JSON, 0 when absent. */
static long
count_of(json_object *a, const char *route, int status)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i), *r, *st, *n;

		assert_true(json_object_object_get_ex(e, "route", &r));
		assert_true(json_object_object_get_ex(e, "status", &st));
		assert_true(json_object_object_get_ex(e, "n", &n));
		if (strcmp(json_object_get_string(r), route) == 0 && json_object_get_int(st) == status)
			return (long)json_object_get_int64(n);
	}
	return 0;
}

static void
test_http_counts_by_route_pattern_and_status(void **state)
{
	static const char chat[] = "/api/ai/chat/{id}";
	char pattern_copy[sizeof chat];
	long busy = -1;
	char *json;
	json_object *a;

	(void)state;
	assert_null(metrics_http_take(&busy));
	metrics_http_count(chat, 200);
	metrics_http_count(chat, 200);
	/* Another string with the same pattern is the same label set. */
	memcpy(pattern_copy, chat, sizeof chat);
	metrics_http_count(pattern_copy, 200);
	metrics_http_count(chat, 404);
	metrics_http_count(NULL, 404);
	metrics_http_busy();
	metrics_http_busy();
	json = metrics_http_take(&busy);
	assert_non_null(json);
	assert_int_equal(busy, 2);
	a = json_tokener_parse(json);
	assert_non_null(a);
	assert_int_equal(json_object_array_length(a), 3);
	assert_int_equal(count_of(a, chat, 200), 3);
	assert_int_equal(count_of(a, chat, 404), 1);
	assert_int_equal(count_of(a, "unmatched", 404), 1);
	json_object_put(a);
	free(json);
	/* Taken: nothing is pending any more. */
	assert_null(metrics_http_take(&busy));
	/* Busy alone is worth a write. */
	metrics_http_busy();
	json = metrics_http_take(&busy);
	assert_string_equal(json, "[]");
	assert_int_equal(busy, 1);
	free(json);
}

static void
test_http_counts_past_the_slots_are_dropped_not_mixed(void **state)
{
	long busy;
	char *json;
	json_object *a;

	(void)state;
	for (int i = 0; i < METRICS_HTTP_SLOTS + 10; i++)
		metrics_http_count("/api/health", 1000 + i);
	json = metrics_http_take(&busy);
	a = json_tokener_parse(json);
	assert_int_equal(json_object_array_length(a), METRICS_HTTP_SLOTS);
	assert_int_equal(count_of(a, "/api/health", 1000), 1);
	assert_int_equal(count_of(a, "/api/health", 1000 + METRICS_HTTP_SLOTS), 0);
	json_object_put(a);
	free(json);
	/* No database: the flush writes nothing and loses only its counts. */
	metrics_http_count("/api/health", 200);
	metrics_http_flush(NULL, 0, true);
	assert_null(metrics_http_take(&busy));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_family_gets_its_header_once),
		cmocka_unit_test(test_histogram_buckets_sum_and_count),
		cmocka_unit_test(test_values_and_unknown_families),
		cmocka_unit_test(test_families_without_samples_are_declared),
		cmocka_unit_test(test_a_full_buffer_stops_the_rendering),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_http_counts_by_route_pattern_and_status),
		cmocka_unit_test(test_http_counts_past_the_slots_are_dropped_not_mixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
