/*
 * db.c: connection handling, the cache of prepared statements, and the
 * running of statements (the statements themselves live with the db
 * modules that run them).
 *
 * Statements are prepared lazily, once per connection, the first time they
 * are used (or sent unnamed behind a transaction pooler). Every wait on the
 * server is a poll() with the connection's deadline. An idempotent
 * statement that fails because the connection died is retried once on a
 * fresh connection; any other is not (the server may have run it), and
 * its caller looks for what it did. Inside a transaction (db_begin)
 * nothing is retried: the fresh connection would be outside it.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "db/db.h"

struct db {
	PGconn *conn;
	char *conninfo;
	struct db_options opt;
	/* The statements prepared on this connection. A list searched from
	 * the start: aigw has fewer than a hundred statements, and a search
	 * costs nothing beside the round trip that follows. */
	const struct db_stmt **prepared;
	size_t nprepared, prepared_cap;
	bool lost;
	bool timed_out;            /* the last wait ran out: no retry, the time is spent */
	bool in_tx;                /* between db_begin and db_commit/db_rollback */
	unsigned long conn_id;     /* counts connections made */
};

struct db *
db_new_with(const char *conninfo, const struct db_options *opt)
{
	struct db *db = calloc(1, sizeof *db);

	if (db == NULL)
		return NULL;
	db->conninfo = strdup(conninfo ? conninfo : "");
	if (db->conninfo == NULL) {
		free(db);
		return NULL;
	}
	if (opt != NULL)
		db->opt = *opt;
	return db;
}

struct db *
db_new(const char *conninfo)
{
	return db_new_with(conninfo, NULL);
}

void
db_options_of(const struct aigw_config *cfg, enum db_use use, struct db_options *opt)
{
	bool session = use == DB_USE_LISTEN || use == DB_USE_CLI_SESSION;

	memset(opt, 0, sizeof *opt);
	opt->timeout_s = cfg->db_timeout_s;
	/* The command line may run long statements (migrations, a reap of
	 * a big table); everything that serves or works gives up in time. */
	opt->deadline = use != DB_USE_CLI && use != DB_USE_CLI_SESSION;
	/* Session state survives only on a connection of its own: a
	 * transaction pooler would hand the session to someone else. */
	opt->unnamed = !session && cfg->db_pooler == POOLER_TRANSACTION;
	/* A server-side limit too, so that a statement cut off by the
	 * deadline does not go on holding locks; as a startup option it is
	 * session state, which a pooler does not pass on. */
	opt->statement_timeout = use == DB_USE_REQUEST && cfg->db_pooler == POOLER_NONE;
}

struct db *
db_open(const struct aigw_config *cfg, enum db_use use)
{
	struct db_options opt;
	bool session = use == DB_USE_LISTEN || use == DB_USE_CLI_SESSION;
	const char *url = cfg->database_url;

	if (session && cfg->listen_database_url != NULL && *cfg->listen_database_url != '\0')
		url = cfg->listen_database_url;
	db_options_of(cfg, use, &opt);
	return db_new_with(url, &opt);
}

static void
disconnect(struct db *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
	free(db->prepared);
	free(db->conninfo);
	free(db);
}

