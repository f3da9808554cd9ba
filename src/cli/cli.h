/*
 * cli.h: the subcommands of the aigw operator command line.
 *
 * Each takes the loaded configuration and its own arguments (argv[0] is the
 * subcommand's name) and returns the process exit code: 0 done, 1 failed,
 * 2 usage. They print results on stdout and problems on stderr.
 */
#ifndef AIGW_CLI_CLI_H
#define AIGW_CLI_CLI_H

#include <stdbool.h>

#include "core/config.h"

/* The longest user, org, project or key name, in bytes. */
#define CLI_LABEL_MAX 255

int cli_migrate(const struct aigw_config *cfg, int argc, char **argv);
int cli_keys(const struct aigw_config *cfg, int argc, char **argv);
int cli_reap(const struct aigw_config *cfg, int argc, char **argv);
int cli_prompts(const struct aigw_config *cfg, int argc, char **argv);
int cli_schedule(const struct aigw_config *cfg, int argc, char **argv);
int cli_analysis(const struct aigw_config *cfg, int argc, char **argv);
int cli_status(const struct aigw_config *cfg, int argc, char **argv);
int cli_config(const struct aigw_config *cfg, int argc, char **argv);

/* A user, org, project or key name: 1 (0 when may_be_empty) to
 * CLI_LABEL_MAX bytes of UTF-8 without control characters, since it shows
 * in lists and logs. */
bool cli_valid_label(const char *s, bool may_be_empty);

#endif
