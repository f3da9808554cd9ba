/* test_pieces.c: a call's streamed text on its way to the database, with a
 * fake clock: coalescing, order, resets, the bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "providers/stream.h"
#include "worker/pieces.h"

#define FLUSH 50

/* Writes p's waiting pieces as a runner does; returns how many, their
 * texts copied into texts (the rows borrow them only until written). */
static char texts[2][64];

static size_t
flush(struct pieces *p, struct db_piece rows[2])
{
	const struct db_piece base = { .id = "c", .attempt = 1, .provider = "openai" };
	struct pieces *streams[2];
	size_t n = pieces_rows(p, &base, rows, streams);

	assert_int_equal(n, pieces_count(p));
	for (size_t i = 0; i < n; i++) {
		snprintf(texts[i], sizeof texts[i], "%s", rows[i].text);
		rows[i].text = texts[i];
	}
	pieces_rows_written(streams, n);
	return n;
}

static void
test_text_coalesces_until_the_first_is_due(void **state)
{
	struct pieces p;
	struct db_piece rows[2];
	const struct db_piece base = { .id = "c", .attempt = 1, .provider = "openai" };
	struct pieces *streams[2];

	(void)state;
	pieces_init(&p);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_add(&p, "Hello", 5, 1000), AIGW_OK);
	assert_int_equal(pieces_add(&p, "", 0, 1010), AIGW_OK);
	assert_int_equal(pieces_add(&p, ", world", 7, 1030), AIGW_OK);
	/* Due FLUSH after the first new text, not after the last. */
	assert_int_equal(pieces_due(&p, FLUSH), 1000 + FLUSH);
	assert_int_equal(pieces_count(&p), 1);
	assert_int_equal(pieces_rows(&p, &base, rows, streams), 1);
	assert_string_equal(rows[0].text, "Hello, world");
	assert_false(rows[0].reset);
	assert_string_equal(rows[0].id, "c");
	assert_string_equal(rows[0].provider, "openai");
	pieces_rows_written(streams, 1);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	/* The next text is due from its own arrival. */
	assert_int_equal(pieces_add(&p, "!", 1, 2000), AIGW_OK);
	assert_int_equal(pieces_due(&p, FLUSH), 2000 + FLUSH);
	pieces_free(&p);
}

static void
test_a_write_without_answer_is_said_again_whole(void **state)
{
	struct pieces p;
	struct db_piece rows[2];
	const struct db_piece base = { .id = "c", .attempt = 1, .provider = "openai" };
	struct pieces *streams[2];

	(void)state;
	pieces_init(&p);
	pieces_restart(&p, 0);
	assert_int_equal(pieces_add(&p, "one ", 4, 0), AIGW_OK);
	assert_int_equal(flush(&p, rows), 1);
	assert_int_equal(pieces_add(&p, "two ", 4, 100), AIGW_OK);
	/* The write of "two " got no answer: it may be stored or not. */
	assert_int_equal(pieces_rows(&p, &base, rows, streams), 1);
	pieces_rows_held(streams, 1);
	assert_int_equal(pieces_add(&p, "three", 5, 200), AIGW_OK);
	/* So the next write resets and says the attempt's text whole. */
	assert_int_equal(flush(&p, rows), 2);
	assert_true(rows[0].reset);
	assert_string_equal(rows[1].text, "one two three");
	/* A held write of a reset alone stays a reset. */
	pieces_restart(&p, 300);
	assert_int_equal(pieces_rows(&p, &base, rows, streams), 1);
	pieces_rows_held(streams, 1);
	assert_int_equal(flush(&p, rows), 1);
	assert_true(rows[0].reset);
	pieces_free(&p);
}

static void
test_a_held_write_keeps_the_text_in_order(void **state)
{
	struct pieces p;
	struct db_piece rows[2];

	(void)state;
	pieces_init(&p);
	assert_int_equal(pieces_add(&p, "one ", 4, 0), AIGW_OK);
	/* The database was away: nothing is written, more text comes. */
	assert_int_equal(pieces_flush_at(pieces_due(&p, FLUSH), 1000), 1000);
	assert_int_equal(pieces_flush_at(pieces_due(&p, FLUSH), 0), FLUSH);
	assert_int_equal(pieces_add(&p, "two", 3, 500), AIGW_OK);
	assert_int_equal(pieces_due(&p, FLUSH), FLUSH);
	assert_int_equal(flush(&p, rows), 1);
	assert_string_equal(rows[0].text, "one two");
	pieces_free(&p);
}

