/*
 * log.h: one JSON object per line, on stderr (journald keeps it) or
 * AIGW_LOG_FILE.
 *
 * A line: {"time", "level", "program", "pid", "component", "id", "msg"}
 * and, from log_event, more keys (provider, status, duration_ms, ...).
 * "id" is the request id in aigw-fcgi's request handling and the chat or
 * job id in the worker. Text is escaped as JSON and bytes that are not
 * UTF-8 are replaced, so a hostile string can neither forge a line nor
 * break the object; a line is at most 4 KiB, the message cut to fit.
 * Secrets are never to be formatted; prompts only where the caller checks
 * AIGW_LOG_PROMPTS. Thread-safe (one write(2) per line). Logging cannot
 * fail: a write error is ignored.
 */
#ifndef AIGW_CORE_LOG_H
#define AIGW_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG__MAX };

/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
/* The name log_level_parse reads ("?" out of range). */
const char *log_level_name(int level);
void log_set_level(enum log_level level);
/* Sends every later line to fd (not closed by the logger). */
void log_set_fd(int fd);
/* The program's name for every later line (a string that lives on). */
void log_set_program(const char *name);
int log_enabled(enum log_level level);

/* A key of a log_event line: a string (str not NULL) or a number. */
struct log_attr {
	const char *key;
	const char *str;
	long long num;
};
#define LOG_STR(k, v) { (k), (v) ? (v) : "", 0 }
#define LOG_NUM(k, v) { (k), NULL, (long long)(v) }

void log_msg(enum log_level level, const char *component, const char *id,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void log_event(enum log_level level, const char *component, const char *id,
	       const struct log_attr *attrs, size_t nattrs, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Writes one line to buf (at most len bytes, newline included) and returns
 * its length; for tests. */
size_t log_format(char *buf, size_t len, enum log_level level, const char *component,
		  const char *id, const struct log_attr *attrs, size_t nattrs, const char *msg);

#define log_error(c, id, ...) log_msg(LOG_ERROR, c, id, __VA_ARGS__)
#define log_warn(c, id, ...)  log_msg(LOG_WARN, c, id, __VA_ARGS__)
#define log_info(c, id, ...)  log_msg(LOG_INFO, c, id, __VA_ARGS__)
#define log_debug(c, id, ...) \
	do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, c, id, __VA_ARGS__); } while (0)

#endif
