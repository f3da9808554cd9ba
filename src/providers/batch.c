/*
 * batch.c: what the async adapters share: checking a batch before it is
 * sent, their small JSON states, filling a struct prov_step, reading JSONL.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

#define ID_MAX 64

bool
prov_async_id_ok(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return false;
	for (; id[n] != '\0' && n <= ID_MAX; n++) {
		char c = id[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= ID_MAX;
}

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum aigw_err
prov_async_check(const struct prov_config *cfg, const char *model,
		 const struct prov_batch_item *items, size_t n, size_t max, bool need_max_tokens)
{
	const char **ids = NULL;
	enum aigw_err err = AIGW_EINVAL;

	if (cfg == NULL || cfg->api_key == NULL || cfg->api_key[0] == '\0' ||
	    cfg->base_url == NULL || cfg->base_url[0] == '\0' ||
	    model == NULL || model[0] == '\0' || items == NULL || n == 0 || n > max)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct prov_call *c = &items[i].call;

		if (!prov_async_id_ok(items[i].custom_id) || c->message == NULL ||
		    c->message[0] == '\0' || (need_max_tokens && c->max_tokens <= 0))
			goto out;
	}
	/* Sorted, equal ids are neighbours: n log n even for 100,000 items. */
	err = AIGW_ENOMEM;
	if ((ids = malloc(n * sizeof *ids)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		ids[i] = items[i].custom_id;
	qsort(ids, n, sizeof *ids, cmp_ids);
	err = AIGW_OK;
	for (size_t i = 1; i < n && err == AIGW_OK; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			err = AIGW_EINVAL;
out:
	free(ids);
	return err;
}

enum aigw_err
prov_async_state(const char *state, json_object **st, const char **step)
{
	bool nomem = false;
	enum aigw_err err = AIGW_EINVAL;

	*st = NULL;
	*step = NULL;
	if (state == NULL)
		goto out;
	*st = prov_common_json_ex(state, strlen(state), &nomem);
	*step = prov_common_get_str(*st, "step");
	if (*step != NULL)
		err = AIGW_OK;
	else if (nomem)
		err = AIGW_ENOMEM;
out:
	if (err != AIGW_OK) {
		json_object_put(*st);
		*st = NULL;
	}
	return err;
}

const char *
prov_async_get_id(json_object *o, const char *key)
{
	const char *s = prov_common_get_str(o, key);

	return s != NULL && s[0] != '\0' ? s : NULL;
}

static bool
step_in(const char *step, const char *const *list)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(step, list[i]) == 0)
			return true;
	return false;
}

enum aigw_err
prov_async_cancel_id(const char *state, const char *id_key, const char *const *before,
		     const char *const *steps, json_object **st, const char **id)
{
	const char *step = NULL;
	enum aigw_err err;

	*st = NULL;
	*id = NULL;
	if (state == NULL)
		return AIGW_ENOTFOUND;
	err = prov_async_state(state, st, &step);
	if (err != AIGW_OK)
		return err;
	if (step_in(step, before))
		err = AIGW_ENOTFOUND;
	else if (!step_in(step, steps) || (*id = prov_async_get_id(*st, id_key)) == NULL)
		err = AIGW_EINVAL;
	if (err != AIGW_OK) {
		json_object_put(*st);
		*st = NULL;
		*id = NULL;
	}
	return err;
}

enum aigw_err
prov_async_move(struct prov_step *s, enum prov_step_kind kind, ...)
{
	va_list ap;
	json_object *st = json_object_new_object();
	const char *key, *text;
	char *copy = NULL;
	int rc = st == NULL ? -1 : 0;

	va_start(ap, kind);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		if (rc == 0 && v == NULL)
			rc = json_object_object_add(st, key, NULL); /* JSON null */
		else if (rc == 0)
			rc = prov_common_add(st, key, json_object_new_string(v));
	}
	va_end(ap);
	if (rc == 0 && (text = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL)
		copy = strdup(text);
	json_object_put(st);
	if (copy == NULL)
		return AIGW_ENOMEM;
	free(s->state);
	s->state = copy;
	s->kind = kind;
	return AIGW_OK;
}

static enum aigw_err
vformat(char **out, const char *fmt, va_list ap)
{
	struct buf b;
	enum aigw_err err;

	*out = NULL;
	buf_init(&b, 4096);
	err = buf_vprintf(&b, fmt, ap);
	if (err == AIGW_OK)
		err = buf_steal(&b, out);
	buf_free(&b);
	return err == AIGW_OK ? AIGW_OK : AIGW_ENOMEM;
}

