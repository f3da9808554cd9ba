/* opts.c: the command-line conventions every program shares (opts.h). */
#include <string.h>

#include "config.h"
#include "cli/opts.h"

int
opts_next(int argc, char **argv, const char *shortopts, const struct option *longopts, int first)
{
	if (first) {
		/* 0, not 1: glibc's getopt starts over, rereading the
		 * ordering ('+') and clearing what a cluster left. */
		optind = 0;
		opterr = 0;
	}
	return getopt_long(argc, argv, shortopts, longopts, NULL);
}

void
opts_print_version(FILE *f, const char *program)
{
	fprintf(f, "%s%s(aigw) %s\nLicense MIT: see LICENSE (installed with the documentation).\n",
		program, program[0] ? " " : "", PACKAGE_VERSION);
}

int
opts_usage_error(const char *usage)
{
	fputs(usage, stderr);
	return 2;
}

int
opts_other(int c, const char *cmd, const char *usage, char **argv)
{
	/* The word getopt stopped at: for a long option or a short one
	 * alone, argv[optind - 1]. */
	const char *word = optind > 0 ? argv[optind - 1] : "";
	char shortopt[3] = { '-', (char)optopt, '\0' };

	if (c == OPT_HELP) {
		fputs(usage, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (c == OPT_VERSION) {
		/* The program's name: "aigw", not "aigw keys create". */
		fprintf(stdout, "%.*s ", (int)strcspn(cmd, " "), cmd);
		opts_print_version(stdout, "");
		return fflush(stdout) == 0 ? 0 : 1;
	}
	/* A short option inside a cluster ("-xq"): name that letter. */
	if (optopt != 0 && strncmp(word, "--", 2) != 0)
		word = shortopt;
	if (c == ':')
		fprintf(stderr, "%s: option %s needs a value\n", cmd, word);
	else
		fprintf(stderr, "%s: unknown option %s\n", cmd, word);
	return opts_usage_error(usage);
}

int
opts_only_common(int argc, char **argv, const char *cmd, const char *usage)
{
	static const struct option longopts[] = { OPTS_COMMON_LONG, OPTS_END };
	int c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, 1);

	return c == -1 ? -1 : opts_other(c, cmd, usage, argv);
}
