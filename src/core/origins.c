/* origins.c: lists of web origins (see origins.h). */
#include <stdio.h>
#include <string.h>

#include "core/origins.h"

/* The next entry of a comma-separated list, spaces around it trimmed:
 * *start and *len; returns where the one after begins, or NULL at the end. */
static const char *
next_entry(const char *p, const char **start, size_t *len)
{
	const char *end;

	if (p == NULL)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, ",");
	*start = p;
	*len = (size_t)(end - p);
	while (*len > 0 && (p[*len - 1] == ' ' || p[*len - 1] == '\t'))
		(*len)--;
	return *end == ',' ? end + 1 : NULL;
}

static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* scheme://host[:port] as a browser writes it in Origin. */
static bool
origin_valid(const char *s, size_t len)
{
	size_t i, host;

	if (len > 7 && strncmp(s, "http://", 7) == 0)
		i = 7;
	else if (len > 8 && strncmp(s, "https://", 8) == 0)
		i = 8;
	else
		return false;
	host = i;
	if (s[i] == '[') {       /* an IPv6 literal */
		for (i++; i < len && s[i] != ']'; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
			      s[i] == ':' || s[i] == '.'))
				return false;
		if (i >= len || i == host + 1)
			return false;
		i++;
	} else {
		while (i < len && host_char(s[i]))
			i++;
		if (i == host || s[host] == '.' || s[host] == '-' || s[i - 1] == '.')
			return false;
	}
	if (i < len && s[i] == ':') {
		size_t digits = 0;
		long port = 0;

		for (i++; i < len && s[i] >= '0' && s[i] <= '9' && digits < 6; i++, digits++)
			port = port * 10 + (s[i] - '0');
		if (digits == 0 || port < 1 || port > 65535)
			return false;
	}
	return i == len;
}

bool
origins_check(const char *list, char *err, size_t errlen)
{
	const char *p = list, *start;
	size_t len;

	if (list == NULL || *list == '\0')
		return true;
	do {
		p = next_entry(p, &start, &len);
		if (len == 0) {
			snprintf(err, errlen, "AIGW_CORS_ORIGINS: an empty entry (two commas,"
					      " or one at an end)");
			return false;
		}
		if (!origin_valid(start, len)) {
			snprintf(err, errlen, "AIGW_CORS_ORIGINS: \"%.*s\" is not an origin: give"
					      " http:// or https://, a lower-case host and an optional"
					      " port, no path or trailing slash (exact origins, no *)",
				 (int)(len > 200 ? 200 : len), start);
			return false;
		}
	} while (p != NULL);
	return true;
}

bool
origins_listed(const char *list, const char *origin)
{
	const char *p = list, *start;
	size_t len, olen;

	if (list == NULL || origin == NULL || *origin == '\0')
		return false;
	olen = strlen(origin);
	do {
		p = next_entry(p, &start, &len);
		if (len > 0 && len == olen && memcmp(start, origin, len) == 0)
			return true;
	} while (p != NULL);
	return false;
}
