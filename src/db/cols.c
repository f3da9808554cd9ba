/* cols.c: the columns of a grouped statement (see cols.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/cols.h"
#include "db/db.h"

enum aigw_err
db_cols_literals(const char **items[], size_t ncols, size_t n, char *arrays[])
{
	for (size_t k = 0; k < ncols; k++) {
		arrays[k] = db_array_literal(items[k], n);
		if (arrays[k] == NULL) {
			for (size_t j = 0; j < k; j++) {
				free(arrays[j]);
				arrays[j] = NULL;
			}
			return AIGW_ENOMEM;
		}
	}
	return AIGW_OK;
}

bool
db_cols_new(const char **items[], size_t ncols, size_t n)
{
	bool ok = true;

	for (size_t k = 0; k < ncols; k++) {
		items[k] = calloc(n, sizeof *items[k]);
		ok = ok && items[k] != NULL;
	}
	if (!ok)
		for (size_t k = 0; k < ncols; k++) {
			free(items[k]);
			items[k] = NULL;
		}
	return ok;
}

void
db_cols_free(const char **items[], char *arrays[], size_t ncols)
{
	for (size_t k = 0; k < ncols; k++) {
		free(items[k]);
		free(arrays[k]);
	}
}

bool
db_fenced_cols_new(struct db_fenced_cols *c, size_t ncols, size_t n)
{
	memset(c, 0, sizeof *c);
	c->ncols = ncols;
	c->att = calloc(n ? n : 1, sizeof *c->att);
	if (c->att != NULL && db_cols_new(c->items, ncols, n))
		return true;
	free(c->att);
	c->att = NULL;
	return false;
}

void
db_fenced_cols_row(struct db_fenced_cols *c, size_t i, const char *id, int attempt)
{
	snprintf(c->att[i], sizeof c->att[i], "%d", attempt);
	c->items[0][i] = id;
	c->items[1][i] = c->att[i];
}

void
db_fenced_cols_free(struct db_fenced_cols *c)
{
	db_cols_free(c->items, c->arrays, c->ncols);
	free(c->att);
}
