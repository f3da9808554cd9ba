/*
 * conversation.h: the `messages` form of a chat submit (docs/api.md): an
 * OpenAI-style list of turns, checked and normalized into what is stored
 * (chat_results.messages) and what a provider call is made of.
 *
 * A turn is {"role": "system" | "developer" | "user" | "assistant",
 * "content": a string, or a list of {"type": "text", "text": string}
 * parts}. System (and developer) turns join the system prompt, after the
 * request's own `system`, in order, separated by a blank line; the others
 * become the conversation, each content one string (parts joined by a
 * newline). The first and the last of them must be the user's.
 *
 * What can fail: a list that breaks a rule (AIGW_EINVAL with a 400 field
 * error naming the element, "messages[2].role") or memory (AIGW_ENOMEM).
 * A struct conversation owns what it holds; conversation_free() is safe on
 * a zeroed one. Pure: no I/O, no state.
 */
#ifndef AIGW_HTTP_CONVERSATION_H
#define AIGW_HTTP_CONVERSATION_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "http/server.h"

#define CONV_TURNS_MAX 200          /* elements of messages, system ones too */
#define CONV_TURN_MAX 32768         /* characters of one turn's content */
#define CONV_TOTAL_MAX 262144       /* characters of all contents together */
#define CONV_SYSTEM_MAX 32768       /* characters of the joined system prompt */

struct conversation {
	json_object *turns;   /* [{"role": "user"|"assistant", "content": text}] */
	size_t nturns;        /* >= 1 */
	const char *last;     /* the last user turn's text (borrowed from turns) */
	char *system;         /* the joined system prompt, or NULL for none */
};

/*
 * Checks messages (borrowed) and normalizes it into *out; system is the
 * request's own system prompt (NULL: none), which comes first in
 * out->system. AIGW_OK, AIGW_EINVAL with e filled, AIGW_ENOMEM (e filled
 * with a 500); *out is zeroed on error.
 */
enum aigw_err conversation_parse(json_object *messages, const char *system,
				 struct conversation *out,
				 struct http_field_error *e) AIGW_MUSTCHECK;
void conversation_free(struct conversation *c);

/* Whether every provider models (a validated {"provider": "model"}) names
 * can carry a conversation of more than one turn (prov_takes_turns: the
 * snapshot cannot). When one cannot, false with e filled (400 naming
 * "models.<provider>"). Cannot fail otherwise. */
bool conversation_providers_ok(json_object *models, struct http_field_error *e);

#endif
