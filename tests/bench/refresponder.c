/*
 * refresponder.c: the benchmark's measuring stick, not part of aigw.
 *
 * A minimal FastCGI responder for the four hot paths (chat submit and
 * status, job submit and status). Each thread keeps one PostgreSQL
 * connection with the same statements aigw prepares (src/db/db.c:
 * chat_insert, chat_status, job_insert, job_status), parses request bodies
 * with json-c, and answers roughly what aigw answers. There is no auth, no
 * limits, no worker wake-up, no logging: what is left is the floor under
 * any responder built from these libraries.
 *
 * --no-db is the ceiling of any FastCGI backend on the machine: libfcgi
 * alone, no database and no JSON parsing. A submit reads its body and
 * answers aigw's 202 body with a fresh uuid; a status answers a fixed body
 * (aigw's own, from --chat-status-body / --job-status-body, so that the
 * bytes on the wire are the same). Every answer carries an X-Request-Id and
 * a Content-Length as aigw's do.
 *
 * --procs N forks N - 1 more processes after listening, each running
 * --threads threads on the one socket (the kernel hands each connection to
 * one accept()); a child dies with the parent (PR_SET_PDEATHSIG), so that
 * stopping the parent by its pid stops them all.
 *
 *   refresponder --listen 127.0.0.1:PORT [--threads N] [--procs N]   (DATABASE_URL)
 *   refresponder --listen 127.0.0.1:PORT --no-db [--threads N] [--procs N]
 *                [--chat-status-body FILE] [--job-status-body FILE]
 *
 * Build: cc -O2 -Wall -Wextra -o refresponder refresponder.c \
 *            -lfcgi -ljson-c -lpq -lpthread
 */
#include <errno.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (256 * 1024)
#define THREADS_MAX 256
#define PROCS_MAX 64
#define STATUS_BODY_MAX (64 * 1024)

/* The statements, as src/db/db.c has them. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
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
#define JOB_ACCEPTED_JSON \
	"json_build_object('id', j.job_id, 'job_id', j.job_id, 'type', j.type, 'status', j.status," \
	" 'progress', j.progress, 'created_at', " TS("j.created_at") ")::text"

enum { CHAT_INSERT, CHAT_STATUS, JOB_INSERT, JOB_STATUS, NSTMTS };

static const struct {
	const char *name;
	int nparams;
	const char *sql;
} stmts[NSTMTS] = {
	[CHAT_INSERT] = { "chat_insert", 10,
		"INSERT INTO chat_results (chat_id, owner_user, owner_org, message,"
		" system_prompt, max_tokens, websearch, location, models, expires_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb,"
		"  now() + $10 * interval '1 second')" },
	[CHAT_STATUS] = { "chat_status", 2,
		"SELECT chat_id, status, version, results::text,"
		" CASE WHEN status IN ('completed', 'failed') THEN '[]' ELSE"
		"  (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb)"
		"   FROM jsonb_object_keys(models) k WHERE NOT results ? k)::text END, "
		TS("created_at") ", " TS("completed_at") ", " TS("expires_at")
		" FROM chat_results WHERE chat_id = $1 AND owner_user = $2"
		" AND expires_at > now()" },
	[JOB_INSERT] = { "job_insert", 11,
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
	[JOB_STATUS] = { "job_status", 2,
		"SELECT " JOB_STATUS_JSON ", j.version, j.status"
		" FROM jobs j WHERE j.job_id = $1 AND j.owner_user = $2" },
};

/* The one job type the benchmark submits (jobtypes/brief_generation.json). */
#define JOB_TYPE "brief_generation"
#define JOB_STEPS "[\"draft\",\"review\"]"
#define JOB_ATTEMPTS "3"
#define JOB_TIMEOUT_S "600"
#define CHAT_TTL_S "3600"
#define OWNER "" /* aigw's anonymous caller (AIGW_AUTH=none) */

static pthread_mutex_t accept_lock = PTHREAD_MUTEX_INITIALIZER;
static int listen_fd;
static const char *conninfo;
static int no_db;

