/*
 * provider.h: the contract every AI provider adapter follows.
 *
 * A provider knows one wire format and nothing else: no CURL handle, no
 * database, no retries. Its ops are pure functions: a call in, an HTTP
 * request (URL, headers, body) out; an HTTP status and body in, a result or
 * a classified error out. The transfer engine (worker/) sends the request and
 * owns the retry policy; it retries only the classes prov_err_retryable()
 * names. The built-in providers sit in one const table looked up by name;
 * where each is reached and with which key is the config table's
 * (core/config.h), which also owns the named OpenAI-compatible providers
 * (AIGW_PROVIDER_<NAME>_*): prov_find_in() finds both.
 *
 * What can fail: a build refuses a call it cannot express or a key or URL
 * that cannot go on the wire (AIGW_EINVAL) and may run out of memory; a
 * parse fails only for memory: whatever the provider answered becomes a
 * result, ok or with an error class. Lookups and classifications cannot
 * fail.
 *
 * Ownership: a struct prov_http and a struct prov_result own their strings
 * and are released with prov_http_free() / prov_result_free() (both safe on
 * a zeroed struct). The call and the config are borrowed. Thread-safe: no
 * op keeps state.
 */
#ifndef AIGW_PROVIDERS_PROVIDER_H
#define AIGW_PROVIDERS_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "core/err.h"

struct aigw_config;

#define PROV_MAX_HEADERS 8

/* How a provider failure is classified; the engine decides what to retry. */
enum prov_errclass {
	PROV_ERR_NONE = 0,
	PROV_ERR_NETWORK,    /* connection refused, reset, DNS: retried */
	PROV_ERR_TIMEOUT,    /* the attempt ran past its timeout: retried */
	PROV_ERR_RATE_LIMIT, /* 429: retried, honouring Retry-After */
	PROV_ERR_SERVER,     /* 500, 502, 503, 504, 529: retried */
	PROV_ERR_BAD_BODY,   /* 2xx but not the expected JSON: retried once */
	PROV_ERR_AUTH,       /* 401, 403: not retried */
	PROV_ERR_CLIENT,     /* 400, 404 and other 4xx: not retried */
	PROV_ERR_NOT_CONFIGURED, /* no key for the provider here: not retried */
	PROV_ERR__MAX
};

/* One turn of a conversation. */
struct prov_turn {
	const char *role;      /* "user" or "assistant" */
	const char *content;   /* non-empty text */
};

/* What the caller asks of a provider: borrowed, never modified. */
struct prov_call {
	const char *model;     /* non-empty */
	const char *message;   /* the user message, non-empty */
	const char *system;    /* system prompt or NULL */
	int max_tokens;        /* > 0; the caller applies its default */
	bool websearch;        /* ground the answer with the provider's web search */
	const char *location;  /* ISO 3166-1 alpha-2 country or NULL */
	bool json_output;      /* the answer must be one JSON object: use the
				* provider's JSON mode where it has one */
	/* A conversation of nturns turns, the last one the user's, whose
	 * content is message; nturns 0: message alone. */
	const struct prov_turn *turns;
	size_t nturns;
};

/*
 * The turns of a stored conversation (a JSON array of {"role": "user" |
 * "assistant", "content": non-empty string}, the last one the user's), as
 * an array borrowing its strings from conv: *out is malloc'd (free it
 * before conv is put). AIGW_EINVAL for anything else (nothing allocated),
 * AIGW_ENOMEM.
 */
enum aigw_err prov_turns_from_json(json_object *conv, struct prov_turn **out,
				   size_t *n) AIGW_MUSTCHECK;

/* Where and as whom to call: borrowed. */
struct prov_config {
	const char *api_key;   /* never logged, never in an error text */
	const char *base_url;  /* without a trailing slash */
};

/* A request to send, built by a provider. */
struct prov_http {
	const char *method;              /* static "GET", "POST" (NULL: POST), "DELETE" */
	char *url;
	char *headers[PROV_MAX_HEADERS]; /* "Name: value" lines */
	size_t nheaders;
	char *body;                      /* NUL-terminated JSON (or JSONL, or a
					  * multipart form); NULL for GET */
	size_t body_len;
	/* The answer is a batch's result file: it may be far larger than one
	 * answer, so the transfer engine spools it to disk under its own,
	 * much larger bound instead of the single-answer ceiling. */
	bool download;
	/* The request creates the batch at the provider (what is billed): the
	 * engine records that it went out before sending it, and after any
	 * doubt about its answer looks the batch up instead of sending it
	 * again (see prov_async_find_state). */
	bool creates;
	/* "host:port:address": the address the URL's host is connected at,
	 * checked beforehand (webhooks: worker/webhooks.c), so that DNS cannot
	 * answer differently at connect time; NULL: curl resolves it. */
	char *resolve;
};

