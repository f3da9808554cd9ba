/*
 * cors.h: Cross-Origin Resource Sharing for the origins of AIGW_CORS_ORIGINS.
 *
 * The list is comma-separated exact origins ("https://app.example.com,
 * http://localhost:5173"); "" turns CORS off and every answer stays as it
 * was. A request whose Origin is listed gets Access-Control-Allow-Origin
 * (that origin), Access-Control-Expose-Headers and, for OPTIONS on a route,
 * a preflight answer (204). An unlisted or absent Origin gets no
 * Access-Control-* header. No Allow-Credentials: aigw's tokens travel in
 * Authorization, never in cookies. Owns the rules only; the list's syntax
 * (checked when the configuration loads) is core/origins.h's.
 */
#ifndef AIGW_HTTP_CORS_H
#define AIGW_HTTP_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* The request headers a cross-origin page may send, and the answer
 * headers it may read (besides the safelisted ones). */
#define CORS_ALLOW_HEADERS \
	"Authorization, Content-Type, Accept, Idempotency-Key, Last-Event-ID, X-Request-Id," \
	" OpenAI-Organization, OpenAI-Project"
/* The headers OpenAI's generated clients add to every request
 * (X-Stainless-Lang, -OS, -Retry-Count, ...): allowed by this prefix, so
 * that their preflight to /v1/ succeeds. */
#define CORS_ALLOW_PREFIX "x-stainless-"
#define CORS_EXPOSE_HEADERS "Location, Retry-After, X-Request-Id"
/* Seconds a browser may keep a preflight's answer (Chromium caps at 7200). */
#define CORS_MAX_AGE "600"

/* For any answer while CORS is on (list not ""): Vary: Origin, and for a
 * listed Origin (the request's HTTP_ORIGIN) Access-Control-Allow-Origin
 * and Access-Control-Expose-Headers. Returns whether the origin is listed.
 * Cannot fail (headers degrade as http_resp_header does). */
bool cors_answer_headers(struct http_req *req, const char *list);

/* The Access-Control-Allow-Headers of a preflight that asked for
 * `requested` (Access-Control-Request-Headers; NULL: none): the fixed
 * list, then each requested name with CORS_ALLOW_PREFIX (a token, at most
 * 64 bytes, at most 32 of them), in lower case. Whatever does not fit out
 * (outlen bytes) is left out, and the browser refuses that request. */
void cors_allow_headers(const char *requested, char *out, size_t outlen);

/* Answers an OPTIONS request on a route whose methods are `methods`
 * ("GET, POST"): 204 with Allow, and for a listed origin (after
 * cors_answer_headers) Access-Control-Allow-Methods, -Allow-Headers
 * (cors_allow_headers) and -Max-Age. */
void cors_preflight(struct http_req *req, bool listed, const char *methods);

#endif
