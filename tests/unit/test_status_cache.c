/* test_status_cache.c: the status cache with a fake clock: hits, owners,
 * expiry, age, a read racing a notification, losing the LISTEN, versions
 * that never go back, the byte bound under 100,000 ids, and the hub
 * keeping it in step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/hub.h"
#include "http/status_cache.h"

#define ID_A "0b8e4c1e-6f2a-4d3b-9c5e-1a2b3c4d5e6f"
#define ID_A_UPPER "0B8E4C1E-6F2A-4D3B-9C5E-1A2B3C4D5E6F"
#define ID_B "7d1f0a9e-3b4c-4e5d-8f6a-0b1c2d3e4f50"
#define NOW_S INT64_C(1800000000)
#define AGE_MS 5000

static size_t
entries_of(struct status_cache *c)
{
	size_t entries, bytes;

	status_cache_size(c, &entries, &bytes);
	return entries;
}

static size_t
bytes_of(struct status_cache *c)
{
	size_t entries, bytes;

	status_cache_size(c, &entries, &bytes);
	return bytes;
}

static struct status_cache *
enabled_cache(size_t bytes, struct status_cache_stats *stats)
{
	struct status_cache *c = status_cache_new(bytes, AGE_MS, stats, 0);

	assert_non_null(c);
	status_cache_enable(c, true);
	return c;
}

/* Reads id as the database would give it (version v), then stores it. */
static void
fill(struct status_cache *c, enum db_channel kind, const char *id, const char *owner, long v,
     int64_t expires_s, int64_t now_ms)
{
	struct status_cache_ticket t;
	char json[64];
	struct status_body body;

	snprintf(json, sizeof json, "{\"version\":%ld}", v);
	body = (struct status_body){ .json = json, .len = strlen(json), .version = v,
				     .final = false, .status = "processing" };
	status_cache_ticket(c, kind, id, &t);
	status_cache_put(c, &t, kind, STATUS_VIEW_STATUS, id, owner, expires_s, &body, now_ms);
}

/* The version a poll of id by owner gets from memory; -1 a miss, -2 a 404. */
static long
poll_version(struct status_cache *c, enum db_channel kind, const char *id, const char *owner,
	     int64_t now_ms, int64_t now_s)
{
	struct status_hit h;
	long v;

	switch (status_cache_get(c, kind, STATUS_VIEW_STATUS, id, owner, now_ms, now_s, &h)) {
	case STATUS_CACHE_HIT:
		v = h.version;
		assert_non_null(h.json);
		assert_int_equal(strlen(h.json), h.len);
		assert_string_equal(h.status, "processing");
		status_hit_free(&h);
		return v;
	case STATUS_CACHE_NOT_THERE:
		assert_null(h.json);
		return -2;
	default:
		assert_null(h.json);
		return -1;
	}
}

static void
test_hit_after_fill_and_case_of_id(void **state)
{
	struct status_cache_stats stats;
	struct status_cache *c;

	(void)state;
	memset(&stats, 0, sizeof stats);
	c = enabled_cache(1 << 20, &stats);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 0, NOW_S), -1);
	fill(c, DB_CHANNEL_CHAT, ID_A_UPPER, "u", 3, NOW_S + 60, 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 10, NOW_S), 3);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A_UPPER, "u", 10, NOW_S), 3);
	/* The same id of the other kind is another row. */
	assert_int_equal(poll_version(c, DB_CHANNEL_JOB, ID_A, "u", 10, NOW_S), -1);
	assert_int_equal(atomic_load(&stats.hits), 2);
	assert_int_equal(atomic_load(&stats.misses), 2);
	assert_int_equal(atomic_load(&stats.process[0].entries), 1);
	assert_true(atomic_load(&stats.process[0].bytes) > 0);
	assert_int_equal((size_t)atomic_load(&stats.process[0].bytes), bytes_of(c));
	status_cache_free(c);
}

static void
test_other_owner_and_expiry_are_not_there(void **state)
{
	struct status_cache *c = enabled_cache(1 << 20, NULL);

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "alice", 1, NOW_S + 30, 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "bob", 1, NOW_S), -2);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "", 1, NOW_S), -2);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, NULL, 1, NOW_S), -2);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "alice", 1, NOW_S + 29), 1);
	/* At expires_at the database no longer shows it: neither does memory,
	 * and the entry goes. */
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "alice", 2, NOW_S + 30), -2);
	assert_int_equal(entries_of(c), 0);
	/* A job (expires 0) is kept whatever the wall clock. */
	fill(c, DB_CHANNEL_JOB, ID_B, "", 4, 0, 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_JOB, ID_B, "", 2, NOW_S * 2), 4);
	status_cache_free(c);
}

