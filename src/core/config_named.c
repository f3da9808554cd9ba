/* config_named.c: the named OpenAI-compatible providers of the environment
 * (see config_named.h). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_named.h"
#include "core/util.h"
#include "providers/provider.h"

/* What a named provider may set, by the end of its variables' names. */
enum setting { SET_BASE_URL, SET_API_KEY, SET_FORMAT, SET_RPM, SET_TPM, SET_MODELS, SET__MAX };

static const char *const suffixes[SET__MAX] = {
	[SET_BASE_URL] = "_BASE_URL",
	[SET_API_KEY] = "_API_KEY",
	[SET_FORMAT] = "_FORMAT",
	[SET_RPM] = "_RPM",
	[SET_TPM] = "_TPM",
	[SET_MODELS] = "_MODELS",
};

/* The only wire format yet. */
#define FORMAT_OPENAI "openai"
/* A variable's name as an error shows it: at most this many bytes. */
#define VAR_SHOWN 80

/* Whether the variable (len bytes at var) is one of the table's own, such as
 * AIGW_PROVIDER_TIMEOUT_S: not a named provider's. */
static bool
in_table(const char *const *table, const char *var, size_t len)
{
	for (const char *const *n = table; *n != NULL; n++)
		if (strlen(*n) == len && memcmp(*n, var, len) == 0)
			return true;
	return false;
}

/* NAME: upper-case letters and digits, single _ between them. */
static bool
valid_name(const char *s, size_t len)
{
	if (len == 0 || len > CONFIG_NAMED_NAME_MAX || s[0] == '_' || s[len - 1] == '_')
		return false;
	for (size_t i = 0; i < len; i++) {
		bool ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
			  (s[i] == '_' && s[i - 1] != '_');

		if (!ok)
			return false;
	}
	return true;
}

static bool
has_blank_or_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* NAME's API name: lower case, - for _ (len <= CONFIG_NAMED_NAME_MAX). */
static void
api_name(const char *name, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
		out[i] = name[i] == '_' ? '-' : name[i] >= 'A' && name[i] <= 'Z'
			 ? (char)(name[i] - 'A' + 'a') : name[i];
	out[len] = '\0';
}

/* The entry of NAME (len bytes), added when new; NULL when full. */
static struct config_named *
entry_of(struct aigw_config *cfg, const char *name, size_t len)
{
	struct config_named *e;

	for (size_t i = 0; i < cfg->nnamed; i++) {
		e = &cfg->named[i];
		/* the variables' prefix was written first: AIGW_PROVIDER_NAME */
		if (strlen(e->base_var) == sizeof CONFIG_NAMED_PREFIX - 1 + len &&
		    memcmp(e->base_var + sizeof CONFIG_NAMED_PREFIX - 1, name, len) == 0)
			return e;
	}
	if (cfg->nnamed == CONFIG_NAMED_MAX)
		return NULL;
	e = &cfg->named[cfg->nnamed++];
	memset(e, 0, sizeof *e);
	api_name(name, len, e->name);
	snprintf(e->base_var, sizeof e->base_var, "%s%.*s", CONFIG_NAMED_PREFIX, (int)len, name);
	return e;
}

static enum aigw_err
set_base_url(struct config_named *e, const char *var, const char *value, char *errbuf,
	     size_t errlen)
{
	size_t n = 0;

	if (str_has_prefix_ci(value, "http://"))
		n = strlen("http://");
	else if (str_has_prefix_ci(value, "https://"))
		n = strlen("https://");

	/* a scheme, then a host */
	if (n == 0 || value[n] == '\0' || value[n] == '/' || has_blank_or_control(value)) {
		snprintf(errbuf, errlen, "%s: expected an http:// or https:// URL with a host and"
			 " without blanks", var);
		return AIGW_ECONFIG;
	}
	free(e->account.base_url);
	if ((e->account.base_url = strdup(value)) == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", var);
		return AIGW_ENOMEM;
	}
	n = strlen(e->account.base_url);
	while (n > 0 && e->account.base_url[n - 1] == '/')
		e->account.base_url[--n] = '\0';
	return AIGW_OK;
}

/* A model list: names of 1 to CONFIG_NAMED_MODEL_MAX printable characters
 * without blanks or commas, separated by single commas. */