static void
test_a_new_attempt_resets_only_written_text(void **state)
{
	struct pieces p;
	struct db_piece rows[2];

	(void)state;
	pieces_init(&p);
	/* The first attempt: no reset before it. */
	pieces_restart(&p, 0);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	/* Its text was never written: a retry drops it without a reset. */
	assert_int_equal(pieces_add(&p, "lost", 4, 10), AIGW_OK);
	pieces_restart(&p, 20);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	/* Written text, then a retry: a reset, due FLUSH after it, goes
	 * before the new attempt's text. */
	assert_int_equal(pieces_add(&p, "half", 4, 30), AIGW_OK);
	assert_int_equal(flush(&p, rows), 1);
	assert_int_equal(pieces_add(&p, " more", 5, 90), AIGW_OK);
	pieces_restart(&p, 100);
	assert_int_equal(pieces_count(&p), 1);
	assert_int_equal(pieces_due(&p, FLUSH), 100 + FLUSH);
	assert_int_equal(pieces_add(&p, "whole", 5, 120), AIGW_OK);
	assert_int_equal(pieces_due(&p, FLUSH), 100 + FLUSH);
	assert_int_equal(flush(&p, rows), 2);
	assert_true(rows[0].reset);
	assert_string_equal(rows[0].text, "");
	assert_false(rows[1].reset);
	assert_string_equal(rows[1].text, "whole");
	/* A reset written alone leaves nothing to reset again. */
	pieces_restart(&p, 200);
	assert_int_equal(flush(&p, rows), 1);
	assert_true(rows[0].reset);
	pieces_restart(&p, 300);
	assert_int_equal(pieces_count(&p), 0);
	pieces_free(&p);
}

static void
test_a_dead_workers_text_is_reset(void **state)
{
	struct pieces p;
	struct db_piece rows[2];

	(void)state;
	pieces_init(&p);
	pieces_mark_written(&p);
	pieces_restart(&p, 5);
	assert_int_equal(pieces_due(&p, FLUSH), 5 + FLUSH);
	assert_int_equal(flush(&p, rows), 1);
	assert_true(rows[0].reset);
	pieces_free(&p);
}

static void
test_the_end_writes_a_complete_answer_at_once(void **state)
{
	struct pieces p;
	struct db_piece rows[2];

	(void)state;
	pieces_init(&p);
	/* An answer that came whole within one interval: its result alone. */
	assert_int_equal(pieces_add(&p, "all of it", 9, 0), AIGW_OK);
	pieces_end(&p, true, 20);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	/* One being streamed: its last text goes at once, before its result. */
	pieces_restart(&p, 100);
	assert_int_equal(pieces_add(&p, "first ", 6, 100), AIGW_OK);
	assert_int_equal(flush(&p, rows), 1);
	assert_int_equal(pieces_add(&p, "last", 4, 180), AIGW_OK);
	assert_int_equal(pieces_due(&p, FLUSH), 180 + FLUSH);
	pieces_end(&p, true, 190);
	assert_int_equal(pieces_due(&p, FLUSH), 180);
	assert_int_equal(flush(&p, rows), 1);
	assert_string_equal(rows[0].text, "last");
	/* A failure's text (and reset) is superseded by its result. */
	pieces_restart(&p, 200);
	assert_int_equal(pieces_add(&p, "partial", 7, 210), AIGW_OK);
	pieces_end(&p, false, 220);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	/* An answer complete with nothing waiting has nothing due. */
	pieces_end(&p, true, 300);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	pieces_free(&p);
}

static void
test_the_waiting_text_is_bounded(void **state)
{
	struct pieces p;
	size_t big = PROV_STREAM_TEXT_MAX;
	char *s = malloc(big + 1);

	(void)state;
	assert_non_null(s);
	memset(s, 'a', big + 1);
	pieces_init(&p);
	assert_int_equal(pieces_add(&p, s, big, 0), AIGW_OK);
	assert_int_equal(pieces_add(&p, s, 1, 1), AIGW_ETOOBIG);
	assert_int_equal(p.text.len, big);
	pieces_free(&p);
	pieces_init(&p);
	assert_int_equal(pieces_add(&p, s, big + 1, 0), AIGW_ETOOBIG);
	assert_int_equal(pieces_count(&p), 0);
	assert_int_equal(pieces_due(&p, FLUSH), PIECES_NEVER);
	pieces_free(&p);
	free(s);
}

