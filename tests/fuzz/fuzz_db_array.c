/*
 * fuzz_db_array.c: db_array_literal, the text of every array parameter
 * aigw sends PostgreSQL (grouped submits and result writes carry user
 * text in it). The literal must read back, by PostgreSQL's array input
 * rules, as exactly the items given: a quote or backslash that escapes
 * wrongly would shift every later column of a grouped write.
 *
 * Input: the items separated by NUL bytes; an item that is the single
 * byte 0xFF (never in UTF-8 text) stands for an SQL NULL.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "fuzz.h"

#define NULL_ITEM "\xff"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init(argc, argv);
	return 0;
}

/*
 * Reads the next element of a one-dimensional array literal at *p as
 * PostgreSQL's array_in does for the forms db_array_literal writes: a
 * double-quoted string with backslash escapes, or an unquoted NULL. The
 * element's text (malloc'd, or NULL for an SQL NULL) goes to *item.
 * False when the literal does not follow those rules.
 */
static bool
read_element(const char **p, char **item, bool *is_null)
{
	const char *s = *p;
	char *out, *o;

	*item = NULL;
	*is_null = false;
	if (strncmp(s, "NULL", 4) == 0) {
		*is_null = true;
		*p = s + 4;
		return true;
	}
	if (*s != '"')
		return false;
	s++;
	out = malloc(strlen(s) + 1);
	if (out == NULL)
		return false;
	o = out;
	while (*s != '"') {
		if (*s == '\0')
			goto bad;
		if (*s == '\\') {
			s++;
			if (*s == '\0')
				goto bad;
		}
		*o++ = *s++;
	}
	*o = '\0';
	*item = out;
	*p = s + 1;
	return true;
bad:
	free(out);
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *items[64];
	size_t n = 0;
	char *lit = NULL;
	const char *p;

	while (n < sizeof items / sizeof items[0]) {
		items[n] = fuzz_take(&data, &size, 0);
		if (items[n] == NULL)
			goto out;
		n++;
		if (size == 0)
			break;
	}
	const char *values[64];

	for (size_t i = 0; i < n; i++)
		values[i] = strcmp(items[i], NULL_ITEM) == 0 ? NULL : items[i];
	lit = db_array_literal(values, n);
	if (lit == NULL)
		goto out;

	/* Read it back: '{' element (',' element)* '}' and nothing after. */
	p = lit;
	if (*p++ != '{')
		abort();
	for (size_t i = 0; i < n; i++) {
		char *got;
		bool is_null;

		if (i > 0 && *p++ != ',')
			abort();
		if (!read_element(&p, &got, &is_null))
			abort();
		if (is_null != (values[i] == NULL) ||
		    (!is_null && strcmp(got, values[i]) != 0)) {
			free(got);
			abort();
		}
		free(got);
	}
	if (strcmp(p, "}") != 0)
		abort();
out:
	free(lit);
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	return 0;
}
