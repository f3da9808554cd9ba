/*
 * fuzz_template.c: template_compile() and template_render() on hostile
 * templates and contexts.
 *
 * Input: "<template>\0<JSON context>". Without a NUL the whole input is the
 * template and a fixed context is used. The first byte of the template
 * also picks a placeholder check (none, or one that refuses deep paths), so
 * that compiling fails part way with placeholders already built.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fuzz.h"
#include "jobtype/template.h"

static const char default_context[] =
	"{\"input\":{\"topic\":\"cats\",\"n\":3,\"list\":[1,\"two\",null],\"obj\":{\"a\":{\"b\":\"c\"}}},"
	"\"steps\":{\"first\":{\"text\":\"done\",\"json\":{\"k\":[true,false]}}}}";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

/* Refuses paths deeper than three segments, as a job type's check refuses
 * names it does not know; it must write why. */
static int
refuse_deep(void *arg, const char *const *path, size_t n, char *errbuf, size_t errlen)
{
	(void)arg;
	if (n == 0 || path[0] == NULL || path[0][0] == '\0')
		abort(); /* the compiler handed over an empty path */
	if (n <= 3)
		return 0;
	snprintf(errbuf, errlen, "too deep: %s", path[0]);
	return -1;
}

static json_object *
parse_context(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	json_object *v = NULL;

	if (tok == NULL)
		return NULL;
	v = json_tokener_parse_ex(tok, s, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template *t = NULL;
	json_object *ctx;
	char *text, *out = NULL;
	char errbuf[256];
	bool has_context = memchr(data, '\0', size) != NULL;
	enum aigw_err err;

	if (size > (1u << 20))
		return 0; /* json-c takes an int length */
	text = fuzz_take(&data, &size, '\0');
	if (text == NULL)
		return 0;
	ctx = has_context ? parse_context((const char *)data, size)
			  : parse_context(default_context, sizeof default_context - 1);
	errbuf[0] = '\0';
	err = template_compile(text, (text[0] & 1) ? refuse_deep : NULL, NULL, &t, errbuf,
			       sizeof errbuf);
	if (err == AIGW_EINVAL && errbuf[0] == '\0')
		abort(); /* a refused template must say why */
	if (err == AIGW_OK) {
		err = template_render(t, ctx, &out, errbuf, sizeof errbuf);
		if ((err == AIGW_OK) != (out != NULL))
			abort(); /* output exactly when rendering succeeds */
		if (out != NULL && strlen(out) > TEMPLATE_MAX_OUTPUT)
			abort();
		free(out);
		template_free(t);
	} else if (t != NULL) {
		abort(); /* a failed compile hands nothing out */
	}
	json_object_put(ctx);
	free(text);
	return 0;
}
