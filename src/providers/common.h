/*
 * common.h: helpers shared by the provider adapters; private to providers/.
 *
 * They exist so that the adapters build requests and read answers the same
 * way: one JSON POST built from a provider's scheme (post.c), one JSON
 * reader with a length, one way to phrase an error, one sanitiser for
 * untrusted provider text, and the batch adapters' shared steps (batch.c).
 * They keep no state (thread-safe). What can fail: memory (AIGW_ENOMEM),
 * and text that cannot go on the wire (AIGW_EINVAL: a control character in
 * a URL or header, a call without a model, message or key); a provider's
 * answer never fails a parse, it becomes a classified prov_result or
 * prov_step. A struct prov_http or prov_result they fill stays freeable.
 * The streaming formats' helpers (stream.c) act on the one struct
 * prov_stream they are given and refuse a stream that is not its format
 * (AIGW_EINVAL, the failure kept in the stream for prov_stream_end).
 */
#ifndef AIGW_PROVIDERS_COMMON_H
#define AIGW_PROVIDERS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/err.h"
#include "providers/provider.h"

/* Provider text quoted in an error sentence is cut to this many bytes. */
#define PROV_SNIPPET_MAX 200
/* A result keeps at most this many citations: a hostile body full of
 * sources can neither grow the result nor make the de-duplication slow. */
#define PROV_CITATIONS_MAX 64

/* ---- the adapters' ops, referenced by the table in provider.c ---- */

enum aigw_err prov_openai_build(const struct prov_config *cfg, const struct prov_call *call,
				struct prov_http *out) AIGW_MUSTCHECK;
/* prov_openai_build for a named OpenAI-compatible server: the key may be
 * empty (no Authorization header then). */
enum aigw_err prov_openai_compat_build(const struct prov_config *cfg,
				       const struct prov_call *call, struct prov_http *out);
enum aigw_err prov_openai_parse(long http_status, const char *body, size_t len,
				struct prov_result *out) AIGW_MUSTCHECK;
enum aigw_err prov_anthropic_build(const struct prov_config *cfg, const struct prov_call *call,
				   struct prov_http *out) AIGW_MUSTCHECK;
enum aigw_err prov_anthropic_parse(long http_status, const char *body, size_t len,
				   struct prov_result *out) AIGW_MUSTCHECK;
enum aigw_err prov_gemini_build(const struct prov_config *cfg, const struct prov_call *call,
				struct prov_http *out) AIGW_MUSTCHECK;
enum aigw_err prov_gemini_parse(long http_status, const char *body, size_t len,
				struct prov_result *out) AIGW_MUSTCHECK;
enum aigw_err prov_perplexity_build(const struct prov_config *cfg, const struct prov_call *call,
				    struct prov_http *out) AIGW_MUSTCHECK;
enum aigw_err prov_perplexity_parse(long http_status, const char *body, size_t len,
				    struct prov_result *out) AIGW_MUSTCHECK;

/*
 * The Chat Completions answer shape that OpenAI and Perplexity share, parsed
 * with `name` in the error sentences. When the answer is ok and `extra` is
 * given, extra(root, out) may add to *out (Perplexity's top-level sources).
 * Fails as a prov_desc parse op does.
 */
typedef enum aigw_err (*prov_chat_extra_fn)(json_object *root, struct prov_result *out);
enum aigw_err prov_openai_chat_parse(const char *name, long http_status, const char *body,
				     size_t len, struct prov_result *out,
				     prov_chat_extra_fn extra) AIGW_MUSTCHECK;
/* The Chat Completions messages of a call: an optional system message, then
 * the conversation's turns (or the user message alone). NULL on ENOMEM. */
json_object *prov_openai_messages(const struct prov_call *call);

/*
 * The request bodies, headers and answer parsers of the sync adapters that
 * their batch adapters reuse, so that a call sent in a batch is the same
 * request and its answer reads the same. The call is checked by the caller.
 */