static void
test_entry_read_again_after_max_age(void **state)
{
	struct status_cache *c = enabled_cache(1 << 20, NULL);

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 1000);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1000 + AGE_MS - 1, NOW_S), 1);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1000 + AGE_MS, NOW_S), -1);
	assert_int_equal(entries_of(c), 0);
	/* A read confirming the same version starts its age again. */
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 20000);
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 24000);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 20000 + AGE_MS + 10, NOW_S),
			 1);
	status_cache_free(c);
}

static void
test_notification_drops_and_refuses_a_racing_read(void **state)
{
	struct status_cache *c = enabled_cache(1 << 20, NULL);
	struct status_cache_ticket t;
	const struct status_body v5 = { .json = "{}", .len = 2, .version = 5, .status = "processing" };

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 4, 0, 0);
	/* A read starts, the row changes and is notified, the read ends with
	 * what it saw before: it must not be kept. */
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_A, &t);
	status_cache_forget(c, DB_CHANNEL_CHAT, ID_A);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), -1);
	status_cache_put(c, &t, DB_CHANNEL_CHAT, STATUS_VIEW_STATUS, ID_A, "u", 0, &v5, 1);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 2, NOW_S), -1);
	/* Another row's notification leaves this one alone. */
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 6, 0, 3);
	status_cache_forget(c, DB_CHANNEL_CHAT, ID_B);
	status_cache_forget(c, DB_CHANNEL_JOB, ID_A);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 4, NOW_S), 6);
	status_cache_free(c);
}

static void
test_version_never_goes_back(void **state)
{
	struct status_cache *c = enabled_cache(1 << 20, NULL);
	struct status_cache_ticket stale, t;
	const struct status_body v7 = { .json = "{}", .len = 2, .version = 7, .status = "processing" };
	const struct status_body v8 = { .json = "{}", .len = 2, .version = 8, .status = "processing" };

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 9, 0, 0);
	/* A slow read of an older version arrives after a newer one. */
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 8, 0, 1);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 2, NOW_S), 9);
	/* A newer read whose ticket went stale (any notification in its slot)
	 * is not kept, and the older entry is not kept either: memory must
	 * not answer below what the database has answered. */
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_B, &stale);
	status_cache_forget(c, DB_CHANNEL_CHAT, ID_B);
	fill(c, DB_CHANNEL_CHAT, ID_B, "u", 7, 0, 3);
	status_cache_put(c, &stale, DB_CHANNEL_CHAT, STATUS_VIEW_STATUS, ID_B, "u", 0, &v8, 4);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_B, "u", 5, NOW_S), -1);
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_B, &t);
	status_cache_put(c, &t, DB_CHANNEL_CHAT, STATUS_VIEW_STATUS, ID_B, "u", 0, &v7, 6);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_B, "u", 7, NOW_S), 7);
	status_cache_free(c);
}

static void
test_lost_listen_clears_and_refuses_reads_begun_before(void **state)
{
	struct status_cache_stats stats;
	struct status_cache *c;
	struct status_cache_ticket before;
	const struct status_body v2 = { .json = "{}", .len = 2, .version = 2, .status = "processing" };

	(void)state;
	memset(&stats, 0, sizeof stats);
	c = status_cache_new(1 << 20, AGE_MS, &stats, 0);
	assert_non_null(c);
	/* Not listening yet: nothing is kept. */
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	assert_int_equal(entries_of(c), 0);
	status_cache_enable(c, true);
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	fill(c, DB_CHANNEL_JOB, ID_B, "u", 1, 0, 0);
	assert_int_equal(entries_of(c), 2);
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_A, &before);
	status_cache_enable(c, false);
	assert_int_equal(entries_of(c), 0);
	assert_int_equal(atomic_load(&stats.process[0].entries), 0);
	assert_int_equal(atomic_load(&stats.process[0].bytes), 0);
	assert_int_equal(atomic_load(&stats.clears), 1);
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 2, 0, 1);
	assert_int_equal(entries_of(c), 0);
	/* Back: a read begun before the loss is still refused. */
	status_cache_enable(c, true);
	status_cache_put(c, &before, DB_CHANNEL_CHAT, STATUS_VIEW_STATUS, ID_A, "u", 0, &v2, 2);
	assert_int_equal(entries_of(c), 0);
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 2, 0, 3);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 4, NOW_S), 2);
	status_cache_free(c);
}

