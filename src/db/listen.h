/*
 * listen.h: hearing of changes to chat and job rows.
 *
 * Every change a worker commits to a chat or job row is followed by
 * NOTIFY aigw_chat / aigw_job with the row's id as payload (db/sql.h). A
 * notification is a hint to read the row again, never the state itself.
 *
 * PostgreSQL wakes every listening backend of the database for every
 * notification, whatever its channel: a LISTEN per waiting request would
 * make each change wake them all. So aigw-fcgi listens once per process
 * (http/hub.h, with db_listen_all and db_notifications); a CGI process,
 * alone with its one request, listens itself (db_listen_row, whose
 * db_wait_notify skips the other rows' notifications).
 *
 * LISTEN belongs to the connection: when db_exec reconnects (the server
 * restarted), it is gone, so a caller compares db_connection_id() before
 * and after each read. One struct db per thread: not thread-safe.
 * Failures are AIGW_EDB (the connection is lost or refused) or AIGW_EIO.
 */
#ifndef AIGW_DB_LISTEN_H
#define AIGW_DB_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

/* The rows' channels first, then the workers': new work (no payload), a
 * job cancelled and a job step answered (the job's id); last an API key
 * changed (its id: migrations/0020). db_listen_all takes the rows' and the
 * keys'. */
enum db_channel {
	DB_CHANNEL_CHAT,
	DB_CHANNEL_JOB,
	DB_CHANNEL_WORK,
	DB_CHANNEL_CANCEL,
	DB_CHANNEL_STEP,
	DB_CHANNEL_KEY,
	DB_CHANNEL__MAX
};

enum db_wait_result {
	DB_WAIT_NOTIFIED,  /* a notification came (or was queued already) */
	DB_WAIT_TIMEOUT,   /* deadline_ms passed */
	DB_WAIT_HANGUP     /* hangup_fd reported that the client left */
};

/* LISTENs on the channel of the row's kind. AIGW_EDB when the
 * connection fails; nothing is listened to then. */
enum aigw_err db_listen_row(struct db *db, enum db_channel kind) AIGW_MUSTCHECK;

/* Waits until a notification for row id (a UUID, either case) comes or
 * was queued (all queued ones are consumed), until the monotonic clock
 * (time_mono_ms) reaches deadline_ms, or until hangup_fd (-1: none)
 * hangs up. AIGW_EDB when the connection is lost (it is closed then, with
 * its LISTEN), AIGW_EIO when poll() fails. */
enum aigw_err db_wait_notify(struct db *db, const char *id, int hangup_fd, int64_t deadline_ms,
			     enum db_wait_result *out) AIGW_MUSTCHECK;

/* UNLISTEN * and drops the queued notifications. When that cannot be
 * done, the connection is closed instead (which ends the LISTEN on the
 * server too). Cannot fail. */
void db_unlisten(struct db *db);

/* LISTENs on the rows' channels (chat, job) and the keys'. AIGW_EDB on
 * failure. */
enum aigw_err db_listen_all(struct db *db) AIGW_MUSTCHECK;
/* LISTENs on the n channels of kinds. AIGW_EDB on failure. */
enum aigw_err db_listen(struct db *db, const enum db_channel *kinds, size_t n) AIGW_MUSTCHECK;

/*
 * A LISTEN connection is silent while nothing changes, so a dead one
 * looks like a quiet one. A listener asks the server an empty query when
 * it has not asked for a while (every half of AIGW_DB_TIMEOUT_S, at most
 * 5 s), and takes the connection for dead when the answer is not back
 * within AIGW_DB_TIMEOUT_S: a silent partition is noticed within seconds.
 */
struct db_ping {
	int64_t due_ms;          /* when to ask next */
	int64_t answer_by_ms;    /* 0: no question out */
};

/* Starts the pings of a fresh LISTEN connection, now being time_mono_ms(). */
void db_ping_start(struct db_ping *p, const struct db *db, int64_t now);
/* Takes the answer of a ping (call it when the socket was readable, after
 * db_notifications) and sends the next one when due; *next_ms is when to
 * call again at the latest. AIGW_EDB when the connection is lost or the
 * answer is late (the caller resets the connection). */
enum aigw_err db_ping(struct db *db, struct db_ping *p, int64_t now,
		      int64_t *next_ms) AIGW_MUSTCHECK;

/* Reads what the connection has received and calls heard(arg, kind, id)
 * for each notification queued. AIGW_EDB when the connection is lost
 * (the caller resets it). */
enum aigw_err db_notifications(struct db *db, void (*heard)(void *arg, enum db_channel kind,
							    const char *id),
			       void *arg) AIGW_MUSTCHECK;

#endif
