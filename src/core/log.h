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
 *
 * Under journald (JOURNAL_STREAM names the stderr we write to) each line
 * starts with its syslog priority, "<3>" error to "<7>" debug, which
 * journald strips and keeps as the entry's priority (journalctl -p).
 * log_open_file puts the log on a file, log_reopen reopens it (after
 * logrotate moved it: SIGHUP); they fail with AIGW_EIO naming the file.
 */
#ifndef AIGW_CORE_LOG_H
#define AIGW_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

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

/* Whether fd is the stream journal_stream ("DEV:INODE", the JOURNAL_STREAM
 * variable; NULL when unset) names: then journald reads it. */
bool log_fd_is_journal(int fd, const char *journal_stream);
/* Prefixes every later line with its priority ("<3>", ...) or not. */
void log_set_journal(bool on);
/* The prefix of a level ("<3>" for error), "" when out of range. */
const char *log_level_priority(int level);

/* Opens path (append, created 0640) onto descriptor 2 and logs there;
 * remembers path for log_reopen. errbuf gets one line naming the file. */
enum aigw_err log_open_file(const char *path, char *errbuf, size_t errlen) AIGW_MUSTCHECK;
/* Opens the file log_open_file named again (a new file when it was moved
 * away) in place of the old one, atomically for writers in other threads.
 * AIGW_OK and nothing done when no file was opened. Not for a signal
 * handler: call it from a loop or thread that a handler's flag wakes. */
enum aigw_err log_reopen(char *errbuf, size_t errlen) AIGW_MUSTCHECK;
/* Blocks SIGHUP in the calling thread and in every thread it starts later
 * (call it before any), and starts a thread that waits for SIGHUP and then
 * calls log_reopen: no work in a signal handler. AIGW_EIO when the thread
 * cannot start. */
enum aigw_err log_reopen_on_sighup(void) AIGW_MUSTCHECK;

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
