/*
 * config.h: aigw's configuration, read once at start from the environment.
 *
 * config_load() first applies AIGW_ENV_FILE (default /etc/aigw/aigw.env) to
 * the process environment without overriding what is already set, then
 * parses every variable of one table with its validator. On error nothing
 * is returned but one line naming the variable (or file and line) in errbuf;
 * the program prints it and exits: a value out of its range, a word not
 * among the allowed ones, a provider base URL that is not http:// or
 * https://, a token too short, a malformed env file, or memory running
 * out. The providers' keys are secrets: no error text or log line quotes
 * them, nor any base URL (it may hold credentials). The struct owns its
 * strings: free them with config_free(). Call before any thread starts (it
 * may setenv).
 */
#ifndef AIGW_CORE_CONFIG_H
#define AIGW_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "providers/provider.h"

enum config_auth { AUTH_NONE, AUTH_KEYS, AUTH_SERVER, AUTH__MAX };
/* Who may read GET /api/metrics: anyone, loopback clients, or a bearer of
 * AIGW_METRICS_TOKEN. */
enum config_metrics { METRICS_OPEN, METRICS_LOCAL, METRICS_TOKEN, METRICS__MAX };
/* What stands between aigw and PostgreSQL: nothing, or a pooler that
 * hands out a server connection per transaction (PgBouncer's transaction
 * mode), which keeps no session state. */
enum config_pooler { POOLER_NONE, POOLER_TRANSACTION, POOLER__MAX };

/* The providers with rate limits (AIGW_RPM_*, AIGW_TPM_*), in the order of the table of
 * their API names in config.c. */
enum config_rate_provider { RATE_OPENAI, RATE_ANTHROPIC, RATE_GEMINI, RATE_PERPLEXITY, RATE__MAX };

/* Requests and estimated tokens per minute shared by every worker; 0 = no
 * limit. */
struct config_rate {
	long rpm;
	long tpm;
};

/*
 * The providers' accounts: where each is reached and with which key. One
 * macro per account gives its key variable, base URL variable and default
 * base URL, so that the provider table (providers/provider.c) and this
 * table name them once.
 */
/* Where AIGW_PRICES_FILE points by default (providers/provider.h). */
#define AIGW_PRICES_DEFAULT AIGW_SYSCONFDIR "/aigw/prices.json"

#define CONFIG_ACCOUNT_OPENAI "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"
#define CONFIG_ACCOUNT_ANTHROPIC "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", \
	"https://api.anthropic.com"
#define CONFIG_ACCOUNT_GEMINI "GEMINI_API_KEY", "GEMINI_BASE_URL", \
	"https://generativelanguage.googleapis.com"
#define CONFIG_ACCOUNT_PERPLEXITY "PERPLEXITY_API_KEY", "PERPLEXITY_BASE_URL", \
	"https://api.perplexity.ai"
#define CONFIG_ACCOUNT_SNAPSHOT "SNAPSHOT_API_KEY", "SNAPSHOT_BASE_URL", \
	"https://api.brightdata.com/datasets/v3"

enum config_account {
	ACCOUNT_OPENAI, ACCOUNT_ANTHROPIC, ACCOUNT_GEMINI, ACCOUNT_PERPLEXITY, ACCOUNT_SNAPSHOT,
	ACCOUNT__MAX
};

/* One account's settings. The key is a secret: nothing prints or logs it,
 * only whether it is set. */
struct config_provider {
	const char *name;      /* "openai": the account's API name */
	const char *key_var;   /* "OPENAI_API_KEY" */
	const char *base_var;  /* "OPENAI_BASE_URL" */
	char *key;             /* "" when not set */
	char *base_url;        /* http:// or https://, defaulted, no trailing slash */
};

