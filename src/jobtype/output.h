/*
 * output.h: what a job step's answers become, and what later steps see.
 *
 * A step's output is {"text": ..., "json": ... (JSON steps only),
 * "results": {provider: result}}; later steps' templates see {"input": ...,
 * "steps": {name: output}}. The job's output is its output step's JSON value
 * for a JSON step, else {"text", "results"}. Pure functions over json-c:
 * objects returned are new references the caller puts; arguments are
 * borrowed. They fail only as each says.
 */
#ifndef AIGW_JOBS_OUTPUT_H
#define AIGW_JOBS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "jobtype/jobtype.h"

/* The JSON object or array an answer holds: the whole text, or the body of
 * one ``` fence around it (models often add one). NULL when there is none. */
json_object *jobs_answer_json(const char *text);

/*
 * Builds a step's output from its results ({provider: {"ok", "text", ...}}),
 * in the step's declared call order. The calls the job's input leaves out
 * (jobs_step_runs) are passed over: neither results nor failures. A fan-out
 * step succeeds when one of its calls did; a single call must succeed.
 * AIGW_EINVAL with the providers' errors in errbuf when the step failed,
 * AIGW_ENOMEM.
 */
enum aigw_err jobs_step_output(const struct jobtype_step *s, json_object *input,
			       json_object *results, json_object **out, char *errbuf,
			       size_t errlen) AIGW_MUSTCHECK;

/* Whether the step's call i runs for this job input: always, unless the
 * step takes its platforms from an input that is given and does not list
 * the call's provider. */
bool jobs_step_runs(const struct jobtype_step *s, json_object *input, size_t i);

/* The step's web search setting for this job input (an absent input is
 * false). */
bool jobs_step_websearch(const struct jobtype_step *s, json_object *input);

/* The step's location for this job input, upper-case, in out; "" for none
 * (an absent input, or one that is not a country code). */
void jobs_step_location(const struct jobtype_step *s, json_object *input, char out[3]);

/* The job's output from its output step's output. NULL on ENOMEM. */
json_object *jobs_job_output(const struct jobtype_step *s, json_object *step_output);

/*
 * The template context: the input, with absent optional fields as "", and
 * the outputs of the steps done so far (outputs[i] NULL for a step not
 * done; n is the type's step count). AIGW_ENOMEM only.
 */
enum aigw_err jobs_context(const struct jobtype *t, json_object *input,
			   json_object *const *outputs, json_object **out) AIGW_MUSTCHECK;

/* The system prompt of a JSON step: the step's own (or none) with an
 * instruction to answer with one JSON object. NULL on ENOMEM. */
char *jobs_json_system(const char *system);

/* Progress once step i has ended: the step's value, never below current,
 * and below 100 unless the step is the last. Cannot fail. */
int jobs_progress_after(const struct jobtype *t, size_t step, int current);

#endif