/* The Chat Completions body of a call; NULL on ENOMEM. */
json_object *prov_openai_body(const struct prov_call *call);
/* The Messages body of a call; NULL on ENOMEM. */
json_object *prov_anthropic_body(const struct prov_call *call);
/* Appends x-api-key and anthropic-version; fails as prov_common_header. */
enum aigw_err prov_anthropic_headers(struct prov_http *h, const char *api_key) AIGW_MUSTCHECK;
/* A Messages answer, with `name` in the error sentences; fails as a
 * prov_desc parse op does. */
enum aigw_err prov_anthropic_message_parse(const char *name, long http_status, const char *body,
					   size_t len, struct prov_result *out) AIGW_MUSTCHECK;

/* ---- the async adapters (openai_batch.c, anthropic_batch.c, snapshot.c) ---- */

extern const struct prov_async_ops prov_openai_batch_ops;
extern const struct prov_async_ops prov_anthropic_batch_ops;
extern const struct prov_async_ops prov_snapshot_ops;

/*
 * Helpers the async adapters share (batch.c). Like the rest they keep no
 * state. A struct prov_step they fill stays freeable with prov_step_free()
 * whatever they return.
 */

/* A custom_id as the contract has it: 1 to 64 of [A-Za-z0-9_-]. Cannot fail. */
bool prov_async_id_ok(const char *id);
/* AIGW_EINVAL unless cfg has a key and a base URL, model is non-empty, there
 * are 1 to max items, each with a well-formed custom_id that no other item
 * has and a non-empty message (and max_tokens > 0 when need_max_tokens);
 * AIGW_ENOMEM. */
enum aigw_err prov_async_check(const struct prov_config *cfg, const char *model,
			       const struct prov_batch_item *items, size_t n, size_t max,
			       bool need_max_tokens) AIGW_MUSTCHECK;
/* Parses a stored state into *st (the caller puts it) with its "step" in
 * *step (borrowed from *st). AIGW_EINVAL when state is NULL or not a JSON
 * object with a string "step" (*st is NULL then); AIGW_ENOMEM. */
enum aigw_err prov_async_state(const char *state, json_object **st,
			       const char **step) AIGW_MUSTCHECK;
/* o[key] when it is a non-empty string, else NULL (borrowed). */
const char *prov_async_get_id(json_object *o, const char *key);
/* What an adapter's cancel reads from its state: the provider's id under
 * id_key (*id, borrowed from *st, which the caller puts) when the step is
 * one of steps (a NULL-ended list). AIGW_ENOTFOUND when there is nothing
 * to cancel yet: no state, or a step of before (NULL-ended, or NULL);
 * AIGW_EINVAL for another step or no id (*st is NULL then); AIGW_ENOMEM. */
enum aigw_err prov_async_cancel_id(const char *state, const char *id_key,
				   const char *const *before, const char *const *steps,
				   json_object **st, const char **id) AIGW_MUSTCHECK;
/* Sets s->kind, and s->state to a JSON object made of the key/value string
 * pairs that follow, up to a NULL key; a NULL value is JSON null.
 * AIGW_ENOMEM. */
enum aigw_err prov_async_move(struct prov_step *s, enum prov_step_kind kind, ...)
	__attribute__((sentinel)) AIGW_MUSTCHECK;
/* Empties *s and makes it FAILED with class c and a formatted sentence.
 * AIGW_ENOMEM only. */
enum aigw_err prov_async_fail(struct prov_step *s, enum prov_errclass c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4))) AIGW_MUSTCHECK;
/*
 * As prov_common_begin, for a step: parses the body into *root (the caller
 * puts it in every case) and, for an error status or a 2xx that is not a
 * JSON object, makes *s FAILED with the classified sentence. AIGW_ENOMEM only.
 */
enum aigw_err prov_async_begin(const char *name, long http_status, const char *body, size_t len,
			       struct prov_step *s, json_object **root) AIGW_MUSTCHECK;
