/* describe.c: a job type as clients see it (see describe.h). */
#include <stdbool.h>

#include "jobtype/jobtype.h"

json_object *
jobtype_step_names(const struct jobtype *t)
{
	json_object *names = json_object_new_array_ext((int)t->nsteps);

	for (size_t i = 0; names != NULL && i < t->nsteps; i++) {
		json_object *v = json_object_new_string(t->steps[i].name);

		if (v == NULL || json_object_array_add(names, v) != 0) {
			json_object_put(v);
			json_object_put(names);
			names = NULL;
		}
	}
	return names;
}

/* Adds v to o under key, taking it; false (v freed) on ENOMEM. */
static bool
put(json_object *o, const char *key, json_object *v)
{
	if (v != NULL && json_object_object_add(o, key, v) == 0)
		return true;
	json_object_put(v);
	return false;
}

static json_object *
public_input(const struct jobtype_input *in)
{
	json_object *o = json_object_new_object();
	bool ok = o != NULL &&
		  put(o, "type", json_object_new_string(jobtype_input_type_name(in->type))) &&
		  put(o, "required", json_object_new_boolean(in->required)) &&
		  (in->max_length == 0 || (in->type != INPUT_STRING && in->type != INPUT_ARRAY) ||
		   put(o, "max_length", json_object_new_int64(in->max_length))) &&
		  (in->description == NULL ||
		   put(o, "description", json_object_new_string(in->description)));

	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *
public_step(const struct jobtype_step *s)
{
	json_object *o = json_object_new_object(), *calls = json_object_new_array();
	bool ok = o != NULL && calls != NULL;

	for (size_t i = 0; ok && i < s->ncalls; i++) {
		json_object *c = json_object_new_object();

		ok = c != NULL && json_object_array_add(calls, c) == 0;
		if (!ok) {
			json_object_put(c);
			break;
		}
		ok = put(c, "provider", json_object_new_string(s->calls[i].provider)) &&
		     put(c, "model", json_object_new_string(s->calls[i].model));
	}
	ok = ok && put(o, "name", json_object_new_string(s->name)) &&
	     put(o, "status_message", json_object_new_string(s->status_message)) &&
	     put(o, "progress", json_object_new_int(s->progress)) &&
	     put(o, "output", json_object_new_string(s->output_json ? "json" : "text"));
	if (ok) {
		ok = put(o, "calls", calls);
		calls = NULL;
	}
	json_object_put(calls);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
jobtype_public_json(const struct jobtype *t)
{
	json_object *o = json_object_new_object(), *inputs = json_object_new_object();
	json_object *steps = json_object_new_array();
	bool ok = o != NULL && inputs != NULL && steps != NULL;

	for (size_t i = 0; ok && i < t->ninputs; i++)
		ok = put(inputs, t->inputs[i].name, public_input(&t->inputs[i]));
	for (size_t i = 0; ok && i < t->nsteps; i++) {
		json_object *s = public_step(&t->steps[i]);

		ok = s != NULL && json_object_array_add(steps, s) == 0;
		if (!ok)
			json_object_put(s);
	}
	ok = ok && put(o, "name", json_object_new_string(t->name)) &&
	     (t->description == NULL ||
	      put(o, "description", json_object_new_string(t->description))) &&
	     put(o, "timeout_s", json_object_new_int64(t->timeout_s)) &&
	     put(o, "poll_interval_s", json_object_new_int(t->poll_interval_s));
	if (ok) {
		ok = put(o, "input", inputs);
		inputs = NULL;
	}
	if (ok) {
		ok = put(o, "steps", steps);
		steps = NULL;
	}
	json_object_put(inputs);
	json_object_put(steps);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
