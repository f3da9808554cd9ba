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

#include "core/log.h"
#include "http/spawn.h"

extern char **environ;

#define SLOT_VAR "AIGW_WORKER_SLOT="

char **
spawn_env_new(void)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	/* the inherited variables, the slot, NULL */
	env = calloc(n + 2, sizeof *env);
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SLOT_VAR, sizeof SLOT_VAR - 1) != 0)
			env[k++] = environ[i];
	env[k] = NULL;
	return env;
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
