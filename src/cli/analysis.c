/*
 * analysis.c: the command-line side of prompt analysis (the database side
 * is db/analysis.c, the HTTP side http/analysis.c):
 * "aigw prompts add|list|deactivate", "aigw schedule" (one batch a day, run
 * by the daily timer) and "aigw analysis show BATCH".
 *
 * A tracked prompt becomes the input of a prompt_analysis job, so it is
 * checked against that job type when added: a prompt the type would refuse
 * is refused here, not found failing at 02:00.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "core/util.h"
#include "db/analysis.h"
#include "db/db.h"
#include "http/spawn.h"
#include "http/wake.h"
#include "jobtype/jobtype.h"

#define ANALYSIS_TYPE "prompt_analysis"
/* Prompts read and made into jobs per statement. */
#define SCHEDULE_PAGE 1000

/* The job type tracked prompts run as; NULL (said on stderr) when the
 * job types cannot be loaded or lack it. *reg is to be freed. */
static const struct jobtype *
analysis_type(const char *cmd, const struct aigw_config *cfg, struct jobtype_registry **reg)
{
	const struct jobtype *t;

	*reg = NULL;
	if (jobtype_load_program_in(cmd, cfg, reg) != AIGW_OK)
		return NULL;
	t = jobtype_find(*reg, ANALYSIS_TYPE);
	if (t == NULL)
		fprintf(stderr, "%s: no job type %s in %s\n", cmd, ANALYSIS_TYPE, cfg->jobtypes_dir);
	return t;
}

/* ---- aigw prompts ---- */

static const char prompts_usage_text[] =
	"usage: aigw prompts add --project P [--user U] [--org O]\n"
	"                        [--platforms openai,gemini,...] [--websearch]\n"
	"                        [--location CC] PROMPT\n"
	"       aigw prompts list [--project P] [--all]\n"
	"       aigw prompts deactivate ID\n"
	"add prints the new prompt's id; it runs on the platforms named (by default\n"
	"every provider of the prompt_analysis job type) at every aigw schedule.\n"
	"list shows the active prompts (--all: the deactivated too).\n";

static int
prompts_usage(void)
{
	return opts_usage_error(prompts_usage_text);
}

static bool
add_to(json_object *o, const char *key, json_object *v)
{
	if (v == NULL)
		return false;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* The providers of the type's fan-outs, in order, each once: what a
 * prompt runs on when it names no platforms. */
static json_object *
all_platforms(const struct jobtype *t)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; list != NULL && i < t->nsteps; i++) {
		for (size_t c = 0; c < t->steps[i].ncalls; c++) {
			const char *p = t->steps[i].calls[c].provider;
			bool seen = false;

			for (size_t k = 0; k < json_object_array_length(list); k++)
				seen |= strcmp(json_object_get_string(json_object_array_get_idx(list, k)),
					       p) == 0;
			json_object *name = seen ? NULL : json_object_new_string(p);

			if (!seen && (name == NULL || json_object_array_add(list, name) != 0)) {
				json_object_put(name);
				json_object_put(list);
				return NULL;
			}
		}
	}
	return list;
}

/* "openai,gemini" as a JSON array; NULL for an empty name (",," or a
 * trailing comma) or no memory. */
