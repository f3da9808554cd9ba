/* test_opts.c: the command-line conventions of every program (cli/opts.h)
 * and aigw-fcgi's options (cli/fcgi_opts.h): --opt=value and --opt value,
 * --help and --version on stdout with exit 0, faults on stderr with 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "cli/fcgi_opts.h"
#include "cli/opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]) - 1)

/* What a call wrote on descriptor fd (1 or 2), captured in a file. */
struct capture {
	int saved;
	int fd;
	FILE *tmp;
};

static void
capture_start(struct capture *c, int fd)
{
	c->fd = fd;
	fflush(fd == 1 ? stdout : stderr);
	c->tmp = tmpfile();
	assert_non_null(c->tmp);
	c->saved = dup(fd);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->tmp), fd) >= 0);
}

/* The captured text, to be freed. */
static char *
capture_end(struct capture *c)
{
	char *text = calloc(1, 8192);
	size_t n;

	fflush(c->fd == 1 ? stdout : stderr);
	assert_true(dup2(c->saved, c->fd) >= 0);
	close(c->saved);
	assert_non_null(text);
	rewind(c->tmp);
	n = fread(text, 1, 8191, c->tmp);
	text[n] = '\0';
	fclose(c->tmp);
	return text;
}

/* fcgi_opts_parse with stdout and stderr captured. */
static int
parse_fcgi(int argc, char **argv, struct fcgi_opts *o, char **out, char **err)
{
	struct capture co, ce;
	int rc;

	capture_start(&co, 1);
	capture_start(&ce, 2);
	rc = fcgi_opts_parse(argc, argv, o);
	*err = capture_end(&ce);
	*out = capture_end(&co);
	return rc;
}

static void
test_fcgi_defaults(void **state)
{
	char *argv[] = { "aigw-fcgi", NULL };
	struct fcgi_opts o;
	char *out, *err;

	(void)state;
	assert_int_equal(parse_fcgi(ARGC(argv), argv, &o, &out, &err), -1);
	assert_null(o.listen.addr);
	assert_int_equal(o.nthreads, FCGI_THREADS_DEFAULT);
	assert_int_equal(o.nprocs, FCGI_PROCESSES_DEFAULT);
	assert_false(o.listen.opened);
	assert_false(o.listen.shared);
	assert_int_equal(o.listen.mode, 0660);
	assert_int_equal(o.listen.gid, (gid_t)-1);
	assert_string_equal(out, "");
	assert_string_equal(err, "");
	free(out);
	free(err);
}

static void
test_fcgi_equals_and_separate_values(void **state)
{
	char *joined[] = { "aigw-fcgi", "--listen=/run/aigw/fcgi.sock", "--threads=4",
			   "--socket-mode=0600", NULL };
	char *apart[] = { "aigw-fcgi", "--threads", "7", "--listen", "127.0.0.1:9000",
			  "--processes", "64", NULL };
	struct fcgi_opts o;
	char *out, *err;

	(void)state;
	assert_int_equal(parse_fcgi(ARGC(joined), joined, &o, &out, &err), -1);
	assert_string_equal(o.listen.addr, "/run/aigw/fcgi.sock");
	assert_int_equal(o.nthreads, 4);
	assert_int_equal(o.listen.mode, 0600);
	free(out);
	free(err);
	/* A second parse starts afresh. */
	assert_int_equal(parse_fcgi(ARGC(apart), apart, &o, &out, &err), -1);
	assert_string_equal(o.listen.addr, "127.0.0.1:9000");
	assert_int_equal(o.nthreads, 7);
	assert_int_equal(o.nprocs, 64);
	assert_int_equal(o.listen.mode, 0660);
	free(out);
	free(err);
}

static void
test_fcgi_help_and_version_on_stdout(void **state)
{
	char *help[] = { "aigw-fcgi", "--help", NULL };
	char *version[] = { "aigw-fcgi", "--version", NULL };
	char *short_version[] = { "aigw-fcgi", "--threads", "2", "-V", NULL };
	struct fcgi_opts o;
	char *out, *err;

	(void)state;
	assert_int_equal(parse_fcgi(ARGC(help), help, &o, &out, &err), 0);
	assert_string_equal(out, fcgi_usage_text);
	assert_string_equal(err, "");
	free(out);
	free(err);
	assert_int_equal(parse_fcgi(ARGC(version), version, &o, &out, &err), 0);
	assert_true(strncmp(out, "aigw-fcgi (aigw) " PACKAGE_VERSION "\n",
			    strlen("aigw-fcgi (aigw) " PACKAGE_VERSION "\n")) == 0);
	assert_string_equal(err, "");
	free(out);
	free(err);
	assert_int_equal(parse_fcgi(ARGC(short_version), short_version, &o, &out, &err), 0);
	assert_non_null(strstr(out, PACKAGE_VERSION));
	free(out);
	free(err);
}