static void
notice_quiet(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

/* The end of a wait of timeout_s from now; 0 (none) for timeout_s 0. */
static int64_t
deadline_in(long timeout_s)
{
	return timeout_s > 0 ? time_mono_ms() + timeout_s * 1000 : 0;
}

/* Waits until fd is ready for events or deadline_ms (0: none) passes.
 * 1 ready, 0 timed out, -1 poll() failed. */
static int
wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = -1, rc;

		if (deadline_ms > 0) {
			int64_t left = deadline_ms - time_mono_ms();

			if (left <= 0)
				return 0;
			ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		rc = poll(&p, 1, ms);
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

size_t
db_conn_params(const struct db_options *opt, const char *conninfo, const char **keys,
	       const char **vals, char (*bufs)[48])
{
	size_t n = 0;
	long t = opt->timeout_s;

#define PARAM(k, v) (keys[n] = (k), vals[n] = (v), n++)
#define PARAM_NUM(k, fmt, x) \
	(snprintf(bufs[n], sizeof bufs[n], fmt, x), PARAM(k, bufs[n]))
	PARAM("application_name", "aigw");
	/* libpq's default (prefer) asks Kerberos for credentials on every
	 * connection, loading its configuration and costing each aigw-fcgi
	 * process about 0.8 MiB. */
	PARAM("gssencmode", "disable");
	if (t > 0) {
		/* A peer that went away without a word (a partition, a host
		 * that died) is noticed within about t seconds, on an idle
		 * connection by keepalives, on a busy one by unacknowledged
		 * data; the default is the kernel's (hours for keepalives,
		 * about 15 minutes of retransmissions). */
		PARAM("keepalives", "1");
		PARAM_NUM("keepalives_idle", "%ld", t / 2 > 0 ? t / 2 : 1);
		PARAM_NUM("keepalives_interval", "%ld", t / 6 > 0 ? t / 6 : 1);
		PARAM("keepalives_count", "3");
		PARAM_NUM("tcp_user_timeout", "%ld", t * 1000);
		if (opt->statement_timeout && getenv("PGOPTIONS") == NULL)
			PARAM_NUM("options", "-c statement_timeout=%ld", t * 1000);
	}
	/* Last: the keywords of the user's conninfo override the ones above. */
	PARAM("dbname", conninfo);
	keys[n] = vals[n] = NULL;
#undef PARAM_NUM
#undef PARAM
	return n;
}

enum aigw_err
db_connect(struct db *db)
{
	const char *keys[DB_CONN_PARAMS_MAX + 1], *vals[DB_CONN_PARAMS_MAX + 1];
	char bufs[DB_CONN_PARAMS_MAX][48];
	int64_t deadline = deadline_in(db->opt.timeout_s);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	const char *why = NULL;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return AIGW_OK;
	if (db->in_tx)
		return AIGW_EDB; /* a new connection would be outside the transaction */
	disconnect(db);
	(void)db_conn_params(&db->opt, db->conninfo, keys, vals, bufs);
	/* Connected step by step, so that a server that accepts but never
	 * answers costs the deadline, not the kernel's timeouts (libpq's
	 * connect_timeout holds only for its blocking connect). */
	db->conn = PQconnectStartParams(keys, vals, 1);
	if (db->conn == NULL) {
		why = "out of memory";
		goto fail;
	}
	if (PQstatus(db->conn) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		int ready;

		if (st == PGRES_POLLING_FAILED)
			goto fail;
		ready = wait_fd(PQsocket(db->conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
				deadline);
		if (ready == 0) {
			why = "no answer in time (AIGW_DB_TIMEOUT_S)";
			db->timed_out = true;
			goto fail;
		}
		if (ready < 0) {
			why = strerror(errno);
			goto fail;
		}
		st = PQconnectPoll(db->conn);
	}
	/* Sends never block: a peer that stops reading is a wait with a
	 * deadline like any other (PQexec still blocks, as documented). */
	if (PQsetnonblocking(db->conn, 1) != 0)
		goto fail;
	PQsetNoticeReceiver(db->conn, notice_quiet, NULL);
	db->lost = false;
	db->conn_id++;
	return AIGW_OK;
fail:
	log_warn("db", NULL, "cannot connect to the database: %.200s",
		 why != NULL ? why : PQerrorMessage(db->conn));
	disconnect(db);
	db->lost = true;
	return AIGW_EDB;
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}

unsigned long
db_connection_id(const struct db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK ? db->conn_id : 0;
}

void
db_reset(struct db *db)
{
	if (db->in_tx)
		db->in_tx = false;
	disconnect(db);
}

bool
db_connection_lost(const struct db *db)
{
	return db->lost;
}

long
db_timeout_s(const struct db *db)
{
	return db->opt.timeout_s;
}

/*
 * Waits for the whole answer to what was sent and returns its last result
 * (the first error, if any), or NULL when the connection failed or no
 * answer came by deadline_ms (0: none); the connection is closed then,
 * since what the server did is unknown and the answer may still come.
 */
static PGresult *
collect(struct db *db, int64_t deadline_ms, const char *what)
{
	PGresult *keep = NULL;

	for (;;) {
		PGresult *res;
		int flushed = PQflush(db->conn);
		int ready;

		if (flushed < 0)
			break;
		if (flushed == 0 && PQconsumeInput(db->conn) == 0)
			break;
		if (flushed == 0 && !PQisBusy(db->conn)) {
			res = PQgetResult(db->conn);
			if (res == NULL)
				return keep;
			if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
				PQclear(res);
			} else {
				PQclear(keep);
				keep = res;
			}
			if (PQstatus(db->conn) == CONNECTION_BAD)
				break;
			continue;
		}
		ready = wait_fd(PQsocket(db->conn), flushed ? POLLIN | POLLOUT : POLLIN,
				deadline_ms);
		if (ready == 0) {
			log_warn("db", NULL, "no answer from the database to %s within %ld s;"
				 " closing the connection", what, db->opt.timeout_s);
			db->timed_out = true;
			PQclear(keep);
			disconnect(db);
			return NULL;
		}
		if (ready < 0)
			break;
	}
	log_warn("db", NULL, "connection lost during %s: %.200s", what, PQerrorMessage(db->conn));
	PQclear(keep);
	disconnect(db);
	return NULL;
}

/* The deadline of a statement sent now. */
static int64_t
statement_deadline(const struct db *db)
{
	return db->opt.deadline ? deadline_in(db->opt.timeout_s) : 0;
}

static bool
is_prepared(const struct db *db, const struct db_stmt *stmt)
{
	for (size_t i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == stmt)
			return true;
	return false;
}

static enum aigw_err
prepare(struct db *db, const struct db_stmt *stmt)
{
	PGresult *res;
	enum aigw_err err = AIGW_OK;

	if (is_prepared(db, stmt))
		return AIGW_OK;
	/* Room first: a statement prepared but not remembered would fail
	 * as a duplicate the next time. */
	if (db->nprepared == db->prepared_cap) {
		size_t cap = db->prepared_cap ? db->prepared_cap * 2 : 32;
		const struct db_stmt **p = reallocarray(db->prepared, cap, sizeof *p);

		if (p == NULL)
			return AIGW_ENOMEM;
		db->prepared = p;
		db->prepared_cap = cap;
	}
	if (!PQsendPrepare(db->conn, stmt->name, stmt->sql, stmt->nparams, NULL)) {
		log_error("db", NULL, "while preparing %s: %.300s", stmt->name,
			  PQerrorMessage(db->conn));
		return AIGW_EDB;
	}
	res = collect(db, statement_deadline(db), stmt->name);
	if (res == NULL)
		return AIGW_EDB;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_error("db", NULL, "while preparing %s: %.300s", stmt->name,
			  PQresultErrorMessage(res));
		err = AIGW_EDB;
	} else {
		db->prepared[db->nprepared++] = stmt;
	}
	PQclear(res);
	return err;
}

static enum aigw_err
exec_once(struct db *db, const struct db_stmt *stmt, const char *const *values, PGresult **out)
{
	PGresult *res;
	ExecStatusType st;
	enum aigw_err err;
	int sent;

	err = db_connect(db);
	if (err != AIGW_OK)
		return err;
	if (db->opt.unnamed) {
		/* Behind a transaction pooler a prepared statement lives on a
		 * server connection the next transaction may not get. */
		sent = PQsendQueryParams(db->conn, stmt->sql, stmt->nparams, NULL, values, NULL,
					 NULL, 0);
	} else {
		err = prepare(db, stmt);
		if (err != AIGW_OK)
			return err;
		sent = PQsendQueryPrepared(db->conn, stmt->name, stmt->nparams, values, NULL, NULL,
					   0);
	}
	if (!sent) {
		log_error("db", NULL, "while sending %s: %.300s", stmt->name,
			  PQerrorMessage(db->conn));
		if (PQstatus(db->conn) == CONNECTION_BAD)
			disconnect(db);
		return AIGW_EDB;
	}
	res = collect(db, statement_deadline(db), stmt->name);
	if (res == NULL)
		return AIGW_EDB;
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return AIGW_OK;
	}
	log_error("db", NULL, "while running %s: %.300s", stmt->name,
		  PQresultErrorMessage(res));
	PQclear(res);
	return AIGW_EDB;
}

