/*
 * cors.h: Cross-Origin Resource Sharing for the origins of AIGW_CORS_ORIGINS.
 *
 * The list is comma-separated exact origins ("https://app.example.com,
 * http://localhost:5173"); "" turns CORS off and every answer stays as it
 * was. A request whose Origin is listed gets Access-Control-Allow-Origin
 * (that origin), Access-Control-Expose-Headers and, for OPTIONS on a route,
 * a preflight answer (204). An unlisted or absent Origin gets no
 * Access-Control-* header. No Allow-Credentials: aigw's tokens travel in
 * Authorization, never in cookies. Owns the rules only; what can fail is
 * the list's syntax, reported by cors_origins_check.
 */
#ifndef AIGW_HTTP_CORS_H
#define AIGW_HTTP_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* The request headers a cross-origin page may send, and the answer
 * headers it may read (besides the safelisted ones). */
#define CORS_ALLOW_HEADERS \
	"Authorization, Content-Type, Accept, Idempotency-Key, Last-Event-ID, X-Request-Id"
#define CORS_EXPOSE_HEADERS "Location, Retry-After, X-Request-Id"
/* Seconds a browser may keep a preflight's answer (Chromium caps at 7200). */
#define CORS_MAX_AGE "600"

/* Whether list is a valid AIGW_CORS_ORIGINS: "" or origins separated by
 * commas (spaces around them allowed), each scheme://host[:port] with
 * scheme http or https, in lower case as browsers send it, no path, no
 * trailing slash, no "*" or "null". Else false with err naming the entry. */
bool cors_origins_check(const char *list, char *err, size_t errlen);

/* Whether origin is exactly one of list's entries. False for NULL or "". */
bool cors_origin_listed(const char *list, const char *origin);

/* For any answer while CORS is on (list not ""): Vary: Origin, and for a
 * listed Origin (the request's HTTP_ORIGIN) Access-Control-Allow-Origin
 * and Access-Control-Expose-Headers. Returns whether the origin is listed.
 * Cannot fail (headers degrade as http_resp_header does). */
bool cors_answer_headers(struct http_req *req, const char *list);

/* Answers an OPTIONS request on a route whose methods are `methods`
 * ("GET, POST"): 204 with Allow, and for a listed origin (after
 * cors_answer_headers) Access-Control-Allow-Methods, -Allow-Headers and
 * -Max-Age. */
void cors_preflight(struct http_req *req, bool listed, const char *methods);

#endif
