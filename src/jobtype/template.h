/*
 * template.h: prompt templates: text with {{dotted.path}} placeholders.
 *
 * A template is compiled once (when a job type is loaded) into literal and
 * placeholder parts, so a bad placeholder is found at start, not mid-job.
 * Rendering resolves each path in a JSON context such as
 * {"input": {...}, "steps": {"research": {"text": "...", "json": {...}}}}:
 * a string is inserted as it is, any other value as compact JSON. A path
 * that resolves to nothing is an error, never an empty string. The
 * compiled template owns its parts; template_free() is safe on NULL.
 * Compiling fails on a malformed placeholder (AIGW_EINVAL) or out of
 * memory; rendering on a missing path (AIGW_ENOTFOUND), an output too
 * large (AIGW_ETOOBIG) or out of memory.
 */
#ifndef AIGW_JOBS_TEMPLATE_H
#define AIGW_JOBS_TEMPLATE_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"

#define TEMPLATE_MAX_PATH 8      /* segments in one placeholder */
#define TEMPLATE_MAX_OUTPUT (1L << 20)

struct template;

/* Called for each placeholder at compile time; returns 0 to accept it, or
 * non-zero after writing why into errbuf. */
typedef int (*template_check_fn)(void *arg, const char *const *path, size_t n,
				 char *errbuf, size_t errlen);

/* Compiles text. AIGW_EINVAL with the reason in errbuf for an unclosed
 * "{{", an empty or malformed path, or a placeholder check refused;
 * AIGW_ENOMEM. */
enum aigw_err template_compile(const char *text, template_check_fn check, void *arg,
			       struct template **out, char *errbuf, size_t errlen) AIGW_MUSTCHECK;
void template_free(struct template *t);

/* Renders into a malloc'd string (*out). AIGW_ENOTFOUND with the missing
 * path in errbuf; AIGW_ETOOBIG past TEMPLATE_MAX_OUTPUT; AIGW_ENOMEM. */
enum aigw_err template_render(const struct template *t, json_object *context, char **out,
			      char *errbuf, size_t errlen) AIGW_MUSTCHECK;

#endif
