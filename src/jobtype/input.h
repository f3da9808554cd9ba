/*
 * input.h: whether a job's input suits its type.
 *
 * Owns the rules a submitted input object must follow beyond JSON: the
 * declared fields only, each of its declared type and length, the required
 * ones present, country codes and fan-out platforms as the steps using them
 * need. Fails only with a field name and a sentence for the client; it
 * allocates nothing.
 */
#ifndef AIGW_JOBS_INPUT_H
#define AIGW_JOBS_INPUT_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"

struct jobtype;

/* Checks a job's input object against the type. On failure returns
 * AIGW_EINVAL with the offending field name ("input.company_name", or
 * "input" for an unknown name too long to repeat) in field and a sentence
 * in msg. Besides its declared type, an input a step takes its location
 * from must be a country code, and one a step takes its platforms from must
 * list distinct providers of that step's fan-out, at least one. */
enum aigw_err jobtype_check_input(const struct jobtype *t, json_object *input,
				  char *field, size_t fieldlen, char *msg, size_t msglen) AIGW_MUSTCHECK;

#endif
