/* listener.c: opens or inherits aigw-fcgi's listening socket (see listener.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/util.h"
#include "http/listener.h"

#define LISTEN_BACKLOG 1024

enum aigw_err
listener_parse_mode(const char *s, mode_t *out)
{
	unsigned long v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 4)
		return AIGW_EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return AIGW_EINVAL;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 0777)
		return AIGW_EINVAL;
	*out = (mode_t)v;
	return AIGW_OK;
}

enum aigw_err
listener_find_group(const char *name, gid_t *out)
{
	struct group gr, *found = NULL;
	char buf[4096];
	long num;

	if (name == NULL || *name == '\0')
		return AIGW_EINVAL;
	if (getgrnam_r(name, &gr, buf, sizeof buf, &found) == 0 && found != NULL) {
		*out = found->gr_gid;
		return AIGW_OK;
	}
	if (parse_long(name, 0, 2147483647L, &num) == AIGW_OK &&
	    getgrgid_r((gid_t)num, &gr, buf, sizeof buf, &found) == 0 && found != NULL) {
		*out = found->gr_gid;
		return AIGW_OK;
	}
	return AIGW_EINVAL;
}

static int
open_unix(const char *path, mode_t mode, gid_t gid, char *errbuf, size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, rc;

	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(errbuf, errlen, "socket path too long: %s", path);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	/* The file is born with the mode asked (or narrower): no moment when
	 * another account could connect. */
	old_mask = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_mask);
	if (rc != 0) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) {
		snprintf(errbuf, errlen, "cannot give %s to group %ld: %s", path, (long)gid,
			 strerror(errno));
		goto fail_unlink;
	}
	if (chmod(path, mode) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail_unlink;
	}
	return fd;
fail_unlink:
	unlink(path);
fail:
	close(fd);
	return -1;
}

static int
open_inet(const char *addr, char *errbuf, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	const char *colon = strrchr(addr, ':');
	char host[256];
	int fd = -1, one = 1;

	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof host) {
		snprintf(errbuf, errlen, "--listen expects HOST:PORT or an absolute socket path");
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || ai == NULL) {
		snprintf(errbuf, errlen, "cannot resolve %s", addr);
		return -1;
	}
	/* SO_REUSEADDR: the address is usable at once after a restart. */
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int
listener_open(const char *addr, mode_t mode, gid_t gid, char *errbuf, size_t errlen)
{
	if (addr[0] == '/')
		return open_unix(addr, mode, gid, errbuf, errlen);
	return open_inet(addr, errbuf, errlen);
}

int
listener_take_inherited(char *errbuf, size_t errlen)
{
	const char *pid_text = getenv("LISTEN_PID"), *fds_text = getenv("LISTEN_FDS");
	long pid, nfds;
	int listening = 0, type = 0, fd = -1;
	socklen_t len;

	if (pid_text == NULL || fds_text == NULL ||
	    parse_long(pid_text, 1, 2147483647L, &pid) != AIGW_OK || pid != (long)getpid())
		goto out;
	if (parse_long(fds_text, 0, 2147483647L, &nfds) != AIGW_OK || nfds != 1) {
		snprintf(errbuf, errlen, "LISTEN_FDS=%.20s: aigw-fcgi takes exactly one socket",
			 fds_text);
		fd = -2;
		goto out;
	}
	len = sizeof listening;
	if (getsockopt(LISTENER_SD_FD, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
	    !listening) {
		snprintf(errbuf, errlen, "LISTEN_FDS: descriptor %d is not a listening socket",
			 LISTENER_SD_FD);
		fd = -2;
		goto out;
	}
	len = sizeof type;
	if (getsockopt(LISTENER_SD_FD, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_STREAM) {
		snprintf(errbuf, errlen, "LISTEN_FDS: descriptor %d is not a stream socket",
			 LISTENER_SD_FD);
		fd = -2;
		goto out;
	}
	if (fcntl(LISTENER_SD_FD, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(errbuf, errlen, "LISTEN_FDS: descriptor %d: %s", LISTENER_SD_FD,
			 strerror(errno));
		fd = -2;
		goto out;
	}
	fd = LISTENER_SD_FD;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}