/* No connection, or a dead one: what a lost connection leaves. */
static bool
conn_gone(const struct db *db)
{
	return db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD;
}

enum aigw_err
db_exec(struct db *db, const struct db_stmt *stmt, const char *const *values, PGresult **out)
{
	enum aigw_err err;

	*out = NULL;
	if (stmt == NULL)
		return AIGW_EINVAL;
	/* exec_once would connect afresh, outside the transaction. */
	if (db->in_tx && conn_gone(db))
		return AIGW_EDB;
	db->timed_out = false;
	err = exec_once(db, stmt, values, out);
	if (err == AIGW_EDB && !db->in_tx && conn_gone(db) && !db->timed_out &&
	    stmt->idempotent) {
		/* The server restarted under us: one fresh connection, one retry. */
		disconnect(db);
		err = exec_once(db, stmt, values, out);
	}
	db->lost = err == AIGW_EDB && conn_gone(db);
	return err;
}

void
db_claim_token(const char *worker, char *buf, size_t len)
{
	static unsigned long seq;
	unsigned long n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	const char *pid = strrchr(worker, ':');

	/* host#claim:pid: still ends in the worker's pid, as people and
	 * scripts read it. */
	if (pid != NULL)
		snprintf(buf, len, "%.*s#%lu%s", (int)(pid - worker), worker, n, pid);
	else
		snprintf(buf, len, "%s#%lu", worker, n);
}

