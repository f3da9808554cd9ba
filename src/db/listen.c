/* listen.c: LISTEN for changes to chat and job rows (see listen.h). */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "db/listen.h"

/* As the statements of src/db notify them. */
static const char *const channel_name[DB_CHANNEL__MAX] = {
	"aigw_chat", "aigw_job", "aigw_work", "aigw_cancel", "aigw_step", "aigw_key"
};
static const char *const listen_sql[DB_CHANNEL__MAX] = {
	"LISTEN aigw_chat", "LISTEN aigw_job", "LISTEN aigw_work", "LISTEN aigw_cancel",
	"LISTEN aigw_step", "LISTEN aigw_key"
};

#define PING_EVERY_MAX_MS 5000

enum aigw_err
db_listen_row(struct db *db, enum db_channel kind)
{
	if ((int)kind < 0 || kind >= DB_CHANNEL__MAX)
		return AIGW_EINVAL;
	return db_command(db, listen_sql[kind]);
}

enum aigw_err
db_listen(struct db *db, const enum db_channel *kinds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum aigw_err err;

		if ((int)kinds[i] < 0 || kinds[i] >= DB_CHANNEL__MAX)
			return AIGW_EINVAL;
		err = db_command(db, listen_sql[kinds[i]]);
		if (err != AIGW_OK)
			return err;
	}
	return AIGW_OK;
}

enum aigw_err
db_listen_all(struct db *db)
{
	static const enum db_channel rows[] = { DB_CHANNEL_CHAT, DB_CHANNEL_JOB, DB_CHANNEL_KEY };

	return db_listen(db, rows, sizeof rows / sizeof rows[0]);
}

static int64_t
ping_every_ms(const struct db *db)
{
	int64_t ms = (int64_t)db_timeout_s(db) * 500;

	return ms <= 0 || ms > PING_EVERY_MAX_MS ? PING_EVERY_MAX_MS : ms;
}

void
db_ping_start(struct db_ping *p, const struct db *db, int64_t now)
{
	p->due_ms = now + ping_every_ms(db);
	p->answer_by_ms = 0;
}

enum aigw_err
db_ping(struct db *db, struct db_ping *p, int64_t now, int64_t *next_ms)
{
	PGconn *conn = db_conn(db);

	*next_ms = now;
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return AIGW_EDB;
	if (p->answer_by_ms != 0) {
		if (PQflush(conn) < 0 || PQconsumeInput(conn) == 0)
			return AIGW_EDB;
		while (p->answer_by_ms != 0 && !PQisBusy(conn)) {
			PGresult *res = PQgetResult(conn);

			if (res == NULL)
				db_ping_start(p, db, now);
			PQclear(res);
		}
		if (p->answer_by_ms != 0 && now >= p->answer_by_ms) {
			log_warn("db", NULL, "no answer from the database within %ld s on the"
				 " connection that listens; taking it for dead", db_timeout_s(db));
			return AIGW_EDB;
		}
	}
	if (p->answer_by_ms == 0 && now >= p->due_ms) {
		long t = db_timeout_s(db);

		if (!PQsendQuery(conn, "") || PQflush(conn) < 0)
			return AIGW_EDB;
		p->answer_by_ms = now + (t > 0 ? t : PING_EVERY_MAX_MS / 1000) * 1000;
	}
	*next_ms = p->answer_by_ms != 0 ? p->answer_by_ms : p->due_ms;
	return AIGW_OK;
}

static bool
channel_of(const char *relname, enum db_channel *kind)
{
	for (int k = 0; k < DB_CHANNEL__MAX; k++) {
		if (strcmp(relname, channel_name[k]) == 0) {
			*kind = (enum db_channel)k;
			return true;
		}
	}
	return false;
}

enum aigw_err
db_notifications(struct db *db, void (*heard)(void *arg, enum db_channel kind, const char *id),
		 void *arg)
{
	PGconn *conn = db_conn(db);
	PGnotify *n;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK || PQconsumeInput(conn) == 0)
		return AIGW_EDB;
	while ((n = PQnotifies(conn)) != NULL) {
		enum db_channel kind;

		if (channel_of(n->relname, &kind) && n->extra != NULL)
			heard(arg, kind, n->extra);
		PQfreemem(n);
	}
	return AIGW_OK;
}

/* Frees every queued notification; true when one was for row id. */
static bool
drain(PGconn *conn, const char *id)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn)) != NULL) {
		if (id == NULL || (n->extra != NULL && strcasecmp(n->extra, id) == 0))
			any = true;
		PQfreemem(n);
	}
	return any;
}

enum aigw_err
db_wait_notify(struct db *db, const char *id, int hangup_fd, int64_t deadline_ms,
	       enum db_wait_result *out)
{
	PGconn *conn = db_conn(db);

	*out = DB_WAIT_TIMEOUT;
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return AIGW_EDB;
	for (;;) {
		short revents;

		/* Notifications that came with the answer to an earlier query
		 * are queued already: poll() would not report them. */
		if (PQconsumeInput(conn) == 0) {
			log_warn("db", NULL, "connection lost while waiting: %.200s",
				 PQerrorMessage(conn));
			db_reset(db);
			return AIGW_EDB;
		}
		if (drain(conn, id)) {
			*out = DB_WAIT_NOTIFIED;
			return AIGW_OK;
		}
		switch (fd_wait_readable(PQsocket(conn), hangup_fd, deadline_ms, &revents)) {
		case FD_WAIT_TIMEOUT:
			return AIGW_OK;
		case FD_WAIT_HANGUP:
			*out = DB_WAIT_HANGUP;
			return AIGW_OK;
		case FD_WAIT_ERROR:
			log_error("db", NULL, "poll failed while waiting: %s", strerror(errno));
			return AIGW_EIO;
		default:
			if ((revents & POLLNVAL) != 0) {
				db_reset(db);
				return AIGW_EDB;
			}
		}
	}
}

void
db_unlisten(struct db *db)
{
	PGconn *conn = db_conn(db);
	PGresult *res;

	if (conn == NULL)
		return;
	if (PQstatus(conn) != CONNECTION_OK) {
		db_reset(db);
		return;
	}
	res = PQexec(conn, "UNLISTEN *");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* Closing is the sure way to stop listening. */
		log_warn("db", NULL, "UNLISTEN failed, reconnecting: %.200s", PQerrorMessage(conn));
		PQclear(res);
		db_reset(db);
		return;
	}
	PQclear(res);
	/* Whatever came before UNLISTEN took effect is queued: drop it. */
	if (PQconsumeInput(conn) == 0)
		db_reset(db);
	else
		(void)drain(conn, NULL);
}
