/*
 * cols.h: the columns of a grouped statement: n rows passed as one array
 * literal per column (parameters, never SQL text built from values), and
 * the fenced form whose first two columns are each row's id and claim
 * attempt. Private to src/db.
 *
 * Owns the item arrays and literals it allocates (freed by the matching
 * _free, also after a failure). Fails only on ENOMEM.
 */
#ifndef AIGW_DB_COLS_H
#define AIGW_DB_COLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* The array literals of columns items[0..ncols) over n rows; arrays[k]
 * malloc'd, all NULL on ENOMEM. */
enum aigw_err db_cols_literals(const char **items[], size_t ncols, size_t n, char *arrays[]);
/* ncols arrays of n item pointers each; false (none left) on ENOMEM. */
bool db_cols_new(const char **items[], size_t ncols, size_t n);
void db_cols_free(const char **items[], char *arrays[], size_t ncols);

/* The columns of a worker's write to many rows, each fenced by its
 * claim: columns 0 and 1 are every row's id and attempt. */
#define DB_FENCED_COLS_MAX 6
struct db_fenced_cols {
	size_t ncols;
	const char **items[DB_FENCED_COLS_MAX];
	char *arrays[DB_FENCED_COLS_MAX];
	char (*att)[16];
};

/* ncols columns of n rows; false (nothing left to free) on ENOMEM. */
bool db_fenced_cols_new(struct db_fenced_cols *c, size_t ncols, size_t n);
/* Sets row i's id and attempt (the attempt's text is kept in c). */
void db_fenced_cols_row(struct db_fenced_cols *c, size_t i, const char *id, int attempt);
void db_fenced_cols_free(struct db_fenced_cols *c);

#endif
