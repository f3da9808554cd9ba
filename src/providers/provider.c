/* provider.c: the provider table, error classes and the helpers the adapters share. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/util.h"
#include "providers/common.h"
#include "providers/provider.h"

static const struct prov_desc providers[] = {
	{ "openai", PROV_SYNC, CONFIG_ACCOUNT_OPENAI, prov_openai_build, prov_openai_parse, NULL,
	  NULL, false },
	{ "anthropic", PROV_SYNC, CONFIG_ACCOUNT_ANTHROPIC, prov_anthropic_build,
	  prov_anthropic_parse, NULL, NULL, false },
	{ "gemini", PROV_SYNC, CONFIG_ACCOUNT_GEMINI, prov_gemini_build, prov_gemini_parse, NULL,
	  NULL, false },
	{ "perplexity", PROV_SYNC, CONFIG_ACCOUNT_PERPLEXITY, prov_perplexity_build,
	  prov_perplexity_parse, NULL, NULL, false },
	{ "openai-batch", PROV_ASYNC, CONFIG_ACCOUNT_OPENAI, NULL, NULL, &prov_openai_batch_ops,
	  NULL, false },
	{ "anthropic-batch", PROV_ASYNC, CONFIG_ACCOUNT_ANTHROPIC, NULL, NULL,
	  &prov_anthropic_batch_ops, NULL, false },
	{ "snapshot", PROV_ASYNC, CONFIG_ACCOUNT_SNAPSHOT, NULL, NULL, &prov_snapshot_ops, NULL,
	  false },
	{ "mock", PROV_BUILTIN, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false },
};

#define NBUILTIN (sizeof providers / sizeof providers[0])

static const char *const errclass_names[PROV_ERR__MAX] = {
	[PROV_ERR_NONE] = "none",
	[PROV_ERR_NETWORK] = "network",
	[PROV_ERR_TIMEOUT] = "timeout",
	[PROV_ERR_RATE_LIMIT] = "rate_limit",
	[PROV_ERR_SERVER] = "server",
	[PROV_ERR_BAD_BODY] = "bad_body",
	[PROV_ERR_AUTH] = "auth",
	[PROV_ERR_CLIENT] = "client",
	[PROV_ERR_NOT_CONFIGURED] = "not_configured",
};

/* Prefixes of the providers' API keys: a provider that echoes a key in an
 * error message must not put it in our result or logs. */
static const char *const key_prefixes[] = { "sk-", "sk_", "AIza", "pplx-", "xai-", "gsk_" };

bool
prov_takes_turns(const struct prov_desc *d)
{
	/* by name: the table's entry, not the adapter's ops */
	return strcmp(d->name, "snapshot") != 0;
}

const struct prov_desc *
prov_find(const char *name)
{
	const struct prov_desc *found = NULL;

	if (name == NULL)
		goto out;
	for (size_t i = 0; i < sizeof providers / sizeof providers[0]; i++) {
		if (strcmp(providers[i].name, name) == 0) {
			found = &providers[i];
			break;
		}
	}
out:
	return found;
}

const struct prov_desc *
prov_all(size_t *n)
{
	*n = NBUILTIN;
	return providers;
}

const struct prov_desc *
prov_find_in(const struct aigw_config *cfg, const char *name)
{
	const struct prov_desc *found = prov_find(name);

	for (size_t i = 0; found == NULL && name != NULL && cfg != NULL && i < cfg->nnamed; i++)
		if (strcmp(cfg->named[i].desc.name, name) == 0)
			found = &cfg->named[i].desc;
	return found;
}

size_t
prov_count_in(const struct aigw_config *cfg)
{
	return NBUILTIN + (cfg != NULL ? cfg->nnamed : 0);
}

const struct prov_desc *
prov_at_in(const struct aigw_config *cfg, size_t i)
{
	return i < NBUILTIN ? &providers[i] : &cfg->named[i - NBUILTIN].desc;
}

const char *
prov_format(const struct prov_desc *d)
{
	return d->format != NULL ? d->format : d->name;
}

