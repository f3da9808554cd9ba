/*
 * replay.c: a main() for the libFuzzer targets without libFuzzer, so that
 * every ordinary build (gcc, plain or ASan+UBSan) runs each committed
 * corpus input once through its target as part of "make check".
 *
 * A replay program is named replay_<target>; run without arguments it
 * reads $AIGW_SRCDIR/tests/fuzz/corpus/<target>/, with arguments the files
 * and directories named. Inputs are replayed in name order, so a failure
 * reproduces the same way. A target aborts on a broken contract and the
 * sanitizers end the process on a memory error: either fails the test.
 * Exit 0 after the last input, 1 when a file cannot be read, 77 (automake's
 * "skipped") when the corpus directory does not exist.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_SKIP 77

static int
replay_file(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;
	int rc = 1;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 4096 : cap * 2;
			uint8_t *n = realloc(data, ncap);

			if (n == NULL) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				goto out;
			}
			data = n;
			cap = ncap;
		}
		size_t got = fread(data + len, 1, cap - len, f);

		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		goto out;
	}
	/* An exact-size copy, so that ASan sees a read past the input. */
	uint8_t *exact = malloc(len > 0 ? len : 1);

	if (exact == NULL) {
		fprintf(stderr, "replay: %s: out of memory\n", path);
		goto out;
	}
	if (len > 0)
		memcpy(exact, data, len);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	(*count)++;
	rc = 0;
out:
	free(data);
	fclose(f);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order. */
static int
replay_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap == 0 ? 256 : cap * 2;
			char **nn = realloc(names, ncap * sizeof *nn);

			if (nn == NULL)
				goto oom;
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(e->d_name);
		if (names[n] == NULL)
			goto oom;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];

		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path) {
			fprintf(stderr, "replay: %s/%s: path too long\n", dir, names[i]);
			rc = 1;
			break;
		}
		rc = replay_file(path, count);
	}
	goto out;
oom:
	fprintf(stderr, "replay: %s: out of memory\n", dir);
	rc = 1;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static int
replay_path(const char *path, size_t *count)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return S_ISDIR(st.st_mode) ? replay_dir(path, count) : replay_file(path, count);
}

int
main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');
	size_t count = 0;
	int rc = 0;

	self = self != NULL ? self + 1 : argv[0];
	/* libtool's wrappers run the real program as lt-<name>. */
	if (strncmp(self, "lt-", 3) == 0)
		self += 3;
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc && rc == 0; i++)
			rc = replay_path(argv[i], &count);
	} else {
		const char *src = getenv("AIGW_SRCDIR");
		const char *target = strncmp(self, "replay_", 7) == 0 ? self + 7 : self;
		char dir[4096];
		struct stat st;

		snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s",
			 src != NULL && *src != '\0' ? src : ".", target);
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "replay: no corpus at %s (set AIGW_SRCDIR)\n", dir);
			return REPLAY_SKIP;
		}
		rc = replay_dir(dir, &count);
	}
	printf("%s: replayed %zu inputs%s\n", self, count, rc == 0 ? "" : ", then failed");
	return rc;
}
