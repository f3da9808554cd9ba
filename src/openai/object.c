/* object.c: /v1/ objects of a stored chat (see object.h). */
#include <stdio.h>
#include <string.h>

#include "db/status.h"
#include "openai/object.h"

void
oa_id(const char *prefix, const char *uuid, char out[OA_ID_MAX])
{
	size_t o = (size_t)snprintf(out, OA_ID_MAX, "%s", prefix);

	for (; *uuid != '\0' && o + 1 < OA_ID_MAX; uuid++)
		if (*uuid != '-')
			out[o++] = *uuid;
	out[o] = '\0';
}

bool
oa_id_chat(const char *id, char uuid[UUID_STR_LEN + 1])
{
	static const char *const prefixes[] = { "resp_", "chatcmpl-" };
	const char *hex = NULL;
	size_t o = 0;

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(id, prefixes[i], strlen(prefixes[i])) == 0)
			hex = id + strlen(prefixes[i]);
	if (hex == NULL || strlen(hex) != 32)
		return false;
	for (size_t i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			uuid[o++] = '-';
		uuid[o++] = hex[i];
	}
	uuid[o] = '\0';
	return uuid_is_valid(uuid);
}

const char *
oa_status(const char *chat_status)
{
	enum db_status s;

	if (!db_status_parse(chat_status, &s))
		return NULL;
	switch (s) {
	case DB_STATUS_PENDING: return OA_STATUS_QUEUED;
	case DB_STATUS_PROCESSING: return OA_STATUS_IN_PROGRESS;
	case DB_STATUS_COMPLETED: return OA_STATUS_COMPLETED;
	case DB_STATUS_FAILED: return OA_STATUS_FAILED;
	case DB_STATUS_CANCELLED: return OA_STATUS_CANCELLED;
	default: return NULL;
	}
}

/* The parts of a row every object needs. */
struct parsed {
	json_object *request;   /* owned */
	json_object *results;   /* owned */
	json_object *models;    /* owned */
	const char *provider;
	json_object *result;    /* borrowed: the provider's, or NULL */
	const char *text;       /* the result's text, or NULL */
	char model[192];        /* as asked */
};

static void
parsed_free(struct parsed *p)
{
	json_object_put(p->request);
	json_object_put(p->results);
	json_object_put(p->models);
}

