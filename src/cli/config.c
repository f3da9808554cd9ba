/* config.c: the command-line side of the configuration, "aigw config": what
 * every variable is in effect, secrets shown only as set or not; the table
 * itself is core/config.c. */
#include <stdio.h>

#include "cli/cli.h"

static int
print_value(void *arg, const char *name, const char *value)
{
	FILE *out = arg;

	return fprintf(out, "%s=%s\n", name, value) < 0 ? 1 : 0;
}

int
cli_config(const struct aigw_config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: aigw config\n");
		return 2;
	}
	if (config_each_value(cfg, print_value, stdout) != 0 || fflush(stdout) != 0) {
		perror("aigw config");
		return 1;
	}
	return 0;
}
