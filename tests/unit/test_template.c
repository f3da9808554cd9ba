/* test_template.c: compiling and rendering prompt templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobtype/template.h"

static char *
render(const char *text, const char *context_json, enum aigw_err expect)
{
	struct template *t = NULL;
	json_object *ctx = json_tokener_parse(context_json);
	char err[256] = "", *out = NULL;

	assert_non_null(ctx);
	assert_int_equal(template_compile(text, NULL, NULL, &t, err, sizeof err), AIGW_OK);
	assert_int_equal(template_render(t, ctx, &out, err, sizeof err), expect);
	template_free(t);
	json_object_put(ctx);
	return out;
}

static void
test_literal_and_placeholders(void **state)
{
	char *s;

	(void)state;
	s = render("Analyse {{input.company_name}} ({{ input.url }}).",
		   "{\"input\":{\"company_name\":\"Acme\",\"url\":\"https://acme.com\"}}", AIGW_OK);
	assert_string_equal(s, "Analyse Acme (https://acme.com).");
	free(s);
	s = render("no placeholders at all", "{}", AIGW_OK);
	assert_string_equal(s, "no placeholders at all");
	free(s);
	s = render("", "{}", AIGW_OK);
	assert_string_equal(s, "");
	free(s);
	s = render("{{input.a}}{{input.b}}", "{\"input\":{\"a\":\"x\",\"b\":\"y\"}}", AIGW_OK);
	assert_string_equal(s, "xy");
	free(s);
}

static void
test_non_strings_render_as_json(void **state)
{
	char *s;

	(void)state;
	s = render("n={{input.n}} b={{input.b}} o={{steps.r.json}}",
		   "{\"input\":{\"n\":42,\"b\":true},\"steps\":{\"r\":{\"json\":{\"k\":\"a\\\"q\",\"l\":[1,2]}}}}",
		   AIGW_OK);
	assert_string_equal(s, "n=42 b=true o={\"k\":\"a\\\"q\",\"l\":[1,2]}");
	free(s);
	s = render("{{steps.r.json.k}}", "{\"steps\":{\"r\":{\"json\":{\"k\":\"v\"}}}}", AIGW_OK);
	assert_string_equal(s, "v");
	free(s);
}

static void
test_text_with_braces_is_kept_verbatim(void **state)
{
	char *s;

	(void)state;
	/* a value holding "{{...}}" is data, never expanded again */
	s = render("{{input.a}}", "{\"input\":{\"a\":\"{{input.a}} and } {\"}}", AIGW_OK);
	assert_string_equal(s, "{{input.a}} and } {");
	free(s);
	s = render("single { brace } is fine", "{}", AIGW_OK);
	assert_string_equal(s, "single { brace } is fine");
	free(s);
}

static void
test_missing_value(void **state)
{
	struct template *t = NULL;
	json_object *ctx = json_tokener_parse("{\"input\":{\"a\":null}}");
	char err[256] = "", *out = NULL;

	(void)state;
	assert_int_equal(template_compile("x {{input.b}}", NULL, NULL, &t, err, sizeof err), AIGW_OK);
	assert_int_equal(template_render(t, ctx, &out, err, sizeof err), AIGW_ENOTFOUND);
	assert_null(out);
	assert_non_null(strstr(err, "input.b"));
	template_free(t);
	json_object_put(ctx);
}

static void
test_compile_errors(void **state)
{
	const char *bad[] = { "{{", "abc {{input.a", "{{}}", "{{ }}", "{{input..a}}", "{{input.}}",
			      "{{.a}}", "{{in put}}", "{{a/b}}", "{{a.b.c.d.e.f.g.h.i}}" };
	struct template *t = NULL;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(template_compile(bad[i], NULL, NULL, &t, err, sizeof err), AIGW_EINVAL);
		assert_null(t);
		assert_true(err[0] != '\0');
	}
}

static int
refuse_steps(void *arg, const char *const *path, size_t n, char *errbuf, size_t errlen)
{
	(void)arg;
	(void)n;
	if (strcmp(path[0], "steps") == 0) {
		strncpy(errbuf, "no steps here", errlen - 1);
		errbuf[errlen - 1] = '\0';
		return -1;
	}
	return 0;
}

static void
test_check_callback(void **state)
{
	struct template *t = NULL;
	char err[256];

	(void)state;
	assert_int_equal(template_compile("{{input.a}}", refuse_steps, NULL, &t, err, sizeof err), AIGW_OK);
	template_free(t);
	t = NULL;
	assert_int_equal(template_compile("{{steps.x.text}}", refuse_steps, NULL, &t, err, sizeof err),
			 AIGW_EINVAL);
	assert_string_equal(err, "no steps here");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_placeholders),
		cmocka_unit_test(test_non_strings_render_as_json),
		cmocka_unit_test(test_text_with_braces_is_kept_verbatim),
		cmocka_unit_test(test_missing_value),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_check_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