/* Appends the result *r for custom_id id to s, taking *r's contents in
 * every case (*r is left empty). AIGW_ENOMEM. */
enum aigw_err prov_async_add(struct prov_step *s, const char *id,
			     struct prov_result *r) AIGW_MUSTCHECK;
/* Appends a failure of class c with a formatted sentence for id. AIGW_ENOMEM. */
enum aigw_err prov_async_add_fail(struct prov_step *s, const char *id, enum prov_errclass c,
				  const char *fmt, ...)
	__attribute__((format(printf, 4, 5))) AIGW_MUSTCHECK;
/* v (borrowed, NULL for none) as JSON text, for a sync parser: *len gets
 * its length. "" for NULL. NULL on ENOMEM. */
const char *prov_async_text(json_object *v, size_t *len);

/* ---- looking a batch up after a create's answer was lost ---- */

/* Batches created this long before the first create went out, by the
 * provider's clock, are still considered (clocks differ). */
#define PROV_ASYNC_FIND_SKEW_S 600
/* Batches listed in one lookup request. */
#define PROV_ASYNC_FIND_PAGE "100"

/* The batch's token: its smallest custom_id (borrowed), the same however
 * the items are ordered; unique to the batch, since a custom_id is a call
 * of one batch. NULL for no items. */
const char *prov_async_token(const struct prov_batch_item *items, size_t n);

/* A lookup state, read (see prov_async_find_state). */
struct prov_async_find {
	const char *token;        /* borrowed from the state's JSON */
	size_t n;                 /* the batch's calls */
	long long since_s;
	const char *after;        /* the list's cursor; NULL: its first page */
};
/* Reads st (borrowed) when its step is "find". AIGW_EINVAL when a field is
 * missing or malformed. */
enum aigw_err prov_async_find_read(json_object *st, struct prov_async_find *f) AIGW_MUSTCHECK;
/* The lookup's list request: GET {base}{path}?limit=PROV_ASYNC_FIND_PAGE,
 * with &{cursor}=<the state's cursor> past the first page, and the
 * provider's headers. AIGW_EINVAL for a state that is no lookup or a URL
 * too long, AIGW_ENOMEM; on error *out is left for the caller to free. */
enum aigw_err prov_async_build_find(const struct prov_config *cfg, json_object *st,
				    const char *path, const char *cursor,
				    enum aigw_err (*headers)(struct prov_http *h,
							     const char *api_key),
				    struct prov_http *out) AIGW_MUSTCHECK;

/* The headers that carry a provider's key (and its fixed headers). */
typedef enum aigw_err (*prov_headers_fn)(struct prov_http *h, const char *api_key);
/* "Authorization: Bearer <key>"; fails as prov_common_header. */
enum aigw_err prov_async_bearer(struct prov_http *h, const char *api_key) AIGW_MUSTCHECK;
/* Whether cfg has a key and a base URL to go on with. Cannot fail. */
bool prov_async_config_ok(const struct prov_config *cfg);
/* A request without a body: method {base}{prefix}<id escaped>{suffix} with
 * the provider's headers. AIGW_EINVAL for a URL too long or with a control
 * character, AIGW_ENOMEM; on error *out is left for the caller to free. */
enum aigw_err prov_async_build_bare(const struct prov_config *cfg, const char *method,
				    const char *prefix, const char *id, const char *suffix,
				    prov_headers_fn headers, struct prov_http *out) AIGW_MUSTCHECK;
/* How an adapter cancels its batch: which steps have an id to cancel (as
 * prov_async_cancel_id takes them) and the request, POST
 * {base}{prefix}<id>{suffix}. */
struct prov_async_cancel {
	const char *id_key;
	const char *const *before;
	const char *const *steps;
	const char *prefix;
	const char *suffix;
	prov_headers_fn headers;
};
/* An async ops' build_cancel as c says: AIGW_ENOTFOUND with nothing to
 * cancel yet, AIGW_EINVAL for a state or config it cannot go on from,
 * AIGW_ENOMEM; on error *out is left zeroed. */