static void
test_bound_holds_under_100000_ids(void **state)
{
	const size_t bound = 1 << 20;
	struct status_cache_stats stats;
	struct status_cache *c;
	char id[UUID_STR_LEN + 1];
	char owner[32];

	(void)state;
	memset(&stats, 0, sizeof stats);
	c = enabled_cache(bound, &stats);
	for (long i = 0; i < 100000; i++) {
		snprintf(id, sizeof id, "00000000-0000-4000-8000-%012ld", i);
		snprintf(owner, sizeof owner, "user-%ld", i % 97);
		fill(c, i % 2 ? DB_CHANNEL_JOB : DB_CHANNEL_CHAT, id, owner, i, 0, i);
		assert_true(bytes_of(c) <= bound);
	}
	assert_true(entries_of(c) > 1000);
	assert_true(entries_of(c) < 100000);
	assert_int_equal((size_t)atomic_load(&stats.process[0].entries), entries_of(c));
	assert_int_equal((size_t)atomic_load(&stats.process[0].bytes), bytes_of(c));
	/* The most recent are there, the first are gone. */
	assert_int_equal(poll_version(c, DB_CHANNEL_JOB, id, owner, 100000, NOW_S), 99999);
	snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, id, "user-0", 100000, NOW_S), -1);
	status_cache_free(c);
}

static void
test_least_recently_used_goes_first(void **state)
{
	struct status_cache *c = enabled_cache(4096, NULL);
	char id[UUID_STR_LEN + 1];
	size_t kept;

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	for (int i = 0; entries_of(c) == (size_t)i + 1; i++) {
		snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
		/* ID_A is read before each store: always the most recent. */
		assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), 1);
		fill(c, DB_CHANNEL_CHAT, id, "u", 1, 0, 1);
		assert_true(i < 1000);
	}
	kept = entries_of(c);
	assert_true(kept > 2);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), 1);
	snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, id, "u", 1, NOW_S), -1);
	status_cache_free(c);
}

static void
test_a_body_larger_than_the_bound_is_not_kept(void **state)
{
	struct status_cache *c = enabled_cache(4096, NULL);
	static char big[8192];
	struct status_cache_ticket t;
	struct status_body body = { .json = big, .len = sizeof big - 1, .version = 1,
				    .status = "processing" };

	(void)state;
	memset(big, 'x', sizeof big - 1);
	fill(c, DB_CHANNEL_CHAT, ID_B, "u", 1, 0, 0);
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_A, &t);
	status_cache_put(c, &t, DB_CHANNEL_CHAT, STATUS_VIEW_STATUS, ID_A, "u", 0, &body, 0);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), -1);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_B, "u", 1, NOW_S), 1);
	status_cache_free(c);
}

/* A chat's /status body and its /v1/ object are two entries; a
 * notification of the chat drops both, and a read racing it stores
 * neither. */
static void
test_views_of_one_row_are_kept_apart_and_forgotten_together(void **state)
{
	struct status_cache *c = enabled_cache(1 << 20, NULL);
	struct status_cache_ticket t;
	const struct status_body object = { .json = "{\"object\":\"response\"}", .len = 22,
					    .version = 3, .status = "processing" };
	struct status_hit h;

	(void)state;
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 3, 0, 0);
	assert_int_equal(status_cache_get(c, DB_CHANNEL_CHAT, STATUS_VIEW_RESPONSE, ID_A, "u", 1,
					  NOW_S, &h), STATUS_CACHE_MISS);
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_A, &t);
	status_cache_put(c, &t, DB_CHANNEL_CHAT, STATUS_VIEW_RESPONSE, ID_A, "u", 0, &object, 1);
	assert_int_equal(status_cache_get(c, DB_CHANNEL_CHAT, STATUS_VIEW_RESPONSE, ID_A, "u", 2,
					  NOW_S, &h), STATUS_CACHE_HIT);
	assert_string_equal(h.json, "{\"object\":\"response\"}");
	status_hit_free(&h);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 2, NOW_S), 3);
	assert_int_equal(entries_of(c), 2);
	/* A job of the same id is another row. */
	status_cache_forget(c, DB_CHANNEL_JOB, ID_A);
	assert_int_equal(entries_of(c), 2);
	status_cache_ticket(c, DB_CHANNEL_CHAT, ID_A, &t);
	status_cache_forget(c, DB_CHANNEL_CHAT, ID_A);
	assert_int_equal(entries_of(c), 0);
	status_cache_put(c, &t, DB_CHANNEL_CHAT, STATUS_VIEW_RESPONSE, ID_A, "u", 0, &object, 3);
	assert_int_equal(entries_of(c), 0);
	status_cache_free(c);
}

