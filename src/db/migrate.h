/*
 * migrate.h: the database side of migrations (the command is
 * cli/migrate.c): applies the numbered SQL files of a directory in order.
 *
 * Each file not yet recorded in schema_migrations runs in its own
 * transaction together with its record, so a failing file leaves nothing
 * half-applied. Concurrent runs are serialised by an advisory lock, so
 * running it again (or twice at once) is harmless. Errors: AIGW_EDB (the
 * failing file is logged), AIGW_EIO (directory or file unreadable).
 */
#ifndef AIGW_DB_MIGRATE_H
#define AIGW_DB_MIGRATE_H

#include "core/err.h"
#include "db/db.h"

/* *applied receives how many files were applied now. */
enum aigw_err db_migrate(struct db *db, const char *dir, int *applied) AIGW_MUSTCHECK;

#endif
