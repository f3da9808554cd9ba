/*
 * config_named.h: the named providers of the configuration
 * (AIGW_PROVIDER_<NAME>_*, see struct config_named in core/config.h), for
 * config.c only.
 *
 * config_named_load reads every AIGW_PROVIDER_* variable of env (a
 * NULL-terminated array of NAME=value, the process environment) that is
 * not one of the table's own (AIGW_PROVIDER_TIMEOUT_S, ...). It fails with
 * one line naming the variable in errbuf, never its value: a NAME that is
 * not upper-case letters, digits and single _ inside, or a built-in
 * provider's name (AIGW_ECONFIG); a variable that is not one of the six; a model list that is not names separated by commas;
 * a base URL missing, not http:// or https://, or holding a blank or a
 * control character; a format other than openai; a limit out of range;
 * more than CONFIG_NAMED_MAX names; memory (AIGW_ENOMEM). On error what
 * was loaded is freed.
 */
#ifndef AIGW_CORE_CONFIG_NAMED_H
#define AIGW_CORE_CONFIG_NAMED_H

#include <stddef.h>

#include "core/config.h"

/* table: the table's variable names, NULL-terminated (config_names()). */
enum aigw_err config_named_load(struct aigw_config *cfg, char *const *env,
				const char *const *table, char *errbuf,
				size_t errlen) AIGW_MUSTCHECK;
void config_named_free(struct aigw_config *cfg);
/* The named provider called name ("my-vllm"); NULL when none. */
const struct config_named *config_named_find(const struct aigw_config *cfg, const char *name);
/* config_each_value's part for the named providers: the base URL and key
 * as secrets, the format, the limits. */
int config_named_each_value(const struct aigw_config *cfg, config_value_fn fn, void *arg);

#endif
