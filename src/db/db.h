/*
 * db.h: the connection to PostgreSQL, and the only door SQL goes through.
 *
 * A struct db owns one PGconn and knows which statements it has prepared
 * on it. Every statement of aigw is a struct db_stmt that the db module
 * running it defines beside the function that runs it, and is run with
 * parameters; nothing builds SQL from input. db_exec() (re)connects
 * on demand and, when the connection turns out to be dead, reconnects and
 * retries once, so a handler survives a database restart without help
 * (except inside a transaction, see db_begin).
 * Nothing waits on the database for ever: connecting, and (but for the
 * command line's connections) every statement, gives up after
 * AIGW_DB_TIMEOUT_S and closes the connection, whose state is unknown then;
 * keepalives and tcp_user_timeout notice a silent peer on idle connections.
 * One struct db per thread: not thread-safe. Failures are AIGW_EDB with the
 * reason logged (never the connection string, which may hold a password).
 */
#ifndef AIGW_DB_DB_H
#define AIGW_DB_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "core/err.h"

/*
 * One statement: a static const of the db module that runs it. Its name
 * names it prepared on a direct connection, so it is unique in aigw.
 * idempotent: running it twice leaves the database and its answer as
 * running it once, so it is re-run once when its connection is lost; a
 * claim or an insert the server may have committed is not (see db_exec).
 */
struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
	bool idempotent;
};

struct db;

/* What a connection is for, which decides its settings (db_open). */
enum db_use {
	DB_USE_REQUEST,      /* aigw-fcgi's request threads */
	DB_USE_WORK,         /* workers, the waker */
	DB_USE_LISTEN,       /* LISTEN: AIGW_LISTEN_DATABASE_URL, never pooled */
	DB_USE_CLI,          /* the command line: statements without a deadline */
	DB_USE_CLI_SESSION   /* the command line's session locks: as LISTEN */
};

struct db_options {
	long timeout_s;          /* AIGW_DB_TIMEOUT_S; 0: libpq's defaults, no deadline */
	bool deadline;           /* statements give up after timeout_s */
	bool unnamed;            /* no prepared statements (a transaction pooler) */
	bool statement_timeout;  /* the server's statement_timeout as well */
};

/* Stores the conninfo and the options (NULL: none); does not connect yet
 * (the first db_exec does). NULL on ENOMEM. */
struct db *db_new(const char *conninfo);
struct db *db_new_with(const char *conninfo, const struct db_options *opt);
/* A struct db for use with the configuration's URL and settings. NULL on
 * ENOMEM. */
struct db *db_open(const struct aigw_config *cfg, enum db_use use);
void db_free(struct db *db);
/* The options db_open gives a connection for use. Cannot fail. */
void db_options_of(const struct aigw_config *cfg, enum db_use use, struct db_options *opt);

/* At most this many keywords go to libpq. */
#define DB_CONN_PARAMS_MAX 12
/* Fills keys and vals (NULL-terminated, bufs holds the numbers) with the
 * connection keywords for opt, conninfo last so that what it sets wins;
 * returns how many. Cannot fail. */
size_t db_conn_params(const struct db_options *opt, const char *conninfo, const char **keys,
		      const char **vals, char (*bufs)[48]);
/* AIGW_DB_TIMEOUT_S of this connection (0: none). Cannot fail. */
long db_timeout_s(const struct db *db);

/* Connects now if not connected. AIGW_EDB when the server cannot be reached. */
enum aigw_err db_connect(struct db *db) AIGW_MUSTCHECK;
/* The live connection, or NULL: for PQsocket, LISTEN and notifications. */
PGconn *db_conn(struct db *db);
/* Which connection this is: a number that changes with every new
 * connection (0 while there is none), so a caller can tell that state it
 * set up on the server (LISTEN) is gone, even when libpq reuses an
 * address. Cannot fail. */
unsigned long db_connection_id(const struct db *db);
/* Closes the connection, and with it whatever session state it had
 * (LISTEN); the next statement connects afresh. Cannot fail. */
void db_reset(struct db *db);
/* True when the last failure was a lost connection (a statement's or a
 * commit's). */
bool db_connection_lost(const struct db *db);

