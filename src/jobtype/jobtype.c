/* jobtype.c: parsing and validating one job type declaration (see jobtype.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "jobtype/jobtype.h"
#include "providers/provider.h"

#define DEFAULT_STRING_MAX 10000
#define DEFAULT_ARRAY_MAX 100
#define STEP_MAX_TOKENS_DEFAULT 2048

static const char *const input_type_names[INPUT__MAX] = {
	[INPUT_STRING] = "string", [INPUT_INTEGER] = "integer", [INPUT_NUMBER] = "number",
	[INPUT_BOOLEAN] = "boolean", [INPUT_ARRAY] = "array", [INPUT_OBJECT] = "object",
};

const char *
jobtype_input_type_name(enum input_type t)
{
	return (int)t >= 0 && t < INPUT__MAX ? input_type_names[t] : "?";
}

void
jobtype_free(struct jobtype *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->description);
	for (size_t i = 0; i < t->ninputs; i++) {
		free(t->inputs[i].name);
		free(t->inputs[i].description);
	}
	for (size_t i = 0; i < t->nsteps; i++) {
		struct jobtype_step *s = &t->steps[i];

		free(s->name);
		free(s->status_message);
		template_free(s->prompt);
		template_free(s->system);
		for (size_t k = 0; k < s->ncalls; k++) {
			free(s->calls[k].provider);
			free(s->calls[k].model);
		}
	}
	json_object_put(t->declaration);
	free(t);
}

static bool
valid_name(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n > 0 && n <= JOBTYPE_NAME_MAX && !(s[0] >= '0' && s[0] <= '9');
}

/* Reads an optional member of the wanted type: 1 found, 0 absent, -1 wrong type. */
static int
member(json_object *o, const char *key, enum json_type type, json_object **out)
{
	json_object *v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, type))
		return -1;
	*out = v;
	return 1;
}

static enum aigw_err
get_string(json_object *o, const char *key, bool required, char **out, const char *where,
	   char *errbuf, size_t errlen)
{
	json_object *v;
	int rc = member(o, key, json_type_string, &v);

	*out = NULL;
	if (rc < 0 || (rc == 0 && required) ||
	    (rc == 1 && json_object_get_string_len(v) == 0)) {
		snprintf(errbuf, errlen, "%s%s must be a non-empty string", where, key);
		return AIGW_ECONFIG;
	}
	if (rc == 0)
		return AIGW_OK;
	*out = strdup(json_object_get_string(v));
	return *out ? AIGW_OK : AIGW_ENOMEM;
}

static enum aigw_err
get_long(json_object *o, const char *key, long min, long max, long def, long *out,
	 const char *where, char *errbuf, size_t errlen)
{
	json_object *v;
	int rc = member(o, key, json_type_int, &v);

	*out = def;
	if (rc == 0)
		return AIGW_OK;
	if (rc < 0 || json_object_get_int64(v) < min || json_object_get_int64(v) > max) {
		snprintf(errbuf, errlen, "%s%s must be a whole number from %ld to %ld", where, key,
			 min, max);
		return AIGW_ECONFIG;
	}
	*out = (long)json_object_get_int64(v);
	return AIGW_OK;
}

static enum aigw_err
parse_inputs(struct jobtype *t, json_object *decl, char *errbuf, size_t errlen)
{
	json_object *inputs;
	int rc = member(decl, "input", json_type_object, &inputs);
	enum aigw_err err;

	if (rc < 0) {
		snprintf(errbuf, errlen, "input must be an object of field declarations");
		return AIGW_ECONFIG;
	}
	if (rc == 0)
		return AIGW_OK;
	json_object_object_foreach(inputs, name, spec) {
		struct jobtype_input *in;
		char where[128];
		char *type = NULL;
		json_object *req;
		int i;

		if (t->ninputs == JOBTYPE_MAX_INPUTS) {
			snprintf(errbuf, errlen, "more than %d input fields", JOBTYPE_MAX_INPUTS);
			return AIGW_ECONFIG;
		}
		if (!valid_name(name)) {
			snprintf(errbuf, errlen, "input field name '%.*s' must be lower case letters, digits and _",
				 (int)utf8_cut(name, NAME_SHOWN_MAX), name);
			return AIGW_ECONFIG;
		}
		if (!json_object_is_type(spec, json_type_object)) {
			snprintf(errbuf, errlen, "input.%s must be an object", name);
			return AIGW_ECONFIG;
		}
		in = &t->inputs[t->ninputs++];
		in->name = strdup(name);
		if (in->name == NULL)
			return AIGW_ENOMEM;
		snprintf(where, sizeof where, "input.%s.", name);
		err = get_string(spec, "type", true, &type, where, errbuf, errlen);
		if (err != AIGW_OK)
			return err;
		for (i = 0; i < INPUT__MAX; i++)
			if (strcmp(type, input_type_names[i]) == 0)
				break;
		free(type);
		if (i == INPUT__MAX) {
			snprintf(errbuf, errlen, "%stype must be string, integer, number, boolean, array or object", where);
			return AIGW_ECONFIG;
		}
		in->type = (enum input_type)i;
		rc = member(spec, "required", json_type_boolean, &req);
		if (rc < 0) {
			snprintf(errbuf, errlen, "%srequired must be true or false", where);
			return AIGW_ECONFIG;
		}
		in->required = rc == 1 && json_object_get_boolean(req);
		err = get_long(spec, "max_length", 1, 1000000,
			       in->type == INPUT_ARRAY ? DEFAULT_ARRAY_MAX : DEFAULT_STRING_MAX,
			       &in->max_length, where, errbuf, errlen);
		if (err != AIGW_OK)
			return err;
		err = get_string(spec, "description", false, &in->description, where, errbuf, errlen);
		if (err != AIGW_OK)
			return err;
	}
	return AIGW_OK;
}