/* --no-db's status bodies: aigw's shapes and sizes unless files give them. */
static char chat_status_body[STATUS_BODY_MAX] =
	"{\"success\":true,\"chatId\":\"00000000-0000-4000-8000-000000000000\",\"status\":"
	"\"completed\",\"version\":3,\"results\":{\"openai\": {\"ok\": true, \"text\": "
	"\"mock answer\", \"model\": \"gpt-4o\"}, \"anthropic\": {\"ok\": true, \"text\": "
	"\"mock answer\", \"model\": \"claude-3-5-haiku-latest\"}, \"gemini\": {\"ok\": true, "
	"\"text\": \"mock answer\", \"model\": \"gemini-2.5-flash\"}},\"pending\":[],"
	"\"createdAt\":\"2026-12-08T00:00:00Z\",\"completedAt\":\"2026-12-08T00:00:01Z\","
	"\"expiresAt\":\"2026-12-08T01:00:00Z\"}";
static char job_status_body[STATUS_BODY_MAX] =
	"{\"id\" : \"00000000-0000-4000-8000-000000000000\", \"type\" : \"brief_generation\", "
	"\"status\" : \"completed\", \"progress\" : 100, \"status_message\" : \"Done\", "
	"\"steps\" : [{\"name\" : \"draft\", \"status\" : \"completed\"}, {\"name\" : "
	"\"review\", \"status\" : \"completed\"}], \"error\" : null, \"attempts\" : 1, "
	"\"decision_id\" : null, \"version\" : 4, \"created_at\" : \"2026-12-08T00:00:00Z\", "
	"\"started_at\" : \"2026-12-08T00:00:00Z\", \"completed_at\" : \"2026-12-08T00:00:01Z\"}";

/* ---- answers ---- */

static void
answer(FCGX_Request *r, int status, const char *extra_headers, const char *body)
{
	FCGX_FPrintF(r->out,
		     "Status: %d\r\nContent-Type: application/json; charset=utf-8\r\n"
		     "Cache-Control: no-store\r\n%s\r\n%s",
		     status, extra_headers, body);
}

static void
fail(FCGX_Request *r, int status, const char *code)
{
	char body[160];

	snprintf(body, sizeof body, "{\"success\":false,\"error\":\"%s\",\"code\":\"%s\"}", code,
		 code);
	answer(r, status, "", body);
}

/* ---- the database: one connection per thread, statements prepared once ---- */

static PGconn *
connect_db(void)
{
	PGconn *c = PQconnectdb(conninfo);
	int i;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "refresponder: connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	for (i = 0; i < NSTMTS; i++) {
		PGresult *res = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			fprintf(stderr, "refresponder: prepare %s: %s", stmts[i].name,
				PQerrorMessage(c));
		PQclear(res);
		if (!ok) {
			PQfinish(c);
			return NULL;
		}
	}
	return c;
}

/* Runs a prepared statement; NULL (and the connection dropped when it
 * broke, to be made again by the next request) on failure. */
static PGresult *
run(PGconn **c, int stmt, const char *const *values, ExecStatusType want)
{
	PGresult *res;

	if (*c == NULL && (*c = connect_db()) == NULL)
		return NULL;
	res = PQexecPrepared(*c, stmts[stmt].name, stmts[stmt].nparams, values, NULL, NULL, 0);
	if (PQresultStatus(res) == want)
		return res;
	fprintf(stderr, "refresponder: %s: %s", stmts[stmt].name, PQerrorMessage(*c));
	PQclear(res);
	if (PQstatus(*c) != CONNECTION_OK) {
		PQfinish(*c);
		*c = NULL;
	}
	return NULL;
}

/* ---- request helpers ---- */

static int
new_uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

static int
is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	}
	return 1;
}

/* The JSON object of the request body, or NULL after answering 4xx. */
static json_object *
read_json(FCGX_Request *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	long n = cl ? strtol(cl, NULL, 10) : 0;
	json_tokener *tok;
	json_object *root = NULL;
	char *buf;

	if (n <= 0 || n > BODY_MAX) {
		fail(r, n > BODY_MAX ? 413 : 400, "invalid_json");
		return NULL;
	}
	buf = malloc((size_t)n);
	if (buf == NULL) {
		fail(r, 500, "internal");
		return NULL;
	}
	if (FCGX_GetStr(buf, (int)n, r->in) != (int)n) {
		free(buf);
		fail(r, 400, "invalid_json");
		return NULL;
	}
	tok = json_tokener_new();
	if (tok != NULL) {
		root = json_tokener_parse_ex(tok, buf, (int)n);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(root);
			root = NULL;
		}
		json_tokener_free(tok);
	}
	free(buf);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		fail(r, 400, "invalid_json");
		return NULL;
	}
	return root;
}

/* ---- the four paths ---- */

