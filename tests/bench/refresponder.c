/*
 * refresponder.c: the benchmark's measuring stick, not part of aigw.
 *
 * A minimal multi-threaded FastCGI responder for the four hot paths
 * (chat submit and status, job submit and status). Each thread keeps one
 * PostgreSQL connection with the same statements aigw prepares
 * (src/db/db.c: chat_insert, chat_status, job_insert, job_status), parses
 * request bodies with json-c, and answers roughly what aigw answers. There
 * is no auth, no limits, no worker wake-up, no logging: what is left is
 * the floor under any responder built from these libraries.
 *
 *   refresponder --listen 127.0.0.1:PORT [--threads N]   (DATABASE_URL)
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
#include <sys/random.h>

#define BODY_MAX (256 * 1024)
#define THREADS_MAX 256

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
	PGconn *c = connect_db();

	(void)arg;
	if (c == NULL || FCGX_InitRequest(&r, listen_fd, 0) != 0) {
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

int
main(int argc, char **argv)
{
	const char *listen_addr = NULL;
	long threads = 16;
	pthread_t tids[THREADS_MAX];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_addr = argv[++i];
		} else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
			char *end;

			threads = strtol(argv[++i], &end, 10);
			if (*end != '\0' || threads < 1 || threads > THREADS_MAX)
				listen_addr = NULL, i = argc;
		} else {
			listen_addr = NULL;
			break;
		}
	}
	conninfo = getenv("DATABASE_URL");
	if (listen_addr == NULL || conninfo == NULL) {
		fprintf(stderr, "usage: DATABASE_URL=... %s --listen HOST:PORT [--threads 1..%d]\n",
			argv[0], THREADS_MAX);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "refresponder: FCGX_Init failed\n");
		return 1;
	}
	listen_fd = FCGX_OpenSocket(listen_addr, 1024);
	if (listen_fd < 0) {
		fprintf(stderr, "refresponder: cannot listen on %s\n", listen_addr);
		return 1;
	}
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