/*
 * Named providers: any OpenAI-compatible server (Ollama, vLLM, OpenRouter,
 * Groq, ...) from the variables AIGW_PROVIDER_<NAME>_BASE_URL (required:
 * http:// or https://), _API_KEY (optional, a secret), _FORMAT (openai, the
 * default and the only one yet), _RPM and _TPM (shared rate limits as
 * AIGW_RPM_*). NAME is upper-case letters, digits and single _ inside; the
 * API name is it in lower case with - for _ (MY_VLLM: "my-vllm"). A name may
 * not be a built-in provider's, a variable not one of those five is an
 * error (a typo would silently drop a setting), and there are at most
 * CONFIG_NAMED_MAX names. Sorted by API name.
 */
#define CONFIG_NAMED_MAX 32
/* The longest NAME. */
#define CONFIG_NAMED_NAME_MAX 40
#define CONFIG_NAMED_MODEL_MAX 128  /* characters of one _MODELS name */
#define CONFIG_NAMED_PREFIX "AIGW_PROVIDER_"

struct config_named {
	char name[CONFIG_NAMED_NAME_MAX + 1];            /* "my-vllm" */
	char key_var[sizeof CONFIG_NAMED_PREFIX + CONFIG_NAMED_NAME_MAX + 8];
	char base_var[sizeof CONFIG_NAMED_PREFIX + CONFIG_NAMED_NAME_MAX + 9];
	/* name, key_var, base_var and the owned key and base URL */
	struct config_provider account;
	struct config_rate rate;
	/* _MODELS: the models GET /v1/models lists for it, comma-separated
	 * ("llama3.1,qwen2.5"); "" when not set. Any model may be asked for. */
	char *models;
	/* OpenAI's adapter under the name (providers/provider.h): what
	 * prov_find_in() gives for it. Points into this struct: never copy
	 * a loaded config. */
	struct prov_desc desc;
};

struct aigw_config {
	char *database_url;      /* "" = libpq's defaults (PG* variables) */
	char *listen_database_url;  /* LISTEN and session locks; "" = database_url */
	int db_pooler;           /* enum config_pooler */
	long db_timeout_s;       /* the longest wait for the database on one statement */
	int auth;                /* enum config_auth */
	long max_body;
	long workers_max;
	long worker_idle_s;
	long worker_chats_max;      /* chats one worker holds at once */
	long provider_connections;  /* a worker's connections to one provider host */
	long provider_window_start; /* calls to a host at once before it answered any */
	char *worker_bin;
	long chat_ttl_s;
	long max_attempts;
	long provider_timeout_s;
	long lease_s;
	long worker_stop_s;
	long batch_window_ms;
	long batch_poll_max_s;
	long batch_deadline_s;
	long batch_download_max_mb; /* a batch's result file, spooled to disk */
	long pending_timeout_s;
	long keep_done_days;
	long keep_failed_days;
	long limit_org;
	long limit_user;
	long limit_decision;
	long analysis_concurrency;  /* analysis jobs running at once */
	char *jobtypes_dir;
	char *prices_file;       /* prices.json; its default may be absent (built-in table) */
	long mock_delay_ms;
	bool mock;               /* a provider without its key answered by the mock */
	long mock_tokens_per_s;  /* the mock's streamed words a second */
	bool stream;             /* sync providers' answers stream, stored in pieces */
	long stream_flush_ms;    /* new text is written at most this often */
	long stream_idle_s;      /* a stream silent this long is a timeout */
	long wait_max;           /* long-polls and event streams waiting at once; 0: auto */
	long wait_max_per_owner; /* of them, one user's (or address's); 0: no bound */
	long sse_heartbeat_s;    /* a comment line on an idle event stream this often */
	long sse_max_s;          /* an event stream ends after this long */
	long cgi_wait_max_s;     /* the longest long-poll under plain CGI */
	long status_cache_bytes;       /* a process's status cache; 0: none */
	long status_cache_max_age_ms;  /* an entry is read again after it */
	long sync_wait_s;        /* a /v1/ request without background waits this long */
	struct config_rate rate[RATE__MAX]; /* AIGW_RPM_<PROVIDER>, AIGW_TPM_<PROVIDER> */
	int metrics_access;      /* enum config_metrics */
	char *metrics_token;
	int log_level;           /* enum log_level */
	char *log_file;          /* "" = stderr */
	char *cors_origins;      /* AIGW_CORS_ORIGINS: exact origins, comma-separated; "" = off */
	bool log_prompts;        /* prompts in the worker's log (off: never) */
	bool spawn;
	char *migrations_dir;
	/* TMPDIR when it is an absolute path, else /tmp: where a worker
	 * spools batch result files. */
	char *spool_dir;
	bool webhook_per_request;  /* "webhook_url" accepted in a submit */
	char *webhook_secret;      /* whsec_...: "" when not set */
	long webhook_retry_s;      /* deliveries are retried this long after the event */
	long webhook_timeout_s;    /* one attempt's bound */
	long webhook_backoff_ms;   /* the first retry's delay */
	bool webhook_allow_private;
	struct config_provider provider[ACCOUNT__MAX];
	struct config_named named[CONFIG_NAMED_MAX]; /* AIGW_PROVIDER_<NAME>_* */
	size_t nnamed;
};