static json_object *
split_platforms(const char *csv)
{
	json_object *list = json_object_new_array();
	const char *s = csv;

	while (list != NULL) {
		size_t n = strcspn(s, ",");

		json_object *name = n > 0 ? json_object_new_string_len(s, (int)n) : NULL;

		if (name == NULL || json_object_array_add(list, name) != 0) {
			json_object_put(name);
			json_object_put(list);
			return NULL;
		}
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	return list;
}

struct prompt_args {
	const char *project, *user, *org, *platforms, *location;
	const char *text;
	bool websearch;
};

/* argv[0] is "add". Returns -1 when the prompt is to be added, else the
 * exit code (--help, --version, a fault). */
static int
parse_add(int argc, char **argv, struct prompt_args *a)
{
	static const struct option longopts[] = {
		{ "project", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "org", required_argument, NULL, 'o' },
		{ "platforms", required_argument, NULL, 'P' },
		{ "location", required_argument, NULL, 'l' },
		{ "websearch", no_argument, NULL, 'w' },
		OPTS_COMMON_LONG, OPTS_END
	};
	int c;

	memset(a, 0, sizeof *a);
	a->user = a->org = "";
	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, first)) != -1;
	     first = 0) {
		switch (c) {
		case 'p': a->project = optarg; break;
		case 'u': a->user = optarg; break;
		case 'o': a->org = optarg; break;
		case 'P': a->platforms = optarg; break;
		case 'l': a->location = optarg; break;
		case 'w': a->websearch = true; break;
		default: return opts_other(c, "aigw prompts add", prompts_usage_text, argv);
		}
	}
	if (argc - optind == 1)
		a->text = argv[optind];
	if (a->project == NULL || a->text == NULL)
		return prompts_usage();
	if (a->text[0] == '\0' || utf8_length(a->text, strlen(a->text)) < 0) {
		fprintf(stderr, "aigw prompts add: the prompt is empty or not UTF-8\n");
		return 2;
	}
	if (!cli_valid_label(a->project, false) || !cli_valid_label(a->user, true) ||
	    !cli_valid_label(a->org, true)) {
		fprintf(stderr, "aigw prompts add: project, user and org are 1 to %d bytes of text"
				" without control characters\n", CLI_LABEL_MAX);
		return 2;
	}
	return -1;
}

/* The job input the prompt will run with, checked against the type; NULL
 * (said on stderr) when refused. */
static json_object *
prompt_input(const struct jobtype *t, const struct prompt_args *a, char location[3])
{
	json_object *in = json_object_new_object(), *platforms;
	char field[128], msg[512];
	bool ok;

	location[0] = '\0';
	if (a->location != NULL && jobtype_country_code(a->location, strlen(a->location))) {
		location[0] = (char)toupper((unsigned char)a->location[0]);
		location[1] = (char)toupper((unsigned char)a->location[1]);
		location[2] = '\0';
	} else if (a->location != NULL) {
		fprintf(stderr, "aigw prompts add: --location must be a two-letter ISO country code\n");
		json_object_put(in);
		return NULL;
	}
	platforms = a->platforms != NULL ? split_platforms(a->platforms) : all_platforms(t);
	if (platforms == NULL) {
		fprintf(stderr, "aigw prompts add: --platforms is a comma-separated list of names\n");
		json_object_put(in);
		return NULL;
	}
	if (in == NULL)
		json_object_put(platforms);
	/* platforms first: add_to takes it, or frees it on failure. */
	ok = in != NULL && add_to(in, "platforms", platforms) &&
	     add_to(in, "prompt", json_object_new_string(a->text)) &&
	     add_to(in, "websearch", json_object_new_boolean(a->websearch)) &&
	     (location[0] == '\0' || add_to(in, "location", json_object_new_string(location)));
	if (!ok) {
		fprintf(stderr, "aigw prompts add: out of memory\n");
		json_object_put(in);
		return NULL;
	}
	if (jobtype_check_input(t, in, field, sizeof field, msg, sizeof msg) != AIGW_OK) {
		fprintf(stderr, "aigw prompts add: %s\n", msg);
		json_object_put(in);
		return NULL;
	}
	return in;
}

static int
prompts_add(struct db *db, const struct aigw_config *cfg, int argc, char **argv)
{
	struct jobtype_registry *reg = NULL;
	const struct jobtype *t;
	struct prompt_args a;
	json_object *in = NULL, *platforms;
	char id[UUID_STR_LEN + 1], location[3];
	int rc = parse_add(argc, argv, &a);

	if (rc >= 0)
		return rc;
	rc = 1;
	if ((t = analysis_type("aigw prompts add", cfg, &reg)) == NULL)
		goto out;
	if ((in = prompt_input(t, &a, location)) == NULL) {
		rc = 2;
		goto out;
	}
	json_object_object_get_ex(in, "platforms", &platforms);
	{
		struct db_prompt p = {
			.project = a.project, .user = a.user, .org = a.org, .text = a.text,
			.platforms_json = json_object_to_json_string_ext(platforms,
									 JSON_C_TO_STRING_PLAIN),
			.websearch = a.websearch, .location = location[0] ? location : NULL,
		};

		if (p.platforms_json == NULL || db_prompt_add(db, &p, id) != AIGW_OK) {
			fprintf(stderr, "aigw prompts add: the database failed (see the log above)\n");
			goto out;
		}
	}
	printf("%s\n", id);
	rc = 0;
out:
	json_object_put(in);
	jobtype_registry_free(reg);
	return rc;
}

