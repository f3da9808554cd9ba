/* log.c: the JSON line logger (see log.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define LINE_MAX_BYTES 4096
#define MSG_MAX_BYTES 2048

static const char *const level_names[LOG__MAX] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* syslog's LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, as sd-daemon(3)
 * prefixes them. */
static const char *const level_priorities[LOG__MAX] = {
	[LOG_ERROR] = "<3>", [LOG_WARN] = "<4>",
	[LOG_INFO] = "<6>", [LOG_DEBUG] = "<7>",
};

static volatile int current_level = LOG_INFO;
static volatile int log_fd = 2;
static const char *volatile program = "aigw";
static volatile bool journal_prefix;

/* The file of log_open_file, for log_reopen; reopens are serialised. */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static char file_path[4096];

int
log_level_parse(const char *s)
{
	for (int i = 0; i < LOG__MAX; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(int level)
{
	return level >= 0 && level < LOG__MAX ? level_names[level] : "?";
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

void
log_set_program(const char *name)
{
	program = name;
}

int
log_enabled(enum log_level level)
{
	return (int)level <= current_level;
}

bool
log_fd_is_journal(int fd, const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (journal_stream == NULL ||
	    sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &end) != 2 || fstat(fd, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_set_journal(bool on)
{
	journal_prefix = on;
}

const char *
log_level_priority(int level)
{
	return level >= 0 && level < LOG__MAX ? level_priorities[level] : "";
}

/* Opens file_path onto descriptor 2; the caller holds file_lock. dup2
 * swaps the file under descriptor 2 in one step: a write in another
 * thread goes wholly to the old file or wholly to the new one. */
static enum aigw_err
open_onto_stderr(char *errbuf, size_t errlen)
{
	int fd = open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0 || (fd != 2 && dup2(fd, 2) < 0)) {
		snprintf(errbuf, errlen, "AIGW_LOG_FILE %s: %s", file_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return AIGW_EIO;
	}
	if (fd != 2)
		close(fd);
	return AIGW_OK;
}

enum aigw_err
log_open_file(const char *path, char *errbuf, size_t errlen)
{
	enum aigw_err err;

	if (path == NULL || *path == '\0' || strlen(path) >= sizeof file_path) {
		snprintf(errbuf, errlen, "AIGW_LOG_FILE: expected a file's path (at most %zu bytes)",
			 sizeof file_path - 1);
		return AIGW_EINVAL;
	}
	pthread_mutex_lock(&file_lock);
	snprintf(file_path, sizeof file_path, "%s", path);
	err = open_onto_stderr(errbuf, errlen);
	if (err == AIGW_OK) {
		log_fd = 2;
		journal_prefix = false;
	} else {
		file_path[0] = '\0';
	}
	pthread_mutex_unlock(&file_lock);
	return err;
}

enum aigw_err
log_reopen(char *errbuf, size_t errlen)
{
	enum aigw_err err = AIGW_OK;

	pthread_mutex_lock(&file_lock);
	if (file_path[0] != '\0')
		err = open_onto_stderr(errbuf, errlen);
	pthread_mutex_unlock(&file_lock);
	return err;
}

static void *
reopen_thread(void *arg)
{
	sigset_t *hup = arg;
	char errbuf[512];
	int sig;

	for (;;) {
		bool has_file;

		if (sigwait(hup, &sig) != 0)
			continue;
		pthread_mutex_lock(&file_lock);
		has_file = file_path[0] != '\0';
		pthread_mutex_unlock(&file_lock);
		if (log_reopen(errbuf, sizeof errbuf) != AIGW_OK)
			log_error("log", NULL, "SIGHUP: cannot reopen the log: %s", errbuf);
		else
			log_info("log", NULL, "SIGHUP: %s", has_file ? "log file reopened"
					 : "logging to stderr, nothing to reopen");
	}
	return NULL;
}

enum aigw_err
log_reopen_on_sighup(void)
{
	static sigset_t hup;
	sigset_t all, caller;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	/* The thread blocks every signal, so that none meant for the others
	 * (SIGTERM, SIGUSR1) is delivered to it; the caller keeps its mask
	 * with SIGHUP added. */
	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &caller) != 0)
		return AIGW_EIO;
	rc = pthread_attr_init(&attr);
	if (rc == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&tid, &attr, reopen_thread, &hup);
		pthread_attr_destroy(&attr);
	}
	sigaddset(&caller, SIGHUP);
	pthread_sigmask(SIG_SETMASK, &caller, NULL);
	return rc == 0 ? AIGW_OK : AIGW_EIO;
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or
 * 0 when there is none: overlong forms, surrogates and code points past
 * U+10FFFF are not UTF-8. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned long cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

struct line {
	char *buf;
	size_t len, cap;   /* cap keeps room for the closing "}\n" */
	bool full;
};

static void
put(struct line *l, const char *s, size_t n)
{
	if (l->full || n > l->cap - l->len) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void
puts_raw(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* s as a JSON string, cut whole-character before it passes max bytes. */
static void
put_string(struct line *l, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), used = 0;

	put(l, "\"", 1);
	for (size_t i = 0; i < n && !l->full;) {
		char esc[8];
		size_t seq = utf8_seq(p + i, n - i);
		const char *out;
		size_t outlen;

		if (seq == 0) {
			out = "\\ufffd", outlen = 6, seq = 1;
		} else if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\', esc[1] = (char)p[i];
			out = esc, outlen = 2;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", p[i]);
			out = esc, outlen = 6;
		} else {
			out = s + i, outlen = seq;
		}
		if (used + outlen > max)
			break;
		put(l, out, outlen);
		used += outlen;
		i += seq;
	}
	put(l, "\"", 1);
}

static void
put_key(struct line *l, const char *key)
{
	put(l, ",", 1);
	put_string(l, key, 64);
	put(l, ":", 1);
}

size_t
log_format(char *buf, size_t len, enum log_level level, const char *component, const char *id,
	   const struct log_attr *attrs, size_t nattrs, const char *msg)
{
	struct line l = { buf, 0, len > 2 ? len - 2 : 0, false };
	char stamp[48], num[32];
	struct timespec ts;
	struct tm tm;

	if (len < 2)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + strlen(stamp), sizeof stamp - strlen(stamp), ".%03ldZ",
		 ts.tv_nsec / 1000000L);
	puts_raw(&l, "{\"time\":");
	put_string(&l, stamp, sizeof stamp);
	put_key(&l, "level");
	put_string(&l, level_names[level], 16);
	put_key(&l, "program");
	put_string(&l, program, 64);
	snprintf(num, sizeof num, "%ld", (long)getpid());
	put_key(&l, "pid");
	puts_raw(&l, num);
	put_key(&l, "component");
	put_string(&l, component, 64);
	if (id != NULL) {
		put_key(&l, "id");
		put_string(&l, id, 200);
	}
	for (size_t i = 0; i < nattrs; i++) {
		put_key(&l, attrs[i].key);
		if (attrs[i].str != NULL) {
			put_string(&l, attrs[i].str, 512);
		} else {
			snprintf(num, sizeof num, "%lld", attrs[i].num);
			puts_raw(&l, num);
		}
	}
	/* The message last: what is cut when the line is long. */
	if (!l.full) {
		size_t room = l.cap - l.len;

		put_key(&l, "msg");
		put_string(&l, msg, room > 16 ? room - 16 : 0);
	}
	if (l.full)
		return 0;
	buf[l.len++] = '}';
	buf[l.len++] = '\n';
	return l.len;
}

static void
emit(enum log_level level, const char *component, const char *id,
     const struct log_attr *attrs, size_t nattrs, const char *fmt, va_list ap)
{
	char msg[MSG_MAX_BYTES], line[LINE_MAX_BYTES];
	size_t n, skip = 3;
	ssize_t w;

	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		return;
	/* Room for "<N>" before the object, so the line stays one write. */
	n = log_format(line + 3, sizeof line - 3, level, component, id, attrs, nattrs, msg);
	if (n == 0)
		n = log_format(line + 3, sizeof line - 3, level, component, id, NULL, 0,
			       "(a log line too long to write)");
	if (n > 0 && journal_prefix && level >= 0 && level < LOG__MAX) {
		memcpy(line, level_priorities[level], 3);
		skip = 0, n += 3;
	}
	if (n > 0) {
		w = write(log_fd, line + skip, n);
		(void)w;
	}
}

void
log_msg(enum log_level level, const char *component, const char *id, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	emit(level, component, id, NULL, 0, fmt, ap);
	va_end(ap);
}

void
log_event(enum log_level level, const char *component, const char *id,
	  const struct log_attr *attrs, size_t nattrs, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	emit(level, component, id, attrs, nattrs, fmt, ap);
	va_end(ap);
}
