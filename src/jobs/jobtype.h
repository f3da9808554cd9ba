/*
 * jobtype.h: job types, declared in JSON files and loaded once at start.
 *
 * A type names its input fields (type, required, max length), timeout,
 * attempts, a poll-interval hint for clients, and ordered steps. A step has
 * a status message, the progress it reaches (rising, the last one 100), a
 * prompt template compiled at load (a placeholder may name a declared
 * input or an earlier step only), and one provider+model or a fan-out to
 * several; "output": "json" asks for a JSON answer. A step may also ask for
 * web search and a location, each fixed or taken from an input, and a
 * fan-out may take the subset of its providers to run from an array input
 * ("platforms"). Loading validates all
 * of this and reports the first fault with the file's name. The registry
 * owns everything; it is read-only after loading, so any thread may use it.
 */
#ifndef AIGW_JOBS_JOBTYPE_H
#define AIGW_JOBS_JOBTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "jobs/template.h"

#define JOBTYPE_NAME_MAX 64
#define JOBTYPE_MAX_STEPS 32
#define JOBTYPE_MAX_FANOUT 8
#define JOBTYPE_MAX_INPUTS 32

enum input_type { INPUT_STRING, INPUT_INTEGER, INPUT_NUMBER, INPUT_BOOLEAN, INPUT_ARRAY,
		  INPUT_OBJECT, INPUT__MAX };

struct jobtype_input {
	char *name;
	enum input_type type;
	bool required;
	long max_length;      /* strings: characters; arrays: items; 0 = default */
	char *description;
	bool country_code;    /* a step's location: exactly two ASCII letters */
};

struct jobtype_call {
	char *provider;
	char *model;
};

struct jobtype_step {
	char *name;
	char *status_message;
	int progress;                 /* 1..100, rising */
	struct template *prompt;
	struct template *system;      /* NULL when none */
	struct jobtype_call calls[JOBTYPE_MAX_FANOUT];
	size_t ncalls;                /* 1, or more for a fan-out */
	bool output_json;
	int max_tokens;
	bool fanout;                  /* declared with "fanout" (even of one call) */
	/* Each setting below is fixed, or taken at run time from the input it
	 * points to (then the fixed value is unused). */
	bool websearch;
	const struct jobtype_input *websearch_input;  /* boolean; absent = false */
	char location[3];             /* upper-case country code, "" for none */
	const struct jobtype_input *location_input;   /* string; absent = none */
	const struct jobtype_input *platforms_input;  /* array of providers of
						       * the fan-out; absent = all */
};

struct jobtype {
	char *name;
	char *description;
	long timeout_s;
	int attempts;
	int poll_interval_s;
	struct jobtype_input inputs[JOBTYPE_MAX_INPUTS];
	size_t ninputs;
	struct jobtype_step steps[JOBTYPE_MAX_STEPS];
	size_t nsteps;
	size_t output_step;           /* index of the step whose output is the job's */
	json_object *declaration;     /* the file as loaded, for GET /api/jobtypes */
};

struct jobtype_registry;

/* Loads every *.json of dir. AIGW_ECONFIG with "<file>: <fault>" in errbuf
 * for an invalid file or a duplicate name; AIGW_EIO for an unreadable
 * directory; AIGW_ENOMEM. An empty directory is a valid, empty registry. */
enum aigw_err jobtype_load_dir(const char *dir, struct jobtype_registry **out,
			       char *errbuf, size_t errlen) AIGW_MUSTCHECK;
/* jobtype_load_dir for a program's start: an invalid file, or a directory
 * that exists but cannot be read, prints one line on stderr starting with
 * program and fails; a missing directory is no job types (*out NULL, which
 * every lookup below takes as an empty registry), with a log line. */
enum aigw_err jobtype_load_program(const char *program, const char *dir,
				   struct jobtype_registry **out) AIGW_MUSTCHECK;
/* Parses one declaration (for tests and for jobtype_load_dir). */
enum aigw_err jobtype_parse(const char *json, size_t len, struct jobtype **out,
			    char *errbuf, size_t errlen) AIGW_MUSTCHECK;
void jobtype_free(struct jobtype *t);
void jobtype_registry_free(struct jobtype_registry *r);

const struct jobtype *jobtype_find(const struct jobtype_registry *r, const char *name);
size_t jobtype_count(const struct jobtype_registry *r);
const struct jobtype *jobtype_at(const struct jobtype_registry *r, size_t i);

/* Checks a job's input object against the type. On failure returns
 * AIGW_EINVAL with the offending field name ("input.company_name", or
 * "input" for an unknown name too long to repeat) in field and a sentence
 * in msg. Besides its declared type, an input a step takes its location
 * from must be a country code, and one a step takes its platforms from must
 * list distinct providers of that step's fan-out, at least one. */
enum aigw_err jobtype_check_input(const struct jobtype *t, json_object *input,
				  char *field, size_t fieldlen, char *msg, size_t msglen) AIGW_MUSTCHECK;

const char *jobtype_input_type_name(enum input_type t);

/* The names of the type's steps in order, as a new JSON array; NULL on
 * ENOMEM. */
json_object *jobtype_step_names(const struct jobtype *t);

/* What a client needs to offer the type (GET /api/jobtypes), as a new
 * object: name, description, timeout_s, poll_interval_s, input (each
 * field's type, required, max_length, description) and steps (name,
 * status_message, progress, the providers and models it calls). The
 * prompts are left out: they are the operator's. NULL on ENOMEM. */
json_object *jobtype_public_json(const struct jobtype *t);

/* Whether s[0..len) is two ASCII letters (an ISO 3166-1 alpha-2 code in
 * either case). */
bool jobtype_country_code(const char *s, size_t len);

#endif
