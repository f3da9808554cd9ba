/* listen.c: LISTEN for changes to chat and job rows (see listen.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/util.h"
#include "db/listen.h"

/* As the statements of db.c notify them. */
static const char *const channel_name[DB_CHANNEL__MAX] = { "aigw_chat", "aigw_job" };
static const char *const listen_sql[DB_CHANNEL__MAX] = { "LISTEN aigw_chat", "LISTEN aigw_job" };

enum aigw_err
db_listen_row(struct db *db, enum db_channel kind)
{
	if ((int)kind < 0 || kind >= DB_CHANNEL__MAX)
		return AIGW_EINVAL;
	return db_command(db, listen_sql[kind]);
}

enum aigw_err
db_listen_all(struct db *db)
{
	for (int k = 0; k < DB_CHANNEL__MAX; k++) {
		enum aigw_err err = db_command(db, listen_sql[k]);

		if (err != AIGW_OK)
			return err;
	}
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
