/* config.c: one table of environment variables, parsed and validated once; what
 * is in effect is shown by cli/config.c ("aigw config"). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/origins.h"
#include "core/config_named.h"
#include "core/log.h"
#include "core/util.h"
#include "core/webhook.h"

#ifndef AIGW_BINDIR
#define AIGW_BINDIR "/usr/local/bin"
#endif
#ifndef AIGW_DATADIR
#define AIGW_DATADIR "/usr/local/share/aigw"
#endif

#define DEFAULT_ENV_FILE "/etc/aigw/aigw.env"

extern char **environ;

enum var_type { VT_LONG, VT_STRING, VT_BOOL, VT_AUTH, VT_METRICS, VT_LOGLEVEL, VT_POOLER };

struct var {
	const char *name;
	enum var_type type;
	long min, max;          /* VT_LONG */
	const char *def;        /* the default, as text */
	size_t offset;          /* into struct aigw_config */
	bool secret;            /* never shown: only whether it is set */
};

#define L(n, lo, hi, d, field) { n, VT_LONG, lo, hi, d, offsetof(struct aigw_config, field), false }
/* Up to ten million requests and a trillion tokens a minute: far above
 * any provider's tier, low enough to catch a typo. */
#define RATE(P, rpm_def, tpm_def) \
	L("AIGW_RPM_" #P, 0, 10000000, rpm_def, rate[RATE_##P].rpm), \
	L("AIGW_TPM_" #P, 0, 1000000000000L, tpm_def, rate[RATE_##P].tpm)
#define S(n, d, field) { n, VT_STRING, 0, 0, d, offsetof(struct aigw_config, field), false }
/* A URL with a password in it, or a token. */
#define SECRET(n, field) { n, VT_STRING, 0, 0, "", offsetof(struct aigw_config, field), true }

static const struct var vars[] = {
	SECRET("DATABASE_URL", database_url),
	SECRET("AIGW_LISTEN_DATABASE_URL", listen_database_url),
	{ "AIGW_DB_POOLER", VT_POOLER, 0, 0, "none", offsetof(struct aigw_config, db_pooler), false },
	L("AIGW_DB_TIMEOUT_S", 1, 3600, "10", db_timeout_s),
	{ "AIGW_AUTH", VT_AUTH, 0, 0, "none", offsetof(struct aigw_config, auth), false },
	L("AIGW_MAX_BODY", 1024, 64L << 20, "262144", max_body),
	L("AIGW_WORKERS_MAX", 1, 1024, "4", workers_max),
	L("AIGW_WORKER_IDLE_S", 0, 86400, "30", worker_idle_s),
	L("AIGW_WORKER_CHATS_MAX", 1, 100000, "1000", worker_chats_max),
	L("AIGW_PROVIDER_CONNECTIONS", 1, 100000, "4096", provider_connections),
	/* 128: an ordinary burst goes out at once; a larger one doubles a
	 * round (worker/hostwin.h). */
	L("AIGW_PROVIDER_WINDOW_START", 1, 100000, "128", provider_window_start),
	S("AIGW_WORKER_BIN", AIGW_BINDIR "/aigw-worker", worker_bin),
	L("AIGW_CHAT_TTL_S", 60, 30L * 86400, "3600", chat_ttl_s),
	L("AIGW_MAX_ATTEMPTS", 1, 20, "3", max_attempts),
	L("AIGW_PROVIDER_TIMEOUT_S", 1, 3600, "120", provider_timeout_s),
	L("AIGW_LEASE_S", 5, 3600, "60", lease_s),
	L("AIGW_WORKER_STOP_S", 0, 3600, "30", worker_stop_s),
	L("AIGW_BATCH_WINDOW_MS", 0, 600000, "2000", batch_window_ms),
	L("AIGW_BATCH_POLL_MAX_S", 1, 3600, "60", batch_poll_max_s),
	L("AIGW_BATCH_DEADLINE_S", 10, 7L * 86400, "86400", batch_deadline_s),
	L("AIGW_BATCH_DOWNLOAD_MAX_MB", 8, 1L << 20, "4096", batch_download_max_mb),
	L("AIGW_PENDING_TIMEOUT_S", 10, 86400, "300", pending_timeout_s),
	L("AIGW_KEEP_DONE_DAYS", 1, 3650, "30", keep_done_days),
	L("AIGW_KEEP_FAILED_DAYS", 1, 3650, "7", keep_failed_days),
	L("AIGW_LIMIT_ORG", 0, 1000000, "5", limit_org),
	L("AIGW_LIMIT_USER", 0, 1000000, "3", limit_user),
	L("AIGW_LIMIT_DECISION", 0, 1000000, "2", limit_decision),
	L("AIGW_ANALYSIS_CONCURRENCY", 1, 10000, "5", analysis_concurrency),
	S("AIGW_JOBTYPES_DIR", AIGW_SYSCONFDIR "/aigw/jobtypes.d", jobtypes_dir),
	S("AIGW_PRICES_FILE", AIGW_PRICES_DEFAULT, prices_file),
	L("AIGW_MOCK_DELAY_MS", 0, 600000, "500", mock_delay_ms),
	/* Off: an answer is never made up for a provider that has no key. */
	{ "AIGW_MOCK", VT_BOOL, 0, 0, "off", offsetof(struct aigw_config, mock), false },
	/* Words a second of the mock's streamed answer. */
	L("AIGW_MOCK_TOKENS_PER_S", 1, 100000, "40", mock_tokens_per_s),
	/* Off: every answer is stored whole, as it was before answers streamed. */
	{ "AIGW_STREAM", VT_BOOL, 0, 0, "on", offsetof(struct aigw_config, stream), false },
	/* How long new text may wait to be written with the text of other
	 * streams: one statement a flush, whatever the number of streams. */
	L("AIGW_STREAM_FLUSH_MS", 1, 10000, "50", stream_flush_ms),
	L("AIGW_STREAM_IDLE_S", 1, 3600, "30", stream_idle_s),
	/* 0: aigw-fcgi's threads less two (at least one), so that two threads
	 * always remain for requests that do not wait. */
	L("AIGW_WAIT_MAX", 0, 4096, "0", wait_max),
	/* 0: no bound of its own. */
	L("AIGW_WAIT_MAX_PER_OWNER", 0, 4096, "4", wait_max_per_owner),
	L("AIGW_SSE_HEARTBEAT_S", 1, 300, "15", sse_heartbeat_s),
	L("AIGW_SSE_MAX_S", 1, 86400, "600", sse_max_s),
	/* aigw-fcgi's memory of recently polled statuses (http/status_cache.h),
	 * a process's; 0: every poll reads the database. */
	L("AIGW_STATUS_CACHE_BYTES", 0, 1L << 30, "4194304", status_cache_bytes),
	/* How long a notification lost in a worker's crash can show. */
	L("AIGW_STATUS_CACHE_MAX_AGE_MS", 1, 3600000, "5000", status_cache_max_age_ms),
	/* Up to wait=N's own bound (RT_WAIT_MAX_S). */
	L("AIGW_CGI_WAIT_MAX_S", 0, 30, "10", cgi_wait_max_s),
	/* Below the usual 60 s proxy cut-off (docs/openai.md); nginx's
	 * fastcgi_read_timeout for /v1/ must exceed it. */
	L("AIGW_SYNC_WAIT_S", 0, 600, "50", sync_wait_s),
	/* No limits by default: a limit fits one account's tier, and one set
	 * too low silently throttles every paid key. A provider's own 429 with
	 * Retry-After pauses it for every worker instead (worker/rate.h). */
	RATE(OPENAI, "0", "0"),
	RATE(ANTHROPIC, "0", "0"),
	RATE(GEMINI, "0", "0"),
	RATE(PERPLEXITY, "0", "0"),
	{ "AIGW_METRICS_ACCESS", VT_METRICS, 0, 0, "local",
	  offsetof(struct aigw_config, metrics_access), false },
	SECRET("AIGW_METRICS_TOKEN", metrics_token),
	{ "AIGW_LOG_LEVEL", VT_LOGLEVEL, 0, 0, "info", offsetof(struct aigw_config, log_level),
	  false },
	S("AIGW_LOG_FILE", "", log_file),
	/* Off: answers carry no CORS headers, as for a same-origin page. */
	S("AIGW_CORS_ORIGINS", "", cors_origins),
	{ "AIGW_LOG_PROMPTS", VT_BOOL, 0, 0, "off", offsetof(struct aigw_config, log_prompts), false },
	{ "AIGW_SPAWN", VT_BOOL, 0, 0, "on", offsetof(struct aigw_config, spawn), false },
	S("AIGW_MIGRATIONS_DIR", AIGW_DATADIR "/migrations", migrations_dir),
	S("TMPDIR", "/tmp", spool_dir),
	/* Webhooks (docs/webhooks.md). Off: only a key's URL is used; a
	 * request naming its own is refused. */
	{ "AIGW_WEBHOOK_PER_REQUEST", VT_BOOL, 0, 0, "off",
	  offsetof(struct aigw_config, webhook_per_request), false },
	/* whsec_<base64>: signs the deliveries of work no key's secret signs. */
	SECRET("AIGW_WEBHOOK_SECRET", webhook_secret),
	L("AIGW_WEBHOOK_RETRY_S", 60, 30L * 86400, "86400", webhook_retry_s),
	L("AIGW_WEBHOOK_TIMEOUT_S", 1, 300, "10", webhook_timeout_s),
	/* The first retry's delay; each next one doubles, up to an hour. */
	L("AIGW_WEBHOOK_BACKOFF_MS", 1, 3600000, "5000", webhook_backoff_ms),
	/* On: receivers on loopback, private and link-local addresses too. */
	{ "AIGW_WEBHOOK_ALLOW_PRIVATE", VT_BOOL, 0, 0, "off",
	  offsetof(struct aigw_config, webhook_allow_private), false },
};

#define NVARS (sizeof vars / sizeof vars[0])

/* The providers' accounts, in the order of enum config_account. */
struct account {
	const char *name;
	const char *key_var, *base_var, *default_base;
};

static const struct account accounts[ACCOUNT__MAX] = {
	[ACCOUNT_OPENAI] = { "openai", CONFIG_ACCOUNT_OPENAI },
	[ACCOUNT_ANTHROPIC] = { "anthropic", CONFIG_ACCOUNT_ANTHROPIC },
	[ACCOUNT_GEMINI] = { "gemini", CONFIG_ACCOUNT_GEMINI },
	[ACCOUNT_PERPLEXITY] = { "perplexity", CONFIG_ACCOUNT_PERPLEXITY },
	[ACCOUNT_SNAPSHOT] = { "snapshot", CONFIG_ACCOUNT_SNAPSHOT },
};

static const char *const auth_names[AUTH__MAX] = { "none", "keys", "server" };
static const char *const metrics_names[METRICS__MAX] = { "open", "local", "token" };
static const char *const pooler_names[POOLER__MAX] = { "none", "transaction" };
static const char *const rate_names[RATE__MAX] = { "openai", "anthropic", "gemini", "perplexity" };

const char *const *
config_names(void)
{
	static const char *names[NVARS + 2 * ACCOUNT__MAX + 2];

	if (names[0] == NULL) {
		for (size_t i = 0; i < NVARS; i++)
			names[i] = vars[i].name;
		for (size_t i = 0; i < ACCOUNT__MAX; i++) {
			names[NVARS + 2 * i] = accounts[i].key_var;
			names[NVARS + 2 * i + 1] = accounts[i].base_var;
		}
		names[NVARS + 2 * ACCOUNT__MAX] = "AIGW_ENV_FILE";
	}
	return names;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static bool
valid_name(const char *s)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

enum aigw_err
config_apply_env_file(const char *path, char *errbuf, size_t errlen)
{
	FILE *f;
	char line[4096];
	unsigned lineno = 0;
	enum aigw_err err = AIGW_OK;

	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return AIGW_OK;
		snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(errno));
		return AIGW_ECONFIG;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *name, *value, *eq;
		size_t vlen;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(errbuf, errlen, "%s:%u: line too long", path, lineno);
			err = AIGW_ECONFIG;
			goto out;
		}
		name = trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		if (strncmp(name, "export ", 7) == 0)
			name = trim(name + 7);
		eq = strchr(name, '=');
		if (eq == NULL) {
			snprintf(errbuf, errlen, "%s:%u: expected NAME=value", path, lineno);
			err = AIGW_ECONFIG;
			goto out;
		}
		*eq = '\0';
		name = trim(name);
		value = trim(eq + 1);
		if (!valid_name(name)) {
			snprintf(errbuf, errlen, "%s:%u: invalid variable name", path, lineno);
			err = AIGW_ECONFIG;
			goto out;
		}
		vlen = strlen(value);
		if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
			value[vlen - 1] = '\0';
			value++;
		}
		if (setenv(name, value, 0) != 0) {
			snprintf(errbuf, errlen, "%s:%u: cannot set %s", path, lineno, name);
			err = AIGW_ECONFIG;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(errbuf, errlen, "%s: read error", path);
		err = AIGW_ECONFIG;
	}
out:
	fclose(f);
	return err;
}