void
prov_result_named(const struct prov_desc *d, struct prov_result *r)
{
	size_t n = d->format != NULL ? strlen(d->format) : 0;
	char *named;

	if (n == 0 || r->error == NULL || strcmp(d->format, d->name) == 0 ||
	    strncmp(r->error, d->format, n) != 0 || (r->error[n] != ' ' && r->error[n] != ':'))
		return;
	if ((named = malloc(strlen(d->name) + strlen(r->error + n) + 1)) == NULL)
		return;
	memcpy(named, d->name, strlen(d->name));
	memcpy(named + strlen(d->name), r->error + n, strlen(r->error + n) + 1);
	free(r->error);
	r->error = named;
}

void
prov_http_free(struct prov_http *h)
{
	if (h != NULL) {
		free(h->url);
		for (size_t i = 0; i < PROV_MAX_HEADERS; i++)
			free(h->headers[i]);
		free(h->body);
		free(h->resolve);
		memset(h, 0, sizeof *h);
	}
}

void
prov_step_free(struct prov_step *s)
{
	if (s == NULL)
		return;
	free(s->state);
	free(s->external_id);
	for (size_t i = 0; i < s->nresults; i++) {
		free(s->ids[i]);
		prov_result_free(&s->results[i]);
	}
	free(s->ids);
	free(s->results);
	free(s->error);
	memset(s, 0, sizeof *s);
}

void
prov_result_free(struct prov_result *r)
{
	if (r != NULL) {
		free(r->text);
		free(r->model);
		free(r->error);
		json_object_put(r->citations);
		memset(r, 0, sizeof *r);
	}
}

enum prov_errclass
prov_classify_status(long s)
{
	enum prov_errclass c;

	if (s >= 200 && s <= 299)
		c = PROV_ERR_NONE;
	else if (s == 429)
		c = PROV_ERR_RATE_LIMIT;
	else if (s == 401 || s == 403)
		c = PROV_ERR_AUTH;
	else if (s == 408)
		c = PROV_ERR_TIMEOUT;
	else if (s >= 400 && s <= 499)
		c = PROV_ERR_CLIENT;
	else
		/* 5xx (529 included), and the statuses an API never sends (1xx,
		 * 3xx as redirects are not followed, nonsense): the far side
		 * misbehaved, which is what a retry is for. */
		c = PROV_ERR_SERVER;
	return c;
}

bool
prov_err_retryable(enum prov_errclass c)
{
	bool retry = false;

	/* A switch without default: a new class must be placed here to compile. */
	switch (c) {
	case PROV_ERR_NETWORK:
	case PROV_ERR_TIMEOUT:
	case PROV_ERR_RATE_LIMIT:
	case PROV_ERR_SERVER:
	case PROV_ERR_BAD_BODY:
		retry = true;
		break;
	case PROV_ERR_NONE:
	case PROV_ERR_AUTH:
	case PROV_ERR_CLIENT:
	case PROV_ERR_NOT_CONFIGURED:
	case PROV_ERR__MAX:
		break;
	}
	return retry;
}

const char *
prov_errclass_name(enum prov_errclass c)
{
	return (unsigned)c < PROV_ERR__MAX ? errclass_names[c] : "unknown";
}

/* ---- building requests ---- */

static bool
has_control(const char *s)
{
	bool found = false;

	for (; *s != '\0' && !found; s++)
		found = (unsigned char)*s < 0x20 || *s == 0x7f;
	return found;
}

enum aigw_err
prov_common_check(const struct prov_config *cfg, const struct prov_call *call)
{
	return prov_common_check_key(cfg, call, true);
}

enum aigw_err
prov_common_check_key(const struct prov_config *cfg, const struct prov_call *call,
		      bool key_required)
{
	bool ok = cfg != NULL && call != NULL &&
		  (!key_required || (cfg->api_key != NULL && cfg->api_key[0] != '\0')) &&
		  cfg->base_url != NULL && cfg->base_url[0] != '\0' &&
		  call->model != NULL && call->model[0] != '\0' &&
		  call->message != NULL && call->message[0] != '\0' &&
		  call->max_tokens > 0;

	return ok ? AIGW_OK : AIGW_EINVAL;
}

const char *
prov_common_location(const struct prov_call *call)
{
	return call->location != NULL && call->location[0] != '\0' ? call->location : NULL;
}