enum aigw_err
prov_async_fail(struct prov_step *s, enum prov_errclass c, const char *fmt, ...)
{
	va_list ap;
	enum aigw_err err;

	prov_step_free(s);
	s->kind = PROV_STEP_FAILED;
	s->errclass = c;
	va_start(ap, fmt);
	err = vformat(&s->error, fmt, ap);
	va_end(ap);
	return err;
}

enum aigw_err
prov_async_begin(const char *name, long status, const char *body, size_t len,
		 struct prov_step *s, json_object **root)
{
	struct prov_result r;
	enum aigw_err err = prov_common_begin(name, status, body, len, &r, root);

	if (err == AIGW_OK && r.errclass != PROV_ERR_NONE) {
		prov_step_free(s);
		s->kind = PROV_STEP_FAILED;
		s->errclass = r.errclass;
		s->error = r.error;
		r.error = NULL;
	}
	prov_result_free(&r);
	return err == AIGW_OK ? AIGW_OK : AIGW_ENOMEM;
}

enum aigw_err
prov_async_add(struct prov_step *s, const char *id, struct prov_result *r)
{
	size_t n = s->nresults;
	char *dup = NULL;
	enum aigw_err err = AIGW_ENOMEM;

	/* The capacity is the next power of two: grow when n reaches one. */
	if (n == 0 || (n & (n - 1)) == 0) {
		size_t cap = n == 0 ? 1 : 2 * n;
		char **ids;
		struct prov_result *res;

		if (cap > SIZE_MAX / sizeof *res)
			goto out;
		if ((ids = realloc(s->ids, cap * sizeof *ids)) == NULL)
			goto out;
		s->ids = ids;
		if ((res = realloc(s->results, cap * sizeof *res)) == NULL)
			goto out;
		s->results = res;
	}
	if ((dup = strdup(id)) == NULL)
		goto out;
	s->ids[n] = dup;
	s->results[n] = *r;
	prov_common_result_init(r);
	s->nresults = n + 1;
	err = AIGW_OK;
out:
	if (err != AIGW_OK) {
		prov_result_free(r);
		prov_common_result_init(r);
	}
	return err;
}

enum aigw_err
prov_async_add_fail(struct prov_step *s, const char *id, enum prov_errclass c, const char *fmt, ...)
{
	va_list ap;
	struct prov_result r;
	enum aigw_err err;

	prov_common_result_init(&r);
	r.errclass = c;
	va_start(ap, fmt);
	err = vformat(&r.error, fmt, ap);
	va_end(ap);
	if (err == AIGW_OK)
		err = prov_async_add(s, id, &r);
	prov_result_free(&r);
	return err;
}

const char *
prov_async_text(json_object *v, size_t *len)
{
	const char *s = "";

	*len = 0;
	if (v != NULL)
		s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE, len);
	return s;
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

enum aigw_err
prov_async_jsonl(const char *name, const char *body, size_t len, struct prov_step *s,
		 prov_async_item_fn fn)
{
	size_t pos = 0, lines = 0, read = 0;
	enum aigw_err err = AIGW_OK;

	while (pos < len && err == AIGW_OK) {
		const char *line = body + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;
		json_object *o;
		const char *id;

		pos += n + (nl != NULL);
		if (blank(line, n))
			continue;
		lines++;
		if (n > PROV_ASYNC_LINE_MAX)
			continue;
		o = prov_common_json(line, n);
		id = prov_common_get_str(o, "custom_id");
		if (json_object_is_type(o, json_type_object) && prov_async_id_ok(id)) {
			read++;
			err = fn(o, id, s);
		}
		json_object_put(o);
	}
	if (err == AIGW_OK && lines > 0 && read == 0)
		err = prov_async_fail(s, PROV_ERR_BAD_BODY,
				      "%s returned an unexpected body: no line holds a result", name);
	return err;
}

/* Where the JSON value starting at body[pos] ends (one past it), or 0 when
 * it does not end inside len: strings and nesting are followed, nothing
 * else is checked (the record's parser does that). */
static size_t
value_end(const char *body, size_t len, size_t pos)
{
	size_t depth = 0;
	bool in_string = false;

	for (; pos < len; pos++) {
		char c = body[pos];

		if (in_string) {
			if (c == '\\')
				pos++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return pos; /* the end of the enclosing array */
			if (--depth == 0)
				return pos + 1;
		} else if (c == ',' && depth == 0) {
			return pos;
		}
	}
	return 0;
}

static size_t
skip_blank(const char *body, size_t len, size_t pos)
{
	while (pos < len && blank(body + pos, 1))
		pos++;
	return pos;
}

