/* pieces.c: one call's streamed text on its way (see pieces.h). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "providers/stream.h"
#include "worker/pieces.h"

void
pieces_init(struct pieces *p)
{
	buf_init(&p->text, PROV_STREAM_TEXT_MAX);
	buf_init(&p->all, PROV_STREAM_TEXT_MAX);
	p->reset = false;
	p->written = false;
	p->last = false;
	p->since_ms = PIECES_NEVER;
}

void
pieces_free(struct pieces *p)
{
	buf_free(&p->text);
	buf_free(&p->all);
}

enum aigw_err
pieces_add(struct pieces *p, const char *s, size_t n, int64_t now)
{
	enum aigw_err err;

	if (n == 0)
		return AIGW_OK;
	if ((err = buf_append(&p->all, s, n)) != AIGW_OK)
		return err;
	if ((err = buf_append(&p->text, s, n)) != AIGW_OK) {
		/* Both or neither: all takes back what it just got. */
		p->all.len -= n;
		p->all.data[p->all.len] = '\0';
		return err;
	}
	if (p->since_ms == PIECES_NEVER)
		p->since_ms = now;
	return AIGW_OK;
}

void
pieces_restart(struct pieces *p, int64_t now)
{
	bool held = p->reset; /* a reset already waiting keeps its time */

	buf_reset(&p->text);
	buf_reset(&p->all);
	p->last = false;
	if (p->written) {
		p->reset = true;
		p->written = false;
	}
	if (!p->reset)
		p->since_ms = PIECES_NEVER;
	else if (!held)
		p->since_ms = now;
}

void
pieces_mark_written(struct pieces *p)
{
	p->written = true;
}

void
pieces_end(struct pieces *p, bool ok, int64_t now)
{
	if (ok && p->written && p->text.len > 0) {
		p->last = true;
		if (p->since_ms == PIECES_NEVER)
			p->since_ms = now;
		return;
	}
	buf_reset(&p->text);
	p->reset = false;
	p->since_ms = PIECES_NEVER;
}

size_t
pieces_count(const struct pieces *p)
{
	return (size_t)p->reset + (p->text.len > 0);
}

void
pieces_written(struct pieces *p)
{
	if (p->text.len > 0)
		p->written = true;
	buf_reset(&p->text);
	p->reset = false;
	p->last = false;
	p->since_ms = PIECES_NEVER;
}

size_t
pieces_rows(struct pieces *p, const struct db_piece *base, struct db_piece *rows,
	    struct pieces **streams)
{
	size_t n = 0;

	if (p->reset) {
		rows[n] = *base;
		rows[n].reset = true;
		rows[n].text = "";
		streams[n++] = p;
	}
	if (p->text.len > 0) {
		rows[n] = *base;
		rows[n].reset = false;
		rows[n].text = p->text.data;
		streams[n++] = p;
	}
	return n;
}

void
pieces_rows_held(struct pieces **streams, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pieces *p = streams[i];

		if ((i + 1 < n && streams[i + 1] == p) || p->text.len == 0)
			continue;
		/* Its text may be stored: the next write says it all again. */
		p->reset = true;
		buf_reset(&p->text);
		if (buf_append(&p->text, p->all.data, p->all.len) != AIGW_OK)
			buf_reset(&p->text); /* the final result will hold it */
	}
}

void
pieces_rows_written(struct pieces **streams, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || streams[i + 1] != streams[i])
			pieces_written(streams[i]);
}

void
pieces_flush_init(struct pieces_flush *f)
{
	memset(f, 0, sizeof *f);
}

void
pieces_flush_add(struct pieces_flush *f, struct pieces *p, const struct db_piece *base)
{
	size_t need = f->n + pieces_count(p);

	if (f->failed || need == f->n)
		return;
	if (need > f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct db_piece *rows;
		struct pieces **streams;

		while (cap < need)
			cap *= 2;
		rows = reallocarray(f->rows, cap, sizeof *rows);
		if (rows != NULL)
			f->rows = rows;
		streams = reallocarray(f->streams, cap, sizeof *streams);
		if (streams != NULL)
			f->streams = streams;
		if (rows == NULL || streams == NULL) {
			f->failed = true;
			return;
		}
		f->cap = cap;
	}
	f->n += pieces_rows(p, base, f->rows + f->n, f->streams + f->n);
}

bool
pieces_flush_write(struct pieces_flush *f, struct db *db, pieces_write_fn write,
		   uint64_t *writes)
{
	bool stored = !f->failed;

	if (stored && f->n > 0) {
		if (write(db, f->rows, f->n, ++*writes) == AIGW_OK) {
			pieces_rows_written(f->streams, f->n);
		} else {
			log_debug("worker", NULL, "streamed text not written; kept for a later flush");
			pieces_rows_held(f->streams, f->n);
			stored = false;
		}
	}
	free(f->rows);
	free(f->streams);
	pieces_flush_init(f);
	return stored;
}

int64_t
pieces_due(const struct pieces *p, long flush_ms)
{
	if (p->since_ms == PIECES_NEVER)
		return PIECES_NEVER;
	return p->last ? p->since_ms : p->since_ms + flush_ms;
}

int64_t
pieces_flush_at(int64_t earliest_due, int64_t hold_until)
{
	return earliest_due > hold_until ? earliest_due : hold_until;
}
