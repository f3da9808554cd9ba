/* reap.c: the command-line side of the reaper (its statements are db/reap.c),
 * "aigw reap": one run of the reaper (docs/architecture.md), then a wake-up for
 * any work left waiting without a worker. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "db/db.h"
#include "db/reap.h"
#include "db/workers.h"
#include "http/spawn.h"
#include "http/wake.h"

int
cli_reap(const struct aigw_config *cfg, int argc, char **argv)
{
	struct db_reap_limits limits = db_reap_limits_of(cfg);
	struct db_reap_counts c;
	struct db *db = NULL;
	char **spawn_env = NULL;
	bool due = false;
	long waiting = 0;
	static const char usage[] =
		"usage: aigw reap\n"
		"One run of the reaper: fails unclaimed and spent work, requeues work past\n"
		"its timeout, deletes what is past keeping, and wakes the workers for work\n"
		"left waiting.\n";
	int rc = opts_only_common(argc, argv, "aigw reap", usage);

	if (rc >= 0)
		return rc;
	if (optind != argc)
		return opts_usage_error(usage);
	rc = 1;
	db = db_open(cfg, DB_USE_CLI);
	spawn_env = spawn_env_new();
	if (db == NULL || spawn_env == NULL) {
		fprintf(stderr, "aigw reap: out of memory\n");
		goto out;
	}
	if (db_reap_turn(db, 0, &due) != AIGW_OK || db_reap(db, &limits, &c) != AIGW_OK) {
		fprintf(stderr, "aigw reap: the database failed (see the log above)\n");
		goto out;
	}
	printf("chats: %ld unclaimed failed, %ld with attempts spent finished, %ld requeued,"
	       " %ld expired deleted\n", c.chats_unclaimed, c.chats_spent, c.chats_requeued,
	       c.chats_deleted);
	printf("jobs: %ld unclaimed failed, %ld with attempts spent failed, %ld requeued,"
	       " %ld past keeping deleted\n", c.jobs_unclaimed, c.jobs_spent, c.jobs_requeued,
	       c.jobs_deleted);
	printf("batches: %ld finished past keeping deleted\n", c.batches_deleted);
	printf("pieces: %ld of chats, %ld of jobs finished over a minute ago deleted\n",
	       c.chat_pieces_deleted, c.job_pieces_deleted);
	/* Leases that ran out with no live worker left: start one. */
	if (db_queue_waiting(db, cfg->max_attempts, cfg->analysis_concurrency, &waiting) == AIGW_OK && waiting > 0) {
		printf("%ld waiting to be claimed: waking the workers\n", waiting);
		wake_now(cfg, spawn_env, db);
	}
	rc = 0;
out:
	spawn_env_free(spawn_env);
	db_free(db);
	return rc;
}
