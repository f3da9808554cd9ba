/* spawn.c: double fork, new session, clean descriptors, exec (see spawn.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "http/spawn.h"

extern char **environ;

#define SLOT_VAR "AIGW_WORKER_SLOT="

/* Whole names, without the '='. HTTP_PROXY is left out on purpose: under
 * CGI a request's "Proxy:" header arrives as HTTP_PROXY ("httpoxy"). */
static const char *const allowed_names[] = {
	"DATABASE_URL", "PATH", "TZ", "HOME", "LANG", "LC_ALL", "TMPDIR",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
	"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	"no_proxy", "NO_PROXY",
	"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS",
};
static const char *const allowed_prefixes[] = { "AIGW_", "PG", "LC_" };

/* Does entry ("NAME=value") name exactly name? */
static bool
entry_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

bool
spawn_env_allowed(const char *entry)
{
	if (entry == NULL || strchr(entry, '=') == NULL || entry_is(entry, "AIGW_WORKER_SLOT"))
		return false;
	for (size_t i = 0; i < sizeof allowed_names / sizeof allowed_names[0]; i++)
		if (entry_is(entry, allowed_names[i]))
			return true;
	for (size_t i = 0; i < sizeof allowed_prefixes / sizeof allowed_prefixes[0]; i++)
		if (strncmp(entry, allowed_prefixes[i], strlen(allowed_prefixes[i])) == 0)
			return true;
	return config_is_provider_var(entry, (size_t)(strchr(entry, '=') - entry));
}

char **
spawn_env_new_from(char *const *from)
{
	size_t n = 0, k = 0;
	char **env;

	while (from[n] != NULL)
		n++;
	/* the allowed variables, the slot, NULL */
	env = calloc(n + 2, sizeof *env);
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (spawn_env_allowed(from[i]))
			env[k++] = from[i];
	env[k] = NULL;
	return env;
}

char **
spawn_env_new(void)
{
	return spawn_env_new_from(environ);
}

void
spawn_env_free(char **env)
{
	free(env);
}

static void
close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
#endif
	for (long fd = lowfd, max = sysconf(_SC_OPEN_MAX); fd < (max > 0 ? max : 65536); fd++)
		close((int)fd);
}

/* Runs in the grandchild: only async-signal-safe calls until execve. */
static void
become_worker(const char *bin, char **env, const char *slotvar, const char *log_file)
{
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		_exit(127);
	dup2(fd, 0);
	dup2(fd, 1);
	if (log_file != NULL && *log_file != '\0') {
		int lf = open(log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		dup2(lf >= 0 ? lf : fd, 2);
	} else {
		dup2(fd, 2);
	}
	close_from(3);
	/* The slot variable is the last entry we reserved room for. */
	for (size_t i = 0;; i++) {
		if (env[i] == NULL) {
			env[i] = (char *)slotvar;
			env[i + 1] = NULL;
			break;
		}
	}
	execve(bin, (char *[]){ (char *)bin, NULL }, env);
	_exit(127);
}

enum aigw_err
spawn_worker(const char *bin, char **env, int slot, const char *log_file)
{
	char slotvar[sizeof SLOT_VAR + 16];
	pid_t child;
	int status;

	snprintf(slotvar, sizeof slotvar, SLOT_VAR "%d", slot);
	child = fork();
	if (child < 0) {
		log_error("spawn", NULL, "cannot fork a worker: %s", strerror(errno));
		return AIGW_EIO;
	}
	if (child == 0) {
		/* The intermediate child: a new session, then leave so the
		 * worker is nobody's child but init's. */
		if (setsid() < 0)
			_exit(1);
		switch (fork()) {
		case -1:
			_exit(1);
		case 0:
			become_worker(bin, env, slotvar, log_file);
			_exit(127);
		default:
			_exit(0);
		}
	}
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR) {
			log_error("spawn", NULL, "waiting for the spawner: %s", strerror(errno));
			return AIGW_EIO;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_error("spawn", NULL, "the worker could not be started");
		return AIGW_EIO;
	}
	log_debug("spawn", NULL, "worker started for slot %d", slot);
	return AIGW_OK;
}