enum aigw_err prov_async_build_cancel(const struct prov_config *cfg, const char *state,
				      const struct prov_async_cancel *c,
				      struct prov_http *out) AIGW_MUSTCHECK;
/* The answer to a create: WAIT with {"step":"poll", id_key: id} and the
 * external id (id is the answer's, NULL when it gave none: FAILED bad body,
 * "<name> returned an unexpected body: <missing>"). AIGW_ENOMEM. */
enum aigw_err prov_async_created(struct prov_step *out, const char *name, const char *id,
				 const char *id_key, const char *missing) AIGW_MUSTCHECK;
/* The last step of an async parse: on error (memory only) nothing is left
 * half-built in *out and AIGW_ENOMEM is returned; root and st are put. */
enum aigw_err prov_async_parse_end(struct prov_step *out, enum aigw_err err, json_object *root,
				   json_object *st) AIGW_MUSTCHECK;
/* The first step of reading a lookup's list answer (root, a JSON object):
 * reads the lookup state st into *f and returns the list's "data" array
 * (borrowed). NULL after filling *out with the failure: a state it cannot
 * continue from (PROV_ERR_CLIENT) or a list without data (bad body); *err
 * is then AIGW_OK or AIGW_ENOMEM. */
json_object *prov_async_find_list(const char *name, json_object *st, json_object *root,
				  struct prov_async_find *f, struct prov_step *out,
				  enum aigw_err *err);
/* The last step when the page held no match: NEXT to the page after `last`
 * when root says "has_more" and the page's oldest batch (oldest_s, Unix
 * seconds; -1: unknown) is not older than the first create less
 * PROV_ASYNC_FIND_SKEW_S, else ABSENT. AIGW_ENOMEM. */
enum aigw_err prov_async_find_end(struct prov_step *out, const struct prov_async_find *f,
				  json_object *root, const char *last,
				  long long oldest_s) AIGW_MUSTCHECK;
/* NEXT to the same lookup from the page after cursor `after`. AIGW_ENOMEM. */
enum aigw_err prov_async_find_more(struct prov_step *s, const struct prov_async_find *f,
				   const char *after) AIGW_MUSTCHECK;
/* The batch was found as id: WAIT with {"step":"poll", id_key: id} and the
 * external id, as a create's answer would have left. AIGW_ENOMEM. */
enum aigw_err prov_async_found(struct prov_step *s, const char *id_key,
			       const char *id) AIGW_MUSTCHECK;
/* An RFC 3339 time ("2024-09-24T18:37:24.100435Z", or with an offset) as
 * Unix seconds; -1 when it is not one. Cannot fail. */
long long prov_async_time(const char *s);
/* Whether a listed batch of `count` calls created at created_s (-1:
 * unknown) may be the lost one, and is closer to the first create than
 * *best_gap (which it then updates). For providers whose list carries no
 * token of ours: a batch of the same size created from SKEW before. */
bool prov_async_closer(const struct prov_async_find *f, long long count, long long created_s,
		       long long *best_gap);

/* Called with each result item and its well-formed custom_id (both
 * borrowed); adds what it finds to s. AIGW_ENOMEM only. */
typedef enum aigw_err (*prov_async_item_fn)(json_object *item, const char *id,
					    struct prov_step *s);
/*
 * Reads a 2xx JSONL answer: fn for each line that is a JSON object with a
 * well-formed custom_id. Other lines cannot be told apart from each other or
 * matched to a call, so they are skipped (the engine fails the calls left
 * without a result); a body that has lines but none of them readable is
 * FAILED bad body. Leaves s->kind alone otherwise. AIGW_ENOMEM only.
 */
enum aigw_err prov_async_jsonl(const char *name, const char *body, size_t len,
			       struct prov_step *s, prov_async_item_fn fn) AIGW_MUSTCHECK;