static enum aigw_err
parse_var(const struct var *v, const char *text, struct aigw_config *cfg,
	  char *errbuf, size_t errlen)
{
	char *base = (char *)cfg + v->offset;
	long n;
	int i;

	switch (v->type) {
	case VT_LONG:
		if (parse_long(text, v->min, v->max, &n) != AIGW_OK) {
			snprintf(errbuf, errlen, "%s: expected a whole number from %ld to %ld",
				 v->name, v->min, v->max);
			return AIGW_ECONFIG;
		}
		*(long *)(void *)base = n;
		return AIGW_OK;
	case VT_STRING: {
		char *copy = strdup(text);
		if (copy == NULL) {
			snprintf(errbuf, errlen, "%s: out of memory", v->name);
			return AIGW_ENOMEM;
		}
		*(char **)(void *)base = copy;
		return AIGW_OK;
	}
	case VT_BOOL:
		if (strcmp(text, "on") == 0 || strcmp(text, "1") == 0 || strcmp(text, "true") == 0 ||
		    strcmp(text, "yes") == 0) {
			*(bool *)(void *)base = true;
		} else if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0 ||
			   strcmp(text, "false") == 0 || strcmp(text, "no") == 0) {
			*(bool *)(void *)base = false;
		} else {
			snprintf(errbuf, errlen, "%s: expected on or off", v->name);
			return AIGW_ECONFIG;
		}
		return AIGW_OK;
	case VT_AUTH:
		for (i = 0; i < AUTH__MAX; i++)
			if (strcmp(text, auth_names[i]) == 0)
				break;
		if (i == AUTH__MAX) {
			snprintf(errbuf, errlen, "%s: expected none, keys or server", v->name);
			return AIGW_ECONFIG;
		}
		*(int *)(void *)base = i;
		return AIGW_OK;
	case VT_METRICS:
		for (i = 0; i < METRICS__MAX; i++)
			if (strcmp(text, metrics_names[i]) == 0)
				break;
		if (i == METRICS__MAX) {
			snprintf(errbuf, errlen, "%s: expected open, local or token", v->name);
			return AIGW_ECONFIG;
		}
		*(int *)(void *)base = i;
		return AIGW_OK;
	case VT_POOLER:
		for (i = 0; i < POOLER__MAX; i++)
			if (strcmp(text, pooler_names[i]) == 0)
				break;
		if (i == POOLER__MAX) {
			snprintf(errbuf, errlen, "%s: expected none or transaction", v->name);
			return AIGW_ECONFIG;
		}
		*(int *)(void *)base = i;
		return AIGW_OK;
	case VT_LOGLEVEL:
		i = log_level_parse(text);
		if (i < 0) {
			snprintf(errbuf, errlen, "%s: expected error, warn, info or debug", v->name);
			return AIGW_ECONFIG;
		}
		*(int *)(void *)base = i;
		return AIGW_OK;
	}
	return AIGW_ECONFIG;
}

