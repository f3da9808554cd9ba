/* turns.c: a stored conversation as a call's turns (see provider.h). */
#include <stdlib.h>
#include <string.h>

#include "providers/provider.h"

static bool
turn_valid(json_object *t, bool last)
{
	json_object *role, *content;
	const char *r;

	if (!json_object_is_type(t, json_type_object) ||
	    !json_object_object_get_ex(t, "role", &role) ||
	    !json_object_object_get_ex(t, "content", &content) ||
	    !json_object_is_type(role, json_type_string) ||
	    !json_object_is_type(content, json_type_string) ||
	    json_object_get_string_len(content) == 0)
		return false;
	r = json_object_get_string(role);
	if (last)
		return strcmp(r, "user") == 0;
	return strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0;
}

enum aigw_err
prov_turns_from_json(json_object *conv, struct prov_turn **out, size_t *n)
{
	size_t len;
	struct prov_turn *turns;

	*out = NULL;
	*n = 0;
	if (!json_object_is_type(conv, json_type_array))
		return AIGW_EINVAL;
	len = json_object_array_length(conv);
	if (len == 0)
		return AIGW_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!turn_valid(json_object_array_get_idx(conv, i), i + 1 == len))
			return AIGW_EINVAL;
	}
	turns = calloc(len, sizeof *turns);
	if (turns == NULL)
		return AIGW_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		json_object *t = json_object_array_get_idx(conv, i), *v;

		json_object_object_get_ex(t, "role", &v);
		turns[i].role = json_object_get_string(v);
		json_object_object_get_ex(t, "content", &v);
		turns[i].content = json_object_get_string(v);
	}
	*out = turns;
	*n = len;
	return AIGW_OK;
}
