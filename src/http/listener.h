/*
 * listener.h: the FastCGI listening socket of aigw-fcgi: one it opens
 * (--listen HOST:PORT or a unix socket path, whose mode and group it sets)
 * or one it inherits from systemd (the sd_listen_fds protocol: LISTEN_FDS,
 * LISTEN_PID, descriptor 3).
 *
 * Errors are written into the caller's errbuf, one sentence naming the
 * option or variable; nothing is left open on error. Call these before
 * threads start: they read and change the environment and the umask.
 */
#ifndef AIGW_HTTP_LISTENER_H
#define AIGW_HTTP_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

/* A unix socket is 0660 unless told: readable and writable by its owner
 * and group only, since whoever may connect may claim any identity. */
#define LISTENER_MODE_DEFAULT 0660

/* The descriptor the sd_listen_fds protocol passes first. */
#define LISTENER_SD_FD 3

/* Parses an octal permission mode ("0660", "660"): digits 0-7 only, at
 * most 0777. AIGW_EINVAL otherwise; *out untouched then. */
enum aigw_err listener_parse_mode(const char *s, mode_t *out) AIGW_MUSTCHECK;

/* A group by name or number. AIGW_EINVAL when there is no such group. */
enum aigw_err listener_find_group(const char *name, gid_t *out) AIGW_MUSTCHECK;

/* Opens a listening socket on HOST:PORT or an absolute unix socket path.
 * A unix socket is created with mode (no moment with a wider one) and
 * given group (gid (gid_t)-1: the process's own); a stale socket file is
 * replaced. Returns the descriptor (close-on-exec), or -1 with errbuf
 * set. */
int listener_open(const char *addr, mode_t mode, gid_t gid, char *errbuf, size_t errlen);

/* Takes the socket systemd passes when LISTEN_PID is this process:
 * returns LISTENER_SD_FD (made close-on-exec), or -1 when none was passed
 * (no LISTEN_FDS, or LISTEN_PID names another process), or -2 with
 * errbuf set when LISTEN_FDS is not exactly 1 or descriptor 3 is not a
 * listening stream socket. LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES are
 * removed from the environment in every case, so nothing started later
 * takes them for its own. */
int listener_take_inherited(char *errbuf, size_t errlen);

#endif
