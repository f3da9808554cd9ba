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
 * ("platforms").
 *
 * This file owns the declaration's structures and its parsing (jobtype.c):
 * parsing validates all of the above and reports the first fault; it
 * fails only on an invalid declaration or out of memory. The registry of a
 * directory (registry.h), the check of a job's input (input.h) and the
 * client's view of a type (describe.h) are declared in their own headers,
 * included below.
 */
#ifndef AIGW_JOBS_JOBTYPE_H
#define AIGW_JOBS_JOBTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "jobtype/template.h"

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

struct aigw_config;

/* Parses one declaration (for tests and for jobtype_load_dir). AIGW_ECONFIG
 * with the first fault in errbuf; AIGW_ENOMEM. Its providers are the
 * built-in ones. */
enum aigw_err jobtype_parse(const char *json, size_t len, struct jobtype **out,
			    char *errbuf, size_t errlen) AIGW_MUSTCHECK;
/* The same where the providers are cfg's (prov_find_in: the named ones
 * too); cfg NULL: the built-in ones. */
enum aigw_err jobtype_parse_in(const struct aigw_config *cfg, const char *json, size_t len,
			       struct jobtype **out, char *errbuf, size_t errlen) AIGW_MUSTCHECK;
void jobtype_free(struct jobtype *t);

const char *jobtype_input_type_name(enum input_type t);

/* Whether s[0..len) is two ASCII letters (an ISO 3166-1 alpha-2 code in
 * either case). */
bool jobtype_country_code(const char *s, size_t len);

/* The rest of the module: every user of job types includes this header. */
#include "jobtype/registry.h"
#include "jobtype/input.h"
#include "jobtype/describe.h"

#endif
