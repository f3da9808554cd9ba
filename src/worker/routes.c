/* routes.c: how each provider is reached (see routes.h). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "worker/routes.h"

static bool
valid_base_url(const char *s)
{
	return str_has_prefix_ci(s, "http://") || str_has_prefix_ci(s, "https://");
}

int
routes_init(struct routes *rs, const struct aigw_config *cfg)
{
	const struct prov_desc *all = prov_all(&rs->n);

	rs->all = calloc(rs->n, sizeof *rs->all);
	if (rs->all == NULL)
		return 1;
	for (size_t i = 0; i < rs->n; i++) {
		struct route *rt = &rs->all[i];
		const char *key = all[i].key_env ? getenv(all[i].key_env) : NULL;
		const char *base = all[i].base_env ? getenv(all[i].base_env) : NULL;
		const struct config_rate *limit;
		size_t n;

		rt->desc = &all[i];
		switch (prov_state_decide(&all[i], key, cfg->mock)) {
		case PROV_CONFIGURED:
			break;
		case PROV_MOCK:
			log_warn("worker", NULL, "%s: %s is not set; the built-in mock answers its"
				 " calls (AIGW_MOCK=on)", all[i].name, all[i].key_env);
			rt->mock = true;
			continue;
		case PROV_MISSING:
			log_info("worker", NULL, "%s: %s is not set; its calls fail", all[i].name,
				 all[i].key_env);
			rt->missing = true;
			continue;
		}
		if (all[i].kind == PROV_BUILTIN) {
			rt->mock = true;
			continue;
		}
		if (base == NULL || *base == '\0')
			base = all[i].default_base;
		if (!valid_base_url(base)) {
			log_error("worker", NULL, "%s: expected an http:// or https:// URL",
				  all[i].base_env);
			return 2;
		}
		rt->base_url = strdup(base);
		if (rt->base_url == NULL)
			return 1;
		n = strlen(rt->base_url);
		while (n > 0 && rt->base_url[n - 1] == '/')
			rt->base_url[--n] = '\0';
		rt->pc.api_key = key;
		rt->pc.base_url = rt->base_url;
		limit = config_rate_limit(cfg, all[i].name);
		if (limit != NULL) {
			rt->rpm = limit->rpm;
			rt->tpm = limit->tpm;
		}
	}
	return 0;
}

void
routes_free(struct routes *rs)
{
	for (size_t i = 0; i < rs->n && rs->all != NULL; i++)
		free(rs->all[i].base_url);
	free(rs->all);
	rs->all = NULL;
	rs->n = 0;
}

struct route *
route_find(const struct routes *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->all[i].desc->name, name) == 0)
			return &rs->all[i];
	return NULL;
}
