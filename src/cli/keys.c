/* keys.c: the command-line side of API keys, "aigw keys create|list|revoke"
 * for AIGW_AUTH=keys; the database side is db/keys.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/opts.h"
#include "core/secret.h"
#include "core/util.h"
#include "core/webhook.h"
#include "db/db.h"
#include "db/keys.h"

static const char usage_text[] =
	"usage: aigw keys create --user USER [--org ORG] [--name NAME] [--webhook-url URL]\n"
	"       aigw keys list\n"
	"       aigw keys revoke KEY_ID\n"
	"create prints the new key on the first line (shown once, stored only as\n"
	"its hash) and, with --webhook-url, the webhook signing secret on the\n"
	"second; list shows every key without its secret; revoke stops a key.\n";

static int
usage(void)
{
	return opts_usage_error(usage_text);
}

static int
create(struct db *db, int argc, char **argv)
{
	const char *user = NULL, *org = "", *name = NULL, *webhook_url = NULL, *why = NULL;
	char key[SECRET_KEY_LEN + 1], id[SECRET_KEY_ID_LEN + 1], hash[SECRET_HASH_HEX_LEN + 1];
	char whsec[WEBHOOK_SECRET_LEN + 1] = "";
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "org", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "webhook-url", required_argument, NULL, 'w' },
		OPTS_COMMON_LONG, OPTS_END
	};
	int c, rc = 1;

	for (int first = 1; (c = opts_next(argc, argv, OPTS_SHORT_PERMUTE, longopts, first)) != -1;
	     first = 0) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'o': org = optarg; break;
		case 'n': name = optarg; break;
		case 'w': webhook_url = optarg; break;
		default: return opts_other(c, "aigw keys create", usage_text, argv);
		}
	}
	if (optind != argc)
		return usage();
	if (user == NULL || !cli_valid_label(user, false) || !cli_valid_label(org, true) ||
	    (name != NULL && !cli_valid_label(name, false))) {
		fprintf(stderr, "aigw keys create: --user is required; user, org and name are"
				" 1 to %d bytes of text without control characters\n", CLI_LABEL_MAX);
		return 2;
	}
	if (webhook_url != NULL && !webhook_url_valid(webhook_url, &why)) {
		fprintf(stderr, "aigw keys create: --webhook-url %s\n", why);
		return 2;
	}
	if (secret_key_new(key, id) != AIGW_OK ||
	    secret_sha256_hex(key, strlen(key), hash) != AIGW_OK ||
	    (webhook_url != NULL && webhook_secret_new(whsec) != AIGW_OK)) {
		fprintf(stderr, "aigw keys create: no randomness or no SHA-256\n");
		goto out;
	}
	if (db_key_create(db, &(struct db_key_new){ .key_id = id, .hash_hex = hash, .user = user,
						    .org = org, .name = name,
						    .webhook_url = webhook_url,
						    .webhook_secret = webhook_url ? whsec : NULL })
	    != AIGW_OK) {
		fprintf(stderr, "aigw keys create: the database failed (see the log above)\n");
		goto out;
	}
	/* The key alone on the first line: shown once, stored nowhere. */
	printf("%s\n", key);
	/* The webhook secret on the second: the receiver verifies with it. */
	if (webhook_url != NULL)
		printf("%s\n", whsec);
	fprintf(stderr, "key %s for user %s%s%s: keep it now, it is not shown again\n", id, user,
		org[0] ? " of org " : "", org);
	if (webhook_url != NULL)
		fprintf(stderr, "its deliveries go to %s, signed with the secret on the second line"
				" (not shown again)\n", webhook_url);
	rc = 0;
out:
	memset(key, 0, sizeof key);
	memset(whsec, 0, sizeof whsec);
	return rc;
}

int
cli_keys(const struct aigw_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = { OPTS_COMMON_LONG, OPTS_END };
	struct db *db;
	enum aigw_err err;
	const char *action, *key_id = NULL;
	int c, rc = 1;

	/* aigw keys [--help] ACTION [ARGS]: the action's options are its own. */
	c = opts_next(argc, argv, OPTS_SHORT_STOP, longopts, 1);
	if (c != -1)
		return opts_other(c, "aigw keys", usage_text, argv);
	if (optind >= argc)
		return usage();
	argc -= optind;
	argv += optind;
	action = argv[0];
	if (strcmp(action, "list") == 0 || strcmp(action, "revoke") == 0) {
		rc = opts_only_common(argc, argv, strcmp(action, "list") == 0 ? "aigw keys list"
									     : "aigw keys revoke",
				      usage_text);
		if (rc >= 0)
			return rc;
		if (argc - optind != (strcmp(action, "list") == 0 ? 0 : 1))
			return usage();
		key_id = argv[optind];
	} else if (strcmp(action, "create") != 0) {
		fprintf(stderr, "aigw keys: unknown action '%s'\n", action);
		return usage();
	}
	db = db_open(cfg, DB_USE_CLI);
	if (db == NULL) {
		fprintf(stderr, "aigw keys: out of memory\n");
		return 1;
	}
	if (strcmp(action, "create") == 0) {
		rc = create(db, argc, argv);
	} else if (key_id == NULL) {
		err = db_key_list(db, stdout);
		if (err != AIGW_OK)
			fprintf(stderr, "aigw keys list: the database failed (see the log above)\n");
		rc = err == AIGW_OK ? 0 : 1;
	} else {
		err = db_key_revoke(db, key_id);
		if (err == AIGW_ENOTFOUND)
			fprintf(stderr, "aigw keys revoke: no live key with id %s\n", key_id);
		else if (err != AIGW_OK)
			fprintf(stderr, "aigw keys revoke: the database failed (see the log above)\n");
		else
			printf("revoked %s\n", key_id);
		rc = err == AIGW_OK ? 0 : 1;
	}
	db_free(db);
	return rc;
}
