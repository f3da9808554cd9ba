/* registry.c: the job types of a directory, loaded once (see registry.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "jobtype/jobtype.h"

#define JOBTYPE_FILE_MAX (1L << 20)

struct jobtype_registry {
	struct jobtype **types;
	size_t n;
};

static enum aigw_err
read_file(const char *path, struct buf *b, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char chunk[8192];
	size_t n;
	enum aigw_err err = AIGW_OK;

	if (f == NULL) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return AIGW_EIO;
	}
	while (err == AIGW_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		err = buf_append(b, chunk, n);
	if (err == AIGW_OK && ferror(f))
		err = AIGW_EIO;
	fclose(f);
	if (err != AIGW_OK)
		snprintf(errbuf, errlen, "%s: %s", path,
			 err == AIGW_ETOOBIG ? "larger than 1 MiB" : "cannot be read");
	return err == AIGW_ETOOBIG ? AIGW_ECONFIG : err;
}

static int
is_json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

enum aigw_err
jobtype_load_dir(const char *dir, struct jobtype_registry **out, char *errbuf, size_t errlen)
{
	return jobtype_load_dir_in(NULL, dir, out, errbuf, errlen);
}

enum aigw_err
jobtype_load_dir_in(const struct aigw_config *cfg, const char *dir,
		    struct jobtype_registry **out, char *errbuf, size_t errlen)
{
	struct jobtype_registry *r = calloc(1, sizeof *r);
	struct dirent **files = NULL;
	enum aigw_err err = AIGW_OK;
	int nfiles;

	*out = NULL;
	if (r == NULL)
		return AIGW_ENOMEM;
	nfiles = scandir(dir, &files, is_json_file, alphasort);
	if (nfiles < 0) {
		snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
		free(r);
		return errno == ENOENT ? AIGW_ENOTFOUND : AIGW_EIO;
	}
	r->types = calloc((size_t)nfiles + 1, sizeof *r->types);
	if (r->types == NULL)
		err = AIGW_ENOMEM;
	for (int i = 0; err == AIGW_OK && i < nfiles; i++) {
		char path[4096], why[512];
		struct buf b;
		struct jobtype *t = NULL;

		snprintf(path, sizeof path, "%s/%s", dir, files[i]->d_name);
		buf_init(&b, JOBTYPE_FILE_MAX);
		err = read_file(path, &b, errbuf, errlen);
		if (err == AIGW_OK) {
			err = jobtype_parse_in(cfg, b.data ? b.data : "", b.len, &t, why, sizeof why);
			if (err == AIGW_ECONFIG)
				snprintf(errbuf, errlen, "%s: %s", path, why);
		}
		buf_free(&b);
		if (err == AIGW_OK && jobtype_find(r, t->name) != NULL) {
			snprintf(errbuf, errlen, "%s: job type '%s' is declared twice", path, t->name);
			jobtype_free(t);
			err = AIGW_ECONFIG;
		}
		if (err == AIGW_OK)
			r->types[r->n++] = t;
	}
	for (int i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	if (err != AIGW_OK) {
		jobtype_registry_free(r);
		return err;
	}
	*out = r;
	return AIGW_OK;
}

static enum aigw_err
load_program(const char *program, const struct aigw_config *cfg, const char *dir,
	     struct jobtype_registry **out)
{
	char errbuf[1024];
	enum aigw_err err = jobtype_load_dir_in(cfg, dir, out, errbuf, sizeof errbuf);

	if (err == AIGW_ENOTFOUND) {
		log_warn("jobs", NULL, "%s: no such directory; no job types are served", dir);
		*out = NULL;
		return AIGW_OK;
	}
	if (err != AIGW_OK)
		fprintf(stderr, "%s: AIGW_JOBTYPES_DIR: %s\n", program,
			err == AIGW_ENOMEM ? "out of memory" : errbuf);
	return err;
}

enum aigw_err
jobtype_load_program(const char *program, const char *dir, struct jobtype_registry **out)
{
	return load_program(program, NULL, dir, out);
}

enum aigw_err
jobtype_load_program_in(const char *program, const struct aigw_config *cfg,
			struct jobtype_registry **out)
{
	return load_program(program, cfg, cfg->jobtypes_dir, out);
}

void
jobtype_registry_free(struct jobtype_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		jobtype_free(r->types[i]);
	free(r->types);
	free(r);
}

const struct jobtype *
jobtype_find(const struct jobtype_registry *r, const char *name)
{
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (strcmp(r->types[i]->name, name) == 0)
			return r->types[i];
	return NULL;
}

size_t
jobtype_count(const struct jobtype_registry *r)
{
	return r ? r->n : 0;
}

const struct jobtype *
jobtype_at(const struct jobtype_registry *r, size_t i)
{
	return r && i < r->n ? r->types[i] : NULL;
}