/*
 * As prov_async_jsonl for a 2xx answer that is one JSON array of records,
 * read record by record (never as one document, which may be larger than
 * a parser takes): fn for each record that is an object with a well-formed
 * custom_id, found by id_of (borrowed from the record; NULL: none). A body
 * that is not an array, or has records but none readable, is FAILED bad
 * body; an array cut short keeps the records read before. AIGW_ENOMEM only.
 */
typedef const char *(*prov_async_id_fn)(json_object *record);
enum aigw_err prov_async_array(const char *name, const char *body, size_t len,
			       struct prov_step *s, prov_async_id_fn id_of,
			       prov_async_item_fn fn) AIGW_MUSTCHECK;

/* ---- building requests ---- */

/* A header every request of a provider carries, whatever the call. */
struct prov_fixed_header {
	const char *name;
	const char *value;
};

/*
 * How a sync provider's request goes out: a POST of the call's body to
 * {base}{path}, the key in one header ("Authorization: Bearer <key>",
 * "x-api-key: <key>"), the provider's fixed headers, then Content-Type. The
 * adapters differ only in these fields; prov_scheme_build does the rest.
 */
struct prov_scheme {
	const char *path;          /* "/chat/completions"; NULL: path_of */
	/* The call's own path (one that names the model), malloc'd into *path:
	 * AIGW_EINVAL for a call it cannot name, AIGW_ENOMEM. */
	enum aigw_err (*path_of)(const struct prov_call *call, char **path);
	const char *auth_name;     /* the header that carries the key */
	const char *auth_prefix;   /* before the key ("Bearer "), or NULL */
	const struct prov_fixed_header *fixed; /* ends with a NULL name; NULL: none */
	const char *content_type;
	/* The body of a checked call; NULL on ENOMEM. */
	json_object *(*body)(const struct prov_call *call);
	/* Streaming (prov_scheme_build_stream): the call's path when it is
	 * not the same (NULL: the same), and what the body adds: "stream":
	 * true, and "stream_options":{"include_usage":true} for the usage. */
	enum aigw_err (*stream_path_of)(const struct prov_call *call, char **path);
	bool stream_flag;
	bool stream_usage;
	/* A server that may need no key (a named OpenAI-compatible one, such
	 * as a local Ollama): without one, no key header goes out. */
	bool key_optional;
};

/* The key's header and the fixed headers, appended to h; fails as
 * prov_common_header. */
enum aigw_err prov_scheme_headers(const struct prov_scheme *s, struct prov_http *h,
				  const char *api_key) AIGW_MUSTCHECK;
/* A call's request as s says. Fails as a prov_desc build op does: AIGW_EINVAL
 * for a call or config prov_common_check refuses, a path that cannot be
 * made or a URL or header with a control character; AIGW_ENOMEM. On error
 * *out is left zeroed. */
enum aigw_err prov_scheme_build(const struct prov_scheme *s, const struct prov_config *cfg,
				const struct prov_call *call,
				struct prov_http *out) AIGW_MUSTCHECK;

/* As prov_scheme_build, for the call's streamed answer. */
enum aigw_err prov_scheme_build_stream(const struct prov_scheme *s, const struct prov_config *cfg,
				       const struct prov_call *call,
				       struct prov_http *out) AIGW_MUSTCHECK;

/* AIGW_EINVAL unless the config has a key and base URL and the call has a
 * model, a message and max_tokens > 0. Cannot fail otherwise. */
enum aigw_err prov_common_check(const struct prov_config *cfg,
				const struct prov_call *call) AIGW_MUSTCHECK;
/* The same, the key required only when key_required. */
enum aigw_err prov_common_check_key(const struct prov_config *cfg, const struct prov_call *call,
				    bool key_required) AIGW_MUSTCHECK;
/* call->location when it names a country, else NULL: callers pass "" for
 * none as readily as NULL. Cannot fail. */