/* An account's key and base URL from the environment. The error names the
 * variable and never quotes its value: a URL may hold credentials. */
static enum aigw_err
load_account(const struct account *a, struct config_provider *p, char *errbuf, size_t errlen)
{
	const char *key = getenv(a->key_var), *base = getenv(a->base_var);
	size_t n;

	p->name = a->name;
	p->key_var = a->key_var;
	p->base_var = a->base_var;
	if (base == NULL || *base == '\0')
		base = a->default_base;
	if (!str_has_prefix_ci(base, "http://") && !str_has_prefix_ci(base, "https://")) {
		snprintf(errbuf, errlen, "%s: expected an http:// or https:// URL", a->base_var);
		return AIGW_ECONFIG;
	}
	p->key = strdup(key != NULL ? key : "");
	p->base_url = strdup(base);
	if (p->key == NULL || p->base_url == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", a->key_var);
		return AIGW_ENOMEM;
	}
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		p->base_url[--n] = '\0';
	return AIGW_OK;
}

enum aigw_err
config_load(struct aigw_config *cfg, char *errbuf, size_t errlen)
{
	const char *env_file = getenv("AIGW_ENV_FILE");
	enum aigw_err err;

	memset(cfg, 0, sizeof *cfg);
	err = config_apply_env_file(env_file && *env_file ? env_file : DEFAULT_ENV_FILE,
				    errbuf, errlen);
	if (err != AIGW_OK)
		return err;
	for (size_t i = 0; i < NVARS; i++) {
		const char *text = getenv(vars[i].name);

		/* An empty value means "not set" so that NAME= in a file or a
		 * unit can fall back to the default. */
		if (text == NULL || *text == '\0')
			text = vars[i].def;
		err = parse_var(&vars[i], text, cfg, errbuf, errlen);
		if (err != AIGW_OK) {
			config_free(cfg);
			return err;
		}
	}
	for (size_t i = 0; i < ACCOUNT__MAX; i++) {
		err = load_account(&accounts[i], &cfg->provider[i], errbuf, errlen);
		if (err != AIGW_OK) {
			config_free(cfg);
			return err;
		}
	}
	if ((err = config_named_load(cfg, environ, config_names(), errbuf, errlen)) != AIGW_OK) {
		config_free(cfg);
		return err;
	}
	/* A relative TMPDIR would depend on where the worker was started. */
	if (cfg->spool_dir[0] != '/') {
		free(cfg->spool_dir);
		if ((cfg->spool_dir = strdup("/tmp")) == NULL) {
			snprintf(errbuf, errlen, "TMPDIR: out of memory");
			config_free(cfg);
			return AIGW_ENOMEM;
		}
	}
	/* A token that is short or empty would be a door left open. */
	if (cfg->metrics_access == METRICS_TOKEN && strlen(cfg->metrics_token) < 16) {
		snprintf(errbuf, errlen, "AIGW_METRICS_TOKEN: AIGW_METRICS_ACCESS=token needs a"
					 " token of at least 16 characters");
		config_free(cfg);
		return AIGW_ECONFIG;
	}
	/* A typo would silently shut the front end out. */
	if (!origins_check(cfg->cors_origins, errbuf, errlen)) {
		config_free(cfg);
		return AIGW_ECONFIG;
	}
	/* Found out at start, not at the first delivery a day later. */
	if (cfg->webhook_secret[0] != '\0') {
		uint8_t key[WEBHOOK_KEY_MAX];
		size_t key_len = 0;
		bool ok = webhook_secret_key(cfg->webhook_secret, key, &key_len);

		memset(key, 0, sizeof key);
		if (!ok) {
			snprintf(errbuf, errlen, "AIGW_WEBHOOK_SECRET: must be whsec_ and base64 of"
						 " 1 to %d bytes", WEBHOOK_KEY_MAX);
			config_free(cfg);
			return AIGW_ECONFIG;
		}
	}
	return AIGW_OK;
}

