/*
 * common.h: helpers shared by the provider adapters; private to providers/.
 *
 * They exist so that openai.c, anthropic.c, gemini.c and perplexity.c build
 * requests and read answers the same way: one JSON reader with a length, one
 * way to phrase an error, one sanitiser for untrusted provider text. They
 * keep no state (thread-safe). Functions returning enum aigw_err fail only as
 * documented; a struct prov_http or prov_result they fill stays freeable.
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
 * the user message. NULL on ENOMEM. */
json_object *prov_openai_messages(const struct prov_call *call);

/* ---- building requests ---- */

/* AIGW_EINVAL unless the config has a key and base URL and the call has a
 * model, a message and max_tokens > 0. Cannot fail otherwise. */
enum aigw_err prov_common_check(const struct prov_config *cfg,
				const struct prov_call *call) AIGW_MUSTCHECK;
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

/* Appends {"url","title"} to out->citations (created on first use), keeping
 * the first of equal URLs and at most PROV_CITATIONS_MAX entries; a NULL or
 * empty url is ignored, a NULL title is JSON null. AIGW_ENOMEM only. */
enum aigw_err prov_common_cite(struct prov_result *out, const char *url,
			       const char *title) AIGW_MUSTCHECK;

#endif