/*
 * Runs a statement; when the connection turns out to be dead, an
 * idempotent one (stmt->idempotent) is run once more on a fresh
 * connection, any other fails with db_connection_lost() true: its caller
 * looks for what it may have done. On AIGW_OK *out holds a PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK result that the caller PQclear()s; on error *out is NULL.
 * values are text parameters (NULL for SQL NULL), as many as the statement
 * takes.
 */
enum aigw_err db_exec(struct db *db, const struct db_stmt *stmt, const char *const *values,
		      PGresult **out) AIGW_MUSTCHECK;

/* A token for one claim of worker (its name, host:pid), stored as the
 * claimed rows' worker (host#N:pid): unique in the process, so that after
 * a lost connection the rows that claim took, if it was committed, can be
 * found. Cannot fail (cut to len). */
#define DB_CLAIM_TOKEN_MAX 320
void db_claim_token(const char *worker, char *buf, size_t len);

/* After a claim whose answer was lost with the connection: the server may
 * have committed it, and its rows, found by `claimed` ($1 the claim's
 * token), are ours to run, not orphans until their lease runs out (each
 * such wait costs an attempt). Replaces *res with them; what ("chat",
 * "job") names them in the log line. Fails as db_exec. */
enum aigw_err db_claimed_after_loss(struct db *db, const struct db_stmt *claimed,
				    const char *token, const char *what,
				    PGresult **res) AIGW_MUSTCHECK;

/* Runs a statement that returns one text column: *text is a copy of
 * column col of its only row, or NULL (and AIGW_OK) when no row came back
 * or the value is NULL. */
enum aigw_err db_exec_text(struct db *db, const struct db_stmt *stmt, const char *const *values,
			   int col, char **text) AIGW_MUSTCHECK;
/* A copy of a result's value, NULL when it is NULL or memory is short. */
char *db_value_dup(const PGresult *res, int row, int col);
/* The array literal ({"a","b\\"c",NULL}) of n strings, a NULL item an
 * SQL NULL, for an array parameter (text[], jsonb[], uuid[], int[],
 * bool[]). malloc'd; NULL on ENOMEM. */
char *db_array_literal(const char *const *items, size_t n);

/* Runs a statement for its effect: *rows receives the rows it returned,
 * or for a plain UPDATE the rows it changed. */
enum aigw_err db_exec_rows(struct db *db, const struct db_stmt *stmt, const char *const *values,
			   int *rows) AIGW_MUSTCHECK;

/*
 * A transaction on the connection, for statements that must read and
 * write as one (BEGIN; lock; count; insert; COMMIT). Inside it db_exec
 * never reconnects: a fresh connection would run the rest outside the
 * transaction, so a lost connection is AIGW_EDB. db_begin: AIGW_EDB (no
 * transaction then), AIGW_EINVAL when one is open already. db_commit:
 * AIGW_OK only when the server says COMMIT (a failed transaction answers
 * ROLLBACK); the transaction is over either way. db_rollback ends an open
 * transaction, if any, and cannot fail: when ROLLBACK cannot be sent the
 * connection is closed, which rolls back on the server too.
 */
enum aigw_err db_begin(struct db *db) AIGW_MUSTCHECK;
enum aigw_err db_commit(struct db *db) AIGW_MUSTCHECK;
void db_rollback(struct db *db);

/* Runs a write fenced by a claim: $1 is the row's id, $2 the claim's
 * attempt, and extra (when not NULL) $3. *ours is true when exactly one row
 * was changed, false when the fence kept it out. */
enum aigw_err db_exec_fenced(struct db *db, const struct db_stmt *stmt, const char *id, int attempt,
			     const char *extra, bool *ours) AIGW_MUSTCHECK;

/* Wakes the workers (NOTIFY aigw_work). A hint only: AIGW_EDB is logged
 * by the caller and otherwise ignored. */
enum aigw_err db_notify_work(struct db *db) AIGW_MUSTCHECK;


/* Runs a fixed command without parameters and without retry (LISTEN,
 * migrations). AIGW_EDB on failure. */
enum aigw_err db_command(struct db *db, const char *sql) AIGW_MUSTCHECK;

#endif
