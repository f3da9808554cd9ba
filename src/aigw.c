/* aigw.c: the operator command line: aigw COMMAND [ARGS]. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "core/config.h"
#include "core/log.h"

struct command {
	const char *name;
	int (*run)(const struct aigw_config *cfg, int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "migrate", cli_migrate, "apply missing database migrations [DIR]" },
	{ "keys", cli_keys, "create|list|revoke API keys (AIGW_AUTH=keys)" },
	{ "reap", cli_reap, "fail unclaimed and stuck work, delete expired, wake workers" },
	{ "prompts", cli_prompts, "add|list|deactivate prompts tracked every day" },
	{ "schedule", cli_schedule, "make today's analysis batch: a job per active prompt" },
	{ "analysis", cli_analysis, "show BATCH: each prompt's result on each platform" },
	{ "status", cli_status, "queue depth, running work, workers, oldest pending, last reap" },
	{ "config", cli_config, "every setting in effect (secrets only as set or not set)" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: aigw [--help|--version] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n\"aigw COMMAND --help\" tells a command's arguments; man aigw tells more.\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = { OPTS_COMMON_LONG, OPTS_END };
	struct aigw_config cfg;
	char errbuf[512];
	int c, rc = 2;

	/* aigw's own options stop at the command: the rest is the command's. */
	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_STOP, longopts, first)) != -1;
	     first = 0) {
		if (c == OPT_HELP) {
			usage(stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		}
		if (c == OPT_VERSION) {
			opts_print_version(stdout, "aigw");
			return fflush(stdout) == 0 ? 0 : 1;
		}
		opts_other(c, "aigw", "", argv);
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (config_load(&cfg, errbuf, sizeof errbuf) != AIGW_OK) {
		fprintf(stderr, "aigw: %s\n", errbuf);
		return 2;
	}
	log_set_level(cfg.log_level);
	log_set_program("aigw");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[0], commands[i].name) == 0) {
			rc = commands[i].run(&cfg, argc, argv);
			goto out;
		}
	}
	fprintf(stderr, "aigw: unknown command '%s'\n", argv[0]);
	usage(stderr);
out:
	config_free(&cfg);
	return rc;
}
