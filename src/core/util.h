/*
 * util.h: small pure helpers shared by every layer: UUIDs, clocks, strict
 * number parsing, string duplication.
 *
 * Nothing here allocates except xstrdup/xstrndup (NULL on ENOMEM) or does
 * I/O except uuid_new (getrandom: AIGW_EIO without randomness), the clocks
 * and fd_wait_readable (FD_WAIT_ERROR when poll fails). parse_long refuses
 * malformed or out-of-range text (AIGW_EINVAL); the rest cannot fail.
 * Thread-safe.
 */
#ifndef AIGW_CORE_UTIL_H
#define AIGW_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define UUID_STR_LEN 36

/* True for the canonical 8-4-4-4-12 hexadecimal form (either case). */
bool uuid_is_valid(const char *s);
/* Writes a random (version 4) UUID and its NUL into out[37]. AIGW_EIO when
 * the kernel gives no randomness. */
enum aigw_err uuid_new(char out[UUID_STR_LEN + 1]) AIGW_MUSTCHECK;

/* Milliseconds on the monotonic clock: for timeouts and durations. */
int64_t time_mono_ms(void);

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ" (UTC, as the database's
 * timestamps are shown); false, *out untouched, for anything else. */
bool time_parse_utc(const char *s, int64_t *out);

enum fd_wait { FD_WAIT_READY, FD_WAIT_TIMEOUT, FD_WAIT_HANGUP, FD_WAIT_ERROR };

/* Waits until fd has something to read (*revents: its poll events), the
 * client behind hangup_fd (-1: none) hangs up, or time_mono_ms() reaches
 * deadline_ms; retries on EINTR. Only hang-up is asked of hangup_fd: a
 * request's unread bytes must not wake the wait again and again.
 * FD_WAIT_ERROR: poll() failed, errno says why. */
enum fd_wait fd_wait_readable(int fd, int hangup_fd, int64_t deadline_ms, short *revents);
/* Writes a wake-up (a byte to a pipe, a count to an eventfd) to fd. Its
 * result is not needed: a full pipe or counter wakes its reader already. */
void fd_wake(int fd, const void *buf, size_t len);

/* Parses all of s as a base-10 integer in [min, max]. AIGW_EINVAL when s is
 * empty, has trailing junk or is out of range; *out is untouched then. */
enum aigw_err parse_long(const char *s, long min, long max, long *out) AIGW_MUSTCHECK;

char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Case-insensitive: does s begin with prefix? */
bool str_has_prefix_ci(const char *s, const char *prefix);

/* Number of code points in s[0..len), or -1 when s is not valid UTF-8
 * (overlong forms, surrogates and NUL bytes are invalid too). */
long utf8_length(const char *s, size_t len);

/* The length in bytes, at most max, of the longest prefix of s that ends on
 * a character boundary: what "%.*s" may print of a name cut for a message,
 * so the message stays UTF-8 when s is. Reads s up to its NUL or s[max],
 * whichever comes first, so s may be a piece of a longer string.
 * Cannot fail; s NULL gives 0. */
size_t utf8_cut(const char *s, size_t max);

/* Bytes of a user-supplied name that a message repeats. */
#define NAME_SHOWN_MAX 64
#endif