static void
chat_submit(FCGX_Request *r, PGconn **c)
{
	json_object *root = read_json(r), *message, *models;
	const char *values[10];
	char id[37], headers[128], body[128];
	PGresult *res;

	if (root == NULL)
		return;
	if (!json_object_object_get_ex(root, "message", &message) ||
	    !json_object_is_type(message, json_type_string) ||
	    json_object_get_string_len(message) == 0 ||
	    !json_object_object_get_ex(root, "models", &models) ||
	    !json_object_is_type(models, json_type_object) ||
	    json_object_object_length(models) == 0) {
		fail(r, 400, "invalid_field");
		goto out;
	}
	if (new_uuid(id) != 0) {
		fail(r, 500, "internal");
		goto out;
	}
	values[0] = id;
	values[1] = OWNER;
	values[2] = "";
	values[3] = json_object_get_string(message);
	values[4] = NULL;
	values[5] = "1024";
	values[6] = "false";
	values[7] = NULL;
	values[8] = json_object_to_json_string_ext(models, JSON_C_TO_STRING_PLAIN);
	values[9] = CHAT_TTL_S;
	res = run(c, CHAT_INSERT, values, PGRES_COMMAND_OK);
	if (res == NULL) {
		fail(r, 503, "unavailable");
		goto out;
	}
	PQclear(res);
	snprintf(headers, sizeof headers,
		 "Location: /api/ai/chat/status?id=%s\r\nRetry-After: 1\r\n", id);
	snprintf(body, sizeof body, "{\"success\":true,\"chatId\":\"%s\",\"status\":\"pending\"}",
		 id);
	answer(r, 202, headers, body);
out:
	json_object_put(root);
}

static void
chat_status(FCGX_Request *r, PGconn **c)
{
	const char *q = FCGX_GetParam("QUERY_STRING", r->envp);
	const char *values[2];
	char id[37];
	PGresult *res;

	if (q == NULL || strncmp(q, "id=", 3) != 0 || !is_uuid(q + 3, strcspn(q + 3, "&"))) {
		fail(r, 400, "invalid_id");
		return;
	}
	memcpy(id, q + 3, 36);
	id[36] = '\0';
	values[0] = id;
	values[1] = OWNER;
	res = run(c, CHAT_STATUS, values, PGRES_TUPLES_OK);
	if (res == NULL) {
		fail(r, 503, "unavailable");
		return;
	}
	if (PQntuples(res) != 1) {
		fail(r, 404, "not_found");
	} else {
		FCGX_FPrintF(r->out,
			     "Status: 200\r\nContent-Type: application/json; charset=utf-8\r\n"
			     "Cache-Control: no-store\r\n\r\n"
			     "{\"success\":true,\"chatId\":\"%s\",\"status\":\"%s\",\"version\":%s,"
			     "\"results\":%s,\"pending\":%s,\"createdAt\":\"%s\",",
			     PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			     PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
		if (PQgetisnull(res, 0, 6))
			FCGX_FPrintF(r->out, "\"completedAt\":null,");
		else
			FCGX_FPrintF(r->out, "\"completedAt\":\"%s\",", PQgetvalue(res, 0, 6));
		FCGX_FPrintF(r->out, "\"expiresAt\":\"%s\"}", PQgetvalue(res, 0, 7));
	}
	PQclear(res);
}

static void
job_submit(FCGX_Request *r, PGconn **c)
{
	json_object *root = read_json(r), *type, *input;
	const char *values[11];
	char id[37], headers[96];
	PGresult *res;

	if (root == NULL)
		return;
	if (!json_object_object_get_ex(root, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), JOB_TYPE) != 0 ||
	    !json_object_object_get_ex(root, "input", &input) ||
	    !json_object_is_type(input, json_type_object)) {
		fail(r, 400, "invalid_field");
		goto out;
	}
	if (new_uuid(id) != 0) {
		fail(r, 500, "internal");
		goto out;
	}
	values[0] = id;
	values[1] = JOB_TYPE;
	values[2] = OWNER;
	values[3] = "";
	values[4] = NULL;
	values[5] = json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN);
	values[6] = JOB_ATTEMPTS;
	values[7] = JOB_TIMEOUT_S;
	values[8] = NULL;
	values[9] = NULL;
	values[10] = JOB_STEPS;
	res = run(c, JOB_INSERT, values, PGRES_TUPLES_OK);
	if (res == NULL) {
		fail(r, 503, "unavailable");
		goto out;
	}
	if (PQntuples(res) != 1) {
		fail(r, 500, "internal");
	} else {
		snprintf(headers, sizeof headers, "Location: /api/jobs/%s\r\nRetry-After: 2\r\n", id);
		answer(r, 202, headers, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
out:
	json_object_put(root);
}

static void
job_status(FCGX_Request *r, PGconn **c, const char *id)
{
	const char *values[2] = { id, OWNER };
	PGresult *res = run(c, JOB_STATUS, values, PGRES_TUPLES_OK);

	if (res == NULL) {
		fail(r, 503, "unavailable");
		return;
	}
	if (PQntuples(res) != 1)
		fail(r, 404, "not_found");
	else
		answer(r, 200, "", PQgetvalue(res, 0, 0));
	PQclear(res);
}

/* ---- --no-db: the same answers without a database ---- */

/* Reads (and drops) the request body, as a responder must before it can
 * answer; 0, or -1 after answering 4xx. */
static int
drain_body(FCGX_Request *r)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	long n = cl ? strtol(cl, NULL, 10) : 0;
	char buf[4096];

	if (n <= 0 || n > BODY_MAX) {
		fail(r, n > BODY_MAX ? 413 : 400, "invalid_json");
		return -1;
	}
	while (n > 0) {
		int want = n > (long)sizeof buf ? (int)sizeof buf : (int)n;
		int got = FCGX_GetStr(buf, want, r->in);

		if (got <= 0) {
			fail(r, 400, "invalid_json");
			return -1;
		}
		n -= got;
	}
	return 0;
}

