/* cors.c: which origins may read aigw's answers, and the preflight answer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/origins.h"
#include "http/cors.h"

bool
cors_answer_headers(struct http_req *req, const char *list)
{
	const char *origin;

	if (list == NULL || *list == '\0')
		return false;
	/* Whether the answer carries CORS headers depends on Origin, so a
	 * cache must not hand one origin's answer to another. */
	http_resp_header(req, "Vary", "Origin");
	origin = http_param(req, "HTTP_ORIGIN");
	if (!origins_listed(list, origin))
		return false;
	http_resp_header(req, "Access-Control-Allow-Origin", origin);
	http_resp_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
	return true;
}

/* RFC 9110's tchar. */
static bool
token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

void
cors_allow_headers(const char *requested, char *out, size_t outlen)
{
	const size_t prefix = strlen(CORS_ALLOW_PREFIX);
	const char *p = requested;
	size_t used;
	int added = 0;

	snprintf(out, outlen, "%s", CORS_ALLOW_HEADERS);
	used = strlen(out);
	while (p != NULL && *p != '\0' && added < 32) {
		size_t len = strcspn(p, ",");
		const char *name = p;
		bool ok;

		p = p[len] == ',' ? p + len + 1 : NULL;
		while (len > 0 && (*name == ' ' || *name == '\t')) {
			name++;
			len--;
		}
		while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		ok = len > prefix && len <= 64 && strncasecmp(name, CORS_ALLOW_PREFIX, prefix) == 0;
		for (size_t i = 0; ok && i < len; i++)
			ok = token_char(name[i]);
		if (!ok || used + 2 + len >= outlen)
			continue;
		out[used++] = ',';
		out[used++] = ' ';
		for (size_t i = 0; i < len; i++)
			out[used++] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
		out[used] = '\0';
		added++;
	}
}

void
cors_preflight(struct http_req *req, bool listed, const char *methods)
{
	char allow[96];
	char headers[2048];

	snprintf(allow, sizeof allow, "%s, OPTIONS", methods);
	http_resp_header(req, "Allow", allow);
	if (listed) {
		http_resp_header(req, "Access-Control-Allow-Methods", methods);
		cors_allow_headers(http_param(req, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS"), headers,
				   sizeof headers);
		http_resp_header(req, "Access-Control-Allow-Headers", headers);
		http_resp_header(req, "Access-Control-Max-Age", CORS_MAX_AGE);
	}
	http_resp_text(req, 204, "text/plain", "", 0);
}
