/*
 * server.h: what the FastCGI or CGI front end hands a request to.
 *
 * struct http_app is shared by every thread and read-only after start.
 * struct http_thread is one thread's own state (its database connection);
 * the front end makes one per thread. http_handle() answers one request
 * completely, whatever goes wrong: it never fails from the caller's view.
 * Owns what a request shares with the rest of the process, and the
 * answers to failures common to every handler (field errors, bad JSON).
 */
#ifndef AIGW_HTTP_SERVER_H
#define AIGW_HTTP_SERVER_H

#include "core/config.h"
#include "db/db.h"
#include "http/http.h"
#include "http/wake.h"
#include "jobtype/jobtype.h"

struct commit_group;
struct hub;
struct rt_gate;
struct status_cache;
struct status_cache_stats;

struct http_app {
	const struct aigw_config *cfg;
	/* The worker's environment, prepared once so that spawning does no
	 * allocation between fork and exec. */
	char **spawn_env;
	/* Wakes workers after a submit; NULL in CGI mode (done inline). */
	struct waker *waker;
	/* The job types of AIGW_JOBTYPES_DIR, loaded once at start. */
	const struct jobtype_registry *jobtypes;
	/* Bounds the long-polls and event streams waiting at once
	 * (http/realtime.h); NULL in CGI mode, where each is its own process. */
	struct rt_gate *gate;
	/* Chat submits committed together (http/commit.h); NULL in CGI mode. */
	struct commit_group *chat_commits;
	/* The one LISTEN of the process for waiting requests (http/hub.h);
	 * NULL in CGI mode, where a request listens itself. */
	struct hub *hub;
	/* Recently polled statuses, kept in step by the hub
	 * (http/status_cache.h); NULL in CGI mode or when turned off. */
	struct status_cache *status_cache;
	/* Its figures, shared by the processes of one aigw-fcgi; may be NULL. */
	struct status_cache_stats *status_cache_stats;
	/* This process's place among them (--processes: its slot; else 0). */
	long process_index;
	/* Plain CGI: each request is a process with a database connection
	 * of its own, so waits are short (AIGW_CGI_WAIT_MAX_S) and event
	 * streams are refused (http/realtime.h). */
	bool cgi;
};

struct http_thread {
	const struct http_app *app;
	struct db *db;
	int wake_fd;               /* eventfd the hub wakes a waiting request by; -1 */
};

/* A field-level validation failure, answered as 400 (or as status). */
struct http_field_error {
	int status;
	const char *code;
	char field[96];
	char msg[256];
};

void http_field_error_set(struct http_field_error *e, int status, const char *code,
			  const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void http_resp_field_error(struct http_req *req, const struct http_field_error *e);

/* Whether v is a string of min to max characters of UTF-8 without NUL;
 * else false with e filled (400, code_type when v is no string, else
 * code_value), naming field. The API's vocabularies differ in their codes
 * only. */
bool http_check_text(json_object *v, const char *field, long min, long max,
		     const char *code_type, const char *code_value, struct http_field_error *e);

/* Parses a JSON request body strictly: valid UTF-8 (as PostgreSQL takes
 * it), one value, nothing after it but white space, nesting at most 32
 * deep. NULL (and e filled with invalid_json) when it is not JSON. The
 * caller owns the result. */
json_object *http_parse_json(const char *body, size_t len, struct http_field_error *e);

void http_handle(struct http_thread *t, const struct http_io *io);

#endif
