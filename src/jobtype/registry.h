/*
 * registry.h: the job types of AIGW_JOBTYPES_DIR, loaded once at start.
 *
 * Owns the parsed types of a directory (one per *.json file, by name). A
 * load fails on an unreadable directory or file, a file over 1 MiB, an
 * invalid declaration or a name declared twice (each reported with the
 * file's name), or out of memory. The registry is read-only after loading,
 * so any thread may use it; a NULL registry is an empty one.
 */
#ifndef AIGW_JOBS_REGISTRY_H
#define AIGW_JOBS_REGISTRY_H

#include <stddef.h>

#include "core/err.h"

struct aigw_config;
struct jobtype;
struct jobtype_registry;

/* Loads every *.json of dir. AIGW_ECONFIG with "<file>: <fault>" in errbuf
 * for an invalid file or a duplicate name; AIGW_EIO for an unreadable
 * directory; AIGW_ENOMEM. An empty directory is a valid, empty registry. */
enum aigw_err jobtype_load_dir(const char *dir, struct jobtype_registry **out,
			       char *errbuf, size_t errlen) AIGW_MUSTCHECK;
/* The same where the providers are cfg's, the named ones too
 * (jobtype_parse_in); cfg NULL: the built-in ones. */
enum aigw_err jobtype_load_dir_in(const struct aigw_config *cfg, const char *dir,
				  struct jobtype_registry **out, char *errbuf,
				  size_t errlen) AIGW_MUSTCHECK;
/* jobtype_load_dir for a program's start: an invalid file, or a directory
 * that exists but cannot be read, prints one line on stderr starting with
 * program and fails; a missing directory is no job types (*out NULL, which
 * every lookup below takes as an empty registry), with a log line. */
enum aigw_err jobtype_load_program(const char *program, const char *dir,
				   struct jobtype_registry **out) AIGW_MUSTCHECK;
/* jobtype_load_program of cfg's AIGW_JOBTYPES_DIR, with its providers. */
enum aigw_err jobtype_load_program_in(const char *program, const struct aigw_config *cfg,
				      struct jobtype_registry **out) AIGW_MUSTCHECK;
void jobtype_registry_free(struct jobtype_registry *r);

const struct jobtype *jobtype_find(const struct jobtype_registry *r, const char *name);
size_t jobtype_count(const struct jobtype_registry *r);
const struct jobtype *jobtype_at(const struct jobtype_registry *r, size_t i);

#endif
