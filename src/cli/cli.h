/*
 * cli.h: the subcommands of the aigw operator command line.
 *
 * Each takes the loaded configuration and its own arguments (argv[0] is the
 * subcommand's name) and returns the process exit code: 0 done, 1 failed,
 * 2 usage. They print results on stdout and problems on stderr.
 */
#ifndef AIGW_CLI_CLI_H
#define AIGW_CLI_CLI_H

#include "core/config.h"

int cli_migrate(const struct aigw_config *cfg, int argc, char **argv);
int cli_keys(const struct aigw_config *cfg, int argc, char **argv);
int cli_reap(const struct aigw_config *cfg, int argc, char **argv);

#endif
