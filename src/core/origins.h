/*
 * origins.h: a list of web origins as AIGW_CORS_ORIGINS gives it
 * (http/cors.h answers with it): comma-separated exact origins
 * ("https://app.example.com, http://localhost:5173"), "" for none. Pure;
 * what can fail is the list's syntax, reported by origins_check.
 */
#ifndef AIGW_CORE_ORIGINS_H
#define AIGW_CORE_ORIGINS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether list is a valid AIGW_CORS_ORIGINS: "" or origins separated by
 * commas (spaces around them allowed), each scheme://host[:port] with
 * scheme http or https, in lower case as browsers send it, no path, no
 * trailing slash, no "*" or "null". Else false with err naming the entry. */
bool origins_check(const char *list, char *err, size_t errlen);

/* Whether origin is exactly one of list's entries. False for NULL or "". */
bool origins_listed(const char *list, const char *origin);

#endif