/* What came back, parsed. */
struct prov_result {
	bool ok;
	char *text;                 /* the answer when ok */
	char *model;                /* the model the provider reports, or NULL */
	long input_tokens;          /* -1 when the provider did not say */
	long output_tokens;         /* -1 when the provider did not say */
	json_object *citations;     /* array of {"url","title"} or NULL; owned */
	enum prov_errclass errclass; /* PROV_ERR_NONE when ok */
	char *error;                /* a sentence when !ok; holds no secret */
};

enum prov_kind { PROV_SYNC, PROV_ASYNC, PROV_BUILTIN };

/*
 * Async providers (openai-batch, anthropic-batch, snapshot): many calls go
 * out as one batch at the provider, which is polled until it ends, and
 * whose results are fetched and matched back to the calls by custom_id.
 *
 * The whole exchange is a chain of HTTP requests driven by a small state
 * that the adapter owns: JSON text that the engine stores in the database
 * after every step, so that a new worker resumes where a dead one stopped.
 * build() makes the next request from the state (NULL before anything was
 * sent); parse() reads its answer into a struct prov_step that says what
 * comes next and carries the new state. The engine owns retries, poll
 * timing, deadlines and storage; the adapter knows one wire format only.
 * Both are pure, like the sync ops.
 */
/* A result line or record longer than this is skipped (its call fails
 * without a result): one answer is bounded by the transfer engine's 8 MiB,
 * and a line wraps one answer with its envelope. */
#define PROV_ASYNC_LINE_MAX (16u << 20)

struct prov_batch_item {
	const char *custom_id;   /* unique within the batch: [A-Za-z0-9_-], 1..64 */
	struct prov_call call;   /* call.model is the batch's model */
};

enum prov_step_kind {
	PROV_STEP_NEXT,    /* send the request the new state calls for now */
	PROV_STEP_WAIT,    /* the batch is running: poll again later */
	PROV_STEP_DONE,    /* finished: every result the provider has is in */
	PROV_STEP_FAILED,  /* this request failed (errclass, error): the engine
			    * retries it when errclass is retryable, else the
			    * batch fails and its calls with it */
	PROV_STEP_ABSENT,  /* a lookup (the "find" state) found no batch: the
			    * provider never accepted it, so it may be created */
	PROV_STEP__MAX
};

struct prov_step {
	enum prov_step_kind kind;
	char *state;              /* the new state, owned; NULL: unchanged */
	char *external_id;        /* the provider's batch id once known, owned */
	/* Results found in this answer (a fetch may take several steps): */
	char **ids;               /* custom_id of each, owned */
	struct prov_result *results;
	size_t nresults;
	enum prov_errclass errclass;
	char *error;              /* a sentence when FAILED; no secret */
};

struct prov_async_ops {
	size_t max_items;         /* the most calls one batch may hold */
	/* The provider's limit on the size of one batch's request, in bytes;
	 * 0: none. Batches are formed under it with an estimate that errs
	 * high: each call counts twice the bytes of its message, system
	 * prompt and conversation (room for JSON escapes) plus 1 KiB (its
	 * envelope). */
	size_t max_bytes;
	/* Builds the next request. items and n describe the batch's calls
	 * (the engine passes them at every step; most steps ignore them).
	 * AIGW_EINVAL for a state it cannot continue from, AIGW_ENOMEM. */
	enum aigw_err (*build)(const struct prov_config *cfg, const char *model,
			       const char *state, const struct prov_batch_item *items,
			       size_t n, struct prov_http *out);
	/* Reads the answer to the request built from state. Always fills
	 * *out unless memory runs out (AIGW_ENOMEM); a body that is not the
	 * documented format is FAILED with PROV_ERR_BAD_BODY. */
	enum aigw_err (*parse)(const char *state, long http_status, const char *body,
			       size_t len, struct prov_step *out);
	/* The request that cancels the batch at the provider (a batch past
	 * its deadline); AIGW_ENOTFOUND when nothing was submitted yet. */
	enum aigw_err (*build_cancel)(const struct prov_config *cfg, const char *state,
				      struct prov_http *out);
};

