/*
 * fuzz.h: helpers shared by the libFuzzer targets of tests/fuzz.
 *
 * The targets read no files but the job type declarations (once, at start)
 * and write none; they free everything per input, since LeakSanitizer runs
 * after every crash-free input. Static inline so that a target using only
 * part of this still compiles under -Werror. Not thread-safe (libFuzzer
 * runs one input at a time per process).
 */
#ifndef AIGW_TESTS_FUZZ_H
#define AIGW_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "jobtype/jobtype.h"

/* The source tree, given by the build so that an out-of-tree build finds
 * jobtypes/ without an environment variable. */
#ifndef AIGW_FUZZ_SRCDIR
#define AIGW_FUZZ_SRCDIR "."
#endif

/* libFuzzer's entry points, which every target defines. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The source tree: $AIGW_SRCDIR, else the one the build names. */
static inline const char *
fuzz_srcdir(void)
{
	const char *src = getenv("AIGW_SRCDIR");

	return src != NULL && *src != '\0' ? src : AIGW_FUZZ_SRCDIR;
}

/* A NUL-terminated copy of data[0..size), for the functions that take C
 * strings. NULL only when memory runs out (the caller skips the input). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		if (size > 0)
			memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* Splits off the text before the first sep in *data (advancing past the
 * separator) as a new C string; when there is no sep, takes everything.
 * NULL only when memory runs out. */
static inline char *
fuzz_take(const uint8_t **data, size_t *size, uint8_t sep)
{
	const uint8_t *end = memchr(*data, sep, *size);
	size_t n = end != NULL ? (size_t)(end - *data) : *size;
	char *s = fuzz_cstr(*data, n);

	*data += n;
	*size -= n;
	if (end != NULL) {
		(*data)++;
		(*size)--;
	}
	return s;
}

/* True when s is NULL or text PostgreSQL's UTF8 encoding accepts and a
 * JSON client can read: valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF, which json-c lets through). */
static inline bool
fuzz_utf8_ok(const char *s)
{
	return s == NULL || utf8_length(s, strlen(s)) >= 0;
}

/* What every target's LLVMFuzzerInitialize does first. Library log lines
 * (warnings about hostile input) would drown libFuzzer's own output;
 * errors still show. No target takes options of its own. */
static inline void
fuzz_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
}

/*
 * Loads the shipped job types once: $AIGW_SRCDIR/jobtypes, else the source
 * tree's jobtypes/. When neither loads, *registry stays NULL (no type is
 * known) and *fallback receives an inline declaration for the caller to
 * check inputs against. Exits when even that fails: a fuzzer that silently
 * fuzzes nothing is worse than one that stops. Both live until exit.
 */
static inline void
fuzz_load_jobtypes(struct jobtype_registry **registry, struct jobtype **fallback)
{
	/* A job type for when the shipped declarations cannot be found:
	 * every input type and a fan-out, so the checks still have work. */
	static const char inline_type[] =
		"{\"name\":\"fuzz_type\",\"description\":\"inline fallback\",\"timeout_s\":60,"
		"\"attempts\":2,\"poll_interval_s\":1,"
		"\"input\":{\"topic\":{\"type\":\"string\",\"required\":true,\"max_length\":40},"
		"\"count\":{\"type\":\"integer\"},\"ratio\":{\"type\":\"number\"},"
		"\"flag\":{\"type\":\"boolean\"},\"items\":{\"type\":\"array\",\"max_length\":3},"
		"\"extra\":{\"type\":\"object\"}},"
		"\"steps\":[{\"name\":\"first\",\"status_message\":\"one\",\"progress\":50,"
		"\"fanout\":[{\"provider\":\"mock\",\"model\":\"m\"},{\"provider\":\"openai\",\"model\":\"g\"}],"
		"\"prompt\":\"About {{input.topic}} and {{input.items}}\"},"
		"{\"name\":\"second\",\"status_message\":\"two\",\"progress\":100,\"output\":\"json\","
		"\"provider\":\"mock\",\"model\":\"m\",\"system\":\"{{input.extra}}\","
		"\"prompt\":\"{{steps.first.text}} {{input.count}}\"}]}";
	char dir[4096], err[1024];

	*registry = NULL;
	*fallback = NULL;
	snprintf(dir, sizeof dir, "%s/jobtypes", fuzz_srcdir());
	if (jobtype_load_dir(dir, registry, err, sizeof err) == AIGW_OK && jobtype_count(*registry) > 0)
		return;
	jobtype_registry_free(*registry);
	*registry = NULL;
	fprintf(stderr, "fuzz: no job types in %s; using the inline declaration\n", dir);
	if (jobtype_parse(inline_type, sizeof inline_type - 1, fallback, err,
			  sizeof err) != AIGW_OK) {
		fprintf(stderr, "fuzz: the inline job type does not parse: %s\n", err);
		exit(1);
	}
}

#endif