/* What a step's templates may name: declared inputs and earlier steps. */
struct check_ctx {
	const struct jobtype *t;
	size_t step;      /* steps before this index may be named */
};

static int
check_placeholder(void *arg, const char *const *path, size_t n, char *errbuf, size_t errlen)
{
	const struct check_ctx *c = arg;

	if (strcmp(path[0], "input") == 0) {
		if (n < 2) {
			snprintf(errbuf, errlen, "{{input}} must name a field, as {{input.field}}");
			return -1;
		}
		for (size_t i = 0; i < c->t->ninputs; i++)
			if (strcmp(c->t->inputs[i].name, path[1]) == 0)
				return 0;
		snprintf(errbuf, errlen, "{{input.%.*s}} names no declared input field",
			 (int)utf8_cut(path[1], NAME_SHOWN_MAX), path[1]);
		return -1;
	}
	if (strcmp(path[0], "steps") == 0) {
		if (n < 3) {
			snprintf(errbuf, errlen, "{{steps...}} must name a step and a part, as {{steps.name.text}}");
			return -1;
		}
		for (size_t i = 0; i < c->step; i++)
			if (strcmp(c->t->steps[i].name, path[1]) == 0)
				return 0;
		snprintf(errbuf, errlen, "{{steps.%.*s...}} names no earlier step",
			 (int)utf8_cut(path[1], NAME_SHOWN_MAX), path[1]);
		return -1;
	}
	snprintf(errbuf, errlen, "placeholder {{%.*s...}} must start with input or steps",
		 (int)utf8_cut(path[0], NAME_SHOWN_MAX), path[0]);
	return -1;
}