/* Status, X-Request-Id (a fresh uuid) and Content-Length, as aigw sends
 * them (without a length nginx would send the answer chunked), and the
 * body. */
static void
answer_nodb(FCGX_Request *r, int status, const char *extra_headers, const char *body)
{
	char rid[37], headers[256];

	if (new_uuid(rid) != 0) {
		fail(r, 500, "internal");
		return;
	}
	snprintf(headers, sizeof headers, "Content-Length: %zu\r\nX-Request-Id: %s\r\n%s",
		 strlen(body), rid, extra_headers);
	answer(r, status, headers, body);
}

static void
route_nodb(FCGX_Request *r, const char *method, const char *path)
{
	char id[37], headers[128], body[320], created[24];
	time_t now = time(NULL);
	struct tm tm;

	if (strcmp(path, "/api/ai/chat/status") == 0 && strcmp(method, "GET") == 0) {
		answer_nodb(r, 200, "", chat_status_body);
		return;
	}
	if (strcmp(method, "GET") == 0 && strncmp(path, "/api/jobs/", 10) == 0) {
		answer_nodb(r, 200, "", job_status_body);
		return;
	}
	if (strcmp(method, "POST") != 0 ||
	    (strcmp(path, "/api/ai/chat") != 0 && strcmp(path, "/api/jobs") != 0)) {
		fail(r, 404, "not_found");
		return;
	}
	if (drain_body(r) != 0)
		return;
	if (new_uuid(id) != 0 || gmtime_r(&now, &tm) == NULL ||
	    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		fail(r, 500, "internal");
		return;
	}
	if (strcmp(path, "/api/ai/chat") == 0) {
		snprintf(headers, sizeof headers,
			 "Location: /api/ai/chat/status?id=%s\r\nRetry-After: 1\r\n", id);
		snprintf(body, sizeof body,
			 "{\"success\":true,\"chatId\":\"%s\",\"status\":\"pending\"}", id);
	} else {
		/* aigw's job 202 is json-c's spaced form (the statement builds it). */
		snprintf(headers, sizeof headers, "Location: /api/jobs/%s\r\nRetry-After: 2\r\n",
			 id);
		snprintf(body, sizeof body,
			 "{\"id\" : \"%s\", \"job_id\" : \"%s\", \"type\" : \"" JOB_TYPE "\", "
			 "\"status\" : \"pending\", \"progress\" : 0, \"created_at\" : \"%s\"}",
			 id, id, created);
	}
	answer_nodb(r, 202, headers, body);
}

