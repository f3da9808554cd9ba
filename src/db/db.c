/*
 * db.c: connection handling and the table of every statement aigw runs.
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

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A job as the API shows it, built by the database from the row (alias j). */
#define JOB_STEPS_JSON \
	"(SELECT coalesce(json_agg(json_build_object('name', s.name, 'status', s.status)" \
	" ORDER BY s.step_index), '[]'::json) FROM job_steps s WHERE s.job_id = j.job_id)"
#define JOB_HEAD_FIELDS \
	"'id', j.job_id, 'type', j.type, 'status', j.status, 'progress', j.progress," \
	" 'status_message', j.status_message, 'steps', " JOB_STEPS_JSON ","
#define JOB_TAIL_FIELDS \
	" 'error', j.error, 'attempts', j.attempts, 'decision_id', j.decision_id," \
	" 'version', j.version, 'created_at', " TS("j.created_at") "," \
	" 'started_at', " TS("j.started_at") ", 'completed_at', " TS("j.completed_at")
#define JOB_STATUS_JSON "json_build_object(" JOB_HEAD_FIELDS JOB_TAIL_FIELDS ")::text"
#define JOB_FULL_JSON "json_build_object(" JOB_HEAD_FIELDS " 'output', j.output," JOB_TAIL_FIELDS ")::text"
#define JOB_ACCEPTED_JSON \
	"json_build_object('id', j.job_id, 'job_id', j.job_id, 'type', j.type, 'status', j.status," \
	" 'progress', j.progress, 'created_at', " TS("j.created_at") ")::text"
/* The channels of db/listen.h; the payload is the row's id. */
#define JOB_NOTIFY "pg_notify('aigw_job', job_id::text)"
#define CHAT_NOTIFY "pg_notify('aigw_chat', chat_id::text)"
/* A batch item whose chat or job still waits for it (t: the item's
 * alias): the calls of a cancelled or failed job, or of a chat already
 * finished, are never sent. */
#define BATCH_ITEM_LIVE(t) \
	"(" t ".chat_id IS NULL OR EXISTS (SELECT 1 FROM chat_results c" \
	" WHERE c.chat_id = " t ".chat_id AND c.status IN ('pending', 'processing')))" \
	" AND (" t ".job_id IS NULL OR EXISTS (SELECT 1 FROM jobs j" \
	" WHERE j.job_id = " t ".job_id AND j.status IN ('pending', 'running')))"
/* A chat is completed when one provider answered, else failed (r: a
 * results expression). */
#define CHAT_FINAL_STATUS_OF(r) \
	"CASE WHEN jsonb_path_exists(" r ", '$.* ? (@.ok == true)')" \
	" THEN 'completed' ELSE 'failed' END"
#define CHAT_FINAL_STATUS CHAT_FINAL_STATUS_OF("results")
/* Every provider of the chat has a result in r (a results expression). */
#define CHAT_ALL_ANSWERED(r) \
	"NOT EXISTS (SELECT 1 FROM jsonb_object_keys(models) k WHERE NOT (" r ") ? k)"
/* A failed result for every provider of the chat with none yet. */
#define CHAT_FILL_MISSING(error, attempts) \
	"coalesce((SELECT jsonb_object_agg(k, jsonb_build_object('ok', false," \
	" 'error', " error ", 'errorClass', 'timeout', 'attempts', " attempts "))" \
	" FROM jsonb_object_keys(models) k WHERE NOT results ? k), '{}'::jsonb)"
/* Any constant works; it only has to be the same in every aigw, and fit
 * in an int (the two-key form, apart from migrate.c's one-key lock). */
#define RATE_LOCK_CLASS "7391002"
/* Later writes of a claimed job: this attempt's, and only while it runs. */
#define JOB_FENCE "job_id = $1 AND attempts = $2 AND status = 'running'"
/* An analysis batch (alias b) summed over the analyses of owner $1. */
#define ANALYSIS_BATCH_JSON \
	"(SELECT json_build_object('batch_id', b.batch_id, 'run_date', b.run_date," \
	"  'created_at', " TS("b.created_at") ", 'complete', b.complete," \
	"  'prompts', count(*)," \
	"  'pending', count(*) FILTER (WHERE a.status = 'pending')," \
	"  'running', count(*) FILTER (WHERE a.status = 'running')," \
	"  'completed', count(*) FILTER (WHERE a.status = 'completed')," \
	"  'partial', count(*) FILTER (WHERE a.status = 'partial')," \
	"  'failed', count(*) FILTER (WHERE a.status = 'failed')," \
	"  'cancelled', count(*) FILTER (WHERE a.status = 'cancelled')," \
	"  'platforms', coalesce(sum(a.total_platforms), 0)," \
	"  'platforms_completed', coalesce(sum(a.completed_platforms), 0)," \
	"  'platforms_failed', coalesce(sum(a.failed_platforms), 0)," \
	"  'tokens_used', (SELECT coalesce(sum(r.tokens_used), 0) FROM ai_responses r" \
	"   WHERE r.batch_id = b.batch_id AND r.analysis_id IN (SELECT a2.analysis_id" \
	"    FROM analysis_jobs a2 WHERE a2.batch_id = b.batch_id AND a2.owner_user = $1))," \
	"  'cost_usd', (SELECT coalesce(sum(r.cost_usd), 0) FROM ai_responses r" \
	"   WHERE r.batch_id = b.batch_id AND r.analysis_id IN (SELECT a2.analysis_id" \
	"    FROM analysis_jobs a2 WHERE a2.batch_id = b.batch_id AND a2.owner_user = $1)))" \
	" FROM analysis_jobs a WHERE a.batch_id = b.batch_id AND a.owner_user = $1)"
/* A job a worker may take: new, or left by a worker whose lease ran out. */
#define JOB_CLAIMABLE \
	"status = 'pending' OR (status = 'running' AND lease_until < now()" \
	" AND attempts < max_attempts)"
/* What a worker needs to run a claimed job (alias j), with the steps
 * earlier attempts finished. */
#define JOB_CLAIM_COLUMNS \
	" j.job_id, j.attempts, j.type, j.input::text, j.progress," \
	"  (SELECT coalesce(json_agg(json_build_object('status', s.status," \
	"    'results', s.results, 'output', s.output) ORDER BY s.step_index), '[]'::json)" \
	"   FROM job_steps s WHERE s.job_id = j.job_id)::text"
/* Takes the jobs of c ($2 lease_s, $3 the claim's token) and returns
 * JOB_CLAIM_COLUMNS. */
#define JOB_CLAIM_UPDATE \
	" UPDATE jobs j SET status = 'running', attempts = j.attempts + 1," \
	"  lease_until = now() + $2 * interval '1 second', worker = $3," \
	"  started_at = coalesce(j.started_at, now()), attempt_at = now()," \
	"  version = j.version + 1, updated_at = now()" \
	" FROM c WHERE j.job_id = c.job_id" \
	" RETURNING" JOB_CLAIM_COLUMNS ", pg_notify('aigw_job', j.job_id::text)"
/* What a worker needs to run a claimed chat (alias r). */
#define CHAT_CLAIM_COLUMNS \
	" r.chat_id, r.attempts, r.message, r.system_prompt, r.max_tokens," \
	"  r.websearch, r.location, r.models::text, r.results::text"

struct stmt_def {
	const char *name;
	int nparams;
	const char *sql;
};