const char *prov_common_location(const struct prov_call *call);
/* Sets h->url to base (trailing slashes dropped) followed by path.
 * AIGW_ENOMEM; AIGW_EINVAL when either holds a control character or space. */
enum aigw_err prov_common_url(struct prov_http *h, const char *base,
			      const char *path) AIGW_MUSTCHECK;
/* Appends "name: prefixvalue" (prefix may be NULL). AIGW_EINVAL when the
 * parts hold CR, LF or another control character (no header injection, even
 * from a pasted key) or the header array is full; AIGW_ENOMEM. */
enum aigw_err prov_common_header(struct prov_http *h, const char *name, const char *prefix,
				 const char *value) AIGW_MUSTCHECK;
/* The Chat-style messages of a call: {"role":"system"} with system when
 * it is given and not empty, then {"role":"user"} with user. NULL on
 * ENOMEM. */
json_object *prov_common_messages(const char *system, const char *user);
/* The Chat-style messages of a whole call: {"role":"system"} with system
 * when it is given and not empty, then the call's turns in order (its
 * message alone as the user's when it has none). alternate, for servers
 * that take only alternating turns opening with the user's: turns before
 * the first user turn are left out and adjacent turns of one role become
 * one, their texts joined by a blank line. NULL on ENOMEM. */
json_object *prov_common_call_messages(const struct prov_call *call, const char *system,
				       bool alternate);
/* Serialises body into h->body / h->body_len (body is borrowed). AIGW_ENOMEM. */
enum aigw_err prov_common_body(struct prov_http *h, json_object *body) AIGW_MUSTCHECK;
/* A malloc'd copy of s with every byte except A-Z a-z 0-9 - . _ ~ written
 * as %XX (RFC 3986 unreserved), for one URL path segment. NULL on ENOMEM. */
char *prov_common_escape(const char *s);

/* Adds v under key, taking ownership of v even on failure. -1 when v is
 * NULL (its allocation failed) or the add fails, else 0: callers OR the
 * results of a whole object and check once. */
int prov_common_add(json_object *o, const char *key, json_object *v);
/* As prov_common_add, for appending to an array. */
int prov_common_push(json_object *a, json_object *v);
/* A new json string, or NULL when s is NULL or memory runs out. */
json_object *prov_common_str(const char *s);

/* ---- reading answers ---- */

/* Parses exactly body[0..len) (trailing whitespace allowed) as strict JSON.
 * NULL for anything else: garbage, truncation, trailing junk, bytes that are
 * not valid UTF-8 (NUL included), nesting deeper than json-c's default, a
 * body over INT_MAX bytes. The caller puts it. */
json_object *prov_common_json(const char *body, size_t len);
/* As prov_common_json, and *nomem says whether a NULL was for want of
 * memory (as far as json-c tells: it cannot report a failed allocation in
 * the middle of a parse) rather than for the text. */
json_object *prov_common_json_ex(const char *body, size_t len, bool *nomem);
/* o[key] when o is an object holding key with type t, else NULL (borrowed). */
json_object *prov_common_get(json_object *o, const char *key, enum json_type t);
/* o[key] as a string, or NULL when absent or not a string (borrowed). */
const char *prov_common_get_str(json_object *o, const char *key);
/* o[key] as a non-negative integer, or -1 when absent, not an integer or
 * negative: token counts the provider did not give stay unknown. */
long prov_common_get_count(json_object *o, const char *key);

/*
 * Untrusted provider text made fit for an error sentence: at most
 * PROV_SNIPPET_MAX bytes cut on a character boundary ("..." marks the cut),
 * control characters as spaces, invalid UTF-8 as '?', and any word shaped
 * like an API key ("sk-", "AIza", "pplx-", ...) as "[redacted]", since parse
 * ops never see the key to strip it. NULL on ENOMEM.
 */
char *prov_common_snippet(const char *s);

