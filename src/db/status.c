/*
 * status.c: the status names the status columns store (see status.h);
 * not "aigw overview", which is cli/overview.c.
 */
#include "db/status.h"

#include <stddef.h>
#include <string.h>

static const char *const names[DB_STATUS_COUNT] = {
	[DB_STATUS_PENDING] = "pending",
	[DB_STATUS_PROCESSING] = "processing",
	[DB_STATUS_RUNNING] = "running",
	[DB_STATUS_SUBMITTING] = "submitting",
	[DB_STATUS_COMPLETED] = "completed",
	[DB_STATUS_PARTIAL] = "partial",
	[DB_STATUS_FAILED] = "failed",
	[DB_STATUS_CANCELLED] = "cancelled",
	[DB_STATUS_DONE] = "done",
};

const char *
db_status_name(enum db_status s)
{
	if ((unsigned)s >= DB_STATUS_COUNT)
		return "";
	return names[s];
}

bool
db_status_parse(const char *name, enum db_status *out)
{
	if (name == NULL)
		return false;
	for (size_t i = 0; i < DB_STATUS_COUNT; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum db_status)i;
			return true;
		}
	}
	return false;
}

bool
db_status_final(enum db_status s)
{
	switch (s) {
	case DB_STATUS_COMPLETED:
	case DB_STATUS_PARTIAL:
	case DB_STATUS_FAILED:
	case DB_STATUS_CANCELLED:
	case DB_STATUS_DONE:
		return true;
	default:
		return false;
	}
}

bool
db_status_is(const char *name, enum db_status s)
{
	return name != NULL && (unsigned)s < DB_STATUS_COUNT && strcmp(name, names[s]) == 0;
}

bool
db_status_name_final(const char *name)
{
	enum db_status s;

	return db_status_parse(name, &s) && db_status_final(s);
}

bool
db_status_of_job(enum db_status s)
{
	switch (s) {
	case DB_STATUS_PENDING:
	case DB_STATUS_RUNNING:
	case DB_STATUS_COMPLETED:
	case DB_STATUS_FAILED:
	case DB_STATUS_CANCELLED:
		return true;
	default:
		return false;
	}
}