enum aigw_err config_load(struct aigw_config *cfg, char *errbuf, size_t errlen) AIGW_MUSTCHECK;
void config_free(struct aigw_config *cfg);

/* The longest a healthy chat attempt runs: every call's attempts timing
 * out, with the longest backoff between them. Past it the reaper takes the
 * chat back. Cannot fail. */
long config_chat_timeout_s(const struct aigw_config *cfg);

/* The rate limits of a provider by its API name ("openai", or a named
 * provider's); NULL for a provider without any (the built-in mock).
 * Borrowed from cfg. Cannot fail. */
const struct config_rate *config_rate_limit(const struct aigw_config *cfg, const char *provider);

/* The account a provider uses, by the provider's API name: a named
 * provider's own; "openai", and "openai-batch" (a built-in provider
 * "<account>-<variant>" shares its account's key and URL); NULL for a
 * provider without one (the built-in mock). Borrowed from cfg. Cannot
 * fail. */
const struct config_provider *config_provider(const struct aigw_config *cfg, const char *name);

/* Whether a variable (its whole name) is a provider account's key or base
 * URL: what a spawned worker must inherit beside the AIGW_ variables.
 * Cannot fail. */
bool config_is_provider_var(const char *name, size_t len);

/* Calls fn(arg, name, value) for every variable of the table, in its
 * order, with the effective value as text (defaults applied, words as
 * their names: "on", "keys", "info"). A secret (the providers' keys and
 * base URLs, DATABASE_URL, AIGW_LISTEN_DATABASE_URL, AIGW_METRICS_TOKEN) is
 * never given, only "(set)" or "(not set)" ("(default)" for a base URL
 * left at its provider's). Stops at fn's first non-zero
 * return and returns it; 0 otherwise. Cannot fail by itself. */
typedef int (*config_value_fn)(void *arg, const char *name, const char *value);
int config_each_value(const struct aigw_config *cfg, config_value_fn fn, void *arg);

/*
 * Reads NAME=value lines from path into the environment, never overriding a
 * variable already set. Blank lines and lines starting with # are skipped;
 * one pair of surrounding quotes is removed. A missing file is not an error
 * (AIGW_OK); an unreadable file or a malformed line is AIGW_ECONFIG with
 * the file and line in errbuf.
 */
enum aigw_err config_apply_env_file(const char *path, char *errbuf, size_t errlen) AIGW_MUSTCHECK;

/* The names of every variable in the table, NULL-terminated (for the check
 * that docs/configuration.md names each, and for "aigw status"), the
 * providers' keys and base URLs included. */
const char *const *config_names(void);

#endif
