/*
 * log.h: one line per event, on stderr or AIGW_LOG_FILE.
 *
 * A line reads: time level component[pid] [id]: message, at most 2 KiB.
 * Callers bound untrusted text with a precision (%.200s); the logger
 * replaces control characters so a hostile string cannot forge a line.
 * Secrets are never to be formatted. Thread-safe (one write(2) per line).
 * Logging cannot fail: a write error is ignored.
 */
#ifndef AIGW_CORE_LOG_H
#define AIGW_CORE_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG__MAX };

/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
void log_set_level(enum log_level level);
/* Sends every later line to fd (not closed by the logger). */
void log_set_fd(int fd);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *component, const char *id,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_error(c, id, ...) log_msg(LOG_ERROR, c, id, __VA_ARGS__)
#define log_warn(c, id, ...)  log_msg(LOG_WARN, c, id, __VA_ARGS__)
#define log_info(c, id, ...)  log_msg(LOG_INFO, c, id, __VA_ARGS__)
#define log_debug(c, id, ...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, c, id, __VA_ARGS__); } while (0)

#endif