enum aigw_err
prov_common_url(struct prov_http *h, const char *base, const char *path)
{
	struct buf b;
	size_t n = strlen(base);
	enum aigw_err err = AIGW_EINVAL;

	buf_init(&b, SIZE_MAX / 2);
	if (has_control(base) || has_control(path) || strchr(base, ' ') != NULL ||
	    strchr(path, ' ') != NULL)
		goto out;
	while (n > 0 && base[n - 1] == '/')
		n--;
	if ((err = buf_append(&b, base, n)) != AIGW_OK || (err = buf_puts(&b, path)) != AIGW_OK)
		goto out;
	free(h->url);
	h->url = NULL;
	err = buf_steal(&b, &h->url);
out:
	buf_free(&b);
	return err;
}

enum aigw_err
prov_common_header(struct prov_http *h, const char *name, const char *prefix, const char *value)
{
	struct buf b;
	enum aigw_err err = AIGW_EINVAL;

	buf_init(&b, SIZE_MAX / 2);
	if (prefix == NULL)
		prefix = "";
	if (h->nheaders >= PROV_MAX_HEADERS || has_control(name) || has_control(prefix) ||
	    has_control(value))
		goto out;
	if ((err = buf_printf(&b, "%s: %s%s", name, prefix, value)) != AIGW_OK)
		goto out;
	if ((err = buf_steal(&b, &h->headers[h->nheaders])) != AIGW_OK)
		goto out;
	h->nheaders++;
out:
	buf_free(&b);
	return err;
}

enum aigw_err
prov_common_body(struct prov_http *h, json_object *body)
{
	const char *s;
	size_t n = 0;
	enum aigw_err err = AIGW_ENOMEM;

	s = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s == NULL)
		goto out;
	free(h->body);
	h->body = strndup(s, n);
	if (h->body == NULL)
		goto out;
	h->body_len = n;
	err = AIGW_OK;
out:
	return err;
}

char *
prov_common_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	char *out = NULL;

	buf_init(&b, SIZE_MAX / 4);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char enc[3] = { '%', hex[c >> 4], hex[c & 15] };
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if ((plain ? buf_append(&b, s, 1) : buf_append(&b, enc, 3)) != AIGW_OK)
			goto out;
	}
	if (buf_steal(&b, &out) != AIGW_OK)
		out = NULL;
out:
	buf_free(&b);
	return out;
}

int
prov_common_add(json_object *o, const char *key, json_object *v)
{
	int rc = -1;

	if (v != NULL && (rc = json_object_object_add(o, key, v)) != 0) {
		json_object_put(v);
		rc = -1;
	}
	return rc;
}

int
prov_common_push(json_object *a, json_object *v)
{
	int rc = -1;

	if (v != NULL && (rc = json_object_array_add(a, v)) != 0) {
		json_object_put(v);
		rc = -1;
	}
	return rc;
}

json_object *
prov_common_str(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

/* ---- reading answers ---- */

json_object *
prov_common_json(const char *body, size_t len)
{
	bool nomem;

	return prov_common_json_ex(body, len, &nomem);
}

json_object *
prov_common_json_ex(const char *body, size_t len, bool *nomem)
{
	json_tokener *tok = NULL;
	json_object *root = NULL;
	size_t end;

	*nomem = false;
	/* json_tokener takes an int length; answers are far smaller. */
	if (body == NULL || len == 0 || len >= INT_MAX)
		goto out;
	/* JSON is UTF-8 (RFC 8259, 8.1). Checked here because json-c lets
	 * overlong forms and surrogates through, and PostgreSQL refuses them:
	 * a result holding one could never be stored. */
	if (utf8_length(body, len) < 0)
		goto out;
	tok = json_tokener_new();
	if (tok == NULL) {
		*nomem = true;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		root = NULL;
		goto out;
	}
#if JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	end = json_tokener_get_parse_end(tok);
#else
	end = (size_t)tok->char_offset;
#endif
	/* A value followed by anything but whitespace is not the answer. */
	for (; end < len; end++) {
		if (body[end] != ' ' && body[end] != '\t' && body[end] != '\r' && body[end] != '\n') {
			json_object_put(root);
			root = NULL;
			goto out;
		}
	}
out:
	if (tok != NULL) /* unlike json_object_put, not safe on NULL */
		json_tokener_free(tok);
	return root;
}

json_object *
prov_common_get(json_object *o, const char *key, enum json_type t)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		v = NULL;
	return v;
}