static void
test_many_streams_flush_together(void **state)
{
	struct pieces a, b;

	(void)state;
	pieces_init(&a);
	pieces_init(&b);
	assert_int_equal(pieces_add(&a, "a", 1, 10), AIGW_OK);
	assert_int_equal(pieces_add(&b, "b", 1, 40), AIGW_OK);
	/* The earliest due decides: b's newer text goes with a's. */
	{
		int64_t da = pieces_due(&a, FLUSH), db = pieces_due(&b, FLUSH);

		assert_int_equal(pieces_flush_at(da < db ? da : db, 0), 10 + FLUSH);
	}
	pieces_free(&a);
	pieces_free(&b);
}

/* A fake statement: keeps what it was given, answers as told. */
static struct {
	enum aigw_err answer;
	size_t calls, rows;
	char text[64][16];
} fake_db;

static enum aigw_err
fake_write(struct db *db, struct db_piece *rows, size_t n, uint64_t write_no)
{
	(void)db;
	/* Every write is numbered above the one before. */
	assert_int_equal(write_no, fake_db.calls + 1);
	fake_db.calls++;
	fake_db.rows = n;
	for (size_t i = 0; i < n && i < 64; i++)
		snprintf(fake_db.text[i], sizeof fake_db.text[i], "%s", rows[i].reset ? "<reset>" : rows[i].text);
	return fake_db.answer;
}

static void
test_a_flush_writes_every_stream_in_one_statement(void **state)
{
	const struct db_piece base = { .id = "c", .attempt = 1, .provider = "p" };
	struct pieces p[40];
	struct pieces_flush f;
	uint64_t writes = 0;
	char word[16];

	(void)state;
	memset(&fake_db, 0, sizeof fake_db);
	for (int i = 0; i < 40; i++) {
		pieces_init(&p[i]);
		snprintf(word, sizeof word, "w%d", i);
		assert_int_equal(pieces_add(&p[i], word, strlen(word), 0), AIGW_OK);
	}
	/* Nothing waits: no statement. */
	pieces_flush_init(&f);
	assert_true(pieces_flush_write(&f, NULL, fake_write, &writes));
	assert_int_equal(fake_db.calls, 0);
	/* The database is away: one try; the write may have been stored all
	 * the same, so each stream says its text again after a reset. */
	fake_db.answer = AIGW_EDB;
	pieces_flush_init(&f);
	for (int i = 0; i < 40; i++)
		pieces_flush_add(&f, &p[i], &base);
	assert_false(pieces_flush_write(&f, NULL, fake_write, &writes));
	assert_int_equal(fake_db.calls, 1);
	assert_int_equal(fake_db.rows, 40);
	assert_int_equal(pieces_count(&p[7]), 2);
	/* Back: 80 rows past the first capacity, in their order, in one. */
	fake_db.answer = AIGW_OK;
	pieces_flush_init(&f);
	for (int i = 0; i < 40; i++)
		pieces_flush_add(&f, &p[i], &base);
	assert_true(pieces_flush_write(&f, NULL, fake_write, &writes));
	assert_int_equal(fake_db.calls, 2);
	assert_int_equal(fake_db.rows, 80);
	assert_string_equal(fake_db.text[0], "<reset>");
	assert_string_equal(fake_db.text[1], "w0");
	assert_string_equal(fake_db.text[63], "w31");
	for (int i = 0; i < 40; i++) {
		assert_int_equal(pieces_count(&p[i]), 0);
		pieces_free(&p[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_coalesces_until_the_first_is_due),
		cmocka_unit_test(test_a_held_write_keeps_the_text_in_order),
		cmocka_unit_test(test_a_write_without_answer_is_said_again_whole),
		cmocka_unit_test(test_a_new_attempt_resets_only_written_text),
		cmocka_unit_test(test_a_dead_workers_text_is_reset),
		cmocka_unit_test(test_the_end_writes_a_complete_answer_at_once),
		cmocka_unit_test(test_the_waiting_text_is_bounded),
		cmocka_unit_test(test_many_streams_flush_together),
		cmocka_unit_test(test_a_flush_writes_every_stream_in_one_statement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