/* Every fault: exit 2, nothing on stdout, a line naming it on stderr. */
static void
test_fcgi_faults(void **state)
{
	static const struct {
		const char *args[4];
		const char *says;
		int usage; /* the usage follows the line */
	} cases[] = {
		{ { "--bogus" }, "aigw-fcgi: unknown option --bogus\n", 1 },
		{ { "-x" }, "aigw-fcgi: unknown option -x\n", 1 },
		{ { "--threads" }, "aigw-fcgi: option --threads needs a value\n", 1 },
		{ { "--threads=0" }, "aigw-fcgi: --threads: expected 1 to 256\n", 0 },
		{ { "--threads", "257" }, "aigw-fcgi: --threads: expected 1 to 256\n", 0 },
		{ { "--threads", "2x" }, "aigw-fcgi: --threads: expected 1 to 256\n", 0 },
		{ { "--processes=0" }, "aigw-fcgi: --processes: expected 1 to 64\n", 1 },
		{ { "--processes", "65" }, "aigw-fcgi: --processes: expected 1 to 64\n", 1 },
		{ { "--processes", "-1" }, "aigw-fcgi: --processes: expected 1 to 64\n", 1 },
		{ { "--processes" }, "aigw-fcgi: option --processes needs a value\n", 1 },
		{ { "--socket-mode=0888", "--listen=/x" }, "aigw-fcgi: --socket-mode: expected", 0 },
		{ { "--listen=127.0.0.1:1", "--socket-mode=0600" }, "use them with --listen PATH", 0 },
		{ { "--socket-mode", "0600" }, "use them with --listen PATH", 0 },
		{ { "extra" }, "aigw-fcgi: unexpected argument extra\n", 1 },
		{ { "--help=yes" }, "aigw-fcgi: unknown option --help=yes\n", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[6] = { "aigw-fcgi" };
		int argc = 1;
		struct fcgi_opts o;
		char *out, *err;

		for (size_t k = 0; k < 4 && cases[i].args[k] != NULL; k++)
			argv[argc++] = (char *)cases[i].args[k];
		assert_int_equal(parse_fcgi(argc, argv, &o, &out, &err), 2);
		assert_string_equal(out, "");
		if (strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu: stderr \"%s\" lacks \"%s\"", i, err, cases[i].says);
		assert_int_equal(strstr(err, "usage: aigw-fcgi") != NULL, cases[i].usage);
		free(out);
		free(err);
	}
}

/* A command followed by a subcommand stops at it; the subcommand's own
 * options then parse from there, operands anywhere. */
static void
test_stop_at_subcommand_then_permute(void **state)
{
	static const struct option top[] = { OPTS_COMMON_LONG, OPTS_END };
	static const struct option sub[] = {
		{ "user", required_argument, NULL, 'u' }, OPTS_COMMON_LONG, OPTS_END
	};
	char *argv[] = { "aigw", "keys", "create", "--user=alice", "extra", NULL };
	char **subv;
	int subc, c;
	const char *user = NULL;

	(void)state;
	assert_int_equal(opts_next(ARGC(argv), argv, OPTS_SHORT_STOP, top, 1), -1);
	assert_int_equal(optind, 1);
	/* "keys" then "create": each takes the rest from its own name on. */
	subc = ARGC(argv) - 2;
	subv = argv + 2;
	for (int first = 1; (c = opts_next(subc, subv, OPTS_SHORT_PERMUTE, sub, first)) != -1;
	     first = 0) {
		assert_int_equal(c, 'u');
		user = optarg;
	}
	assert_string_equal(user, "alice");
	assert_int_equal(subc - optind, 1);
	assert_string_equal(subv[optind], "extra");
}

static void
test_only_common(void **state)
{
	char *operands[] = { "migrate", "/srv/migrations", NULL };
	char *late_help[] = { "migrate", "/srv/migrations", "--help", NULL };
	char *unknown[] = { "status", "--all", NULL };
	struct capture co, ce;
	char *out, *err;

	(void)state;
	assert_int_equal(opts_only_common(ARGC(operands), operands, "aigw migrate", "U\n"), -1);
	assert_int_equal(optind, 1);
	capture_start(&co, 1);
	assert_int_equal(opts_only_common(ARGC(late_help), late_help, "aigw migrate", "U\n"), 0);
	out = capture_end(&co);
	assert_string_equal(out, "U\n");
	free(out);
	capture_start(&ce, 2);
	assert_int_equal(opts_only_common(ARGC(unknown), unknown, "aigw status", "U\n"), 2);
	err = capture_end(&ce);
	assert_string_equal(err, "aigw status: unknown option --all\nU\n");
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fcgi_defaults),
		cmocka_unit_test(test_fcgi_equals_and_separate_values),
		cmocka_unit_test(test_fcgi_help_and_version_on_stdout),
		cmocka_unit_test(test_fcgi_faults),
		cmocka_unit_test(test_stop_at_subcommand_then_permute),
		cmocka_unit_test(test_only_common),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
