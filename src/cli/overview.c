/* overview.c: "aigw status", the overview an operator looks at first (not
 * db/status.c, the names of the status columns). */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "db/db.h"
#include "db/metrics.h"
#include "db/workers.h"
#include "providers/provider.h"

int
cli_status(const struct aigw_config *cfg, int argc, char **argv)
{
	struct db_overview s;
	struct db *db;
	enum aigw_err err;
	static const char usage[] =
		"usage: aigw status\n"
		"Queue depth, running work, stuck jobs, live workers, the oldest pending\n"
		"work, the reaper's last run and how each provider is reached.\n";
	int rc = opts_only_common(argc, argv, "aigw status", usage);

	if (rc >= 0)
		return rc;
	if (optind != argc)
		return opts_usage_error(usage);
	db = db_open(cfg, DB_USE_CLI);
	if (db == NULL) {
		fprintf(stderr, "aigw status: out of memory\n");
		return 1;
	}
	err = db_overview(db, WORKER_SLOT_STALE_S, &s);
	db_free(db);
	if (err != AIGW_OK) {
		fprintf(stderr, "aigw status: the database failed (see the log above)\n");
		return 1;
	}
	printf("queue depth:     %ld chats, %ld jobs waiting\n", s.chats_pending, s.jobs_pending);
	printf("running:         %ld chats, %ld jobs\n", s.chats_running, s.jobs_running);
	printf("stuck jobs:      %ld\n", s.stuck_jobs);
	printf("workers alive:   %ld of %ld slots\n", s.workers_alive, cfg->workers_max);
	printf("oldest pending:  %s%s\n", s.oldest_pending_s,
	       s.oldest_pending_s[0] == '-' ? "" : " s");
	printf("last reaper run: %s%s%s%s\n", s.reaper_ran_at,
	       s.reaper_ago_s[0] == '-' ? "" : " (", s.reaper_ago_s[0] == '-' ? "" : s.reaper_ago_s,
	       s.reaper_ago_s[0] == '-' ? "" : " s ago)");
	/* As this environment (the same AIGW_ENV_FILE as the services) reaches
	 * each provider: the mock standing in for one is never silent. */
	{
		size_t n = prov_count_in(cfg);

		printf("providers:      ");
		for (size_t i = 0; i < n; i++) {
			const struct prov_desc *d = prov_at_in(cfg, i);

			printf(" %s %s%s", d->name, prov_state_name(prov_state_in(d, cfg)),
			       i + 1 < n ? "," : "\n");
		}
	}
	return 0;
}
