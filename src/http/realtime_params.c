/* realtime_params.c: the query parameters and headers of long-polls and
 * event streams (see realtime.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "http/realtime.h"

enum aigw_err
rt_parse_wait(const char *s, long *seconds)
{
	long n = 0;
	size_t i;

	if (s == NULL || *s == '\0')
		return AIGW_EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return AIGW_EINVAL;
		/* Saturates: any longer wait is the longest one. */
		if (n <= RT_WAIT_MAX_S)
			n = n * 10 + (s[i] - '0');
	}
	*seconds = n > RT_WAIT_MAX_S ? RT_WAIT_MAX_S : n;
	return AIGW_OK;
}

enum aigw_err
rt_parse_version(const char *s, long *version)
{
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return AIGW_EINVAL;  /* parse_long would take a sign or spaces */
	return parse_long(s, 0, LONG_MAX, version);
}

/* A query parameter given at all: its value must parse. */
static bool
query_number(const struct http_req *req, const char *name, bool is_wait, bool *has, long *out,
	     struct http_field_error *e)
{
	char text[64];  /* any number in range fits; a longer one is no number */

	*has = http_query_has(req, name);
	if (!*has)
		return true;
	if (http_query_get(req, name, text, sizeof text) &&
	    (is_wait ? rt_parse_wait(text, out) : rt_parse_version(text, out)) == AIGW_OK)
		return true;
	if (is_wait)
		http_field_error_set(e, 400, "invalid_field", name,
				     "wait must be a whole number of seconds, 0 or more "
				     "(more than %d counts as %d)", RT_WAIT_MAX_S, RT_WAIT_MAX_S);
	else
		http_field_error_set(e, 400, "invalid_field", name,
				     "%s must be a version: a whole number, 0 or more", name);
	return false;
}

bool
rt_status_params(const struct http_req *req, struct rt_params *p, struct http_field_error *e)
{
	memset(p, 0, sizeof *p);
	return query_number(req, "wait", true, &p->has_wait, &p->wait_s, e) &&
	       query_number(req, "since", false, &p->has_since, &p->since, e);
}

bool
rt_events_params(const struct http_req *req, struct rt_params *p, struct http_field_error *e)
{
	const char *last = http_param(req, "HTTP_LAST_EVENT_ID");

	memset(p, 0, sizeof *p);
	/* The header wins: a browser reconnecting keeps the URL it was
	 * given (with its since) and adds the last id it saw. */
	if (last != NULL && *last != '\0') {
		p->has_since = true;
		if (rt_parse_version(last, &p->since) == AIGW_OK)
			return true;
		http_field_error_set(e, 400, "invalid_field", "Last-Event-ID",
				     "Last-Event-ID must be an event id this stream sent "
				     "(a whole number, 0 or more)");
		return false;
	}
	return query_number(req, "since", false, &p->has_since, &p->since, e);
}