enum aigw_err
prov_async_array(const char *name, const char *body, size_t len, struct prov_step *s,
		 prov_async_id_fn id_of, prov_async_item_fn fn)
{
	size_t pos = skip_blank(body, len, 0), records = 0, read = 0;
	enum aigw_err err = AIGW_OK;

	if (pos >= len || body[pos] != '[')
		return prov_async_fail(s, PROV_ERR_BAD_BODY,
				       "%s returned an unexpected body: the answer is not a JSON array", name);
	pos = skip_blank(body, len, pos + 1);
	while (err == AIGW_OK && pos < len && body[pos] != ']') {
		size_t end = value_end(body, len, pos);
		json_object *o;
		const char *id;

		if (end <= pos)
			break; /* cut short: the records before stand */
		records++;
		if (end - pos <= PROV_ASYNC_LINE_MAX) {
			o = prov_common_json(body + pos, end - pos);
			id = json_object_is_type(o, json_type_object) ? id_of(o) : NULL;
			if (prov_async_id_ok(id)) {
				read++;
				err = fn(o, id, s);
			}
			json_object_put(o);
		}
		pos = skip_blank(body, len, end);
		if (pos < len && body[pos] == ',')
			pos = skip_blank(body, len, pos + 1);
		else if (pos >= len || body[pos] != ']')
			break;
	}
	if (err == AIGW_OK && records > 0 && read == 0)
		err = prov_async_fail(s, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "no record names its input", name);
	return err;
}

/* ---- lookups ---- */

const char *
prov_async_token(const struct prov_batch_item *items, size_t n)
{
	const char *t = NULL;

	for (size_t i = 0; items != NULL && i < n; i++)
		if (items[i].custom_id != NULL && (t == NULL || strcmp(items[i].custom_id, t) < 0))
			t = items[i].custom_id;
	return t;
}

enum aigw_err
prov_async_find_state(const struct prov_batch_item *items, size_t n, long long since_s, char **out)
{
	struct prov_step s;
	char count[24], since[24];
	const char *token = prov_async_token(items, n);
	enum aigw_err err;

	*out = NULL;
	if (token == NULL)
		return AIGW_EINVAL;
	memset(&s, 0, sizeof s);
	snprintf(count, sizeof count, "%zu", n);
	snprintf(since, sizeof since, "%lld", since_s);
	err = prov_async_move(&s, PROV_STEP_NEXT, "step", "find", "token", token, "n", count,
			      "since", since, (char *)NULL);
	if (err == AIGW_OK) {
		*out = s.state;
		s.state = NULL;
	}
	prov_step_free(&s);
	return err;
}

static bool
number(const char *s, long long min, long long *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < min)
		return false;
	*out = v;
	return true;
}

enum aigw_err
prov_async_find_read(json_object *st, struct prov_async_find *f)
{
	long long n = 0;

	memset(f, 0, sizeof *f);
	f->token = prov_async_get_id(st, "token");
	f->after = prov_async_get_id(st, "after");
	if (!prov_async_id_ok(f->token) || !number(prov_common_get_str(st, "n"), 1, &n) ||
	    !number(prov_common_get_str(st, "since"), 0, &f->since_s))
		return AIGW_EINVAL;
	f->n = (size_t)n;
	return AIGW_OK;
}

enum aigw_err
prov_async_build_find(const struct prov_config *cfg, json_object *st, const char *path,
		      const char *cursor,
		      enum aigw_err (*headers)(struct prov_http *h, const char *api_key),
		      struct prov_http *out)
{
	struct prov_async_find f;
	struct buf url;
	char *esc = NULL;
	enum aigw_err err;

	if ((err = prov_async_find_read(st, &f)) != AIGW_OK)
		return err;
	buf_init(&url, 4096);
	err = AIGW_ENOMEM;
	if (f.after != NULL && (esc = prov_common_escape(f.after)) == NULL)
		goto out;
	if ((err = buf_printf(&url, "%s?limit=" PROV_ASYNC_FIND_PAGE "%s%s%s%s", path,
			      esc ? "&" : "", esc ? cursor : "", esc ? "=" : "",
			      esc ? esc : "")) != AIGW_OK)
		goto out;
	out->method = "GET";
	if ((err = prov_common_url(out, cfg->base_url, url.data)) != AIGW_OK)
		goto out;
	err = headers(out, cfg->api_key);
out:
	buf_free(&url);
	free(esc);
	return err == AIGW_ETOOBIG ? AIGW_EINVAL : err;
}

enum aigw_err
prov_async_bearer(struct prov_http *h, const char *api_key)
{
	return prov_common_header(h, "Authorization", "Bearer ", api_key);
}

bool
prov_async_config_ok(const struct prov_config *cfg)
{
	return cfg != NULL && cfg->api_key != NULL && cfg->api_key[0] != '\0' &&
	       cfg->base_url != NULL && cfg->base_url[0] != '\0';
}

enum aigw_err
prov_async_build_bare(const struct prov_config *cfg, const char *method, const char *prefix,
		      const char *id, const char *suffix, prov_headers_fn headers,
		      struct prov_http *out)
{
	char *esc = prov_common_escape(id);
	struct buf path;
	enum aigw_err err = AIGW_ENOMEM;