/* Resets *out to an empty result: not ok, no error yet, tokens unknown. */
void prov_common_result_init(struct prov_result *out);

/* Replaces *out with a failure of class c and a formatted sentence. AIGW_ENOMEM
 * only; *out is a freeable failure either way. */
enum aigw_err prov_common_fail(struct prov_result *out, enum prov_errclass c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4))) AIGW_MUSTCHECK;
/* PROV_ERR_BAD_BODY: "<name> returned an unexpected body: <what>". */
enum aigw_err prov_common_bad_body(struct prov_result *out, const char *name,
				   const char *what) AIGW_MUSTCHECK;

/*
 * The first step of every parse. Resets *out and parses the body into *root
 * (NULL when it is not JSON; the caller puts it in every case). For a 2xx
 * status with a JSON object body it leaves out->errclass at PROV_ERR_NONE for
 * the adapter to read the answer. Otherwise it fills *out with the failure:
 * a classified "<name> returned 429: <provider message>" for an error status,
 * PROV_ERR_BAD_BODY for a 2xx that is not a JSON object. The provider message
 * is looked for in error.message, error (a string), message and detail, then
 * error.type / error.status as a fallback. AIGW_ENOMEM only.
 */
enum aigw_err prov_common_begin(const char *name, long http_status, const char *body, size_t len,
				struct prov_result *out, json_object **root) AIGW_MUSTCHECK;

/*
 * The last step of a successful parse: takes text's bytes as out->text and
 * marks *out ok. An empty answer helps nobody, so it becomes a PROV_ERR_CLIENT
 * failure "<name> returned an empty answer" naming `why` (a finish reason)
 * when given. An answer holding a NUL (JSON's \u0000) is PROV_ERR_BAD_BODY:
 * out->text is a C string, which would end there. AIGW_ENOMEM only.
 */
enum aigw_err prov_common_finish(struct prov_result *out, const char *name, struct buf *text,
				 const char *why) AIGW_MUSTCHECK;

/* out->model = a copy of model, or left NULL when model is NULL (the
 * provider did not say). AIGW_ENOMEM. */
enum aigw_err prov_common_model(struct prov_result *out, const char *model) AIGW_MUSTCHECK;

/* The last step of every sync parse (and the mock's answer): when err is
 * not AIGW_OK (only memory can fail there) *out is reset to an empty
 * result, nothing half-built left behind, and AIGW_ENOMEM returned; text
 * is freed and root (may be NULL) put in every case. */
enum aigw_err prov_common_parse_end(struct prov_result *out, enum aigw_err err, struct buf *text,
				    json_object *root) AIGW_MUSTCHECK;

/* Appends {"url","title"} to out->citations (created on first use), keeping
 * the first of equal URLs and at most PROV_CITATIONS_MAX entries; a NULL or
 * empty url is ignored, a NULL title is JSON null. AIGW_ENOMEM only. */
enum aigw_err prov_common_cite(struct prov_result *out, const char *url,
			       const char *title) AIGW_MUSTCHECK;

/* ---- streamed answers (stream.c; the formats beside their adapters) ---- */

struct prov_stream;
struct sse_event;

/*
 * A provider's streaming format. event() reads one SSE event: it adds the
 * answer's text with prov_stream_text, keeps what the final answer needs in
 * acc (a JSON object the stream owns), calls prov_stream_done on the final
 * event, and refuses the stream with prov_stream_bad / prov_stream_error
 * (AIGW_EINVAL). whole() rebuilds, from acc and the text, the answer the
 * provider would have sent without streaming (NULL on ENOMEM), which parse
 * then reads, so a streamed result is never read differently.
 */