static bool
parse_row(const struct oa_row *row, struct parsed *p)
{
	json_object *v;

	memset(p, 0, sizeof *p);
	p->request = json_tokener_parse(row->api_request_json);
	p->results = json_tokener_parse(row->results_json);
	p->models = json_tokener_parse(row->models_json);
	if (!json_object_is_type(p->request, json_type_object) ||
	    !json_object_is_type(p->results, json_type_object) ||
	    !json_object_is_type(p->models, json_type_object)) {
		parsed_free(p);
		return false;
	}
	json_object_object_foreach(p->models, name, model) {
		p->provider = name;
		snprintf(p->model, sizeof p->model, "%s/%s", name, json_object_get_string(model));
		break;
	}
	if (json_object_object_get_ex(p->request, "model", &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(p->model, sizeof p->model, "%s", json_object_get_string(v));
	if (p->provider != NULL && json_object_object_get_ex(p->results, p->provider, &v) &&
	    json_object_is_type(v, json_type_object)) {
		p->result = v;
		if (json_object_object_get_ex(v, "text", &v) && json_object_is_type(v, json_type_string))
			p->text = json_object_get_string(v);
	}
	return true;
}

/* result.usage's count name, or -1. */
static long
usage_count(const struct parsed *p, const char *name)
{
	json_object *u, *v;

	if (p->result == NULL || !json_object_object_get_ex(p->result, "usage", &u) ||
	    !json_object_object_get_ex(u, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return (long)json_object_get_int64(v);
}

/* {in_name, out_name, total_tokens} or NULL (JSON null) without usage. */
static json_object *
usage_object(const struct parsed *p, const char *in_name, const char *out_name, int *rc)
{
	long in = usage_count(p, "inputTokens"), out = usage_count(p, "outputTokens");
	json_object *u;

	if (in < 0 && out < 0)
		return NULL;
	in = in < 0 ? 0 : in;
	out = out < 0 ? 0 : out;
	u = json_object_new_object();
	if (u == NULL) {
		*rc = -1;
		return NULL;
	}
	*rc |= json_object_object_add(u, in_name, json_object_new_int64(in));
	*rc |= json_object_object_add(u, out_name, json_object_new_int64(out));
	*rc |= json_object_object_add(u, "total_tokens", json_object_new_int64(in + out));
	return u;
}

static json_object *
copy_member(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) ? json_object_get(v) : NULL;
}

/* The failed response's error: the provider's error text and class. */
static json_object *
error_object(const struct parsed *p, int *rc)
{
	json_object *e = json_object_new_object(), *v;
	const char *msg = "the request failed", *code = "server_error";

	if (e == NULL) {
		*rc = -1;
		return NULL;
	}
	if (p->result != NULL && json_object_object_get_ex(p->result, "error", &v) &&
	    json_object_is_type(v, json_type_string))
		msg = json_object_get_string(v);
	if (p->result != NULL && json_object_object_get_ex(p->result, "errorClass", &v) &&
	    json_object_is_type(v, json_type_string))
		code = json_object_get_string(v);
	*rc |= json_object_object_add(e, "code", json_object_new_string(code));
	*rc |= json_object_object_add(e, "message", json_object_new_string(msg));
	return e;
}

json_object *
oa_response_object(const struct oa_row *row)
{
	const char *status = oa_status(row->status);
	char id[OA_ID_MAX], msg_id[OA_ID_MAX];
	struct parsed p;
	json_object *o, *output, *v;
	int rc = 0;

	if (status == NULL || !parse_row(row, &p))
		return NULL;
	oa_id("resp_", row->chat_id, id);
	oa_id("msg_", row->chat_id, msg_id);
	o = json_object_new_object();
	output = json_object_new_array();
	if (o == NULL || output == NULL) {
		json_object_put(o);
		json_object_put(output);
		parsed_free(&p);
		return NULL;
	}
	rc |= json_object_object_add(o, "id", json_object_new_string(id));
	rc |= json_object_object_add(o, "object", json_object_new_string("response"));
	rc |= json_object_object_add(o, "created_at", json_object_new_int64(row->created_at));
	rc |= json_object_object_add(o, "status", json_object_new_string(status));
	rc |= json_object_object_add(o, "completed_at",
				     row->completed_at > 0 ? json_object_new_int64(row->completed_at) : NULL);
	v = copy_member(p.request, "background");
	rc |= json_object_object_add(o, "background", v != NULL ? v : json_object_new_boolean(0));
	rc |= json_object_object_add(o, "error", strcmp(status, OA_STATUS_FAILED) == 0 ? error_object(&p, &rc) : NULL);
	rc |= json_object_object_add(o, "incomplete_details", NULL);
	rc |= json_object_object_add(o, "instructions", copy_member(p.request, "instructions"));
	rc |= json_object_object_add(o, "max_output_tokens", copy_member(p.request, "max_output_tokens"));
	v = copy_member(p.request, "metadata");
	rc |= json_object_object_add(o, "metadata", v != NULL ? v : json_object_new_object());
	rc |= json_object_object_add(o, "model", json_object_new_string(p.model));
	/* One message with the text so far (in progress) or the answer. */
	if (p.text != NULL && (p.text[0] != '\0' || strcmp(status, OA_STATUS_COMPLETED) == 0)) {
		json_object *item = json_object_new_object(), *content = json_object_new_array(),
			    *part = json_object_new_object();

		if (item == NULL || content == NULL || part == NULL) {
			json_object_put(item);
			json_object_put(content);
			json_object_put(part);
			rc = -1;
		} else {
			rc |= json_object_array_add(output, item);
			rc |= json_object_object_add(item, "id", json_object_new_string(msg_id));
			rc |= json_object_object_add(item, "type", json_object_new_string("message"));
			rc |= json_object_object_add(item, "status", json_object_new_string(
				strcmp(status, OA_STATUS_COMPLETED) == 0 ? OA_STATUS_COMPLETED :
				strcmp(status, OA_STATUS_IN_PROGRESS) == 0 ? OA_STATUS_IN_PROGRESS : OA_STATUS_INCOMPLETE));
			rc |= json_object_object_add(item, "role", json_object_new_string("assistant"));
			rc |= json_object_object_add(item, "content", content);
			rc |= json_object_array_add(content, part);
			rc |= json_object_object_add(part, "type", json_object_new_string("output_text"));
			rc |= json_object_object_add(part, "text", json_object_new_string(p.text));
			rc |= json_object_object_add(part, "annotations", json_object_new_array());
		}
	}
	rc |= json_object_object_add(o, "output", output);
	rc |= json_object_object_add(o, "output_text", json_object_new_string(p.text ? p.text : ""));
	rc |= json_object_object_add(o, "parallel_tool_calls", json_object_new_boolean(0));
	v = copy_member(p.request, "temperature");
	rc |= json_object_object_add(o, "temperature", v);
	rc |= json_object_object_add(o, "tool_choice", json_object_new_string("none"));
	rc |= json_object_object_add(o, "tools", json_object_new_array());
	v = copy_member(p.request, "top_p");
	rc |= json_object_object_add(o, "top_p", v);
	rc |= json_object_object_add(o, "usage", usage_object(&p, "input_tokens", "output_tokens", &rc));
	parsed_free(&p);
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
oa_completion_object(const struct oa_row *row)
{
	char id[OA_ID_MAX];
	struct parsed p;
	json_object *o, *choices, *choice, *message;
	int rc = 0;

	if (!parse_row(row, &p))
		return NULL;
	oa_id("chatcmpl-", row->chat_id, id);
	o = json_object_new_object();
	choices = json_object_new_array();
	choice = json_object_new_object();
	message = json_object_new_object();
	if (o == NULL || choices == NULL || choice == NULL || message == NULL) {
		json_object_put(o);
		json_object_put(choices);
		json_object_put(choice);
		json_object_put(message);
		parsed_free(&p);
		return NULL;
	}
	rc |= json_object_object_add(o, "id", json_object_new_string(id));
	rc |= json_object_object_add(o, "object", json_object_new_string("chat.completion"));
	rc |= json_object_object_add(o, "created", json_object_new_int64(row->created_at));
	rc |= json_object_object_add(o, "model", json_object_new_string(p.model));
	rc |= json_object_object_add(o, "choices", choices);
	rc |= json_object_array_add(choices, choice);
	rc |= json_object_object_add(choice, "index", json_object_new_int(0));
	rc |= json_object_object_add(choice, "message", message);
	rc |= json_object_object_add(message, "role", json_object_new_string("assistant"));
	rc |= json_object_object_add(message, "content", json_object_new_string(p.text ? p.text : ""));
	rc |= json_object_object_add(message, "refusal", NULL);
	rc |= json_object_object_add(choice, "finish_reason", json_object_new_string("stop"));
	rc |= json_object_object_add(choice, "logprobs", NULL);
	rc |= json_object_object_add(o, "usage",
				     usage_object(&p, "prompt_tokens", "completion_tokens", &rc));
	parsed_free(&p);
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *
oa_response_opening(json_object *resp, const char *status)
{
	json_object *copy = NULL, *v;

	if (json_object_deep_copy(resp, &copy, NULL) != 0)
		return NULL;
	if (status == NULL)
		status = json_object_object_get_ex(copy, "background", &v) && json_object_get_boolean(v)
				 ? OA_STATUS_QUEUED : OA_STATUS_IN_PROGRESS;
	if (json_object_object_add(copy, "status", json_object_new_string(status)) != 0 ||
	    json_object_object_add(copy, "output", json_object_new_array()) != 0 ||
	    json_object_object_add(copy, "output_text", json_object_new_string("")) != 0 ||
	    json_object_object_add(copy, "error", NULL) != 0 ||
	    json_object_object_add(copy, "completed_at", NULL) != 0 ||
	    json_object_object_add(copy, "usage", NULL) != 0) {
		json_object_put(copy);
		return NULL;
	}
	return copy;
}

