/* template.c: compiling and rendering {{path}} templates (see template.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "jobtype/template.h"

struct part {
	char *literal;                  /* set for literal text */
	char *path[TEMPLATE_MAX_PATH];  /* set for a placeholder */
	size_t npath;
};

struct template {
	struct part *parts;
	size_t nparts;
};

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nparts; i++) {
		free(t->parts[i].literal);
		for (size_t k = 0; k < t->parts[i].npath; k++)
			free(t->parts[i].path[k]);
	}
	free(t->parts);
	free(t);
}

static struct part *
add_part(struct template *t)
{
	struct part *p = realloc(t->parts, (t->nparts + 1) * sizeof *p);

	if (p == NULL)
		return NULL;
	t->parts = p;
	memset(&p[t->nparts], 0, sizeof *p);
	return &p[t->nparts++];
}

static int
segment_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Splits "a.b.c" (spaces around allowed) into p->path. */
static enum aigw_err
parse_path(const char *s, size_t len, struct part *p, char *errbuf, size_t errlen)
{
	size_t i = 0, end = len;

	while (i < end && s[i] == ' ')
		i++;
	while (end > i && s[end - 1] == ' ')
		end--;
	if (i == end) {
		snprintf(errbuf, errlen, "empty placeholder {{}}");
		return AIGW_EINVAL;
	}
	while (i < end) {
		size_t start = i;

		while (i < end && segment_char(s[i]))
			i++;
		if (i == start || (i < end && s[i] != '.') || p->npath == TEMPLATE_MAX_PATH) {
			snprintf(errbuf, errlen, "malformed placeholder {{%.*s}}",
				 (int)utf8_cut(s, len > 80 ? 80 : len), s);
			return AIGW_EINVAL;
		}
		p->path[p->npath] = strndup(s + start, i - start);
		if (p->path[p->npath] == NULL)
			return AIGW_ENOMEM;
		p->npath++;
		if (i < end) {
			i++; /* the dot */
			if (i == end) {
				snprintf(errbuf, errlen, "malformed placeholder {{%.*s}}",
					 (int)utf8_cut(s, len > 80 ? 80 : len), s);
				return AIGW_EINVAL;
			}
		}
	}
	return AIGW_OK;
}

enum aigw_err
template_compile(const char *text, template_check_fn check, void *arg, struct template **out,
		 char *errbuf, size_t errlen)
{
	struct template *t = calloc(1, sizeof *t);
	const char *s = text;
	enum aigw_err err = AIGW_ENOMEM;

	*out = NULL;
	if (t == NULL)
		return AIGW_ENOMEM;
	while (*s != '\0') {
		const char *open = strstr(s, "{{");
		const char *close;
		struct part *p;

		if (open != s) {
			size_t n = open ? (size_t)(open - s) : strlen(s);

			p = add_part(t);
			if (p == NULL || (p->literal = strndup(s, n)) == NULL)
				goto fail;
			s += n;
			continue;
		}
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			snprintf(errbuf, errlen, "unclosed {{ in template");
			err = AIGW_EINVAL;
			goto fail;
		}
		p = add_part(t);
		if (p == NULL)
			goto fail;
		err = parse_path(open + 2, (size_t)(close - open - 2), p, errbuf, errlen);
		if (err != AIGW_OK)
			goto fail;
		if (check != NULL &&
		    check(arg, (const char *const *)p->path, p->npath, errbuf, errlen) != 0) {
			err = AIGW_EINVAL;
			goto fail;
		}
		s = close + 2;
	}
	*out = t;
	return AIGW_OK;
fail:
	template_free(t);
	return err;
}

static void
path_text(const struct part *p, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->npath && used < outlen; i++) {
		int n = snprintf(out + used, outlen - used, "%s%s", i ? "." : "", p->path[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

enum aigw_err
template_render(const struct template *t, json_object *context, char **out, char *errbuf,
		size_t errlen)
{
	struct buf b;
	enum aigw_err err = AIGW_OK;

	*out = NULL;
	buf_init(&b, TEMPLATE_MAX_OUTPUT);
	for (size_t i = 0; err == AIGW_OK && i < t->nparts; i++) {
		const struct part *p = &t->parts[i];
		json_object *v = context;

		if (p->literal != NULL) {
			err = buf_puts(&b, p->literal);
			continue;
		}
		for (size_t k = 0; k < p->npath && v != NULL; k++) {
			json_object *next = NULL;

			if (!json_object_is_type(v, json_type_object) ||
			    !json_object_object_get_ex(v, p->path[k], &next))
				next = NULL;
			v = next;
		}
		if (v == NULL) {
			char path[256];

			path_text(p, path, sizeof path);
			snprintf(errbuf, errlen, "the template needs {{%s}}, which has no value", path);
			err = AIGW_ENOTFOUND;
			break;
		}
		if (json_object_is_type(v, json_type_string))
			err = buf_append(&b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		else
			err = buf_puts(&b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
									  JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	if (err == AIGW_ETOOBIG)
		snprintf(errbuf, errlen, "the rendered prompt is larger than %ld bytes", TEMPLATE_MAX_OUTPUT);
	if (err == AIGW_OK)
		err = buf_steal(&b, out);
	buf_free(&b);
	return err;
}