void
config_free(struct aigw_config *cfg)
{
	for (size_t i = 0; i < NVARS; i++) {
		if (vars[i].type == VT_STRING) {
			char **p = (char **)(void *)((char *)cfg + vars[i].offset);
			free(*p);
			*p = NULL;
		}
	}
	for (size_t i = 0; i < ACCOUNT__MAX; i++) {
		free(cfg->provider[i].key);
		free(cfg->provider[i].base_url);
		memset(&cfg->provider[i], 0, sizeof cfg->provider[i]);
	}
	config_named_free(cfg);
}

/* The account of provider `name` ("openai-batch": openai's), -1 for none. */
static int
account_of(const char *name)
{
	for (int i = 0; name != NULL && i < ACCOUNT__MAX; i++) {
		size_t n = strlen(accounts[i].name);

		if (strncmp(name, accounts[i].name, n) == 0 && (name[n] == '\0' || name[n] == '-'))
			return i;
	}
	return -1;
}

const struct config_provider *
config_provider(const struct aigw_config *cfg, const char *name)
{
	const struct config_named *e = config_named_find(cfg, name);
	int i = account_of(name);

	/* A named provider first: "openai-azure" is its own, not openai's. */
	return e != NULL ? &e->account : i < 0 ? NULL : &cfg->provider[i];
}