bool
jobtype_country_code(const char *s, size_t len)
{
	if (s == NULL || len != 2)
		return false;
	for (size_t i = 0; i < 2; i++)
		if (!((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
			return false;
	return true;
}

/*
 * A step setting taken from an input is written "{{input.NAME}}" (spaces
 * inside the braces allowed, as in templates). Returns 1 with the declared
 * input in *out, 0 when s is not of that form (a literal, for the caller to
 * judge), or -1 with errbuf set when it names no declared input, or one not
 * of type want.
 */
static int
input_ref(struct jobtype *t, const char *s, enum input_type want, const char *where,
	  const char *key, struct jobtype_input **out, char *errbuf, size_t errlen)
{
	size_t len = strlen(s), n;
	const char *p = s + 2;
	char name[JOBTYPE_NAME_MAX + 1];

	*out = NULL;
	if (len < 4 || strncmp(s, "{{", 2) != 0 || strcmp(s + len - 2, "}}") != 0)
		return 0;
	n = len - 4;             /* between the braces */
	for (; n > 0 && *p == ' '; n--)
		p++;
	for (; n > 0 && p[n - 1] == ' '; n--)
		;
	if (n <= 6 || strncmp(p, "input.", 6) != 0 || n - 6 > JOBTYPE_NAME_MAX) {
		snprintf(errbuf, errlen, "%s%s must be \"{{input.NAME}}\" naming a declared input field",
			 where, key);
		return -1;
	}
	memcpy(name, p + 6, n - 6);
	name[n - 6] = '\0';
	for (size_t i = 0; i < t->ninputs; i++) {
		if (strcmp(t->inputs[i].name, name) != 0)
			continue;
		if (t->inputs[i].type != want) {
			snprintf(errbuf, errlen, "%s%s: input.%s must be of type %s, not %s", where, key,
				 name, input_type_names[want], input_type_names[t->inputs[i].type]);
			return -1;
		}
		*out = &t->inputs[i];
		return 1;
	}
	snprintf(errbuf, errlen, "%s%s: {{input.%s}} names no declared input field", where, key, name);
	return -1;
}

/* The member key of o when present and not null, else NULL. */
static json_object *
present(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* "websearch": true, false, or "{{input.NAME}}" naming a boolean input. */
static enum aigw_err
parse_websearch(struct jobtype *t, json_object *o, struct jobtype_step *s, const char *where,
		char *errbuf, size_t errlen)
{
	json_object *v = present(o, "websearch");
	struct jobtype_input *in;

	if (v == NULL)
		return AIGW_OK;
	if (json_object_is_type(v, json_type_boolean)) {
		s->websearch = json_object_get_boolean(v);
		return AIGW_OK;
	}
	if (json_object_is_type(v, json_type_string)) {
		int rc = input_ref(t, json_object_get_string(v), INPUT_BOOLEAN, where, "websearch",
				   &in, errbuf, errlen);

		if (rc < 0)
			return AIGW_ECONFIG;
		if (rc > 0) {
			s->websearch_input = in;
			return AIGW_OK;
		}
	}
	snprintf(errbuf, errlen, "%swebsearch must be true, false or \"{{input.NAME}}\" naming a boolean input",
		 where);
	return AIGW_ECONFIG;
}

/* "location": a two-letter country code, or "{{input.NAME}}" naming a
 * string input, which is then held to being a country code. */
static enum aigw_err
parse_location(struct jobtype *t, json_object *o, struct jobtype_step *s, const char *where,
	       char *errbuf, size_t errlen)
{
	json_object *v = present(o, "location");
	struct jobtype_input *in;

	if (v == NULL)
		return AIGW_OK;
	if (json_object_is_type(v, json_type_string)) {
		const char *text = json_object_get_string(v);
		int rc = input_ref(t, text, INPUT_STRING, where, "location", &in, errbuf, errlen);

		if (rc < 0)
			return AIGW_ECONFIG;
		if (rc > 0) {
			in->country_code = true;
			s->location_input = in;
			return AIGW_OK;
		}
		if (jobtype_country_code(text, (size_t)json_object_get_string_len(v))) {
			s->location[0] = (char)(text[0] & ~0x20);
			s->location[1] = (char)(text[1] & ~0x20);
			s->location[2] = '\0';
			return AIGW_OK;
		}
	}
	snprintf(errbuf, errlen, "%slocation must be a two-letter ISO country code or \"{{input.NAME}}\" naming a string input",
		 where);
	return AIGW_ECONFIG;
}

/* "platforms": "{{input.NAME}}" naming an array input that lists which of
 * the fan-out's providers to run; a single call has nothing to choose. */
static enum aigw_err
parse_platforms(struct jobtype *t, json_object *o, struct jobtype_step *s, const char *where,
		char *errbuf, size_t errlen)
{
	json_object *v = present(o, "platforms");
	struct jobtype_input *in;

	if (v == NULL)
		return AIGW_OK;
	if (!s->fanout) {
		snprintf(errbuf, errlen, "%splatforms is only for a step with a fanout", where);
		return AIGW_ECONFIG;
	}
	if (json_object_is_type(v, json_type_string)) {
		int rc = input_ref(t, json_object_get_string(v), INPUT_ARRAY, where, "platforms",
				   &in, errbuf, errlen);

		if (rc < 0)
			return AIGW_ECONFIG;
		if (rc > 0) {
			s->platforms_input = in;
			return AIGW_OK;
		}
	}
	snprintf(errbuf, errlen, "%splatforms must be \"{{input.NAME}}\" naming an array input", where);
	return AIGW_ECONFIG;
}

static enum aigw_err
parse_call(const struct aigw_config *cfg, json_object *o, struct jobtype_call *call,
	   const char *where, char *errbuf, size_t errlen)
{
	enum aigw_err err;

	err = get_string(o, "provider", true, &call->provider, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	if (prov_find_in(cfg, call->provider) == NULL) {
		snprintf(errbuf, errlen, "%sprovider '%.*s' is not a known provider", where,
			 (int)utf8_cut(call->provider, NAME_SHOWN_MAX), call->provider);
		return AIGW_ECONFIG;
	}
	err = get_string(o, "model", true, &call->model, where, errbuf, errlen);
	if (err == AIGW_OK && strlen(call->model) > 128) {
		snprintf(errbuf, errlen, "%smodel is longer than 128 characters", where);
		return AIGW_ECONFIG;
	}
	return err;
}

static enum aigw_err
parse_step(const struct aigw_config *cfg, struct jobtype *t, json_object *o, size_t index,
	   int prev_progress, char *errbuf, size_t errlen)
{
	struct jobtype_step *s = &t->steps[index];
	struct check_ctx ctx = { t, index };
	json_object *fanout, *outv;
	char where[128], *text = NULL, sub[512];
	long progress = 0, max_tokens = 0;
	enum aigw_err err;
	int rc;

	snprintf(where, sizeof where, "steps[%zu].", index);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(errbuf, errlen, "steps[%zu] must be an object", index);
		return AIGW_ECONFIG;
	}
	err = get_string(o, "name", true, &s->name, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	if (!valid_name(s->name)) {
		snprintf(errbuf, errlen, "%sname must be lower case letters, digits and _", where);
		return AIGW_ECONFIG;
	}
	for (size_t i = 0; i < index; i++) {
		if (strcmp(t->steps[i].name, s->name) == 0) {
			snprintf(errbuf, errlen, "%sname '%s' is used twice", where, s->name);
			return AIGW_ECONFIG;
		}
	}
	snprintf(where, sizeof where, "steps.%s.", s->name);
	err = get_string(o, "status_message", true, &s->status_message, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	err = get_long(o, "progress", 1, 100, -1, &progress, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	if (progress <= prev_progress) {
		snprintf(errbuf, errlen, "%sprogress must be given and rise from step to step (after %d)",
			 where, prev_progress);
		return AIGW_ECONFIG;
	}
	s->progress = (int)progress;
	err = get_long(o, "max_tokens", 1, 65536, STEP_MAX_TOKENS_DEFAULT, &max_tokens, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	s->max_tokens = (int)max_tokens;

	err = get_string(o, "prompt", true, &text, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	err = template_compile(text, check_placeholder, &ctx, &s->prompt, sub, sizeof sub);
	free(text);
	if (err != AIGW_OK) {
		snprintf(errbuf, errlen, "%sprompt: %s", where, sub);
		return err == AIGW_EINVAL ? AIGW_ECONFIG : err;
	}
	err = get_string(o, "system", false, &text, where, errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	if (text != NULL) {
		err = template_compile(text, check_placeholder, &ctx, &s->system, sub, sizeof sub);
		free(text);
		if (err != AIGW_OK) {
			snprintf(errbuf, errlen, "%ssystem: %s", where, sub);
			return err == AIGW_EINVAL ? AIGW_ECONFIG : err;
		}
	}

	rc = member(o, "fanout", json_type_array, &fanout);
	if (rc < 0) {
		snprintf(errbuf, errlen, "%sfanout must be an array of {provider, model}", where);
		return AIGW_ECONFIG;
	}
	if (rc == 1) {
		size_t n = json_object_array_length(fanout);

		s->fanout = true;
		if (json_object_object_get_ex(o, "provider", NULL)) {
			snprintf(errbuf, errlen, "%sgive either provider and model, or fanout", where);
			return AIGW_ECONFIG;
		}
		if (n < 1 || n > JOBTYPE_MAX_FANOUT) {
			snprintf(errbuf, errlen, "%sfanout must list 1 to %d calls", where, JOBTYPE_MAX_FANOUT);
			return AIGW_ECONFIG;
		}
		for (size_t i = 0; i < n; i++) {
			json_object *c = json_object_array_get_idx(fanout, i);
			char cwhere[160];

			snprintf(cwhere, sizeof cwhere, "%sfanout[%zu].", where, i);
			if (!json_object_is_type(c, json_type_object)) {
				snprintf(errbuf, errlen, "%sfanout[%zu] must be an object", where, i);
				return AIGW_ECONFIG;
			}
			err = parse_call(cfg, c, &s->calls[s->ncalls++], cwhere, errbuf, errlen);
			if (err != AIGW_OK)
				return err;
			for (size_t k = 0; k + 1 < s->ncalls; k++) {
				if (strcmp(s->calls[k].provider, s->calls[s->ncalls - 1].provider) == 0) {
					snprintf(errbuf, errlen, "%sfanout names provider %s twice", where,
						 s->calls[k].provider);
					return AIGW_ECONFIG;
				}
			}
		}
	} else {
		err = parse_call(cfg, o, &s->calls[s->ncalls++], where, errbuf, errlen);
		if (err != AIGW_OK)
			return err;
	}
	rc = member(o, "output", json_type_string, &outv);
	if (rc < 0 || (rc == 1 && strcmp(json_object_get_string(outv), "json") != 0 &&
		       strcmp(json_object_get_string(outv), "text") != 0)) {
		snprintf(errbuf, errlen, "%soutput must be \"text\" or \"json\"", where);
		return AIGW_ECONFIG;
	}
	s->output_json = rc == 1 && strcmp(json_object_get_string(outv), "json") == 0;
	err = parse_websearch(t, o, s, where, errbuf, errlen);
	if (err == AIGW_OK)
		err = parse_location(t, o, s, where, errbuf, errlen);
	if (err == AIGW_OK)
		err = parse_platforms(t, o, s, where, errbuf, errlen);
	return err;
}

enum aigw_err
jobtype_parse(const char *json, size_t len, struct jobtype **out, char *errbuf, size_t errlen)
{
	return jobtype_parse_in(NULL, json, len, out, errbuf, errlen);
}

enum aigw_err
jobtype_parse_in(const struct aigw_config *cfg, const char *json, size_t len,
		 struct jobtype **out, char *errbuf, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct jobtype *t = NULL;
	json_object *steps, *decl = NULL;
	char *output_step = NULL;
	enum aigw_err err = AIGW_ENOMEM;
	long v;
	int prev = 0;

	*out = NULL;
	tok = json_tokener_new_ex(32);
	t = calloc(1, sizeof *t);
	if (tok == NULL || t == NULL)
		goto fail;
	decl = json_tokener_parse_ex(tok, json, (int)len);
	if (decl == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(errbuf, errlen, "not valid JSON: %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		err = AIGW_ECONFIG;
		goto fail;
	}
	t->declaration = decl;
	if (!json_object_is_type(decl, json_type_object)) {
		snprintf(errbuf, errlen, "the declaration must be a JSON object");
		err = AIGW_ECONFIG;
		goto fail;
	}
	err = get_string(decl, "name", true, &t->name, "", errbuf, errlen);
	if (err != AIGW_OK)
		goto fail;
	if (!valid_name(t->name)) {
		snprintf(errbuf, errlen, "name must be lower case letters, digits and _");
		err = AIGW_ECONFIG;
		goto fail;
	}
	err = get_string(decl, "description", false, &t->description, "", errbuf, errlen);
	if (err == AIGW_OK)
		err = get_long(decl, "timeout_s", 1, 86400, 600, &t->timeout_s, "", errbuf, errlen);
	if (err == AIGW_OK && (err = get_long(decl, "attempts", 1, 20, 3, &v, "", errbuf, errlen)) == AIGW_OK)
		t->attempts = (int)v;
	if (err == AIGW_OK && (err = get_long(decl, "poll_interval_s", 1, 3600, 2, &v, "", errbuf, errlen)) == AIGW_OK)
		t->poll_interval_s = (int)v;
	if (err == AIGW_OK)
		err = parse_inputs(t, decl, errbuf, errlen);
	if (err != AIGW_OK)
		goto fail;
	if (member(decl, "steps", json_type_array, &steps) != 1 ||
	    json_object_array_length(steps) < 1 || json_object_array_length(steps) > JOBTYPE_MAX_STEPS) {
		snprintf(errbuf, errlen, "steps must be an array of 1 to %d steps", JOBTYPE_MAX_STEPS);
		err = AIGW_ECONFIG;
		goto fail;
	}
	for (size_t i = 0; i < json_object_array_length(steps); i++) {
		t->nsteps = i + 1;
		err = parse_step(cfg, t, json_object_array_get_idx(steps, i), i, prev, errbuf, errlen);
		if (err != AIGW_OK)
			goto fail;
		prev = t->steps[i].progress;
	}
	if (prev != 100) {
		snprintf(errbuf, errlen, "the last step's progress must be 100");
		err = AIGW_ECONFIG;
		goto fail;
	}
	t->output_step = t->nsteps - 1;
	err = get_string(decl, "output_step", false, &output_step, "", errbuf, errlen);
	if (err != AIGW_OK)
		goto fail;
	if (output_step != NULL) {
		size_t i;

		for (i = 0; i < t->nsteps; i++)
			if (strcmp(t->steps[i].name, output_step) == 0)
				break;
		if (i == t->nsteps) {
			snprintf(errbuf, errlen, "output_step '%.*s' names no step",
				 (int)utf8_cut(output_step, NAME_SHOWN_MAX), output_step);
			err = AIGW_ECONFIG;
			goto fail;
		}
		t->output_step = i;
	}
	free(output_step);
	json_tokener_free(tok);
	*out = t;
	return AIGW_OK;
fail:
	if (t == NULL)
		json_object_put(decl);
	free(output_step);
	jobtype_free(t);
	json_tokener_free(tok);
	return err;
}