static enum aigw_err
set_models(struct config_named *e, const char *var, const char *value, char *errbuf,
	   size_t errlen)
{
	size_t run = 0;

	for (const char *p = value;; p++) {
		if (*p == ',' || *p == '\0') {
			if (run == 0 || run > CONFIG_NAMED_MODEL_MAX) {
				snprintf(errbuf, errlen, "%s: expected model names of 1 to %d"
					 " characters separated by commas", var, CONFIG_NAMED_MODEL_MAX);
				return AIGW_ECONFIG;
			}
			if (*p == '\0')
				break;
			run = 0;
		} else if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(errbuf, errlen, "%s: a model name holds a blank or a control"
				 " character", var);
			return AIGW_ECONFIG;
		} else {
			run++;
		}
	}
	free(e->models);
	if ((e->models = strdup(value)) == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", var);
		return AIGW_ENOMEM;
	}
	return AIGW_OK;
}

/* One variable, var (NUL-terminated) = value, of setting s for NAME. */
static enum aigw_err
load_one(struct aigw_config *cfg, const char *var, const char *name, size_t name_len,
	 enum setting s, const char *value, char *errbuf, size_t errlen)
{
	struct config_named *e;
	char api[CONFIG_NAMED_NAME_MAX + 1];

	if (!valid_name(name, name_len)) {
		snprintf(errbuf, errlen, "%.*s: the provider's NAME in AIGW_PROVIDER_<NAME>_%s must be"
			 " 1 to %d upper-case letters and digits, with single _ inside",
			 VAR_SHOWN, var, suffixes[s] + 1, CONFIG_NAMED_NAME_MAX);
		return AIGW_ECONFIG;
	}
	api_name(name, name_len, api);
	if (prov_find(api) != NULL) {
		snprintf(errbuf, errlen, "%s: %s is a built-in provider; a named provider needs"
			 " another NAME", var, api);
		return AIGW_ECONFIG;
	}
	if ((e = entry_of(cfg, name, name_len)) == NULL) {
		snprintf(errbuf, errlen, "%s: more than %d named providers", var, CONFIG_NAMED_MAX);
		return AIGW_ECONFIG;
	}
	switch (s) {
	case SET_BASE_URL:
		return set_base_url(e, var, value, errbuf, errlen);
	case SET_API_KEY:
		free(e->account.key);
		if ((e->account.key = strdup(value)) == NULL) {
			snprintf(errbuf, errlen, "%s: out of memory", var);
			return AIGW_ENOMEM;
		}
		return AIGW_OK;
	case SET_FORMAT:
		if (strcmp(value, FORMAT_OPENAI) != 0) {
			snprintf(errbuf, errlen, "%s: expected %s (the only format of a named"
				 " provider yet)", var, FORMAT_OPENAI);
			return AIGW_ECONFIG;
		}
		return AIGW_OK;
	case SET_RPM:
		/* The ranges of AIGW_RPM_* and AIGW_TPM_*. */
		if (parse_long(value, 0, 10000000, &e->rate.rpm) != AIGW_OK) {
			snprintf(errbuf, errlen, "%s: expected a whole number from 0 to 10000000", var);
			return AIGW_ECONFIG;
		}
		return AIGW_OK;
	case SET_TPM:
		if (parse_long(value, 0, 1000000000000L, &e->rate.tpm) != AIGW_OK) {
			snprintf(errbuf, errlen, "%s: expected a whole number from 0 to"
				 " 1000000000000", var);
			return AIGW_ECONFIG;
		}
		return AIGW_OK;
	case SET_MODELS:
		return set_models(e, var, value, errbuf, errlen);
	case SET__MAX:
		break;
	}
	return AIGW_ECONFIG;
}

/* One NAME=value entry of the environment; not one of ours: nothing. */
static enum aigw_err
load_entry(struct aigw_config *cfg, const char *entry, const char *const *table, char *errbuf,
	   size_t errlen)
{
	const size_t plen = sizeof CONFIG_NAMED_PREFIX - 1;
	const char *eq = strchr(entry, '=');
	size_t len = eq != NULL ? (size_t)(eq - entry) : strlen(entry);
	char var[sizeof CONFIG_NAMED_PREFIX + CONFIG_NAMED_NAME_MAX + 16];

	if (eq == NULL || strncmp(entry, CONFIG_NAMED_PREFIX, plen) != 0 || in_table(table, entry, len))
		return AIGW_OK;
	for (int s = 0; s < SET__MAX; s++) {
		size_t slen = strlen(suffixes[s]);

		if (len > plen + slen && memcmp(entry + len - slen, suffixes[s], slen) == 0) {
			/* An empty value is "not set", as for the table's variables. */
			if (eq[1] == '\0')
				return AIGW_OK;
			if (len >= sizeof var) {
				snprintf(errbuf, errlen, "%.*s...: the provider's NAME is longer than %d",
					 VAR_SHOWN, entry, CONFIG_NAMED_NAME_MAX);
				return AIGW_ECONFIG;
			}
			memcpy(var, entry, len);
			var[len] = '\0';
			return load_one(cfg, var, entry + plen, len - plen - slen, (enum setting)s,
					eq + 1, errbuf, errlen);
		}
	}
	snprintf(errbuf, errlen, "%.*s: unknown; a named provider has AIGW_PROVIDER_<NAME>_BASE_URL,"
		 " _API_KEY, _FORMAT, _RPM, _TPM and _MODELS", (int)(len < VAR_SHOWN ? len : VAR_SHOWN),
		 entry);
	return AIGW_ECONFIG;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct config_named *)a)->name, ((const struct config_named *)b)->name);
}