static const struct stmt_def stmts[DB_STMT__MAX] = {
	/* $1 id $2 user $3 org $4 message $5 system $6 max_tokens $7 websearch
	 * $8 location $9 models $10 ttl_s */
	/* $1 ids $2 users $3 orgs $4 messages $5 system prompts $6 max tokens
	 * $7 websearch $8 locations $9 models $10 ttl_s: array literals, one
	 * element a chat. Many submits, one statement and one commit. */
	[DB_CHAT_INSERT] = { "chat_insert", 10,
		"INSERT INTO chat_results (chat_id, owner_user, owner_org, message,"
		" system_prompt, max_tokens, websearch, location, models, expires_at)"
		" SELECT id, u, o, m, sp, mt, ws, loc, mo, now() + ttl * interval '1 second'"
		" FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],"
		"  $7::bool[], $8::text[], $9::jsonb[], $10::int[])"
		"  AS x(id, u, o, m, sp, mt, ws, loc, mo, ttl)" },
	/* $1 ids: an array literal. How many of these chats are stored: after
	 * an insert's connection was lost, whether the server committed it. */
	[DB_CHAT_STORED] = { "chat_stored", 1,
		"SELECT count(*) FROM chat_results WHERE chat_id = ANY($1::uuid[])" },
	/* $1 id: a job's 202 body, as DB_JOB_INSERT returns it, when the job
	 * is stored (after an insert's or commit's connection was lost). */
	[DB_JOB_ACCEPTED] = { "job_accepted", 1,
		"SELECT " JOB_ACCEPTED_JSON " FROM jobs j WHERE j.job_id = $1" },
	/* $1 id $2 owner */
	[DB_CHAT_STATUS] = { "chat_status", 2,
		"SELECT chat_id, status, version, results::text,"
		" CASE WHEN status IN ('completed', 'failed') THEN '[]' ELSE"
		"  (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)"
		"   FROM jsonb_object_keys(models) k WHERE NOT results ? k)::text END, "
		TS("created_at") ", " TS("completed_at") ", " TS("expires_at")
		" FROM chat_results WHERE chat_id = $1 AND owner_user = $2"
		" AND expires_at > now()" },
	/* $1 limit $2 lease_s $3 worker name $4 max attempts */
	[DB_CHAT_CLAIM] = { "chat_claim", 4,
		"WITH c AS ("
		" SELECT chat_id FROM chat_results"
		" WHERE (status = 'pending' OR (status = 'processing' AND lease_until < now()"
		"  AND attempts < $4)) AND expires_at > now()"
		" ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
		" UPDATE chat_results r SET status = 'processing', attempts = r.attempts + 1,"
		"  lease_until = now() + $2 * interval '1 second', worker = $3,"
		"  started_at = coalesce(r.started_at, now()), attempt_at = now(),"
		"  version = r.version + 1"
		" FROM c WHERE r.chat_id = c.chat_id"
		" RETURNING" CHAT_CLAIM_COLUMNS ", pg_notify('aigw_chat', r.chat_id::text)" },
	/* $1 a claim's token: the chats that claim took, when its connection
	 * was lost and the server may have committed it. The claim's token
	 * is its own, so these rows are its and no other's. */
	[DB_CHAT_CLAIMED] = { "chat_claimed", 1,
		"SELECT" CHAT_CLAIM_COLUMNS " FROM chat_results r"
		" WHERE r.status IN ('pending', 'processing') AND r.status = 'processing'"
		" AND r.worker = $1" },
	/*
	 * $1 ids $2 attempts $3 providers $4 results $5 finish: array
	 * literals, one element a result. Stores the results of many chats in
	 * one statement (one commit, one notification per chat): a result
	 * stored before is kept (a late answer racing a retry), and a chat
	 * whose elements say finish is finished as DB_CHAT_FINISH does. A row
	 * per chat written: the position of its first element, its status.
	 */
	[DB_CHAT_WRITE_RESULTS] = { "chat_write_results", 5,
		"WITH v AS ("
		" SELECT x.id AS chat_id, min(x.att) AS att, min(x.ord) AS ord, bool_or(x.fin) AS fin,"
		"  jsonb_object_agg(x.provider, x.result) AS results"
		" FROM unnest($1::uuid[], $2::int[], $3::text[], $4::jsonb[], $5::bool[])"
		"  WITH ORDINALITY AS x(id, att, provider, result, fin, ord)"
		" GROUP BY x.id),"
		" u AS ("
		" UPDATE chat_results r SET results = v.results || r.results, version = r.version + 1,"
		"  status = CASE WHEN v.fin AND " CHAT_ALL_ANSWERED("v.results || r.results")
		"   THEN " CHAT_FINAL_STATUS_OF("v.results || r.results") " ELSE r.status END,"
		"  completed_at = CASE WHEN v.fin AND " CHAT_ALL_ANSWERED("v.results || r.results")
		"   THEN now() ELSE r.completed_at END,"
		"  lease_until = CASE WHEN v.fin THEN NULL ELSE r.lease_until END"
		" FROM v WHERE r.chat_id = v.chat_id AND r.attempts = v.att AND r.status = 'processing'"
		" RETURNING v.ord, r.chat_id, r.version, r.status)"
		" SELECT ord, status, chat_id FROM u" },
	/*
	 * $1 chat ids: an array literal. The notifications of a
	 * write, sent once it is committed and in a transaction of their own
	 * that does not wait for the disk: every transaction that notifies
	 * holds one database-wide lock from its NOTIFY to the end of its
	 * commit, so a notifying durable write would keep every other one
	 * waiting through its disk flush. A notification lost in a crash
	 * costs a long-poll its wait, never a result.
	 */
	[DB_CHAT_NOTIFY] = { "chat_notify", 1,
		"SELECT set_config('synchronous_commit', 'off', true),"
		" count(pg_notify('aigw_chat', x.id)) FROM unnest($1::text[]) AS x(id)" },
	/* $1 id $2 attempt */
	[DB_CHAT_FINISH] = { "chat_finish", 2,
		"WITH u AS ("
		" UPDATE chat_results SET"
		"  status = CASE WHEN " CHAT_ALL_ANSWERED("results") " THEN " CHAT_FINAL_STATUS
		"   ELSE status END,"
		"  completed_at = CASE WHEN " CHAT_ALL_ANSWERED("results") " THEN now() END,"
		"  lease_until = NULL, version = version + 1"
		" WHERE chat_id = $1 AND attempts = $2 AND status = 'processing'"
		" RETURNING chat_id, version, status)"
		" SELECT status, " CHAT_NOTIFY " FROM u" },
	/* $1 ids $2 attempts: array literals; $3 lease_s. Every lease a
	 * worker holds that is due, in one statement: a row per lease still
	 * ours, its position in the arrays. */
	[DB_CHAT_RENEW] = { "chat_renew", 3,
		"UPDATE chat_results r SET lease_until = now() + $3 * interval '1 second'"
		" FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS x(id, att, ord)"
		" WHERE r.chat_id = x.id AND r.attempts = x.att AND r.status = 'processing'"
		" RETURNING x.ord" },
	/* $1 id $2 attempt: hands a chat back so another worker takes it now. */
	[DB_CHAT_RELEASE] = { "chat_release", 2,
		"UPDATE chat_results SET lease_until = now()"
		" WHERE chat_id = $1 AND attempts = $2 AND status = 'processing'" },
	/* $1 highest slot $2 stale_s $3 pid $4 host: a worker started by hand
	 * takes any free slot; a spawner reserves one (pid and host NULL)
	 * for the worker it is about to start. */
	[DB_SLOT_RESERVE] = { "slot_reserve", 4,
		"UPDATE worker_slots SET heartbeat_at = now(), pid = $3, host = $4"
		" WHERE slot = (SELECT slot FROM worker_slots WHERE slot <= $1"
		"  AND (heartbeat_at IS NULL OR heartbeat_at < now() - $2 * interval '1 second')"
		"  ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING slot" },
	/* $1 slot $2 pid $3 host: a spawned worker takes the slot reserved
	 * for it, unless the reservation went stale and someone else has it. */
	[DB_SLOT_TAKE] = { "slot_take", 3,
		"UPDATE worker_slots SET heartbeat_at = now(), pid = $2, host = $3"
		" WHERE slot = $1 AND pid IS NULL AND heartbeat_at IS NOT NULL"
		" RETURNING slot" },
	/* $1 slot $2 pid $3 host */
	[DB_SLOT_HEARTBEAT] = { "slot_heartbeat", 3,
		"UPDATE worker_slots SET heartbeat_at = now()"
		" WHERE slot = $1 AND pid = $2 AND host = $3 RETURNING slot" },
	/* $1 slot $2 pid $3 host */
	[DB_SLOT_RELEASE] = { "slot_release", 3,
		"UPDATE worker_slots SET heartbeat_at = NULL, pid = NULL, host = NULL"
		" WHERE slot = $1 AND pid = $2 AND host = $3" },
	/* $1 stale_s */
	[DB_HEALTH] = { "health", 1,
		"SELECT (SELECT count(*) FROM chat_results WHERE status = 'pending')"
		" + (SELECT count(*) FROM jobs WHERE status = 'pending'),"
		" (SELECT count(*) FROM worker_slots WHERE pid IS NOT NULL"
		"  AND heartbeat_at > now() - $1 * interval '1 second')" },
	/* $1 owner $2 key: a key is remembered for 24 hours. */
	/* $1 max attempts of a chat $2 AIGW_ANALYSIS_CONCURRENCY: work a
	 * worker could claim right now
	 * (chats, jobs, calls waiting for a batch, batches left by a worker). */
	[DB_QUEUE_WAITING] = { "queue_waiting", 2,
		"SELECT (SELECT count(*) FROM chat_results WHERE (status = 'pending'"
		"  OR (status = 'processing' AND lease_until < now() AND attempts < $1))"
		"  AND expires_at > now())"
		" + (SELECT count(*) FROM jobs WHERE (status = 'pending'"
		"  OR (status = 'running' AND lease_until < now() AND attempts < max_attempts))"
		/* Analysis jobs waiting for their cap are no work to wake for. */
		"  AND (analysis_batch IS NULL OR (SELECT count(*) FROM jobs r"
		"   WHERE r.analysis_batch IS NOT NULL AND r.status = 'running'"
		"   AND r.lease_until >= now()) < $2))"
		" + (SELECT count(*) FROM batch_items WHERE batch_id IS NULL AND result IS NULL)"
		" + (SELECT count(*) FROM batches WHERE status IN ('submitting', 'running')"
		"  AND lease_until < now())" },
	/* $1 key id $2 SHA-256 hex $3 user $4 org $5 name */
	[DB_KEY_CREATE] = { "key_create", 5,
		"INSERT INTO api_keys (key_id, key_hash, owner_user, owner_org, name)"
		" VALUES ($1, $2, $3, $4, $5)" },
	/* $1 key id */
	[DB_KEY_LOOKUP] = { "key_lookup", 1,
		"SELECT key_hash, owner_user, owner_org, revoked_at IS NOT NULL"
		" FROM api_keys WHERE key_id = $1" },
	[DB_KEY_LIST] = { "key_list", 0,
		"SELECT key_id, owner_user, owner_org, coalesce(name, ''), " TS("created_at") ","
		" coalesce(" TS("revoked_at") ", '')"
		" FROM api_keys ORDER BY created_at, key_id" },
	/* $1 key id */
	[DB_KEY_REVOKE] = { "key_revoke", 1,
		"UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL" },
	/* $1 org ('' for none) $2 user $3 decision (NULL for none): held to the
	 * end of the submit's transaction, so that counting and inserting are
	 * one step for everyone sharing an org, a user or a decision. Always
	 * in this order, so that two submits cannot deadlock. A decision
	 * belongs to its tenant (the org, or the user when there is none), so
	 * its lock and count are the tenant's: another tenant that learns the
	 * UUID neither waits on nor fills it. */
	[DB_ACTIVE_LOCK] = { "active_lock", 3,
		"SELECT (SELECT count(pg_advisory_xact_lock(hashtextextended('aigw org ' || $1::text, 0)))"
		"  FROM (SELECT 1 WHERE $1::text <> '') o),"
		" pg_advisory_xact_lock(hashtextextended('aigw user ' || $2::text, 0)),"
		" (SELECT count(pg_advisory_xact_lock(hashtextextended('aigw decision ' || $3::text"
		"   || CASE WHEN $1::text = '' THEN ' user ' || $2::text ELSE ' org ' || $1::text END,"
		"   0)))"
		"  FROM (SELECT 1 WHERE $3::text IS NOT NULL) d)" },
	/* $1 org $2 user $3 decision: chats and jobs pending or running (the
	 * decision's within its tenant, as locked above); scheduled analysis
	 * jobs have a cap of their own instead. */
	[DB_ACTIVE_COUNT] = { "active_count", 3,
		"SELECT CASE WHEN $1::text = '' THEN 0 ELSE"
		"  (SELECT count(*) FROM chat_results WHERE owner_org = $1::text"
		"   AND status IN ('pending', 'processing'))"
		"  + (SELECT count(*) FROM jobs WHERE owner_org = $1::text"
		"   AND status IN ('pending', 'running') AND analysis_batch IS NULL) END,"
		" (SELECT count(*) FROM chat_results WHERE owner_user = $2::text"
		"  AND status IN ('pending', 'processing'))"
		" + (SELECT count(*) FROM jobs WHERE owner_user = $2::text"
		"  AND status IN ('pending', 'running') AND analysis_batch IS NULL),"
		" CASE WHEN $3::text IS NULL THEN 0 ELSE"
		"  (SELECT count(*) FROM jobs WHERE decision_id = $3::uuid"
		"   AND owner_org = $1::text AND ($1::text <> '' OR owner_user = $2::text)"
		"   AND status IN ('pending', 'running')) END" },

	/* ---- batches (async providers) ---- */

	/* $1 item $2 provider $3 model $4 chat $5 job $6 step $7 message
	 * $8 system $9 max_tokens $10 websearch $11 location $12 json_output:
	 * a call waits for a batch, once however often it is asked. */
	[DB_BATCH_ITEM_ADD] = { "batch_item_add", 12,
		"INSERT INTO batch_items (item_id, provider, model, chat_id, job_id, step_index,"
		" message, system_prompt, max_tokens, websearch, location, json_output)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
		" ON CONFLICT DO NOTHING" },
	/* Calls waiting for a batch, by provider and model, with the age of
	 * the oldest in milliseconds. */
	[DB_BATCH_GROUPS] = { "batch_groups", 0,
		"SELECT provider, model, count(*),"
		" (extract(epoch FROM now() - min(queued_at)) * 1000)::bigint"
		" FROM batch_items i WHERE batch_id IS NULL AND result IS NULL"
		" AND " BATCH_ITEM_LIVE("i")
		" GROUP BY provider, model" },
	/* $1 batch $2 provider $3 model $4 max items $5 deadline_s $6 worker
	 * $7 lease_s $8 max bytes (0: any): a new batch of the oldest waiting
	 * calls, claimed. */
	[DB_BATCH_FORM] = { "batch_form", 8,
		"WITH w AS (SELECT item_id, queued_at,"
		"  2 * (octet_length(message) + coalesce(octet_length(system_prompt), 0)) + 1024 AS size"
		"  FROM batch_items w WHERE batch_id IS NULL AND result IS NULL"
		"  AND provider = $2 AND model = $3 AND " BATCH_ITEM_LIVE("w")
		"  ORDER BY queued_at LIMIT $4 FOR UPDATE OF w SKIP LOCKED),"
		/* the oldest calls that fit in the provider's size; the first
		 * always goes (alone, it fails as too large) */
		" i AS (SELECT item_id FROM (SELECT item_id,"
		"  sum(size) OVER (ORDER BY queued_at, item_id) AS total,"
		"  row_number() OVER (ORDER BY queued_at, item_id) AS k FROM w) s"
		"  WHERE $8::bigint = 0 OR total <= $8::bigint OR k = 1),"
		" b AS (INSERT INTO batches (batch_id, provider, model, deadline, attempts,"
		"  lease_until, worker)"
		/* the lease from when the calls are chosen, not from when the
		 * statement began: choosing 50,000 takes a while */
		"  SELECT $1, $2, $3, now() + $5::int * interval '1 second', 1,"
		"   clock_timestamp() + $7::int * interval '1 second', $6"
		"   WHERE EXISTS (SELECT 1 FROM i)"
		"  RETURNING batch_id)"
		" UPDATE batch_items SET batch_id = b.batch_id FROM i, b"
		" WHERE batch_items.item_id = i.item_id RETURNING batch_items.item_id" },
	/* $1 limit $2 lease_s $3 worker: batches whose worker is gone. */
	[DB_BATCH_CLAIM] = { "batch_claim", 3,
		"WITH c AS (SELECT batch_id FROM batches WHERE status IN ('submitting', 'running')"
		"  AND lease_until < now() ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
		" UPDATE batches b SET attempts = b.attempts + 1,"
		"  lease_until = now() + $2::int * interval '1 second', worker = $3, updated_at = now()"
		" FROM c WHERE b.batch_id = c.batch_id"
		" RETURNING b.batch_id, b.attempts, b.provider, b.model, b.state, b.external_id,"
		"  greatest(0, (extract(epoch FROM b.deadline - now()) * 1000)::bigint),"
		"  coalesce(extract(epoch FROM b.submit_sent_at)::bigint, 0)" },
	/* $1 batch $2 attempt: its create request goes out now (the first
	 * such time is kept: a lookup searches from it) */
	[DB_BATCH_SUBMITTING] = { "batch_submitting", 2,
		"UPDATE batches SET submit_sent_at = coalesce(submit_sent_at, now()), updated_at = now()"
		" WHERE batch_id = $1 AND attempts = $2 AND status IN ('submitting', 'running')"
		" RETURNING extract(epoch FROM submit_sent_at)::bigint" },
	/* $1 batch: its calls, and whether each has its result */
	[DB_BATCH_ITEMS] = { "batch_items", 1,
		"SELECT item_id, message, system_prompt, max_tokens, websearch, location, json_output,"
		" result IS NOT NULL, (extract(epoch FROM now() - queued_at) * 1000)::bigint"
		" FROM batch_items WHERE batch_id = $1 ORDER BY queued_at, item_id" },
	/* $1 batch $2 attempt $3 status $4 state $5 external id $6 error
	 * $7 polls to add */
	[DB_BATCH_SAVE] = { "batch_save", 7,
		"UPDATE batches SET status = $3, state = coalesce($4, state),"
		" external_id = coalesce($5, external_id), error = $6, polls = polls + $7::int,"
		" updated_at = now(),"
		" completed_at = CASE WHEN $3 IN ('done', 'failed', 'cancelled') THEN now() END,"
		" lease_until = CASE WHEN $3 IN ('done', 'failed', 'cancelled') THEN NULL"
		"  ELSE lease_until END"
		" WHERE batch_id = $1 AND attempts = $2 AND status IN ('submitting', 'running')" },
	/* $1 batch $2 attempt $3 lease_s */
	[DB_BATCH_RENEW] = { "batch_renew", 3,
		"UPDATE batches SET lease_until = now() + $3::int * interval '1 second'"
		" WHERE batch_id = $1 AND attempts = $2 AND status IN ('submitting', 'running')" },
	/* $1 batch $2 attempt */
	[DB_BATCH_RELEASE] = { "batch_release", 2,
		"UPDATE batches SET lease_until = now()"
		" WHERE batch_id = $1 AND attempts = $2 AND status IN ('submitting', 'running')" },
	/* $1 items $2 results: array literals, one element a call. Each
	 * result is stored once, into the item and its chat, which it finishes
	 * when it was the last answer awaited (lease NULL: the chat's worker
	 * has finished its own calls and left), or job step. A batch holds one
	 * call of a chat or step at most, so no row is updated twice. */
	[DB_BATCH_RESULT] = { "batch_result", 2,
		"WITH x AS (SELECT * FROM unnest($1::uuid[], $2::jsonb[]) AS x(item_id, result)),"
		" it AS (UPDATE batch_items b SET result = x.result FROM x"
		"  WHERE b.item_id = x.item_id AND b.result IS NULL"
		"  RETURNING b.chat_id, b.job_id, b.step_index, b.provider, x.result),"
		" c AS (UPDATE chat_results SET"
		"  results = results || jsonb_build_object(it.provider, it.result),"
		"  status = CASE WHEN status = 'processing' AND lease_until IS NULL AND "
		CHAT_ALL_ANSWERED("results || jsonb_build_object(it.provider, it.result)") " THEN"
		"   CASE WHEN jsonb_path_exists(results || jsonb_build_object(it.provider, it.result),"
		"    '$.* ? (@.ok == true)') THEN 'completed' ELSE 'failed' END ELSE status END,"
		"  completed_at = CASE WHEN status = 'processing' AND lease_until IS NULL AND "
		CHAT_ALL_ANSWERED("results || jsonb_build_object(it.provider, it.result)")
		"   THEN now() END,"
		"  version = version + 1"
		"  FROM it WHERE chat_results.chat_id = it.chat_id"
		"  AND chat_results.status IN ('pending', 'processing')"
		"  AND NOT chat_results.results ? it.provider"
		"  RETURNING chat_results.chat_id, chat_results.version),"
		" s AS (UPDATE job_steps SET results = job_steps.results"
		"  || jsonb_build_object(it.provider, it.result)"
		"  FROM it WHERE job_steps.job_id = it.job_id AND job_steps.step_index = it.step_index"
		"  AND NOT job_steps.results ? it.provider RETURNING job_steps.job_id)"
		" SELECT (SELECT count(" CHAT_NOTIFY ") FROM c)"
		" + (SELECT count(pg_notify('aigw_step', job_id::text)) FROM s)" },
	/* $1 job $2 step: the answers stored for a step so far */
	[DB_JOB_STEP_READ] = { "job_step_read", 2,
		"SELECT results::text FROM job_steps WHERE job_id = $1 AND step_index = $2::int" },

	/* ---- the reaper; each returns how many rows it changed ---- */

	/* $1 pending_timeout_s */
	[DB_REAP_CHATS_UNCLAIMED] = { "reap_chats_unclaimed", 1,
		"WITH u AS ("
		" UPDATE chat_results SET status = " CHAT_FINAL_STATUS ","
		"  results = results || " CHAT_FILL_MISSING("'no worker picked it up within ' || $1::int || ' s'", "0") ","
		"  completed_at = now(), lease_until = NULL, version = version + 1"
		" WHERE status = 'pending' AND expires_at > now()"
		"  AND coalesce(attempt_at, created_at) < now() - $1::int * interval '1 second'"
		" RETURNING chat_id, version)"
		" SELECT count(" CHAT_NOTIFY ") FROM u" },
	/* $1 max attempts $2 run timeout_s: no attempt left for work whose
	 * worker died or that ran too long. */
	[DB_REAP_CHATS_SPENT] = { "reap_chats_spent", 2,
		"WITH u AS ("
		" UPDATE chat_results SET status = " CHAT_FINAL_STATUS ","
		"  results = results || " CHAT_FILL_MISSING(
			"CASE WHEN lease_until < now() THEN 'the worker stopped, and '"
			" ELSE 'timed out after ' || $2::int || ' s, and ' END"
			" || attempts || ' attempts are spent'", "attempts") ","
		"  completed_at = now(), lease_until = NULL, version = version + 1"
		" WHERE status = 'processing' AND attempts >= $1::int AND expires_at > now()"
		"  AND lease_until IS NOT NULL"
		"  AND (lease_until < now() OR attempt_at < now() - $2::int * interval '1 second')"
		" RETURNING chat_id, version)"
		" SELECT count(" CHAT_NOTIFY ") FROM u" },
	/* $1 max attempts $2 run timeout_s: ran too long, attempts left: back
	 * in the queue. The running worker's fenced writes now fail. */
	[DB_REAP_CHATS_REQUEUE] = { "reap_chats_requeue", 2,
		"WITH u AS ("
		" UPDATE chat_results SET status = 'pending', attempt_at = now(), lease_until = NULL,"
		"  version = version + 1"
		" WHERE status = 'processing' AND attempts < $1::int AND expires_at > now()"
		"  AND lease_until IS NOT NULL AND attempt_at < now() - $2::int * interval '1 second'"
		" RETURNING chat_id, version)"
		" SELECT count(" CHAT_NOTIFY ") FROM u" },
	[DB_REAP_CHATS_DELETE] = { "reap_chats_delete", 0,
		"DELETE FROM chat_results WHERE chat_id IN (SELECT chat_id FROM chat_results"
		" WHERE expires_at <= now() LIMIT 5000)" },
	/* $1 pending_timeout_s */
	[DB_REAP_JOBS_UNCLAIMED] = { "reap_jobs_unclaimed", 1,
		"WITH u AS ("
		" UPDATE jobs SET status = 'failed', status_message = 'Failed',"
		"  error = 'no worker picked it up within ' || $1::int || ' s',"
		"  completed_at = now(), version = version + 1, updated_at = now()"
		" WHERE status = 'pending'"
		"  AND coalesce(attempt_at, created_at) < now() - $1::int * interval '1 second'"
		/* Analysis jobs wait their turn under a cap, for as long as their
		 * batch moves. */
		"  AND (analysis_batch IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r"
		"   WHERE r.analysis_batch IS NOT NULL AND r.status = 'running'"
		"   AND r.lease_until >= now()))"
		" RETURNING job_id, version)"
		" SELECT count(" JOB_NOTIFY ") FROM u" },
	[DB_REAP_JOBS_SPENT] = { "reap_jobs_spent", 0,
		"WITH u AS ("
		" UPDATE jobs SET status = 'failed', status_message = 'Failed',"
		"  error = CASE WHEN lease_until < now() THEN 'the worker stopped, and '"
		"   ELSE 'timed out after ' || timeout_s || ' s, and ' END"
		"   || attempts || ' attempts are spent',"
		"  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
		" WHERE status = 'running' AND attempts >= max_attempts"
		"  AND (lease_until < now() OR attempt_at < now() - timeout_s * interval '1 second')"
		" RETURNING job_id, version),"
		" s AS (UPDATE job_steps SET status = 'failed' FROM u"
		"  WHERE job_steps.job_id = u.job_id AND job_steps.status = 'running')"
		" SELECT count(" JOB_NOTIFY ") FROM u" },
	[DB_REAP_JOBS_REQUEUE] = { "reap_jobs_requeue", 0,
		"WITH u AS ("
		" UPDATE jobs SET status = 'pending', status_message = 'Timed out; queued again',"
		"  attempt_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
		" WHERE status = 'running' AND attempts < max_attempts"
		"  AND attempt_at < now() - timeout_s * interval '1 second'"
		" RETURNING job_id, version),"
		" s AS (UPDATE job_steps SET status = 'pending' FROM u"
		"  WHERE job_steps.job_id = u.job_id AND job_steps.status = 'running')"
		" SELECT count(" JOB_NOTIFY ") FROM u" },
	/* $1 keep_done_days $2 keep_failed_days */
	[DB_REAP_JOBS_DELETE] = { "reap_jobs_delete", 2,
		"DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs"
		" WHERE (status = 'completed' AND completed_at < now() - $1::int * interval '1 day')"
		"  OR (status IN ('failed', 'cancelled')"
		"   AND completed_at < now() - $2::int * interval '1 day') LIMIT 5000)" },
	/* $1 keep_done_days $2 keep_failed_days: finished batches past their
	 * keeping, with their calls (whose results live on in their chats and
	 * job steps). */
	[DB_REAP_BATCHES_DELETE] = { "reap_batches_delete", 2,
		"WITH b AS (SELECT batch_id FROM batches"
		" WHERE (status = 'done' AND completed_at < now() - $1::int * interval '1 day')"
		"  OR (status IN ('failed', 'cancelled')"
		"   AND completed_at < now() - $2::int * interval '1 day') LIMIT 5000),"
		" i AS (DELETE FROM batch_items WHERE batch_id IN (SELECT batch_id FROM b))"
		" DELETE FROM batches WHERE batch_id IN (SELECT batch_id FROM b)" },
	/* $1 min interval: takes the reaper's turn; no row when it is not due. */
	[DB_REAP_TURN] = { "reap_turn", 1,
		"UPDATE reaper_state SET ran_at = now() WHERE id = 1"
		" AND (ran_at IS NULL OR ran_at <= now() - $1::int * interval '1 second')"
		" RETURNING ran_at" },
	[DB_JOB_KEY_EXPIRE] = { "job_key_expire", 2,
		"UPDATE jobs SET idempotency_key = NULL WHERE owner_user = $1"
		" AND idempotency_key = $2 AND created_at < now() - interval '24 hours'" },
	/* $1 id $2 type $3 user $4 org $5 decision $6 input $7 max attempts
	 * $8 timeout_s $9 key $10 fingerprint $11 step names (JSON array).
	 * No row back when the key is taken: the caller reads that job. */
	[DB_JOB_INSERT] = { "job_insert", 11,
		"WITH j AS ("
		" INSERT INTO jobs (job_id, type, owner_user, owner_org, decision_id, input,"
		"  max_attempts, timeout_s, idempotency_key, request_hash, status_message)"
		" VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9,"
		"  encode(sha256(convert_to($10::text, 'UTF8')), 'hex'), 'Queued')"
		" ON CONFLICT (owner_user, idempotency_key) WHERE idempotency_key IS NOT NULL"
		" DO NOTHING RETURNING *),"
		" s AS (INSERT INTO job_steps (job_id, step_index, name)"
		"  SELECT j.job_id, e.ord - 1, e.name"
		"  FROM j, jsonb_array_elements_text($11::jsonb) WITH ORDINALITY AS e(name, ord))"
		" SELECT " JOB_ACCEPTED_JSON " FROM j" },
	/* $1 owner $2 key $3 fingerprint */
	[DB_JOB_BY_KEY] = { "job_by_key", 3,
		"SELECT j.request_hash IS NOT DISTINCT FROM"
		"  encode(sha256(convert_to($3::text, 'UTF8')), 'hex'), " JOB_ACCEPTED_JSON
		" FROM jobs j WHERE j.owner_user = $1 AND j.idempotency_key = $2" },
	/* $1 id $2 owner */
	[DB_JOB_GET] = { "job_get", 2,
		"SELECT " JOB_FULL_JSON " FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2" },
	/* $1 id $2 owner */
	[DB_JOB_STATUS] = { "job_status", 2,
		"SELECT " JOB_STATUS_JSON ", j.version, j.status"
		" FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2" },
	/* $1 id $2 owner */
	[DB_JOB_RESULT] = { "job_result", 2,
		"SELECT j.status, j.output::text, j.error, " JOB_STATUS_JSON
		" FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2" },
	/* $1 id $2 owner. The worker holding the job hears aigw_cancel and
	 * abandons its transfers; its fenced writes find the job cancelled. */
	[DB_JOB_CANCEL] = { "job_cancel", 2,
		"WITH u AS ("
		" UPDATE jobs SET status = 'cancelled', status_message = 'Cancelled',"
		"  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
		" WHERE job_id = $1 AND owner_user = $2 AND status IN ('pending', 'running')"
		" RETURNING job_id, version),"
		" s AS (UPDATE job_steps SET status = 'cancelled' FROM u"
		"  WHERE job_steps.job_id = u.job_id AND job_steps.status IN ('pending', 'running'))"
		" SELECT pg_notify('aigw_cancel', job_id::text), " JOB_NOTIFY " FROM u" },
	/* $1 owner $2 status $3 type $4 limit $5 cursor time (microseconds since
	 * the epoch) $6 cursor id. Keyset pagination, newest first. */
	[DB_JOB_LIST] = { "job_list", 6,
		"SELECT " JOB_STATUS_JSON ","
		" (extract(epoch FROM j.created_at) * 1000000)::bigint::text || '.' || j.job_id::text"
		" FROM jobs j WHERE j.owner_user = $1"
		" AND ($2::text IS NULL OR j.status = $2::text)"
		" AND ($3::text IS NULL OR j.type = $3::text)"
		" AND ($5::bigint IS NULL OR (j.created_at, j.job_id) <"
		"  (to_timestamp(0) + $5::bigint * interval '1 microsecond', $6::uuid))"
		" ORDER BY j.created_at DESC, j.job_id DESC LIMIT $4" },
	/* $1 limit $2 lease_s $3 worker name: jobs of analysis batches are
	 * claimed by DB_JOB_CLAIM_ANALYSIS, under their own cap. */
	[DB_JOB_CLAIM] = { "job_claim", 3,
		"WITH c AS ("
		" SELECT job_id FROM jobs WHERE status IN ('pending', 'running')"
		"  AND (" JOB_CLAIMABLE ") AND analysis_batch IS NULL"
		" ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
		JOB_CLAIM_UPDATE },
	/* $1 a claim's token: as DB_CHAT_CLAIMED, the jobs that claim took. */
	[DB_JOB_CLAIMED] = { "job_claimed", 1,
		"SELECT" JOB_CLAIM_COLUMNS " FROM jobs j"
		" WHERE j.status IN ('pending', 'running') AND j.status = 'running'"
		" AND j.worker = $1" },
	[DB_ANALYSIS_CLAIMABLE] = { "analysis_claimable", 0,
		"SELECT EXISTS (SELECT 1 FROM jobs WHERE analysis_batch IS NOT NULL"
		" AND status IN ('pending', 'running') AND (" JOB_CLAIMABLE "))" },
	/* Taken before DB_JOB_CLAIM_ANALYSIS in one transaction, so that the
	 * running count it reads includes every claim made before it. */
	[DB_ANALYSIS_CLAIM_LOCK] = { "analysis_claim_lock", 0,
		"SELECT pg_advisory_xact_lock(hashtextextended('aigw analysis claim', 0))" },
	/* $1 limit $2 lease_s $3 worker name $4 most analysis jobs running */
	[DB_JOB_CLAIM_ANALYSIS] = { "job_claim_analysis", 4,
		"WITH c AS ("
		" SELECT job_id FROM jobs WHERE analysis_batch IS NOT NULL"
		"  AND status IN ('pending', 'running') AND (" JOB_CLAIMABLE ")"
		" ORDER BY created_at LIMIT least($1::int, greatest(0, $4::int - ("
		"  SELECT count(*) FROM jobs WHERE analysis_batch IS NOT NULL"
		"   AND status = 'running' AND lease_until >= now())))"
		" FOR UPDATE SKIP LOCKED)"
		JOB_CLAIM_UPDATE },
	/* $1 id $2 attempt $3 step $4 status message */
	[DB_JOB_STEP_START] = { "job_step_start", 4,
		"WITH j AS ("
		" UPDATE jobs SET status_message = $4, version = version + 1, updated_at = now()"
		" WHERE " JOB_FENCE " RETURNING job_id, version),"
		" s AS (UPDATE job_steps SET status = 'running', attempts = job_steps.attempts + 1,"
		"  started_at = coalesce(job_steps.started_at, now())"
		"  FROM j WHERE job_steps.job_id = j.job_id AND job_steps.step_index = $3::int)"
		" SELECT version, " JOB_NOTIFY " FROM j" },
	/* $1 id $2 attempt $3 step $4 provider $5 result: once per provider. */
	[DB_JOB_STEP_RESULT] = { "job_step_result", 5,
		"UPDATE job_steps s SET results = s.results || jsonb_build_object($4::text, $5::jsonb)"
		" FROM jobs j WHERE j.job_id = $1 AND j.attempts = $2 AND j.status = 'running'"
		" AND s.job_id = j.job_id AND s.step_index = $3::int AND NOT s.results ? $4::text" },
	/* $1 id $2 attempt $3 step $4 step status $5 step output $6 step error
	 * $7 progress $8 final status (NULL: the job goes on) $9 job output
	 * $10 job error */
	[DB_JOB_STEP_END] = { "job_step_end", 10,
		"WITH j AS ("
		" UPDATE jobs SET status = coalesce($8::text, status),"
		"  progress = CASE WHEN $8::text = 'completed' THEN 100"
		"   WHEN $8::text IS NULL THEN greatest(progress, $7::int) ELSE progress END,"
		"  output = CASE WHEN $8::text IS NULL THEN output ELSE $9::jsonb END,"
		"  error = CASE WHEN $8::text IS NULL THEN error ELSE $10::text END,"
		"  status_message = CASE WHEN $8::text = 'completed' THEN 'Completed'"
		"   WHEN $8::text = 'failed' THEN 'Failed' ELSE status_message END,"
		"  completed_at = CASE WHEN $8::text IS NULL THEN NULL ELSE now() END,"
		"  lease_until = CASE WHEN $8::text IS NULL THEN lease_until ELSE NULL END,"
		"  version = version + 1, updated_at = now()"
		" WHERE " JOB_FENCE " RETURNING job_id, version),"
		" s AS (UPDATE job_steps SET status = $4::text, output = $5::jsonb, error = $6::text,"
		"  completed_at = now()"
		"  FROM j WHERE job_steps.job_id = j.job_id AND job_steps.step_index = $3::int)"
		" SELECT version, " JOB_NOTIFY " FROM j" },
	/* $1 id $2 attempt $3 error */
	[DB_JOB_FAIL] = { "job_fail", 3,
		"WITH j AS ("
		" UPDATE jobs SET status = 'failed', error = $3, status_message = 'Failed',"
		"  completed_at = now(), lease_until = NULL, version = version + 1, updated_at = now()"
		" WHERE " JOB_FENCE " RETURNING job_id, version)"
		" SELECT version, " JOB_NOTIFY " FROM j" },
	/* $1 id $2 attempt $3 lease_s */
	[DB_JOB_RENEW] = { "job_renew", 3,
		"UPDATE jobs SET lease_until = now() + $3 * interval '1 second' WHERE " JOB_FENCE },
	/* $1 id $2 attempt: hands a job back so another worker takes it now. */
	[DB_JOB_RELEASE] = { "job_release", 2,
		"UPDATE jobs SET lease_until = now() WHERE " JOB_FENCE },
	/* ---- provider rate limits (db/ratelimit.c), inside a transaction ---- */

	/* $1 provider: one reservation at a time per provider, over every
	 * worker; held until the transaction ends. The class key keeps these
	 * apart from other advisory locks; providers whose names hash alike
	 * only share the wait. A worker's loop blocks while it waits here, so
	 * the wait is bounded (lock_timeout); and a holder that stalls inside
	 * the transaction (stopped, swapped out) is cut off by the server
	 * rather than freezing every worker. Both settings end with the
	 * transaction; set_config runs first, in FROM. */
	[DB_RATE_LOCK] = { "rate_lock", 1,
		"SELECT pg_advisory_xact_lock(" RATE_LOCK_CLASS ", hashtext($1::text))"
		" FROM (SELECT set_config('lock_timeout', '2s', true),"
		"  set_config('idle_in_transaction_session_timeout', '10s', true)) AS s" },
	/* $1 provider $2 rpm $3 tpm (0: no limit) $4 tokens $5 window ms $6 ms
	 * this request waited (NULL: none). Run under rate_lock, as its own
	 * statement so that its snapshot sees every reservation committed
	 * before the lock was ours. Reserves when the request fits in the
	 * window and answers 0; else answers the ms until the oldest
	 * reservation that must leave for it to fit has left. Rows out of the
	 * window go on the way. */
	[DB_RATE_RESERVE] = { "rate_reserve", 6,
		"WITH t AS (SELECT statement_timestamp() AS now,"
		"  $5::bigint * interval '1 millisecond' AS win),"
		" gone AS (DELETE FROM rate_reservations r USING t"
		"  WHERE r.provider = $1::text AND r.reserved_at <= t.now - t.win),"
		/* k: the place from the oldest; upto: tokens of rows 1..k */
		" w AS (SELECT r.reserved_at, count(*) OVER () AS n, sum(r.tokens) OVER () AS total,"
		"  row_number() OVER o AS k, sum(r.tokens) OVER (o ROWS UNBOUNDED PRECEDING) AS upto"
		"  FROM rate_reservations r, t"
		"  WHERE r.provider = $1::text AND r.reserved_at > t.now - t.win"
		"  WINDOW o AS (ORDER BY r.reserved_at)),"
		" fit AS (SELECT ($2::bigint = 0 OR coalesce(max(w.n), 0) < $2::bigint)"
		"  AND ($3::bigint = 0 OR coalesce(max(w.total), 0) + $4::bigint <= $3::bigint) AS ok"
		"  FROM w),"
		" ins AS (INSERT INTO rate_reservations (provider, reserved_at, tokens)"
		"  SELECT $1::text, t.now, $4::bigint FROM t, fit WHERE fit.ok),"
		" counted AS (INSERT INTO rate_limit_waits AS c (provider, waits, wait_ms)"
		"  SELECT $1::text, 1, $6::bigint FROM fit WHERE fit.ok AND $6::bigint IS NOT NULL"
		"  ON CONFLICT (provider) DO UPDATE SET waits = c.waits + 1,"
		"   wait_ms = c.wait_ms + excluded.wait_ms, updated_at = now())"
		" SELECT CASE WHEN fit.ok THEN 0 ELSE greatest(1, ceil(1000 * extract(epoch FROM"
		"  (SELECT min(w.reserved_at) FROM w"
		"   WHERE ($2::bigint = 0 OR w.n - w.k < $2::bigint)"
		"    AND ($3::bigint = 0 OR w.total - w.upto + $4::bigint <= $3::bigint))"
		"  + t.win - t.now)))::bigint END"
		" FROM t, fit" },
	/* $1 provider $2 ms. A pause only grows; answers the ms the shared
	 * pause lasts from now, by the database's clock (hosts' clocks may
	 * differ, their elapsed times do not). */
	[DB_PAUSE_SET] = { "pause_set", 2,
		"INSERT INTO provider_pauses AS p (provider, until)"
		" VALUES ($1::text, statement_timestamp() + $2::bigint * interval '1 millisecond')"
		" ON CONFLICT (provider) DO UPDATE SET until = greatest(p.until, excluded.until)"
		" RETURNING greatest(0, ceil(1000 * extract(epoch FROM"
		"  p.until - statement_timestamp())))::bigint" },
	/* Every provider paused now, with the ms its pause has left. */
	[DB_PAUSE_READ] = { "pause_read", 0,
		"SELECT provider, ceil(1000 * extract(epoch FROM until - statement_timestamp()))::bigint"
		" FROM provider_pauses WHERE until > statement_timestamp()" },
	/* $1 id $2 project $3 user $4 org $5 text $6 platforms (JSON array of
	 * strings) $7 websearch $8 location */
	[DB_PROMPT_ADD] = { "prompt_add", 8,
		"INSERT INTO prompt_tracking (prompt_id, project, owner_user, owner_org, prompt_text,"
		" platforms, websearch, location)"
		" VALUES ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)),"
		" $7, $8)" },
	/* $1 project (NULL: all) $2 with inactive ones too */
	[DB_PROMPT_LIST] = { "prompt_list", 2,
		"SELECT prompt_id, project, CASE WHEN active THEN 'yes' ELSE 'no' END,"
		" array_to_string(platforms, ','),"
		" CASE WHEN websearch THEN coalesce(location, 'yes') ELSE '-' END,"
		" CASE WHEN owner_org = '' THEN owner_user ELSE owner_user || '@' || owner_org END,"
		" prompt_text"
		" FROM prompt_tracking WHERE ($1::text IS NULL OR project = $1::text)"
		" AND (active OR $2::boolean) ORDER BY project, created_at, prompt_id" },
	/* $1 id */
	[DB_PROMPT_DEACTIVATE] = { "prompt_deactivate", 1,
		"UPDATE prompt_tracking SET active = false, updated_at = now()"
		" WHERE prompt_id = $1 AND active" },
	/* One scheduler at a time: two would race for the same prompts. */
	[DB_SCHEDULE_LOCK] = { "schedule_lock", 0,
		"SELECT pg_try_advisory_lock(hashtextextended('aigw schedule', 0))" },
	[DB_SCHEDULE_UNLOCK] = { "schedule_unlock", 0,
		"SELECT pg_advisory_unlock(hashtextextended('aigw schedule', 0))" },
	/* $1 new id $2 forced: today's batch, made now (or forced), or the one
	 * made earlier today: its id, whether it is complete, whether new. */
	[DB_SCHEDULE_BATCH] = { "schedule_batch", 2,
		"WITH b AS (INSERT INTO analysis_batches (batch_id, run_date, forced)"
		" VALUES ($1, current_date, $2) ON CONFLICT (run_date) WHERE NOT forced DO NOTHING"
		" RETURNING batch_id, complete)"
		" SELECT batch_id, complete, true FROM b"
		" UNION ALL SELECT batch_id, complete, false FROM analysis_batches"
		"  WHERE run_date = current_date AND NOT forced AND NOT EXISTS (SELECT 1 FROM b)" },
	/* $1 batch $2 the last prompt id of the previous page (NULL: none) $3
	 * page size $4 job type $5 attempts $6 timeout_s $7 the type's step
	 * names (JSON array): one job, its steps and its analysis row for each
	 * active prompt of the page that the batch has no job for yet.
	 * Returns the prompts looked at, the jobs made, the page's last id. */
	[DB_SCHEDULE_PAGE] = { "schedule_page", 7,
		"WITH p AS (SELECT prompt_id, project, owner_user, owner_org, prompt_text, platforms,"
		"  websearch, location FROM prompt_tracking WHERE active"
		"  AND ($2::uuid IS NULL OR prompt_id > $2::uuid) ORDER BY prompt_id LIMIT $3),"
		" n AS (SELECT gen_random_uuid() AS id, p.* FROM p WHERE NOT EXISTS (SELECT 1"
		"  FROM analysis_jobs a WHERE a.batch_id = $1 AND a.prompt_id = p.prompt_id)),"
		" j AS (INSERT INTO jobs (job_id, type, owner_user, owner_org, input, max_attempts,"
		"  timeout_s, status_message, analysis_batch)"
		"  SELECT id, $4, owner_user, owner_org, jsonb_strip_nulls(jsonb_build_object("
		"   'prompt', prompt_text, 'platforms', to_jsonb(platforms),"
		"   'websearch', websearch, 'location', location)), $5, $6, 'Queued', $1 FROM n),"
		" s AS (INSERT INTO job_steps (job_id, step_index, name)"
		"  SELECT n.id, e.ord - 1, e.name"
		"  FROM n, jsonb_array_elements_text($7::jsonb) WITH ORDINALITY AS e(name, ord)),"
		" a AS (INSERT INTO analysis_jobs (analysis_id, batch_id, prompt_id, owner_user,"
		"  owner_org, project, prompt_text, platforms, total_platforms)"
		"  SELECT id, $1, prompt_id, owner_user, owner_org, project, prompt_text, platforms,"
		"  cardinality(platforms) FROM n)"
		" SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM n),"
		"  (SELECT prompt_id FROM p ORDER BY prompt_id DESC LIMIT 1)" },
	/* $1 batch */
	[DB_SCHEDULE_DONE] = { "schedule_done", 1,
		"UPDATE analysis_batches SET complete = true WHERE batch_id = $1" },
	/* $1 batch: a row per prompt and platform, answered or not. */
	[DB_ANALYSIS_SHOW] = { "analysis_show", 1,
		"SELECT a.project, a.prompt_text, p.platform,"
		" coalesce(r.status, a.status), coalesce(r.tokens_used::text, '-'),"
		" coalesce(r.cost_usd::text, '-'), coalesce(r.execution_time_ms::text, '-'),"
		" coalesce(r.tokens_used, 0), coalesce(r.cost_usd, 0)::text,"
		" coalesce(r.execution_time_ms, 0), coalesce(r.error_message, '')"
		" FROM analysis_jobs a CROSS JOIN LATERAL unnest(a.platforms) AS p(platform)"
		" LEFT JOIN ai_responses r ON r.analysis_id = a.analysis_id AND r.platform = p.platform"
		" WHERE a.batch_id = $1 ORDER BY a.project, a.prompt_id, p.platform" },
	/* $1 owner $2 limit: the newest batches with analyses of this owner,
	 * summed over those alone. */
	[DB_ANALYSIS_BATCHES] = { "analysis_batches", 2,
		"SELECT json_build_object('success', true, 'batches',"
		" coalesce(json_agg(x.o ORDER BY x.created_at DESC, x.batch_id DESC), '[]'))::text"
		" FROM (SELECT b.created_at, b.batch_id, " ANALYSIS_BATCH_JSON " AS o"
		"  FROM analysis_batches b WHERE b.batch_id IN (SELECT DISTINCT a.batch_id"
		"   FROM analysis_jobs a WHERE a.owner_user = $1)"
		"  ORDER BY b.created_at DESC, b.batch_id DESC LIMIT $2) x" },
	/* $1 owner $2 batch: its summary and every analysis of this owner with
	 * its responses; no row when the owner has none in it. */
	[DB_ANALYSIS_BATCH] = { "analysis_batch", 2,
		"SELECT json_build_object('success', true, 'batch', " ANALYSIS_BATCH_JSON ", 'prompts',"
		" (SELECT coalesce(json_agg(json_build_object('analysis_id', a.analysis_id,"
		"   'job_id', a.analysis_id, 'prompt_id', a.prompt_id, 'project', a.project,"
		"   'prompt', a.prompt_text, 'status', a.status, 'error', a.error,"
		"   'platforms', a.platforms, 'total_platforms', a.total_platforms,"
		"   'completed_platforms', a.completed_platforms,"
		"   'failed_platforms', a.failed_platforms,"
		"   'started_at', " TS("a.started_at") ", 'completed_at', " TS("a.completed_at") ","
		"   'responses', (SELECT coalesce(json_agg(json_build_object("
		"     'platform', r.platform, 'model', r.model_version, 'status', r.status,"
		"     'text', r.response_text, 'input_tokens', r.input_tokens,"
		"     'output_tokens', r.output_tokens, 'tokens_used', r.tokens_used,"
		"     'cost_usd', r.cost_usd, 'execution_time_ms', r.execution_time_ms,"
		"     'citations', r.citations, 'error', r.error_message,"
		"     'created_at', " TS("r.created_at") ") ORDER BY r.platform), '[]')"
		"    FROM ai_responses r WHERE r.analysis_id = a.analysis_id))"
		"  ORDER BY a.project, a.prompt_id), '[]')"
		"  FROM analysis_jobs a WHERE a.batch_id = b.batch_id AND a.owner_user = $1))::text"
		" FROM analysis_batches b WHERE b.batch_id = $2"
		" AND EXISTS (SELECT 1 FROM analysis_jobs a WHERE a.batch_id = b.batch_id"
		"  AND a.owner_user = $1)" },
	/* $1 stale_s of a worker slot: every sample of GET /api/metrics, as
	 * (family, suffix, labels, le, value), families together, buckets in
	 * rising order. Counters from metric_values, histograms from
	 * metric_histograms (one array of buckets a row); gauges
	 * from the queue indexes, never from finished rows. */
	[DB_METRICS] = { "metrics", 1,
		"WITH c AS (SELECT family, ''::text AS suffix, labels, ''::text AS le,"
		"   sum(value) AS value FROM metric_values GROUP BY family, labels"
		"  UNION ALL SELECT h.family, '_bucket', h.labels,"
		"   (aigw_histogram_bounds())[u.i]::text, sum(u.b) FROM metric_histograms h,"
		"   unnest(h.buckets) WITH ORDINALITY AS u(b, i) GROUP BY h.family, h.labels, u.i"
		"  UNION ALL SELECT family, '_bucket', labels, '+Inf', sum(count)"
		"   FROM metric_histograms GROUP BY family, labels"
		"  UNION ALL SELECT family, '_sum', labels, '', sum(sum)"
		"   FROM metric_histograms GROUP BY family, labels"
		"  UNION ALL SELECT family, '_count', labels, '', sum(count)"
		"   FROM metric_histograms GROUP BY family, labels),"
		" active AS (SELECT"
		"  (SELECT count(*) FROM chat_results WHERE status = 'pending') AS chats_pending,"
		"  (SELECT count(*) FROM chat_results WHERE status = 'processing') AS chats_running,"
		"  (SELECT count(*) FROM jobs WHERE status = 'pending') AS jobs_pending,"
		"  (SELECT count(*) FROM jobs WHERE status = 'running') AS jobs_running),"
		" s (family, suffix, labels, le, value) AS ("
		"  SELECT family, suffix, labels, le, value FROM c"
		"  UNION ALL SELECT 'aigw_chats_created_total', '', '', '',"
		"   coalesce((SELECT sum(value) FROM c WHERE family = 'aigw_chats_total'), 0)"
		"   + (SELECT chats_pending + chats_running FROM active)"
		/* Jobs by type: the finished ones' type label as rendered,
		 * with the active ones of that type. */
		"  UNION ALL SELECT 'aigw_jobs_created_total', '', t, '', sum(n) FROM ("
		"   SELECT substring(labels FROM '^(type=\"(?:[^\"\\\\]|\\\\.)*\")') AS t, value AS n"
		"    FROM c WHERE family = 'aigw_jobs_total'"
		"   UNION ALL SELECT aigw_label('type', type), count(*) FROM jobs"
		"    WHERE status IN ('pending', 'running') GROUP BY type) j GROUP BY t"
		"  UNION ALL SELECT 'aigw_queue_depth', '', 'type=\"chat\"', '', chats_pending FROM active"
		"  UNION ALL SELECT 'aigw_queue_depth', '', 'type=\"job\"', '', jobs_pending FROM active"
		"  UNION ALL SELECT 'aigw_running', '', 'type=\"chat\"', '', chats_running FROM active"
		"  UNION ALL SELECT 'aigw_running', '', 'type=\"job\"', '', jobs_running FROM active"
		"  UNION ALL SELECT 'aigw_oldest_pending_seconds', '', 'type=\"chat\"', '',"
		"   coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM chat_results"
		"    WHERE status = 'pending')), 0)"
		"  UNION ALL SELECT 'aigw_oldest_pending_seconds', '', 'type=\"job\"', '',"
		"   coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM jobs"
		"    WHERE status = 'pending')), 0)"
		"  UNION ALL SELECT 'aigw_stuck_jobs', '', '', '', count(*) FROM jobs"
		"   WHERE status = 'running' AND (lease_until < now() OR coalesce(attempt_at, started_at)"
		"    + timeout_s * interval '1 second' < now())"
		"  UNION ALL SELECT 'aigw_workers_alive', '', '', '', count(*) FROM worker_slots"
		"   WHERE pid IS NOT NULL AND heartbeat_at > now() - $1 * interval '1 second'"
		"  UNION ALL SELECT 'aigw_reaper_last_run_timestamp_seconds', '', '', '',"
		"   coalesce(extract(epoch FROM (SELECT ran_at FROM reaper_state WHERE id = 1)), 0)"
		"  UNION ALL SELECT 'aigw_rate_limit_waits_total', '', aigw_label('provider', provider),"
		"   '', waits FROM rate_limit_waits"
		"  UNION ALL SELECT 'aigw_rate_limit_wait_seconds_total', '',"
		"   aigw_label('provider', provider), '', wait_ms / 1000.0 FROM rate_limit_waits)"
		" SELECT family, suffix, labels, le, value::double precision FROM s"
		" ORDER BY family, labels, CASE suffix WHEN '_bucket' THEN 0 WHEN '_sum' THEN 1"
		"  WHEN '_count' THEN 2 ELSE 0 END,"
		"  CASE WHEN le = '' THEN 0 WHEN le = '+Inf' THEN 'Infinity'::float8 ELSE le::float8 END" },
	/* $1 stale_s: what aigw status prints. */
	[DB_STATUS] = { "status", 1,
		"SELECT (SELECT count(*) FROM chat_results WHERE status = 'pending'),"
		" (SELECT count(*) FROM jobs WHERE status = 'pending'),"
		" (SELECT count(*) FROM chat_results WHERE status = 'processing'),"
		" (SELECT count(*) FROM jobs WHERE status = 'running'),"
		" (SELECT count(*) FROM worker_slots WHERE pid IS NOT NULL"
		"  AND heartbeat_at > now() - $1 * interval '1 second'),"
		" coalesce(extract(epoch FROM now() - least("
		"  (SELECT min(created_at) FROM chat_results WHERE status = 'pending'),"
		"  (SELECT min(created_at) FROM jobs WHERE status = 'pending')))::bigint::text, '-'),"
		" coalesce((SELECT " TS("ran_at") " FROM reaper_state WHERE id = 1), 'never'),"
		" coalesce((SELECT extract(epoch FROM now() - ran_at)::bigint::text FROM reaper_state"
		"  WHERE id = 1), '-'),"
		" (SELECT count(*) FROM jobs WHERE status = 'running' AND (lease_until < now()"
		"  OR coalesce(attempt_at, started_at) + timeout_s * interval '1 second' < now()))" },
};