bool
config_is_provider_var(const char *name, size_t len)
{
	for (size_t i = 0; i < ACCOUNT__MAX; i++)
		if ((strlen(accounts[i].key_var) == len &&
		     memcmp(name, accounts[i].key_var, len) == 0) ||
		    (strlen(accounts[i].base_var) == len &&
		     memcmp(name, accounts[i].base_var, len) == 0))
			return true;
	return false;
}

const struct config_rate *
config_rate_limit(const struct aigw_config *cfg, const char *provider)
{
	const struct config_named *e = config_named_find(cfg, provider);

	if (e != NULL)
		return &e->rate;
	for (int i = 0; i < RATE__MAX; i++)
		if (strcmp(rate_names[i], provider) == 0)
			return &cfg->rate[i];
	return NULL;
}

long
config_chat_timeout_s(const struct aigw_config *cfg)
{
	/* 30 s: the retry backoff's cap (worker/runner.c). */
	return cfg->max_attempts * (cfg->provider_timeout_s + 30);
}

/* The effective value of v in cfg as text, into buf when it is a number. */
static const char *
var_text(const struct var *v, const struct aigw_config *cfg, char *buf, size_t len)
{
	const char *base = (const char *)cfg + v->offset;
	/* Only the word-valued fields are ints (a bool is one byte). */
	int i = v->type == VT_AUTH || v->type == VT_METRICS || v->type == VT_POOLER ||
			v->type == VT_LOGLEVEL ? *(const int *)(const void *)base : 0;

	switch (v->type) {
	case VT_LONG:
		snprintf(buf, len, "%ld", *(const long *)(const void *)base);
		return buf;
	case VT_STRING:
		return *(char *const *)(const void *)base;
	case VT_BOOL:
		return *(const bool *)(const void *)base ? "on" : "off";
	case VT_AUTH:
		return i >= 0 && i < AUTH__MAX ? auth_names[i] : "?";
	case VT_METRICS:
		return i >= 0 && i < METRICS__MAX ? metrics_names[i] : "?";
	case VT_POOLER:
		return i >= 0 && i < POOLER__MAX ? pooler_names[i] : "?";
	case VT_LOGLEVEL:
		return log_level_name(i);
	}
	return "?";
}

static const char *
secret_text(const char *value)
{
	return value != NULL && *value != '\0' ? "(set)" : "(not set)";
}

int
config_each_value(const struct aigw_config *cfg, config_value_fn fn, void *arg)
{
	char buf[32];
	int rc = 0;

	for (size_t i = 0; i < NVARS && rc == 0; i++) {
		const char *text = var_text(&vars[i], cfg, buf, sizeof buf);

		rc = fn(arg, vars[i].name, vars[i].secret ? secret_text(text) : text);
	}
	for (size_t i = 0; i < ACCOUNT__MAX && rc == 0; i++) {
		const struct config_provider *p = &cfg->provider[i];

		rc = fn(arg, p->key_var, secret_text(p->key));
		if (rc == 0)
			rc = fn(arg, p->base_var, strcmp(p->base_url, accounts[i].default_base) == 0
						  ? "(default)" : secret_text(p->base_url));
	}
	if (rc == 0)
		rc = config_named_each_value(cfg, fn, arg);
	return rc;
}