enum aigw_err
config_named_load(struct aigw_config *cfg, char *const *env, const char *const *table,
		  char *errbuf, size_t errlen)
{
	enum aigw_err err = AIGW_OK;

	cfg->nnamed = 0;
	for (size_t i = 0; env != NULL && env[i] != NULL && err == AIGW_OK; i++)
		err = load_entry(cfg, env[i], table, errbuf, errlen);
	for (size_t i = 0; i < cfg->nnamed && err == AIGW_OK; i++) {
		struct config_named *e = &cfg->named[i];

		if (e->account.base_url == NULL) {
			snprintf(errbuf, errlen, "%s_BASE_URL: not set, and the named provider %s"
				 " needs it", e->base_var, e->name);
			err = AIGW_ECONFIG;
		} else if ((e->account.key == NULL && (e->account.key = strdup("")) == NULL) ||
			   (e->models == NULL && (e->models = strdup("")) == NULL)) {
			snprintf(errbuf, errlen, "%s: out of memory", e->base_var);
			err = AIGW_ENOMEM;
		}
	}
	if (err != AIGW_OK) {
		config_named_free(cfg);
		return err;
	}
	/* Sorted before anything points into the entries. */
	qsort(cfg->named, cfg->nnamed, sizeof cfg->named[0], by_name);
	for (size_t i = 0; i < cfg->nnamed; i++) {
		struct config_named *e = &cfg->named[i];
		/* base_var holds the prefix AIGW_PROVIDER_NAME so far */
		size_t n = strlen(e->base_var);

		snprintf(e->key_var, sizeof e->key_var, "%.*s_API_KEY", (int)n, e->base_var);
		snprintf(e->base_var + n, sizeof e->base_var - n, "_BASE_URL");
		e->account.name = e->name;
		e->account.key_var = e->key_var;
		e->account.base_var = e->base_var;
		prov_named_desc(&e->desc, e->name, e->key_var, e->base_var);
	}
	return AIGW_OK;
}

void
config_named_free(struct aigw_config *cfg)
{
	for (size_t i = 0; i < cfg->nnamed; i++) {
		free(cfg->named[i].account.key);
		free(cfg->named[i].account.base_url);
		free(cfg->named[i].models);
		memset(&cfg->named[i], 0, sizeof cfg->named[i]);
	}
	cfg->nnamed = 0;
}

const struct config_named *
config_named_find(const struct aigw_config *cfg, const char *name)
{
	for (size_t i = 0; name != NULL && i < cfg->nnamed; i++)
		if (strcmp(cfg->named[i].name, name) == 0)
			return &cfg->named[i];
	return NULL;
}

int
config_named_each_value(const struct aigw_config *cfg, config_value_fn fn, void *arg)
{
	char var[sizeof CONFIG_NAMED_PREFIX + CONFIG_NAMED_NAME_MAX + 16], num[32];
	int rc = 0;

	for (size_t i = 0; i < cfg->nnamed && rc == 0; i++) {
		const struct config_named *e = &cfg->named[i];
		/* AIGW_PROVIDER_NAME, the variables' common prefix */
		int n = (int)(strlen(e->base_var) - strlen(suffixes[SET_BASE_URL]));

		/* The URL may hold credentials: a secret like the key. */
		rc = fn(arg, e->base_var, "(set)");
		if (rc == 0)
			rc = fn(arg, e->key_var, e->account.key[0] != '\0' ? "(set)" : "(not set)");
		snprintf(var, sizeof var, "%.*s_FORMAT", n, e->base_var);
		if (rc == 0)
			rc = fn(arg, var, FORMAT_OPENAI);
		snprintf(var, sizeof var, "%.*s_RPM", n, e->base_var);
		snprintf(num, sizeof num, "%ld", e->rate.rpm);
		if (rc == 0)
			rc = fn(arg, var, num);
		snprintf(var, sizeof var, "%.*s_TPM", n, e->base_var);
		snprintf(num, sizeof num, "%ld", e->rate.tpm);
		if (rc == 0)
			rc = fn(arg, var, num);
		snprintf(var, sizeof var, "%.*s_MODELS", n, e->base_var);
		if (rc == 0)
			rc = fn(arg, var, e->models);
	}
	return rc;
}