enum aigw_err
db_claimed_after_loss(struct db *db, const struct db_stmt *claimed, const char *token,
		      const char *what, PGresult **res)
{
	const char *values[1] = { token };
	enum aigw_err err;
	int n;

	PQclear(*res);
	*res = NULL;
	err = db_exec(db, claimed, values, res);
	if (err == AIGW_OK && (n = PQntuples(*res)) > 0)
		log_info("db", NULL, "the connection was lost after a claim of %d %s%s; running them",
			 n, what, n == 1 ? "" : "s");
	return err;
}

enum aigw_err
db_exec_text(struct db *db, const struct db_stmt *stmt, const char *const *values, int col,
	     char **text)
{
	PGresult *res = NULL;
	enum aigw_err err;

	*text = NULL;
	err = db_exec(db, stmt, values, &res);
	if (err != AIGW_OK)
		return err;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, col)) {
		*text = strdup(PQgetvalue(res, 0, col));
		if (*text == NULL)
			err = AIGW_ENOMEM;
	}
	PQclear(res);
	return err;
}

char *
db_value_dup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return strdup(PQgetvalue(res, row, col));
}

char *
db_array_literal(const char *const *items, size_t n)
{
	size_t len = 3; /* {, }, NUL */
	char *out, *p;

	for (size_t i = 0; i < n; i++) {
		if (items[i] == NULL) {
			len += sizeof "NULL"; /* and a comma */
			continue;
		}
		len += strlen(items[i]) + 3; /* quotes and a comma */
		for (const char *c = items[i]; *c != '\0'; c++)
			len += *c == '"' || *c == '\\';
	}
	out = malloc(len);
	if (out == NULL)
		return NULL;
	p = out;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		if (items[i] == NULL) {
			memcpy(p, "NULL", 4);
			p += 4;
			continue;
		}
		*p++ = '"';
		for (const char *c = items[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return out;
}

enum aigw_err
db_exec_rows(struct db *db, const struct db_stmt *stmt, const char *const *values, int *rows)
{
	PGresult *res = NULL;
	enum aigw_err err = db_exec(db, stmt, values, &res);

	*rows = 0;
	if (err != AIGW_OK)
		return err;
	*rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res)
						      : (int)strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return AIGW_OK;
}

enum aigw_err
db_exec_fenced(struct db *db, const struct db_stmt *stmt, const char *id, int attempt,
	       const char *extra, bool *ours)
{
	char att[16];
	const char *values[3] = { id, att, extra };
	int rows = 0;
	enum aigw_err err;

	snprintf(att, sizeof att, "%d", attempt);
	err = db_exec_rows(db, stmt, values, &rows);
	*ours = err == AIGW_OK && rows == 1;
	return err;
}

enum aigw_err
db_begin(struct db *db)
{
	enum aigw_err err;

	if (db->in_tx)
		return AIGW_EINVAL;
	db->timed_out = false;
	err = db_command(db, "BEGIN");
	if (err == AIGW_EDB && conn_gone(db) && !db->timed_out) {
		/* As db_exec: the server restarted under us. Nothing was done
		 * yet, so BEGIN on a fresh connection is safe. */
		disconnect(db);
		err = db_command(db, "BEGIN");
	}
	db->in_tx = err == AIGW_OK;
	return err;
}

enum aigw_err
db_commit(struct db *db)
{
	PGresult *res = NULL;
	enum aigw_err err = AIGW_EDB;

	if (!db->in_tx)
		return AIGW_EINVAL;
	db->in_tx = false;
	db->lost = true;
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return AIGW_EDB;
	if (!PQsendQuery(db->conn, "COMMIT"))
		return AIGW_EDB;
	res = collect(db, statement_deadline(db), "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0)
		err = AIGW_OK;
	else if (res != NULL)
		log_error("db", NULL, "commit failed: %.300s", PQresultErrorMessage(res));
	PQclear(res);
	/* Lost: the server may have committed, and the caller must look. */
	db->lost = err == AIGW_EDB && conn_gone(db);
	return err;
}

void
db_rollback(struct db *db)
{
	if (!db->in_tx)
		return;
	db->in_tx = false;
	if (db->conn == NULL)
		return;
	if (db_command(db, "ROLLBACK") != AIGW_OK)
		disconnect(db);
}

enum aigw_err
db_notify_work(struct db *db)
{
	/*
	 * Its own transaction, committed without waiting for the disk: a
	 * NOTIFY serialises the commits of every notifying transaction, so
	 * notifying inside the durable INSERT would let one disk flush at a
	 * time through. A lost wake-up only costs the workers' fallback poll.
	 */
	return db_command(db, "BEGIN; SET LOCAL synchronous_commit TO off;"
			      " SELECT pg_notify('aigw_work', ''); COMMIT");
}

enum aigw_err
db_command(struct db *db, const char *sql)
{
	PGresult *res;
	ExecStatusType st;
	enum aigw_err err;

	err = db_connect(db);
	if (err != AIGW_OK)
		return err;
	if (!PQsendQuery(db->conn, sql)) {
		log_error("db", NULL, "command failed: %.300s", PQerrorMessage(db->conn));
		if (PQstatus(db->conn) == CONNECTION_BAD)
			disconnect(db);
		return AIGW_EDB;
	}
	res = collect(db, statement_deadline(db), "a command");
	if (res == NULL)
		return AIGW_EDB;
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_error("db", NULL, "command failed: %.300s", PQresultErrorMessage(res));
		err = AIGW_EDB;
	}
	PQclear(res);
	return err;
}