/* The hub forgets a row before it wakes its waiters, and empties the
 * cache when its LISTEN goes or comes. */
static void
test_hub_keeps_the_cache_in_step(void **state)
{
	struct status_cache *c = status_cache_new(1 << 20, AGE_MS, NULL, 0);
	struct hub *h;

	(void)state;
	assert_non_null(c);
	h = hub_new(c);
	assert_non_null(h);
	hub_set_listening(h, true);
	fill(c, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	fill(c, DB_CHANNEL_CHAT, ID_B, "u", 1, 0, 0);
	hub_heard(h, DB_CHANNEL_CHAT, ID_A);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), -1);
	assert_int_equal(poll_version(c, DB_CHANNEL_CHAT, ID_B, "u", 1, NOW_S), 1);
	hub_set_listening(h, false);
	assert_int_equal(entries_of(c), 0);
	fill(c, DB_CHANNEL_CHAT, ID_B, "u", 2, 0, 2);
	assert_int_equal(entries_of(c), 0);
	hub_set_listening(h, true);
	fill(c, DB_CHANNEL_CHAT, ID_B, "u", 2, 0, 2);
	assert_int_equal(entries_of(c), 1);
	hub_free(h);
	status_cache_free(c);
}

static void
test_shared_stats_map(void **state)
{
	struct status_cache_stats *s = status_cache_stats_new();
	struct status_cache *one, *two, *again;
	long entries, bytes;

	(void)state;
	assert_non_null(s);
	assert_int_equal(atomic_load(&s->hits), 0);
	/* Two processes count into one block; a replaced one starts at 0. */
	one = status_cache_new(1 << 20, AGE_MS, s, 0);
	two = status_cache_new(1 << 20, AGE_MS, s, 1);
	assert_non_null(one);
	assert_non_null(two);
	assert_null(status_cache_new(1 << 20, AGE_MS, s, STATUS_CACHE_PROCESSES_MAX));
	assert_null(status_cache_new(1 << 20, AGE_MS, s, -1));
	status_cache_enable(one, true);
	status_cache_enable(two, true);
	fill(one, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	fill(two, DB_CHANNEL_CHAT, ID_A, "u", 1, 0, 0);
	fill(two, DB_CHANNEL_CHAT, ID_B, "u", 1, 0, 0);
	assert_int_equal(poll_version(one, DB_CHANNEL_CHAT, ID_A, "u", 1, NOW_S), 1);
	assert_int_equal(poll_version(two, DB_CHANNEL_CHAT, ID_B, "u", 1, NOW_S), 1);
	assert_int_equal(atomic_load(&s->hits), 2);
	status_cache_stats_size(s, &entries, &bytes);
	assert_int_equal(entries, 3);
	assert_int_equal((size_t)bytes, bytes_of(one) + bytes_of(two));
	/* Process 1 dies without freeing; its replacement takes its place. */
	again = status_cache_new(1 << 20, AGE_MS, s, 1);
	assert_non_null(again);
	status_cache_stats_size(s, &entries, &bytes);
	assert_int_equal(entries, 1);
	assert_int_equal((size_t)bytes, bytes_of(one));
	status_cache_free(one);
	status_cache_free(again);
	/* Last: its gauges are its replacement's now (they go below 0). */
	status_cache_free(two);
	status_cache_stats_free(s);
	status_cache_stats_free(NULL);
	status_cache_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_after_fill_and_case_of_id),
		cmocka_unit_test(test_other_owner_and_expiry_are_not_there),
		cmocka_unit_test(test_entry_read_again_after_max_age),
		cmocka_unit_test(test_notification_drops_and_refuses_a_racing_read),
		cmocka_unit_test(test_version_never_goes_back),
		cmocka_unit_test(test_lost_listen_clears_and_refuses_reads_begun_before),
		cmocka_unit_test(test_bound_holds_under_100000_ids),
		cmocka_unit_test(test_least_recently_used_goes_first),
		cmocka_unit_test(test_a_body_larger_than_the_bound_is_not_kept),
		cmocka_unit_test(test_views_of_one_row_are_kept_apart_and_forgotten_together),
		cmocka_unit_test(test_hub_keeps_the_cache_in_step),
		cmocka_unit_test(test_shared_stats_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
