/* err.c: names for the library's error codes. */
#include "core/err.h"

static const char *const err_names[AIGW_E__MAX] = {
	[AIGW_OK] = "success",
	[AIGW_ENOMEM] = "out of memory",
	[AIGW_EINVAL] = "invalid input",
	[AIGW_ETOOBIG] = "input too large",
	[AIGW_ENOTFOUND] = "not found",
	[AIGW_EDB] = "database unavailable",
	[AIGW_EIO] = "input/output error",
	[AIGW_ECONFIG] = "invalid configuration",
	[AIGW_ECONFLICT] = "conflicting update",
};

const char *
aigw_strerror(enum aigw_err err)
{
	if ((int)err < 0 || err >= AIGW_E__MAX)
		return "unknown error";
	return err_names[err];
}
