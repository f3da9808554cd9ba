/* listen.c: LISTEN on one row's channel and wait for its NOTIFY (see listen.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "db/listen.h"

static const char *const channel_prefix[DB_CHANNEL__MAX] = { "chat_", "job_" };

enum aigw_err
db_listen_row(struct db *db, enum db_channel kind, const char *id)
{
	char channel[64], sql[128];
	char *ident = NULL;
	PGresult *res = NULL;
	PGconn *conn;
	enum aigw_err err;
	size_t plen;

	if ((int)kind < 0 || kind >= DB_CHANNEL__MAX || id == NULL || !uuid_is_valid(id))
		return AIGW_EINVAL;
	plen = strlen(channel_prefix[kind]);
	memcpy(channel, channel_prefix[kind], plen);
	for (size_t i = 0; i <= UUID_STR_LEN; i++) {
		char c = id[i];
		channel[plen + i] = (c >= 'A' && c <= 'F') ? (char)(c + ('a' - 'A')) : c;
	}
	err = db_connect(db);
	if (err != AIGW_OK)
		return err;
	conn = db_conn(db);
	/* LISTEN takes no bind parameter: the channel is an identifier,
	 * quoted by libpq (the id is a checked UUID anyway). */
	ident = PQescapeIdentifier(conn, channel, strlen(channel));
	if (ident == NULL) {
		log_error("db", NULL, "while quoting a channel name: %.200s", PQerrorMessage(conn));
		return AIGW_EDB;
	}
	if ((size_t)snprintf(sql, sizeof sql, "LISTEN %s", ident) >= sizeof sql) {
		err = AIGW_EINVAL;
		goto out;
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_error("db", NULL, "while listening on %s: %.200s", channel, PQerrorMessage(conn));
		err = AIGW_EDB;
	}
out:
	PQclear(res);
	PQfreemem(ident);
	return err;
}

/* Frees every queued notification; true when there was one. */
static bool
drain(PGconn *conn)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(conn)) != NULL) {
		PQfreemem(n);
		any = true;
	}
	return any;
}

enum aigw_err
db_wait_notify(struct db *db, int hangup_fd, int64_t deadline_ms, enum db_wait_result *out)
{
	PGconn *conn = db_conn(db);

	*out = DB_WAIT_TIMEOUT;
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return AIGW_EDB;
	for (;;) {
		struct pollfd pfd[2];
		int64_t left;
		int n;

		/* Notifications that came with the answer to an earlier query
		 * are queued already: poll() would not report them. */
		if (PQconsumeInput(conn) == 0) {
			log_warn("db", NULL, "connection lost while waiting: %.200s",
				 PQerrorMessage(conn));
			db_reset(db);
			return AIGW_EDB;
		}
		if (drain(conn)) {
			*out = DB_WAIT_NOTIFIED;
			return AIGW_OK;
		}
		left = deadline_ms - time_mono_ms();
		if (left <= 0)
			return AIGW_OK;
		pfd[0] = (struct pollfd){ .fd = PQsocket(conn), .events = POLLIN };
		/* Only hang-up is asked for: a request's unread bytes on the
		 * client's connection must not wake us again and again. */
		pfd[1] = (struct pollfd){ .fd = hangup_fd, .events = POLLRDHUP };
		n = poll(pfd, hangup_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("db", NULL, "poll failed while waiting: %s", strerror(errno));
			return AIGW_EIO;
		}
		if (hangup_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
			*out = DB_WAIT_HANGUP;
			return AIGW_OK;
		}
		if ((pfd[0].revents & POLLNVAL) != 0) {
			db_reset(db);
			return AIGW_EDB;
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
		(void)drain(conn);
}