const char *
prov_common_get_str(json_object *o, const char *key)
{
	json_object *v = prov_common_get(o, key, json_type_string);

	return v == NULL ? NULL : json_object_get_string(v);
}

long
prov_common_get_count(json_object *o, const char *key)
{
	json_object *v = prov_common_get(o, key, json_type_int);
	int64_t n = v != NULL ? json_object_get_int64(v) : -1;

	return n < 0 || n > LONG_MAX ? -1 : (long)n;
}

static bool
is_word_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '*';
}

/* Length of the key-shaped word at s, or 0 when s does not start one. */
static size_t
key_length(const char *s)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof key_prefixes / sizeof key_prefixes[0]; i++) {
		if (strncmp(s, key_prefixes[i], strlen(key_prefixes[i])) == 0) {
			while (is_word_char((unsigned char)s[n]))
				n++;
			break;
		}
	}
	return n;
}

/* Bytes in the UTF-8 sequence at s, or 0 when it is not a valid one. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n = 0;

	if (s[0] < 0x80)
		n = 1;
	else if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	/* a NUL among the continuation bytes stops this loop too */
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			n = 0;
	return n;
}

char *
prov_common_snippet(const char *s)
{
	struct buf b;
	char *out = NULL;
	bool word_start = true;
	enum aigw_err err = AIGW_OK;

	buf_init(&b, PROV_SNIPPET_MAX + 16);
	while (*s != '\0' && err == AIGW_OK) {
		const unsigned char *u = (const unsigned char *)s;
		size_t klen = word_start ? key_length(s) : 0;
		size_t n = klen > 0 ? klen : utf8_seq(u);
		const char *emit = s;
		size_t emit_len = n;

		if (klen > 0) {
			emit = "[redacted]";
			emit_len = strlen(emit);
		} else if (n == 0) {
			emit = "?";
			emit_len = n = 1;
		} else if (u[0] < 0x20 || u[0] == 0x7f) {
			emit = " ";
		}
		if (b.len + emit_len > PROV_SNIPPET_MAX) {
			err = buf_puts(&b, "...");
			break;
		}
		err = buf_append(&b, emit, emit_len);
		word_start = !is_word_char(u[n - 1]);
		s += n;
	}
	if (err == AIGW_OK && buf_steal(&b, &out) != AIGW_OK)
		out = NULL;
	buf_free(&b);
	return out;
}

void
prov_common_result_init(struct prov_result *out)
{
	memset(out, 0, sizeof *out);
	out->input_tokens = -1;
	out->output_tokens = -1;
}

enum aigw_err
prov_common_fail(struct prov_result *out, enum prov_errclass c, const char *fmt, ...)
{
	va_list ap;
	struct buf b;
	enum aigw_err err;

	prov_result_free(out);
	prov_common_result_init(out);
	out->errclass = c;
	buf_init(&b, 4096);
	va_start(ap, fmt);
	err = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (err == AIGW_OK)
		err = buf_steal(&b, &out->error);
	buf_free(&b);
	return err == AIGW_OK ? AIGW_OK : AIGW_ENOMEM;
}

enum aigw_err
prov_common_bad_body(struct prov_result *out, const char *name, const char *what)
{
	return prov_common_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: %s",
				name, what);
}

/* The provider's own words about a failure, in the shapes the APIs use. */
static const char *
error_message(json_object *root, const char **kind)
{
	json_object *e = prov_common_get(root, "error", json_type_object);
	const char *msg = NULL;

	*kind = NULL;
	if (e != NULL) {
		msg = prov_common_get_str(e, "message");
		*kind = prov_common_get_str(e, "type");
		if (*kind == NULL)
			*kind = prov_common_get_str(e, "status");
	}
	if (msg == NULL)
		msg = prov_common_get_str(root, "error");
	if (msg == NULL)
		msg = prov_common_get_str(root, "message");
	if (msg == NULL)
		msg = prov_common_get_str(root, "detail");
	if (msg != NULL && msg[0] == '\0')
		msg = NULL;
	if (*kind != NULL && (*kind)[0] == '\0')
		*kind = NULL;
	return msg;
}

