/* output.c: step outputs, job outputs and template contexts (see output.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "jobtype/output.h"

#define ANSWER_JSON_DEPTH 64
#define STEP_TEXT_MAX (4L << 20)
#define JSON_INSTRUCTION "Answer with one JSON object only, and no other text."

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Parses s[0..len) as exactly one JSON object or array. */
static json_object *
parse_whole(const char *s, size_t len)
{
	struct json_tokener *tok;
	json_object *v = NULL;
	size_t end;

	while (len > 0 && is_space(*s)) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0 || len > (size_t)STEP_TEXT_MAX || (s[0] != '{' && s[0] != '['))
		return NULL;
	tok = json_tokener_new_ex(ANSWER_JSON_DEPTH);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (v == NULL || json_tokener_get_error(tok) != json_tokener_success || end != len) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

json_object *
jobs_answer_json(const char *text)
{
	const char *open, *body, *close;
	json_object *v;

	if (text == NULL)
		return NULL;
	v = parse_whole(text, strlen(text));
	if (v != NULL)
		return v;
	/* ```json\n{...}\n``` with nothing but white space around it */
	open = text;
	while (is_space(*open))
		open++;
	if (strncmp(open, "```", 3) != 0)
		return NULL;
	body = open + 3 + strcspn(open + 3, "\n");
	close = strstr(body, "```");
	if (*body == '\0' || close == NULL)
		return NULL;
	for (const char *p = close + 3; *p != '\0'; p++)
		if (!is_space(*p))
			return NULL;
	return parse_whole(body, (size_t)(close - body));
}

