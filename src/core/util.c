/* util.c: UUIDs, clocks and strict parsing (see util.h). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool
uuid_is_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (int i = 0; i < UUID_STR_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i])) {
			return false;
		}
	}
	return s[UUID_STR_LEN] == '\0';
}

enum aigw_err
uuid_new(char out[UUID_STR_LEN + 1])
{
	unsigned char r[16];
	size_t got = 0;

	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return AIGW_EIO;
		}
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, UUID_STR_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
	return AIGW_OK;
}

int64_t
time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
time_parse_utc(const char *s, int64_t *out)
{
	struct tm tm;
	int n = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (s == NULL || strlen(s) != 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 20)
		return false;
	for (size_t i = 0; i < 19; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : i == 10 ? s[i] != 'T'
		    : (i == 13 || i == 16) ? s[i] != ':' : (s[i] < '0' || s[i] > '9'))
			return false;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

enum fd_wait
fd_wait_readable(int fd, int hangup_fd, int64_t deadline_ms, short *revents)
{
	for (;;) {
		struct pollfd pfd[2];
		int64_t left = deadline_ms - time_mono_ms();

		*revents = 0;
		if (left <= 0)
			return FD_WAIT_TIMEOUT;
		pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = hangup_fd, .events = POLLRDHUP };
		if (poll(pfd, hangup_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return FD_WAIT_ERROR;
		}
		if (hangup_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)
			return FD_WAIT_HANGUP;
		if (pfd[0].revents != 0) {
			*revents = pfd[0].revents;
			return FD_WAIT_READY;
		}
	}
}

enum aigw_err
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return AIGW_EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return AIGW_EINVAL;
	*out = v;
	return AIGW_OK;
}

char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *
xstrndup(const char *s, size_t n)
{
	return s ? strndup(s, n) : NULL;
}

bool
str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

long
utf8_length(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long count = 0;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		unsigned cp;
		size_t n;

		if (c == 0)
			return -1;
		if (c < 0x80) {
			i++;
			count++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return -1;
		}
		if (len - i <= n)
			return -1;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1;
		i += n + 1;
		count++;
	}
	return count;
}

size_t
utf8_cut(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, max);
	if (n < max || s[n] == '\0')
		return n;
	/* s goes on past max: step back over continuation bytes to the lead
	 * byte of the character that does not fit whole. */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void
fd_wake(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	(void)n;
}