enum aigw_err
prov_common_begin(const char *name, long status, const char *body, size_t len,
		  struct prov_result *out, json_object **root)
{
	const char *msg, *kind;
	char *snip = NULL;
	enum aigw_err err = AIGW_OK;

	prov_common_result_init(out);
	*root = prov_common_json(body, len);
	if (status >= 200 && status <= 299) {
		if (!json_object_is_type(*root, json_type_object))
			err = prov_common_fail(out, PROV_ERR_BAD_BODY,
					       "%s returned a body that is not a JSON object", name);
		goto out;
	}
	msg = error_message(*root, &kind);
	if (msg == NULL)
		msg = kind;
	if (msg != NULL && (snip = prov_common_snippet(msg)) == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	if (snip != NULL)
		err = prov_common_fail(out, prov_classify_status(status), "%s returned %ld: %s",
				       name, status, snip);
	else
		err = prov_common_fail(out, prov_classify_status(status), "%s returned %ld",
				       name, status);
out:
	free(snip);
	return err;
}

enum aigw_err
prov_common_finish(struct prov_result *out, const char *name, struct buf *text, const char *why)
{
	char *snip = NULL;
	enum aigw_err err = AIGW_OK;

	if (text->len == 0) {
		if (why != NULL && (snip = prov_common_snippet(why)) == NULL) {
			err = AIGW_ENOMEM;
			goto out;
		}
		err = prov_common_fail(out, PROV_ERR_CLIENT, "%s returned an empty answer%s%s%s", name,
				       snip ? " (" : "", snip ? snip : "", snip ? ")" : "");
		goto out;
	}
	/* The text travels as a C string: a NUL would silently cut the
	 * answer, to nothing when it comes first, and still count as ok. */
	if (memchr(text->data, '\0', text->len) != NULL) {
		err = prov_common_bad_body(out, name, "the answer holds a NUL character");
		goto out;
	}
	free(out->text);
	out->text = NULL;
	if ((err = buf_steal(text, &out->text)) != AIGW_OK)
		goto out;
	out->ok = true;
	out->errclass = PROV_ERR_NONE;
out:
	free(snip);
	return err == AIGW_OK ? AIGW_OK : AIGW_ENOMEM;
}

enum aigw_err
prov_common_model(struct prov_result *out, const char *model)
{
	if (model != NULL && (out->model = strdup(model)) == NULL)
		return AIGW_ENOMEM;
	return AIGW_OK;
}

enum aigw_err
prov_common_parse_end(struct prov_result *out, enum aigw_err err, struct buf *text,
		      json_object *root)
{
	if (err != AIGW_OK) {
		prov_result_free(out);
		prov_common_result_init(out);
		err = AIGW_ENOMEM;
	}
	buf_free(text);
	json_object_put(root);
	return err;
}

enum aigw_err
prov_common_cite(struct prov_result *out, const char *url, const char *title)
{
	json_object *c = NULL;
	size_t n;
	enum aigw_err err = AIGW_OK;

	if (url == NULL || url[0] == '\0')
		goto out;
	if (out->citations == NULL && (out->citations = json_object_new_array()) == NULL) {
		err = AIGW_ENOMEM;
		goto out;
	}
	n = json_object_array_length(out->citations);
	if (n >= PROV_CITATIONS_MAX)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_object *seen = json_object_array_get_idx(out->citations, i);
		const char *u = prov_common_get_str(seen, "url");

		if (u != NULL && strcmp(u, url) == 0)
			goto out;
	}
	err = AIGW_ENOMEM;
	c = json_object_new_object();
	if (c == NULL)
		goto out;
	if (prov_common_add(c, "url", json_object_new_string(url)) != 0)
		goto out;
	/* NULL is json-c's JSON null: a source without a title says so. */
	if (title != NULL ? prov_common_add(c, "title", json_object_new_string(title)) != 0
			  : json_object_object_add(c, "title", NULL) != 0)
		goto out;
	if (json_object_array_add(out->citations, c) != 0)
		goto out;
	c = NULL;
	err = AIGW_OK;
out:
	json_object_put(c);
	return err;
}