/*
 * The lookup state: after a create request's answer was lost (a timeout, a
 * 5xx, a worker that died while it was out), the engine builds from this
 * state instead of creating again. The adapter lists the provider's batches
 * and answers with the found batch (the state and external id the create's
 * answer would have given), NEXT (the next page of the list, a new lookup
 * state) or ABSENT. since_s is when the first create went out (Unix
 * seconds). *out is malloc'd; AIGW_EINVAL for no items, AIGW_ENOMEM.
 */
enum aigw_err prov_async_find_state(const struct prov_batch_item *items, size_t n,
				    long long since_s, char **out) AIGW_MUSTCHECK;

struct prov_desc {
	const char *name;          /* "openai", ... as in the API */
	enum prov_kind kind;
	/* Its account's variables and default base URL, as the config
	 * table (core/config.h, which reads them) names them; NULL for mock. */
	const char *key_env;       /* "OPENAI_API_KEY" */
	const char *base_env;      /* "OPENAI_BASE_URL" */
	const char *default_base;  /* "https://api.openai.com/v1" */
	/* Builds the request. AIGW_EINVAL for a call it cannot express,
	 * AIGW_ENOMEM; on error *out is left zeroed. */
	enum aigw_err (*build)(const struct prov_config *cfg,
			       const struct prov_call *call,
			       struct prov_http *out);
	/* Parses status + body into *out. Always fills *out (ok or a
	 * classified error) unless memory runs out (AIGW_ENOMEM). A body that
	 * is not the expected JSON is PROV_ERR_BAD_BODY, never a crash. */
	enum aigw_err (*parse)(long http_status, const char *body, size_t len,
			       struct prov_result *out);
	/* PROV_ASYNC only (build and parse are NULL then). */
	const struct prov_async_ops *async;
	/* The streaming format (stream.h) when it is not the one named like
	 * the provider: a named provider speaks PROV_FORMAT_OPENAI_COMPAT. */
	const char *format;
	/* Reached without a key too (a named provider: a local server may
	 * want none); never PROV_MOCK or PROV_MISSING then. */
	bool key_optional;
};

/* The streaming format of the named OpenAI-compatible providers. */
#define PROV_FORMAT_OPENAI_COMPAT "openai-compatible"

/*
 * How a provider is reached in a process: with its key (CONFIGURED); by
 * the built-in mock standing in for it (MOCK, only when AIGW_MOCK is on);
 * or not at all (MISSING: its calls fail at once). The mock provider
 * itself is always CONFIGURED: naming it is asking for it.
 */
enum prov_state { PROV_CONFIGURED, PROV_MOCK, PROV_MISSING };

/* The decision itself, from the key's value (NULL or "": none). Pure. */
enum prov_state prov_state_decide(const struct prov_desc *d, const char *key, bool mock_fallback);
/* The same from a loaded config: its key for d's account and AIGW_MOCK.
 * Cannot fail. */
enum prov_state prov_state_in(const struct prov_desc *d, const struct aigw_config *cfg);
/* "configured", "mock", "missing". */
const char *prov_state_name(enum prov_state s);
/* When none of the n providers named (known names) is reached here by
 * prov_state_in(), the first of them; else NULL (also for n 0). Cannot
 * fail. */
const struct prov_desc *prov_none_reachable_in(const struct aigw_config *cfg,
					       const char *const *names, size_t n);
/* "openai is not configured: set OPENAI_API_KEY" into buf (cut to len). */
void prov_not_configured_text(const struct prov_desc *d, char *buf, size_t len);

/* Whether d's calls can carry a conversation (turns): every provider but
 * the snapshot, whose dataset takes one input. Cannot fail. */
bool prov_takes_turns(const struct prov_desc *d);

/* Looks a built-in provider up by its API name; NULL when unknown. */
const struct prov_desc *prov_find(const char *name);
/* The i-th row of the price table (pricing.c): its provider and model
 * name; false past the end. For listing the models (GET /v1/models). */