static const char *
result_string(json_object *result, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(result, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool
result_ok(json_object *result)
{
	json_object *v;

	return json_object_object_get_ex(result, "ok", &v) && json_object_get_boolean(v);
}

static int
add(json_object *o, const char *key, json_object *v)
{
	return v == NULL ? -1 : json_object_object_add(o, key, v);
}

/* The job input's value for in: NULL when in is NULL, or the value is
 * absent or null. */
static json_object *
input_value(json_object *input, const struct jobtype_input *in)
{
	json_object *v = NULL;

	if (in == NULL || !json_object_object_get_ex(input, in->name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

bool
jobs_step_runs(const struct jobtype_step *s, json_object *input, size_t i)
{
	json_object *v = input_value(input, s->platforms_input);
	const char *provider;

	/* Not an array: the input was checked against an older declaration;
	 * running everything beats running nothing. */
	if (v == NULL || i >= s->ncalls || !json_object_is_type(v, json_type_array))
		return true;
	provider = s->calls[i].provider;
	for (size_t k = 0; k < json_object_array_length(v); k++) {
		json_object *e = json_object_array_get_idx(v, k);

		if (json_object_is_type(e, json_type_string) &&
		    strcmp(json_object_get_string(e), provider) == 0)
			return true;
	}
	return false;
}

bool
jobs_step_websearch(const struct jobtype_step *s, json_object *input)
{
	json_object *v;

	if (s->websearch_input == NULL)
		return s->websearch;
	v = input_value(input, s->websearch_input);
	return v != NULL && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

void
jobs_step_location(const struct jobtype_step *s, json_object *input, char out[3])
{
	json_object *v;
	const char *text;

	memcpy(out, s->location, 3);
	if (s->location_input == NULL)
		return;
	out[0] = '\0';
	v = input_value(input, s->location_input);
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return;
	text = json_object_get_string(v);
	if (!jobtype_country_code(text, (size_t)json_object_get_string_len(v)))
		return;
	out[0] = (char)(text[0] & ~0x20);
	out[1] = (char)(text[1] & ~0x20);
	out[2] = '\0';
}

enum aigw_err
jobs_step_output(const struct jobtype_step *s, json_object *input, json_object *results,
		 json_object **out, char *errbuf, size_t errlen)
{
	json_object *o = NULL, *json = NULL;
	struct buf text;
	size_t nok = 0, nrun = 0, used;
	enum aigw_err err = AIGW_OK;
	int rc = 0;

	*out = NULL;
	buf_init(&text, STEP_TEXT_MAX);
	if (errlen == 0)
		return AIGW_EINVAL;
	errbuf[0] = '\0';
	if (s->output_json && s->ncalls > 1 && (json = json_object_new_object()) == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->ncalls; i++) {
		const char *provider = s->calls[i].provider;
		json_object *r = NULL, *parsed = NULL;
		const char *answer;

		if (!jobs_step_runs(s, input, i))
			continue;
		nrun++;
		if (!json_object_object_get_ex(results, provider, &r))
			r = NULL;
		answer = r != NULL ? result_string(r, "text") : NULL;
		if (r == NULL || !result_ok(r) || answer == NULL ||
		    (s->output_json && (parsed = jobs_answer_json(answer)) == NULL)) {
			const char *e = r != NULL ? result_string(r, "error") : NULL;

			if (e == NULL)
				e = r == NULL ? "no answer" : "the answer is not one JSON object";
			used = strlen(errbuf);
			/* A long list of reasons is cut at errlen. */
			snprintf(errbuf + used, errlen - used, "%s%s: %s", used ? "; " : "", provider, e);
			continue;
		}
		nok++;
		if (s->ncalls == 1) {
			err = buf_puts(&text, answer);
			json = parsed;
		} else {
			err = buf_printf(&text, "%s## %s (%s)\n\n%s", text.len ? "\n\n" : "", provider,
					 s->calls[i].model, answer);
			if (parsed != NULL && json_object_object_add(json, provider, parsed) != 0) {
				json_object_put(parsed);
				err = AIGW_ENOMEM;
			}
		}
		if (err != AIGW_OK)
			goto out;
	}
	if (nok == 0) {
		if (nrun == 0)
			snprintf(errbuf, errlen, "the input's platforms name none of the step's providers");
		else if (errbuf[0] == '\0')
			snprintf(errbuf, errlen, "no call succeeded");
		err = AIGW_EINVAL;
		goto out;
	}
	o = json_object_new_object();
	if (o == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	rc |= add(o, "text", json_object_new_string(text.data ? text.data : ""));
	if (s->output_json) {
		rc |= add(o, "json", json);
		json = NULL;
	}
	rc |= add(o, "results", json_object_get(results));
	if (rc != 0) {
		json_object_put(o);
		o = NULL;
		err = AIGW_ENOMEM;
	}
	*out = o;
out:
	json_object_put(json);
	buf_free(&text);
	return err;
}

json_object *
jobs_job_output(const struct jobtype_step *s, json_object *step_output)
{
	json_object *o, *v;
	int rc = 0;

	if (s->output_json && json_object_object_get_ex(step_output, "json", &v))
		return json_object_get(v);
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	if (json_object_object_get_ex(step_output, "text", &v))
		rc |= add(o, "text", json_object_get(v));
	if (json_object_object_get_ex(step_output, "results", &v))
		rc |= add(o, "results", json_object_get(v));
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

enum aigw_err
jobs_context(const struct jobtype *t, json_object *input, json_object *const *outputs,
	     json_object **out)
{
	json_object *ctx = json_object_new_object();
	json_object *in = json_object_new_object();
	json_object *steps = json_object_new_object();
	int rc = 0;

	*out = NULL;
	if (ctx == NULL || in == NULL || steps == NULL)
		goto fail;
	for (size_t i = 0; rc == 0 && i < t->ninputs; i++) {
		json_object *v = NULL;

		if (json_object_object_get_ex(input, t->inputs[i].name, &v) &&
		    !json_object_is_type(v, json_type_null))
			rc |= add(in, t->inputs[i].name, json_object_get(v));
		else
			rc |= add(in, t->inputs[i].name, json_object_new_string(""));
	}
	for (size_t i = 0; rc == 0 && i < t->nsteps; i++)
		if (outputs[i] != NULL)
			rc |= add(steps, t->steps[i].name, json_object_get(outputs[i]));
	if (rc != 0 || json_object_object_add(ctx, "input", in) != 0)
		goto fail;
	in = NULL;
	if (json_object_object_add(ctx, "steps", steps) != 0)
		goto fail;
	*out = ctx;
	return AIGW_OK;
fail:
	json_object_put(ctx);
	json_object_put(in);
	json_object_put(steps);
	return AIGW_ENOMEM;
}

char *
jobs_json_system(const char *system)
{
	struct buf b;
	char *out = NULL;

	buf_init(&b, STEP_TEXT_MAX);
	if ((system == NULL || *system == '\0' ? buf_puts(&b, JSON_INSTRUCTION)
	     : buf_printf(&b, "%s\n\n%s", system, JSON_INSTRUCTION)) != AIGW_OK ||
	    buf_steal(&b, &out) != AIGW_OK)
		out = NULL;
	buf_free(&b);
	return out;
}

int
jobs_progress_after(const struct jobtype *t, size_t step, int current)
{
	int p = step < t->nsteps ? t->steps[step].progress : current;

	if (p < current)
		p = current;
	if (step + 1 < t->nsteps && p > 99)
		p = 99;
	return p;
}