static void
route(FCGX_Request *r, PGconn **c)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	const char *path = FCGX_GetParam("DOCUMENT_URI", r->envp);
	const char *prefix = "/api/jobs/", *suffix = "/status";
	size_t n;

	if (method == NULL || path == NULL) {
		fail(r, 400, "bad_request");
		return;
	}
	if (no_db) {
		route_nodb(r, method, path);
		return;
	}
	n = strlen(path);
	if (strcmp(path, "/api/ai/chat") == 0 && strcmp(method, "POST") == 0)
		chat_submit(r, c);
	else if (strcmp(path, "/api/ai/chat/status") == 0 && strcmp(method, "GET") == 0)
		chat_status(r, c);
	else if (strcmp(path, "/api/jobs") == 0 && strcmp(method, "POST") == 0)
		job_submit(r, c);
	else if (strcmp(method, "GET") == 0 && n == strlen(prefix) + 36 + strlen(suffix) &&
		 strncmp(path, prefix, strlen(prefix)) == 0 &&
		 strcmp(path + n - strlen(suffix), suffix) == 0 &&
		 is_uuid(path + strlen(prefix), 36)) {
		char id[37];

		memcpy(id, path + strlen(prefix), 36);
		id[36] = '\0';
		job_status(r, c, id);
	} else {
		fail(r, 404, "not_found");
	}
}

static void *
serve(void *arg)
{
	FCGX_Request r;
	PGconn *c = no_db ? NULL : connect_db();

	(void)arg;
	if ((!no_db && c == NULL) || FCGX_InitRequest(&r, listen_fd, 0) != 0) {
		fprintf(stderr, "refresponder: a thread could not start\n");
		exit(1);
	}
	for (;;) {
		int rc;

		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&r);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0) {
			fprintf(stderr, "refresponder: accept failed (%d)\n", rc);
			exit(1);
		}
		route(&r, &c);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

/* Reads a --*-status-body file into body (NUL-terminated); -1 on failure. */
static int
read_body_file(const char *path, char *body, size_t size)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int err;

	if (f == NULL) {
		fprintf(stderr, "refresponder: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(body, 1, size - 1, f);
	err = ferror(f) || !feof(f);
	fclose(f);
	if (err || n == 0) {
		fprintf(stderr, "refresponder: %s: unreadable, empty or over %zu bytes\n", path,
			size - 1);
		return -1;
	}
	body[n] = '\0';
	return 0;
}

static long
count_arg(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end != '\0' || v < 1 || v > max ? -1 : v;
}

/* One process: its threads, until they end (they do not, but on a fatal
 * error, which exits). */
static int
run_threads(long threads)
{
	pthread_t tids[THREADS_MAX];
	long i;

	for (i = 0; i < threads; i++) {
		int err = pthread_create(&tids[i], NULL, serve, NULL);

		if (err != 0) {
			fprintf(stderr, "refresponder: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *listen_addr = NULL, *chat_body_file = NULL, *job_body_file = NULL;
	long threads = 16, procs = 1, p;
	int i, bad = 0;

	for (i = 1; i < argc && !bad; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_addr = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			bad = (threads = count_arg(argv[++i], THREADS_MAX)) < 0;
		else if (strcmp(argv[i], "--procs") == 0 && i + 1 < argc)
			bad = (procs = count_arg(argv[++i], PROCS_MAX)) < 0;
		else if (strcmp(argv[i], "--no-db") == 0)
			no_db = 1;
		else if (strcmp(argv[i], "--chat-status-body") == 0 && i + 1 < argc)
			chat_body_file = argv[++i];
		else if (strcmp(argv[i], "--job-status-body") == 0 && i + 1 < argc)
			job_body_file = argv[++i];
		else
			bad = 1;
	}
	conninfo = getenv("DATABASE_URL");
	if (bad || listen_addr == NULL || (!no_db && conninfo == NULL)) {
		fprintf(stderr,
			"usage: DATABASE_URL=... %s --listen HOST:PORT [--threads 1..%d] [--procs 1..%d]\n"
			"       %s --listen HOST:PORT --no-db [--threads N] [--procs N]"
			" [--chat-status-body FILE] [--job-status-body FILE]\n",
			argv[0], THREADS_MAX, PROCS_MAX, argv[0]);
		return 2;
	}
	if ((chat_body_file != NULL &&
	     read_body_file(chat_body_file, chat_status_body, sizeof chat_status_body) != 0) ||
	    (job_body_file != NULL &&
	     read_body_file(job_body_file, job_status_body, sizeof job_status_body) != 0))
		return 1;
	if (FCGX_Init() != 0) {
		fprintf(stderr, "refresponder: FCGX_Init failed\n");
		return 1;
	}
	listen_fd = FCGX_OpenSocket(listen_addr, 1024);
	if (listen_fd < 0) {
		fprintf(stderr, "refresponder: cannot listen on %s\n", listen_addr);
		return 1;
	}
	/* Fork before any thread or connection: each process makes its own. */
	for (p = 1; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "refresponder: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() == 1)
				_exit(1);
			_exit(run_threads(threads));
		}
	}
	return run_threads(threads);
}
