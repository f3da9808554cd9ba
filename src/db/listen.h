/*
 * listen.h: waiting on the NOTIFY channel of one chat or job row, on the
 * caller's own struct db, for long-polls and event streams.
 *
 * The worker sends NOTIFY chat_<id> / job_<id> with the new version after
 * every change it commits (db.c). db_listen_row() LISTENs on that channel;
 * db_wait_notify() sleeps in poll() on the connection's socket until a
 * notification comes, a deadline passes or the client hangs up;
 * db_unlisten() ends every LISTEN of the connection and drops what is
 * queued, so the next request on it starts clean. A notification is a
 * hint to read the row again, never the state itself.
 * LISTEN belongs to the connection: when db_exec reconnects (the server
 * restarted), it is gone, so a caller compares db_connection_id() before
 * and after each read. One struct db per thread: not thread-safe.
 * Failures are AIGW_EDB (the connection is lost or refused) or AIGW_EIO.
 */
#ifndef AIGW_DB_LISTEN_H
#define AIGW_DB_LISTEN_H

#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

enum db_channel { DB_CHANNEL_CHAT, DB_CHANNEL_JOB, DB_CHANNEL__MAX };

enum db_wait_result {
	DB_WAIT_NOTIFIED,  /* a notification came (or was queued already) */
	DB_WAIT_TIMEOUT,   /* deadline_ms passed */
	DB_WAIT_HANGUP     /* hangup_fd reported that the client left */
};

/* LISTENs on the row's channel. id must be a UUID (either case: the
 * channel is built from its lower-case form, as the worker's NOTIFY
 * writes it). AIGW_EINVAL for a bad id, AIGW_EDB when the connection
 * fails; nothing is listened to then. */
enum aigw_err db_listen_row(struct db *db, enum db_channel kind, const char *id) AIGW_MUSTCHECK;

/* Waits until a notification (all queued ones are consumed), until the
 * monotonic clock (time_mono_ms) reaches deadline_ms, or until hangup_fd
 * (-1: none) hangs up. AIGW_EDB when the connection is lost (it is closed
 * then, with its LISTEN), AIGW_EIO when poll() fails. */
enum aigw_err db_wait_notify(struct db *db, int hangup_fd, int64_t deadline_ms,
			     enum db_wait_result *out) AIGW_MUSTCHECK;

/* UNLISTEN * and drops the queued notifications. When that cannot be
 * done, the connection is closed instead (which ends the LISTEN on the
 * server too). Cannot fail. */
void db_unlisten(struct db *db);

#endif