static int
prompts_list(struct db *db, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "project", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		OPTS_COMMON_LONG, OPTS_END
	};
	const char *project = NULL;
	bool all = false;
	int c;

	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, first)) != -1;
	     first = 0) {
		if (c == 'p')
			project = optarg;
		else if (c == 'a')
			all = true;
		else
			return opts_other(c, "aigw prompts list", prompts_usage_text, argv);
	}
	if (optind != argc)
		return prompts_usage();
	if (db_prompt_list(db, project, all, stdout) != AIGW_OK) {
		fprintf(stderr, "aigw prompts list: the database failed (see the log above)\n");
		return 1;
	}
	return 0;
}

static int
prompts_deactivate(struct db *db, const char *id)
{
	enum aigw_err err;

	if (!uuid_is_valid(id)) {
		fprintf(stderr, "aigw prompts deactivate: %s is not a prompt id\n", id);
		return 2;
	}
	err = db_prompt_deactivate(db, id);
	if (err == AIGW_ENOTFOUND) {
		fprintf(stderr, "aigw prompts deactivate: no active prompt with id %s\n", id);
		return 1;
	}
	if (err != AIGW_OK) {
		fprintf(stderr, "aigw prompts deactivate: the database failed (see the log above)\n");
		return 1;
	}
	printf("deactivated %s\n", id);
	return 0;
}

int
cli_prompts(const struct aigw_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = { OPTS_COMMON_LONG, OPTS_END };
	struct db *db;
	const char *action;
	int c, rc;

	/* aigw prompts [--help] ACTION [ARGS]: the action's options are its own. */
	c = opts_next(argc, argv, OPTS_SHORT_STOP, longopts, 1);
	if (c != -1)
		return opts_other(c, "aigw prompts", prompts_usage_text, argv);
	if (optind >= argc)
		return prompts_usage();
	argc -= optind;
	argv += optind;
	action = argv[0];
	if (strcmp(action, "deactivate") == 0) {
		rc = opts_only_common(argc, argv, "aigw prompts deactivate", prompts_usage_text);
		if (rc >= 0)
			return rc;
		if (argc - optind != 1)
			return prompts_usage();
	} else if (strcmp(action, "add") != 0 && strcmp(action, "list") != 0) {
		fprintf(stderr, "aigw prompts: unknown action '%s'\n", action);
		return prompts_usage();
	}
	db = db_open(cfg, DB_USE_CLI);
	if (db == NULL) {
		fprintf(stderr, "aigw prompts: out of memory\n");
		return 1;
	}
	if (strcmp(action, "add") == 0)
		rc = prompts_add(db, cfg, argc, argv);
	else if (strcmp(action, "list") == 0)
		rc = prompts_list(db, argc, argv);
	else
		rc = prompts_deactivate(db, argv[optind]);
	db_free(db);
	return rc;
}

/* ---- aigw schedule ---- */

/* Makes the batch's jobs, a page of prompts at a time; *made counts them. */
static enum aigw_err
schedule_pages(struct db *db, const char *batch_id, const struct jobtype *t, long *made,
	       long *seen_total)
{
	json_object *names = jobtype_step_names(t);
	struct db_schedule_jobtype jt = {
		.name = t->name, .attempts = t->attempts, .timeout_s = t->timeout_s,
	};
	char cursor[UUID_STR_LEN + 1] = "";
	enum aigw_err err = AIGW_ENOMEM;
	long seen = 0, page_made = 0;

	*made = *seen_total = 0;
	if (names == NULL || (jt.step_names_json = json_object_to_json_string_ext(
				      names, JSON_C_TO_STRING_PLAIN)) == NULL)
		goto out;
	do {
		err = db_schedule_page(db, batch_id, &jt, SCHEDULE_PAGE, cursor, &seen, &page_made);
		*made += page_made;
		*seen_total += seen;
	} while (err == AIGW_OK && seen == SCHEDULE_PAGE);
	if (err == AIGW_OK)
		err = db_schedule_done(db, batch_id);
out:
	json_object_put(names);
	return err;
}

