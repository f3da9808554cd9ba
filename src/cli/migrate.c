/* migrate.c: the command-line side of migrations, "aigw migrate [DIR]": brings
 * the schema up to date; the runner is db/migrate.c. */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "db/db.h"
#include "db/migrate.h"

int
cli_migrate(const struct aigw_config *cfg, int argc, char **argv)
{
	const char *dir = cfg->migrations_dir;
	struct db *db;
	enum aigw_err err;
	int applied = 0;
	static const char usage[] =
		"usage: aigw migrate [DIR]\n"
		"Applies the migrations of DIR (AIGW_MIGRATIONS_DIR by default) the\n"
		"database lacks, in order; safe to repeat.\n";
	int rc = opts_only_common(argc, argv, "aigw migrate", usage);

	if (rc >= 0)
		return rc;
	if (argc - optind > 1)
		return opts_usage_error(usage);
	if (argc - optind == 1)
		dir = argv[optind];
	db = db_open(cfg, DB_USE_CLI_SESSION);
	if (db == NULL) {
		fprintf(stderr, "aigw migrate: out of memory\n");
		return 1;
	}
	err = db_migrate(db, dir, &applied);
	db_free(db);
	if (err != AIGW_OK) {
		fprintf(stderr, "aigw migrate: %s (see the log above)\n", aigw_strerror(err));
		return 1;
	}
	printf("%d migration%s applied\n", applied, applied == 1 ? "" : "s");
	return 0;
}
