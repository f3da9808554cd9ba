/* config.c: the command-line side of the configuration, "aigw config": what
 * every variable is in effect, secrets shown only as set or not; the table
 * itself is core/config.c. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"

static int
print_value(void *arg, const char *name, const char *value)
{
	FILE *out = arg;

	return fprintf(out, "%s=%s\n", name, value) < 0 ? 1 : 0;
}

int
cli_config(const struct aigw_config *cfg, int argc, char **argv)
{
	static const char usage[] =
		"usage: aigw config\n"
		"Every setting in effect, NAME=VALUE a line (secrets only as set or not\n"
		"set); the variables are described in aigw.env(5).\n";
	int rc = opts_only_common(argc, argv, "aigw config", usage);

	if (rc >= 0)
		return rc;
	if (optind != argc)
		return opts_usage_error(usage);
	if (config_each_value(cfg, print_value, stdout) != 0 || fflush(stdout) != 0) {
		perror("aigw config");
		return 1;
	}
	return 0;
}
