/* common.c: what several subcommands check their arguments with. */
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"

bool
cli_valid_label(const char *s, bool may_be_empty)
{
	size_t n = strlen(s);

	if ((n == 0 && !may_be_empty) || n > CLI_LABEL_MAX || utf8_length(s, n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}
