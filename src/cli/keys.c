/* keys.c: the command-line side of API keys, "aigw keys create|list|revoke"
 * for AIGW_AUTH=keys; the database side is db/keys.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/secret.h"
#include "core/util.h"
#include "core/webhook.h"
#include "db/db.h"
#include "db/keys.h"

static int
usage(void)
{
	fprintf(stderr, "usage: aigw keys create --user USER [--org ORG] [--name NAME] [--webhook-url URL]\n"
			"       aigw keys list\n"
			"       aigw keys revoke KEY_ID\n");
	return 2;
}

static int
create(struct db *db, int argc, char **argv)
{
	const char *user = NULL, *org = "", *name = NULL, *webhook_url = NULL, *why = NULL;
	char key[SECRET_KEY_LEN + 1], id[SECRET_KEY_ID_LEN + 1], hash[SECRET_HASH_HEX_LEN + 1];
	char whsec[WEBHOOK_SECRET_LEN + 1] = "";
	int rc = 1;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--org") == 0 && i + 1 < argc)
			org = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--webhook-url") == 0 && i + 1 < argc)
			webhook_url = argv[++i];
		else
			return usage();
	}
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
	struct db *db;
	enum aigw_err err;
	int rc = 1;

	if (argc < 2)
		return usage();
	db = db_open(cfg, DB_USE_CLI);
	if (db == NULL) {
		fprintf(stderr, "aigw keys: out of memory\n");
		return 1;
	}
	if (strcmp(argv[1], "create") == 0) {
		rc = create(db, argc, argv);
	} else if (strcmp(argv[1], "list") == 0 && argc == 2) {
		err = db_key_list(db, stdout);
		if (err != AIGW_OK)
			fprintf(stderr, "aigw keys list: the database failed (see the log above)\n");
		rc = err == AIGW_OK ? 0 : 1;
	} else if (strcmp(argv[1], "revoke") == 0 && argc == 3) {
		err = db_key_revoke(db, argv[2]);
		if (err == AIGW_ENOTFOUND)
			fprintf(stderr, "aigw keys revoke: no live key with id %s\n", argv[2]);
		else if (err != AIGW_OK)
			fprintf(stderr, "aigw keys revoke: the database failed (see the log above)\n");
		else
			printf("revoked %s\n", argv[2]);
		rc = err == AIGW_OK ? 0 : 1;
	} else {
		rc = usage();
	}
	db_free(db);
	return rc;
}
