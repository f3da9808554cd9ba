/*
 * aigw-worker.c: claims queued chats and jobs and runs their provider calls.
 *
 * Started detached by aigw-fcgi (AIGW_WORKER_SLOT names the slot reserved
 * for it) or as a service; stops after AIGW_WORKER_IDLE_S idle seconds, or
 * on SIGTERM/SIGINT after handing its work back.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"
#include "providers/provider.h"
#include "worker/loop.h"

static const char usage_text[] =
	"usage: aigw-worker [--help|--version]\n"
	"Claims queued chats and jobs and runs their provider calls; configured by\n"
	"the environment (aigw.env(5)). Started by aigw-fcgi (AIGW_WORKER_SLOT) or\n"
	"as a service; stops after AIGW_WORKER_IDLE_S idle seconds, or on SIGTERM.\n";

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

int
main(int argc, char **argv)
{
	struct aigw_config cfg;
	struct jobtype_registry *jobtypes = NULL;
	struct sigaction sa;
	char errbuf[512];
	const char *slot_text = getenv("AIGW_WORKER_SLOT");
	long slot = 0;
	int rc;

	rc = opts_only_common(argc, argv, "aigw-worker", usage_text);
	if (rc >= 0)
		return rc;
	if (optind != argc)
		return opts_usage_error(usage_text);
	if (config_load(&cfg, errbuf, sizeof errbuf) != AIGW_OK) {
		fprintf(stderr, "aigw-worker: %s\n", errbuf);
		return 2;
	}
	if (slot_text != NULL && *slot_text != '\0' &&
	    parse_long(slot_text, 1, 1024, &slot) != AIGW_OK) {
		fprintf(stderr, "aigw-worker: AIGW_WORKER_SLOT: expected 1 to 1024\n");
		config_free(&cfg);
		return 2;
	}
	{
		bool from_file;

		if (prov_prices_load_configured(cfg.prices_file, AIGW_PRICES_DEFAULT, &from_file,
						errbuf, sizeof errbuf) != AIGW_OK) {
			fprintf(stderr, "aigw-worker: %s\n", errbuf);
			config_free(&cfg);
			return 2;
		}
	}
	log_set_level(cfg.log_level);
	log_set_program("aigw-worker");
	/* A spawned worker's stderr is AIGW_LOG_FILE already; opening it
	 * here too lets SIGHUP (logrotate) reopen it, as for a service. */
	if (cfg.log_file != NULL && *cfg.log_file != '\0') {
		/* Not fatal: a worker that cannot log still works. */
		if (log_open_file(cfg.log_file, errbuf, sizeof errbuf) != AIGW_OK)
			log_error("worker", NULL, "logging to stderr: %s", errbuf);
	} else {
		log_set_journal(log_fd_is_journal(2, getenv("JOURNAL_STREAM")));
	}
	if (log_reopen_on_sighup() != AIGW_OK) {
		fprintf(stderr, "aigw-worker: cannot start the SIGHUP thread\n");
		config_free(&cfg);
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (jobtype_load_program_in("aigw-worker", &cfg, &jobtypes) != AIGW_OK) {
		config_free(&cfg);
		return 2;
	}
	rc = loop_run(&cfg, jobtypes, (int)slot, &stop_requested);
	jobtype_registry_free(jobtypes);
	config_free(&cfg);
	return rc;
}