int
cli_schedule(const struct aigw_config *cfg, int argc, char **argv)
{
	struct jobtype_registry *reg = NULL;
	const struct jobtype *t;
	struct db_schedule_batch b;
	struct db *db = NULL;
	char **spawn_env = NULL;
	static const char usage[] =
		"usage: aigw schedule [--force]\n"
		"Makes today's analysis batch, a prompt_analysis job per active prompt,\n"
		"and prints its id; a batch cut short is completed. --force makes another\n"
		"batch when today's is complete.\n";
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' }, OPTS_COMMON_LONG, OPTS_END
	};
	bool forced = false, locked = false;
	long made = 0, seen = 0;
	int c, rc = 1;

	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, first)) != -1;
	     first = 0) {
		if (c == 'f')
			forced = true;
		else
			return opts_other(c, "aigw schedule", usage, argv);
	}
	if (optind != argc)
		return opts_usage_error(usage);
	if ((t = analysis_type("aigw schedule", cfg, &reg)) == NULL)
		goto out;
	/* The lock that keeps two schedulers apart is the session's. */
	db = db_open(cfg, DB_USE_CLI_SESSION);
	spawn_env = spawn_env_new();
	if (db == NULL || spawn_env == NULL) {
		fprintf(stderr, "aigw schedule: out of memory\n");
		goto out;
	}
	if (db_schedule_lock(db, &locked) != AIGW_OK) {
		fprintf(stderr, "aigw schedule: the database failed (see the log above)\n");
		goto out;
	}
	if (!locked) {
		fprintf(stderr, "aigw schedule: another aigw schedule is running\n");
		goto out;
	}
	if (db_schedule_batch(db, forced, &b) != AIGW_OK) {
		fprintf(stderr, "aigw schedule: the database failed (see the log above)\n");
		goto out;
	}
	if (b.complete) {
		printf("%s\n", b.batch_id);
		fprintf(stderr, "today's batch %s was scheduled already: nothing made"
				" (--force makes another)\n", b.batch_id);
		rc = 0;
		goto out;
	}
	/* A batch made earlier today but cut short is completed, never doubled:
	 * a prompt that has its job in the batch is skipped. */
	if (schedule_pages(db, b.batch_id, t, &made, &seen) != AIGW_OK) {
		fprintf(stderr, "aigw schedule: batch %s: stopped after %ld jobs; run it again to"
				" make the rest (see the log above)\n", b.batch_id, made);
		if (made > 0)
			wake_now(cfg, spawn_env, db);
		goto out;
	}
	printf("%s\n", b.batch_id);
	fprintf(stderr, "batch %s%s: %ld %s jobs made for %ld active prompts\n", b.batch_id,
		b.created ? "" : " (resumed)", made, t->name, seen);
	if (made > 0)
		wake_now(cfg, spawn_env, db);
	rc = 0;
out:
	if (locked)
		db_schedule_unlock(db);
	spawn_env_free(spawn_env);
	db_free(db);
	jobtype_registry_free(reg);
	return rc;
}

/* ---- aigw analysis ---- */

int
cli_analysis(const struct aigw_config *cfg, int argc, char **argv)
{
	struct db *db;
	enum aigw_err err;
	static const char usage[] =
		"usage: aigw analysis show BATCH_ID\n"
		"Each prompt's result on each platform in the batch (aigw schedule prints\n"
		"the batch's id).\n";
	const char *batch;
	int rc = opts_only_common(argc, argv, "aigw analysis", usage);

	if (rc >= 0)
		return rc;
	if (argc - optind != 2 || strcmp(argv[optind], "show") != 0)
		return opts_usage_error(usage);
	batch = argv[optind + 1];
	if (!uuid_is_valid(batch)) {
		fprintf(stderr, "aigw analysis show: %s is not a batch id\n", batch);
		return 2;
	}
	db = db_open(cfg, DB_USE_CLI);
	if (db == NULL) {
		fprintf(stderr, "aigw analysis: out of memory\n");
		return 1;
	}
	err = db_analysis_show(db, batch, stdout);
	if (err == AIGW_ENOTFOUND)
		fprintf(stderr, "aigw analysis show: no batch %s with analyses\n", batch);
	else if (err != AIGW_OK)
		fprintf(stderr, "aigw analysis show: the database failed (see the log above)\n");
	db_free(db);
	return err == AIGW_OK ? 0 : 1;
}