/*
 * The statements that may run twice: reads, and writes whose second run
 * changes nothing and answers as the first (a lease renewed again, a slot's
 * heartbeat). Any other is never re-run after a lost connection, since the
 * server may have committed it: a claim would orphan its rows, an insert
 * would fail on its own ids or an UPDATE answer "not found". A statement
 * missing here is not re-run, which is always safe.
 */
static const bool idempotent[DB_STMT__MAX] = {
	[DB_CHAT_STORED] = true,
	[DB_JOB_ACCEPTED] = true,
	[DB_CHAT_CLAIMED] = true,
	[DB_JOB_CLAIMED] = true,
	[DB_CHAT_STATUS] = true,
	[DB_CHAT_NOTIFY] = true,
	[DB_CHAT_RENEW] = true,
	[DB_CHAT_RELEASE] = true,
	[DB_SLOT_HEARTBEAT] = true,
	[DB_SLOT_RELEASE] = true,
	[DB_HEALTH] = true,
	[DB_QUEUE_WAITING] = true,
	[DB_BATCH_GROUPS] = true,
	[DB_BATCH_ITEMS] = true,
	[DB_BATCH_RENEW] = true,
	[DB_BATCH_RELEASE] = true,
	[DB_JOB_STEP_READ] = true,
	[DB_KEY_LOOKUP] = true,
	[DB_KEY_LIST] = true,
	[DB_ACTIVE_COUNT] = true,
	[DB_JOB_KEY_EXPIRE] = true,
	[DB_JOB_BY_KEY] = true,
	[DB_JOB_GET] = true,
	[DB_JOB_STATUS] = true,
	[DB_JOB_RESULT] = true,
	[DB_JOB_LIST] = true,
	[DB_ANALYSIS_CLAIMABLE] = true,
	[DB_JOB_RENEW] = true,
	[DB_JOB_RELEASE] = true,
	[DB_PROMPT_LIST] = true,
	[DB_SCHEDULE_DONE] = true,
	[DB_ANALYSIS_SHOW] = true,
	[DB_ANALYSIS_BATCHES] = true,
	[DB_ANALYSIS_BATCH] = true,
	[DB_METRICS] = true,
	[DB_STATUS] = true,
	/* A pause run twice ends a reconnect's length later: harmless. */
	[DB_PAUSE_SET] = true,
	[DB_PAUSE_READ] = true,
};

