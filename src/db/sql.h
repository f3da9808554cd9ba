/*
 * sql.h: fragments of SQL text that the statements of several db modules
 * share (a timestamp as the API shows it, the notification channels, when a
 * chat is finished and how). A fragment used by one module lives in it.
 * Private to src/db; only string literals, so nothing here can fail.
 */
#ifndef AIGW_DB_SQL_H
#define AIGW_DB_SQL_H

#include "db/status.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* The channels of db/listen.h; the payload is the row's id. */
#define JOB_NOTIFY "pg_notify('aigw_job', job_id::text)"
#define CHAT_NOTIFY "pg_notify('aigw_chat', chat_id::text)"
/* A chat is completed when one provider answered, else failed (r: a
 * results expression). */
#define CHAT_FINAL_STATUS_OF(r) \
	"CASE WHEN jsonb_path_exists(" r ", '$.* ? (@.ok == true)')" \
	" THEN " SQL_COMPLETED " ELSE " SQL_FAILED " END"
#define CHAT_FINAL_STATUS CHAT_FINAL_STATUS_OF("results")
/* Every provider of the chat has a result in r (a results expression). */
#define CHAT_ALL_ANSWERED(r) \
	"NOT EXISTS (SELECT 1 FROM jsonb_object_keys(models) k WHERE NOT (" r ") ? k)"

#endif