	buf_init(&path, 4096);
	if (esc == NULL || (err = buf_printf(&path, "%s%s%s", prefix, esc, suffix)) != AIGW_OK)
		goto out;
	out->method = method;
	if ((err = prov_common_url(out, cfg->base_url, path.data)) == AIGW_OK)
		err = headers(out, cfg->api_key);
out:
	buf_free(&path);
	free(esc);
	return err == AIGW_ETOOBIG ? AIGW_EINVAL : err;
}

enum aigw_err
prov_async_build_cancel(const struct prov_config *cfg, const char *state,
			const struct prov_async_cancel *c, struct prov_http *out)
{
	json_object *st = NULL;
	const char *id = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	err = state != NULL && !prov_async_config_ok(cfg) ? AIGW_EINVAL
		: prov_async_cancel_id(state, c->id_key, c->before, c->steps, &st, &id);
	if (err == AIGW_OK)
		err = prov_async_build_bare(cfg, "POST", c->prefix, id, c->suffix, c->headers, out);
	if (err != AIGW_OK)
		prov_http_free(out);
	json_object_put(st);
	return err;
}

enum aigw_err
prov_async_created(struct prov_step *out, const char *name, const char *id, const char *id_key,
		   const char *missing)
{
	if (id == NULL)
		return prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: %s",
				       name, missing);
	return prov_async_found(out, id_key, id);
}

enum aigw_err
prov_async_parse_end(struct prov_step *out, enum aigw_err err, json_object *root,
		     json_object *st)
{
	if (err != AIGW_OK) {
		prov_step_free(out);
		err = AIGW_ENOMEM;
	}
	json_object_put(root);
	json_object_put(st);
	return err;
}

json_object *
prov_async_find_list(const char *name, json_object *st, json_object *root,
		     struct prov_async_find *f, struct prov_step *out, enum aigw_err *err)
{
	json_object *data = prov_common_get(root, "data", json_type_array);

	*err = AIGW_OK;
	if (prov_async_find_read(st, f) != AIGW_OK) {
		*err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				       name);
		return NULL;
	}
	if (data == NULL)
		*err = prov_async_fail(out, PROV_ERR_BAD_BODY,
				       "%s returned an unexpected body: a list without data", name);
	return data;
}

enum aigw_err
prov_async_find_end(struct prov_step *out, const struct prov_async_find *f, json_object *root,
		    const char *last, long long oldest_s)
{
	json_object *more = prov_common_get(root, "has_more", json_type_boolean);

	/* A list runs newest first: past the first create (less the skew),
	 * every further page is older still. */
	if (more != NULL && json_object_get_boolean(more) && last != NULL &&
	    oldest_s >= f->since_s - PROV_ASYNC_FIND_SKEW_S)
		return prov_async_find_more(out, f, last);
	out->kind = PROV_STEP_ABSENT;
	return AIGW_OK;
}

enum aigw_err
prov_async_find_more(struct prov_step *s, const struct prov_async_find *f, const char *after)
{
	char count[24], since[24];

	snprintf(count, sizeof count, "%zu", f->n);
	snprintf(since, sizeof since, "%lld", f->since_s);
	return prov_async_move(s, PROV_STEP_NEXT, "step", "find", "token", f->token, "n", count,
			       "since", since, "after", after, (char *)NULL);
}

enum aigw_err
prov_async_found(struct prov_step *s, const char *id_key, const char *id)
{
	enum aigw_err err = prov_async_move(s, PROV_STEP_WAIT, "step", "poll", id_key, id,
					    (char *)NULL);

	if (err == AIGW_OK && (s->external_id = strdup(id)) == NULL)
		err = AIGW_ENOMEM;
	return err;
}

long long
prov_async_time(const char *s)
{
	struct tm tm;
	const char *p;
	long long t;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = (long long)timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0' ? t : -1;
	if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	    p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' && p[5] <= '9' && p[6] == '\0') {
		long long off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600LL +
				((p[4] - '0') * 10 + (p[5] - '0')) * 60LL;

		return *p == '+' ? t - off : t + off;
	}
	return -1;
}

bool
prov_async_closer(const struct prov_async_find *f, long long count, long long created_s,
		  long long *best_gap)
{
	long long gap;

	if (count != (long long)f->n || created_s < 0 ||
	    created_s < f->since_s - PROV_ASYNC_FIND_SKEW_S)
		return false;
	gap = created_s > f->since_s ? created_s - f->since_s : f->since_s - created_s;
	if (*best_gap >= 0 && gap >= *best_gap)
		return false;
	*best_gap = gap;
	return true;
}
