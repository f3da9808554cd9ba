/*
 * aigw-fcgi.c: the FastCGI responder behind nginx (http/pool.h), and a
 * plain CGI program when a CGI server starts it (http/cgi.h).
 *
 * Reads the command line and the configuration, loads the job types, and
 * picks the front end: FastCGI on --listen, on the socket systemd passes
 * (LISTEN_FDS) or on descriptor 0 (spawn-fcgi), in one process or in
 * --processes N; CGI when GATEWAY_INTERFACE is set.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fcgi_opts.h"
#include "cli/opts.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "providers/provider.h"
#include "http/cgi.h"
#include "http/fcgi.h"
#include "http/listener.h"
#include "http/pool.h"
#include "http/prefork.h"
#include "http/server.h"
#include "http/spawn.h"
#include "http/status_cache.h"

/* Each process of a prefork counts its cache into a place of its own. */
_Static_assert(PREFORK_PROCESSES_MAX <= STATUS_CACHE_PROCESSES_MAX,
	       "the status cache's figures need a place per process");

/*
 * FastCGI: one process, or with --processes a parent (http/prefork.h)
 * whose children each serve as that one would. The fork comes after the
 * configuration and before any thread: every thread (the SIGHUP one, the
 * pool's) is started in the process that serves.
 */
static int
fcgi_serve(struct http_app *app, struct fcgi_opts *opts)
{
	/* Before the fork: the children count into the same pages. */
	app->status_cache_stats = status_cache_stats_new();
	if (app->status_cache_stats == NULL) {
		fprintf(stderr, "aigw-fcgi: cannot map the status cache's figures\n");
		return 1;
	}
	if (opts->nprocs > 1) {
		int rc;

		/* Opened once by the parent, accepted on by every child. */
		if (pool_listen_open(&opts->listen) != 0)
			return 1;
		opts->listen.shared = true;
		rc = prefork_run(opts->nprocs, &app->process_index);
		if (rc != PREFORK_CHILD)
			return rc;
	}
	/* SIGHUP (logrotate's postrotate) must not stop a FastCGI server;
	 * before pool_serve starts its threads, so that they block it too. */
	if (log_reopen_on_sighup() != AIGW_OK) {
		fprintf(stderr, "aigw-fcgi: cannot start the SIGHUP thread\n");
		return 1;
	}
	return pool_serve(app, &opts->listen, opts->nthreads);
}

int
main(int argc, char **argv)
{
	struct aigw_config cfg;
	struct http_app app;
	struct jobtype_registry *jobtypes = NULL;
	struct fcgi_opts opts;
	char errbuf[512];
	int rc, inherited;

	rc = fcgi_opts_parse(argc, argv, &opts);
	if (rc >= 0)
		return rc;
	/* Before anything reads or copies the environment. */
	inherited = listener_take_inherited(errbuf, sizeof errbuf);
	if (inherited == -2) {
		fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
		return 2;
	}
	if (config_load(&cfg, errbuf, sizeof errbuf) != AIGW_OK) {
		/* A CGI server shows stderr in its log; the client gets a 500. */
		fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
		return 2;
	}
	{
		bool from_file;

		if (prov_prices_load_configured(cfg.prices_file, AIGW_PRICES_DEFAULT, &from_file,
						errbuf, sizeof errbuf) != AIGW_OK) {
			fprintf(stderr, "aigw-fcgi: %s\n", errbuf);
			config_free(&cfg);
			return 2;
		}
	}
	log_set_level(cfg.log_level);
	log_set_program("aigw-fcgi");
	/* The handler logs to stderr; AIGW_LOG_FILE is for the workers it
	 * starts, each opening it afresh. */
	log_set_journal(log_fd_is_journal(2, getenv("JOURNAL_STREAM")));
	signal(SIGPIPE, SIG_IGN);
	app.cfg = &cfg;
	app.waker = NULL;
	app.gate = NULL;
	app.chat_commits = NULL;
	app.hub = NULL;
	app.status_cache = NULL;
	app.status_cache_stats = NULL;
	app.process_index = 0;
	app.cgi = false;
	if (jobtype_load_program_in("aigw-fcgi", &cfg, &jobtypes) != AIGW_OK) {
		config_free(&cfg);
		return 2;
	}
	app.jobtypes = jobtypes;
	app.spawn_env = spawn_env_new();
	if (app.spawn_env == NULL) {
		fprintf(stderr, "aigw-fcgi: out of memory\n");
		jobtype_registry_free(jobtypes);
		config_free(&cfg);
		return 1;
	}
	if (opts.listen.addr == NULL && inherited >= 0) {
		opts.listen.fd = inherited;
		rc = fcgi_serve(&app, &opts);
	} else if (opts.listen.addr == NULL && getenv("GATEWAY_INTERFACE") != NULL) {
		rc = cgi_serve(&app);
	} else if (opts.listen.addr == NULL && fcgi_stdin_not_socket()) {
		/* Descriptor 0 is no listening socket: started by hand. */
		rc = opts_usage_error(fcgi_usage_text);
	} else {
		rc = fcgi_serve(&app, &opts);
	}
	status_cache_stats_free(app.status_cache_stats);
	spawn_env_free(app.spawn_env);
	jobtype_registry_free(jobtypes);
	config_free(&cfg);
	return rc;
}
