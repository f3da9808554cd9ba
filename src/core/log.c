/* log.c: the line logger (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static const char *const level_names[LOG__MAX] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static volatile int current_level = LOG_INFO;
static volatile int log_fd = 2;

int
log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__MAX; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_set_level(enum log_level level)
{
	current_level = level;
}

void
log_set_fd(int fd)
{
	log_fd = fd;
}

int
log_enabled(enum log_level level)
{
	return (int)level <= current_level;
}

void
log_msg(enum log_level level, const char *component, const char *id,
	const char *fmt, ...)
{
	char line[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;
	ssize_t w;

	if (!log_enabled(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ %s %s[%ld]%s%s: ", stamp,
		     ts.tv_nsec / 1000000L, level_names[level], component,
		     (long)getpid(), id ? " " : "", id ? id : "");
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n = (size_t)n + (size_t)m >= sizeof line - 1 ? (int)sizeof line - 2 : n + m;
	/* Untrusted text must not start a new line or move the cursor. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	w = write(log_fd, line, (size_t)n);
	(void)w;
}