struct prov_stream_format {
	const char *name;
	enum aigw_err (*event)(struct prov_stream *st, const struct sse_event *ev,
			       json_object *acc);
	json_object *(*whole)(json_object *acc, const char *text, size_t len);
	enum aigw_err (*parse)(long http_status, const char *body, size_t len,
			       struct prov_result *out);
	/* The token counts of a whole() answer as parse reads them (-1 where
	 * absent), even of an answer parse would refuse (no text yet). */
	void (*usage)(json_object *whole, long *input, long *output);
	/* The streaming request of a call; fails as a prov_desc build op. */
	enum aigw_err (*build)(const struct prov_config *cfg, const struct prov_call *call,
			       struct prov_http *out);
	/* For a format without a final event of its own (or where it may be
	 * left out): the stream also ended well when acc holds this key. */
	const char *end_key;
};

extern const struct prov_stream_format prov_openai_stream;
/* OpenAI's format at a named OpenAI-compatible server (its key optional). */
extern const struct prov_stream_format prov_openai_compat_stream;
extern const struct prov_stream_format prov_perplexity_stream;
extern const struct prov_stream_format prov_anthropic_stream;
extern const struct prov_stream_format prov_gemini_stream;

/* Appends s[0..n) to the answer and the feed's delta. AIGW_ENOMEM; past
 * PROV_STREAM_TEXT_MAX the stream is refused (AIGW_EINVAL). */
enum aigw_err prov_stream_text(struct prov_stream *st, const char *s, size_t n) AIGW_MUSTCHECK;
/* Counts n bytes of events the format keeps in acc beyond the text (blocks,
 * citations, usage): past PROV_STREAM_TEXT_MAX in all the stream is refused
 * (AIGW_EINVAL), so that many small events cannot grow it without bound. */
enum aigw_err prov_stream_charge(struct prov_stream *st, size_t n) AIGW_MUSTCHECK;
/* The answer's text so far: its length. Cannot fail. */
size_t prov_stream_text_len(const struct prov_stream *st);
/* The final event was read. Cannot fail. */
void prov_stream_done(struct prov_stream *st);
/* Refuses the stream: "<name> returned an unexpected stream: <what>"
 * (PROV_ERR_BAD_BODY). Returns AIGW_EINVAL, or AIGW_ENOMEM. */
enum aigw_err prov_stream_bad(struct prov_stream *st, const char *what) AIGW_MUSTCHECK;
/* Refuses the stream with an in-stream error object `error` (borrowed):
 * the failure the format's parse gives {"error": error} with the HTTP
 * status the error names (its numeric "code", else its type, else 500).
 * Returns AIGW_EINVAL, or AIGW_ENOMEM. */
enum aigw_err prov_stream_error(struct prov_stream *st, json_object *error) AIGW_MUSTCHECK;
/* The event's data as a JSON object into *o (the caller puts it); a data
 * that is not one refuses the stream. AIGW_OK, AIGW_EINVAL, AIGW_ENOMEM. */
enum aigw_err prov_stream_json(struct prov_stream *st, const struct sse_event *ev,
			       json_object **o) AIGW_MUSTCHECK;
/* Refuses an event with a name, for formats whose events have none. */
enum aigw_err prov_stream_unnamed(struct prov_stream *st, const struct sse_event *ev) AIGW_MUSTCHECK;
/* Sets acc[key] to a new reference to v (NULL: leaves it); -1 on ENOMEM. */
int prov_stream_keep(json_object *acc, const char *key, json_object *v);
/* The OpenAI-style chunk reader that OpenAI and Perplexity share; extra
 * keys of a chunk to keep (NULL-ended list) go into acc as they come. */
enum aigw_err prov_openai_chunk_event(struct prov_stream *st, const struct sse_event *ev,
				      json_object *acc, const char *const *extra) AIGW_MUSTCHECK;
/* The whole answer such chunks make, with the extra keys; NULL on ENOMEM. */
/* The token counts of a chat completion (root), -1 where absent. */
void prov_openai_usage(json_object *root, long *input, long *output);
json_object *prov_openai_chunk_whole(json_object *acc, const char *text, size_t len,
				     const char *const *extra);

#endif