bool
db_stmt_idempotent(enum db_stmt stmt)
{
	return (int)stmt >= 0 && stmt < DB_STMT__MAX && idempotent[stmt];
}

struct db {
	PGconn *conn;
	char *conninfo;
	struct db_options opt;
	bool prepared[DB_STMT__MAX];
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
	memset(db->prepared, 0, sizeof db->prepared);
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
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

static enum aigw_err
prepare(struct db *db, enum db_stmt id)
{
	PGresult *res;
	enum aigw_err err = AIGW_OK;

	if (db->prepared[id])
		return AIGW_OK;
	if (!PQsendPrepare(db->conn, stmts[id].name, stmts[id].sql, stmts[id].nparams, NULL)) {
		log_error("db", NULL, "while preparing %s: %.300s", stmts[id].name,
			  PQerrorMessage(db->conn));
		return AIGW_EDB;
	}
	res = collect(db, statement_deadline(db), stmts[id].name);
	if (res == NULL)
		return AIGW_EDB;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_error("db", NULL, "while preparing %s: %.300s", stmts[id].name,
			  PQresultErrorMessage(res));
		err = AIGW_EDB;
	} else {
		db->prepared[id] = true;
	}
	PQclear(res);
	return err;
}

static enum aigw_err
exec_once(struct db *db, enum db_stmt id, const char *const *values, PGresult **out)
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
		sent = PQsendQueryParams(db->conn, stmts[id].sql, stmts[id].nparams, NULL, values,
					 NULL, NULL, 0);
	} else {
		err = prepare(db, id);
		if (err != AIGW_OK)
			return err;
		sent = PQsendQueryPrepared(db->conn, stmts[id].name, stmts[id].nparams, values,
					   NULL, NULL, 0);
	}
	if (!sent) {
		log_error("db", NULL, "while sending %s: %.300s", stmts[id].name,
			  PQerrorMessage(db->conn));
		if (PQstatus(db->conn) == CONNECTION_BAD)
			disconnect(db);
		return AIGW_EDB;
	}
	res = collect(db, statement_deadline(db), stmts[id].name);
	if (res == NULL)
		return AIGW_EDB;
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return AIGW_OK;
	}
	log_error("db", NULL, "while running %s: %.300s", stmts[id].name,
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
db_exec(struct db *db, enum db_stmt id, const char *const *values, PGresult **out)
{
	enum aigw_err err;

	*out = NULL;
	if ((int)id < 0 || id >= DB_STMT__MAX)
		return AIGW_EINVAL;
	/* exec_once would connect afresh, outside the transaction. */
	if (db->in_tx && conn_gone(db))
		return AIGW_EDB;
	db->timed_out = false;
	err = exec_once(db, id, values, out);
	if (err == AIGW_EDB && !db->in_tx && conn_gone(db) && !db->timed_out &&
	    idempotent[id]) {
		/* The server restarted under us: one fresh connection, one retry. */
		disconnect(db);
		err = exec_once(db, id, values, out);
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
db_exec_text(struct db *db, enum db_stmt stmt, const char *const *values, int col, char **text)
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
db_exec_rows(struct db *db, enum db_stmt stmt, const char *const *values, int *rows)
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
db_exec_fenced(struct db *db, enum db_stmt stmt, const char *id, int attempt, const char *extra,
	       bool *ours)
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
