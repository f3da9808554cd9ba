/*
 * fcgi_opts.h: aigw-fcgi's command line (opts.h conventions), read into
 * where and how it listens and its numbers of processes and threads. Fails (exit code 2,
 * said on stderr naming the option) on an unknown option, a bad value, a
 * group that does not exist, socket options without a socket path, or an
 * operand.
 */
#ifndef AIGW_CLI_FCGI_OPTS_H
#define AIGW_CLI_FCGI_OPTS_H

#include "http/pool.h"
#include "http/prefork.h"

#define FCGI_THREADS_DEFAULT 16
#define FCGI_THREADS_MAX 256
#define FCGI_PROCESSES_DEFAULT 1

struct fcgi_opts {
	struct pool_listen listen; /* .addr NULL: no --listen */
	long nthreads;             /* per process */
	long nprocs;               /* 1: no parent process (http/prefork.h) */
};

extern const char fcgi_usage_text[];

/* Returns -1 when aigw-fcgi is to run with *o, else its exit code
 * (0 after --help or --version). */
int fcgi_opts_parse(int argc, char **argv, struct fcgi_opts *o);

#endif
