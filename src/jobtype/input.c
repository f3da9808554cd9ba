/* input.c: checking a job's input against its type (see input.h). */
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "jobtype/jobtype.h"

/* "openai, gemini, ..." : the providers of a step, for a message. */
static void
step_providers(const struct jobtype_step *s, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->ncalls && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", s->calls[i].provider);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The index of the step's call to provider name (len bytes), or ncalls. */
static size_t
step_call(const struct jobtype_step *s, const char *name, size_t len)
{
	size_t k;

	for (k = 0; k < s->ncalls; k++)
		if (strlen(s->calls[k].provider) == len && memcmp(s->calls[k].provider, name, len) == 0)
			break;
	return k;
}

/* A platforms array for step s: distinct providers of its fan-out, at least
 * one. Elements are named by index, never echoed: a value cut to fit could
 * split a UTF-8 character. */
static bool
check_platforms(const struct jobtype_step *s, json_object *v, const char *field, char *msg,
		size_t msglen)
{
	size_t n = json_object_array_length(v);
	bool seen[JOBTYPE_MAX_FANOUT] = { false };
	char allowed[JOBTYPE_MAX_FANOUT * 40];

	step_providers(s, allowed, sizeof allowed);
	if (n == 0) {
		snprintf(msg, msglen, "%s must name at least one of %s", field, allowed);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		size_t k;

		if (!json_object_is_type(e, json_type_string)) {
			snprintf(msg, msglen, "%s[%zu] must be a provider name, one of %s", field, i, allowed);
			return false;
		}
		k = step_call(s, json_object_get_string(e), (size_t)json_object_get_string_len(e));
		if (k == s->ncalls) {
			snprintf(msg, msglen, "%s[%zu] must be one of %s", field, i, allowed);
			return false;
		}
		if (seen[k]) {
			snprintf(msg, msglen, "%s names %s twice", field, s->calls[k].provider);
			return false;
		}
		seen[k] = true;
	}
	return true;
}

/* An array input some steps take their platforms from must suit each. */
static bool
check_platform_uses(const struct jobtype *t, const struct jobtype_input *in, json_object *v,
		    const char *field, char *msg, size_t msglen)
{
	for (size_t i = 0; i < t->nsteps; i++)
		if (t->steps[i].platforms_input == in &&
		    !check_platforms(&t->steps[i], v, field, msg, msglen))
			return false;
	return true;
}

enum aigw_err
jobtype_check_input(const struct jobtype *t, json_object *input, char *field, size_t fieldlen,
		    char *msg, size_t msglen)
{
	if (!json_object_is_type(input, json_type_object)) {
		snprintf(field, fieldlen, "input");
		snprintf(msg, msglen, "input must be an object");
		return AIGW_EINVAL;
	}
	json_object_object_foreach(input, key, val) {
		size_t i;

		(void)val;
		for (i = 0; i < t->ninputs; i++)
			if (strcmp(t->inputs[i].name, key) == 0)
				break;
		if (i == t->ninputs) {
			/* Named only when short: a cut could split a UTF-8
			 * character, and the answer must stay UTF-8. */
			if (strlen(key) <= JOBTYPE_NAME_MAX) {
				snprintf(field, fieldlen, "input.%s", key);
				snprintf(msg, msglen, "%s takes no input field '%s'", t->name, key);
			} else {
				snprintf(field, fieldlen, "input");
				snprintf(msg, msglen, "%s takes no such input field", t->name);
			}
			return AIGW_EINVAL;
		}
	}
	for (size_t i = 0; i < t->ninputs; i++) {
		const struct jobtype_input *in = &t->inputs[i];
		json_object *v = NULL;
		bool ok;

		snprintf(field, fieldlen, "input.%s", in->name);
		if (!json_object_object_get_ex(input, in->name, &v) || json_object_is_type(v, json_type_null)) {
			if (!in->required)
				continue;
			snprintf(msg, msglen, "%s is required", field);
			return AIGW_EINVAL;
		}
		switch (in->type) {
		case INPUT_STRING:
			ok = json_object_is_type(v, json_type_string);
			break;
		case INPUT_INTEGER:
			ok = json_object_is_type(v, json_type_int);
			break;
		case INPUT_NUMBER:
			ok = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
			break;
		case INPUT_BOOLEAN:
			ok = json_object_is_type(v, json_type_boolean);
			break;
		case INPUT_ARRAY:
			ok = json_object_is_type(v, json_type_array);
			break;
		default:
			ok = json_object_is_type(v, json_type_object);
			break;
		}
		if (!ok) {
			snprintf(msg, msglen, "%s must be of type %s", field, jobtype_input_type_name(in->type));
			return AIGW_EINVAL;
		}
		if (in->type == INPUT_STRING) {
			long chars = utf8_length(json_object_get_string(v), (size_t)json_object_get_string_len(v));

			if (chars < 0) {
				snprintf(msg, msglen, "%s must be UTF-8 text without NUL characters", field);
				return AIGW_EINVAL;
			}
			/* Before the length: "deu" is better told what it should be. */
			if (in->country_code &&
			    !jobtype_country_code(json_object_get_string(v),
						  (size_t)json_object_get_string_len(v))) {
				snprintf(msg, msglen, "%s must be a two-letter ISO country code", field);
				return AIGW_EINVAL;
			}
			if ((in->required && chars == 0) || chars > in->max_length) {
				snprintf(msg, msglen, "%s must be %d to %ld characters", field,
					 in->required ? 1 : 0, in->max_length);
				return AIGW_EINVAL;
			}
		}
		if (in->type == INPUT_ARRAY && (long)json_object_array_length(v) > in->max_length) {
			snprintf(msg, msglen, "%s may hold at most %ld items", field, in->max_length);
			return AIGW_EINVAL;
		}
		if (in->type == INPUT_ARRAY && !check_platform_uses(t, in, v, field, msg, msglen))
			return AIGW_EINVAL;
	}
	field[0] = '\0';
	return AIGW_OK;
}
