/*
 * opts.h: how every program and aigw subcommand reads its command line
 * (getopt_long): --help prints the usage on stdout and exits 0, --version
 * prints the version (configure's, PACKAGE_VERSION) and exits 0, options
 * come as --opt value or --opt=value, and an unknown option or a missing
 * value names itself and prints the usage on stderr, exit 2.
 *
 * A command's option string starts with OPTS_SHORT_PERMUTE or
 * OPTS_SHORT_STOP (stop at the first word that is no option, for a
 * command followed by a subcommand) and its option table holds
 * OPTS_COMMON_LONG; the loop's default case returns opts_other().
 */
#ifndef AIGW_CLI_OPTS_H
#define AIGW_CLI_OPTS_H

#include <getopt.h>
#include <stdio.h>

#define OPT_HELP 'h'
#define OPT_VERSION 'V'
/* ':' first: a missing value comes back as ':', not '?' (no message from
 * getopt itself: opts_other says it, naming the command). */
#define OPTS_SHORT_PERMUTE ":hV"
#define OPTS_SHORT_STOP "+:hV"
#define OPTS_COMMON_LONG { "help", no_argument, NULL, OPT_HELP }, \
	{ "version", no_argument, NULL, OPT_VERSION }
#define OPTS_END { NULL, 0, NULL, 0 }

/* The next option of argv (argv[0] is the command's or subcommand's name,
 * never read), as getopt_long returns it: -1 after the last, with optind
 * the index of the first operand. Call with first set on the first call
 * of a parse, which starts getopt afresh. */
int opts_next(int argc, char **argv, const char *shortopts, const struct option *longopts,
	      int first);

/* What an option the command does not handle itself asks for: --help
 * (usage on stdout: 0), --version (on stdout: 0), or a fault (said with
 * the usage on stderr: 2). cmd is as the user typed it ("aigw keys
 * create"), usage the full usage text. Returns the exit code. */
int opts_other(int c, const char *cmd, const char *usage, char **argv);

/* "PROGRAM (aigw) VERSION" and a line on the license, to f; program may
 * be "" when the caller wrote it already. */
void opts_print_version(FILE *f, const char *program);

/* For a command without options of its own (operands may come anywhere):
 * reads --help, --version and faults. Returns -1 when the command is to
 * run, its operands from argv[optind], else the exit code. */
int opts_only_common(int argc, char **argv, const char *cmd, const char *usage);

/* The usage on stderr, exit code 2: for operands that do not fit. */
int opts_usage_error(const char *usage);

#endif