bool prov_price_at(size_t i, const char **provider, const char **model);
/* The built-in table, for listing; *n receives the count. */
const struct prov_desc *prov_all(size_t *n);

/*
 * The providers of a process: the built-in ones, then the named
 * OpenAI-compatible ones of its configuration (AIGW_PROVIDER_<NAME>_*,
 * core/config.h), whose descriptions cfg owns. What every caller that
 * resolves or lists providers uses; a NULL cfg has the built-in ones only.
 * prov_find_in: NULL when unknown; prov_at_in: i below prov_count_in.
 * Cannot fail.
 */
const struct prov_desc *prov_find_in(const struct aigw_config *cfg, const char *name);
size_t prov_count_in(const struct aigw_config *cfg);
const struct prov_desc *prov_at_in(const struct aigw_config *cfg, size_t i);

/* The description of a named provider (config_load fills one per name;
 * openai.c): OpenAI's adapter under name, whose key and base URL are the variables
 * named (borrowed: they must outlive out). Cannot fail. */
void prov_named_desc(struct prov_desc *out, const char *name, const char *key_env,
		     const char *base_env);
/* The streaming format of d's answers (stream.h): d->format or its name.
 * Cannot fail. */
const char *prov_format(const struct prov_desc *d);

/* A result of d's adapter in d's words: the errors of a named provider's
 * answers (from its format's parser or stream) start with the format's
 * name, PROV_FORMAT_OPENAI_COMPAT, which becomes d's name ("groq returned
 * 429: ..."); other results are left as they are. Best effort: when memory
 * runs out the format's words stay. Cannot fail. */
void prov_result_named(const struct prov_desc *d, struct prov_result *r);

void prov_http_free(struct prov_http *h);
void prov_result_free(struct prov_result *r);
/* Frees what a step owns; safe on a zeroed one. */
void prov_step_free(struct prov_step *s);

/* Classifies an HTTP status that is not a success (cannot fail). */
enum prov_errclass prov_classify_status(long http_status);
bool prov_err_retryable(enum prov_errclass c);
const char *prov_errclass_name(enum prov_errclass c);

/*
 * The built-in offline provider: a deterministic answer for a call, with
 * token counts, as a real provider would give. AIGW_ENOMEM only.
 */
enum aigw_err prov_mock_answer(const struct prov_call *call,
			       struct prov_result *out) AIGW_MUSTCHECK;
/*
 * The mock's answer streamed at tps (>= 1) words a second, a pure function
 * of time: the bytes of text streamed elapsed_ms after its first word,
 * which comes at once (nothing before: elapsed_ms < 0): whole words, each
 * with the blanks before it; all of text (trailing blanks too) once its
 * last word is out. Cannot fail.
 */
size_t prov_mock_stream_len(const char *text, int64_t elapsed_ms, long tps);
/* When (ms after the first word) the stream grows past its first len
 * bytes; -1 when len is all of text. Cannot fail. */
int64_t prov_mock_stream_next_ms(const char *text, size_t len, long tps);

/*
 * Price of a call in US dollars from the per-model table, or a negative
 * number when the model or a token count is unknown (shown as null).
 * Matches the longest known prefix of the model name ("gpt-4o-2024-08-06"
 * costs as "gpt-4o"). Cannot fail.
 */
double prov_cost_usd(const char *provider, const char *model,
		     long input_tokens, long output_tokens);

/*
 * The price table as data (etc/prices.json, docs/operations.md): {"models":
 * [{"provider", "model", "input", "output"}], "batch": [{"provider",
 * "pricedAs", "share"}]}, dollars per million tokens. prov_prices_load
 * replaces the table with path's, or fails with AIGW_EINVAL and one line
 * in errbuf naming the file and what is wrong (the table unchanged). Call
 * it at start, before threads read prices. prov_prices_load_configured:
 * setting is AIGW_PRICES_FILE (empty: default_path); when it is
 * default_path and no file is there, the built-in table (*from_file
 * false); another path must be a good file. prov_prices_reset: back
 * to the built-in table.
 */
enum aigw_err prov_prices_load(const char *path, char *errbuf, size_t errlen) AIGW_MUSTCHECK;
enum aigw_err prov_prices_load_configured(const char *setting, const char *default_path,
					  bool *from_file, char *errbuf, size_t errlen)
	AIGW_MUSTCHECK;
void prov_prices_reset(void);

#endif
