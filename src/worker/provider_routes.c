/* provider_routes.c: how each provider is reached (see provider_routes.h); not the
 * HTTP route table, which is http/routes.c. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "worker/provider_routes.h"

int
routes_init(struct routes *rs, const struct aigw_config *cfg)
{
	rs->n = prov_count_in(cfg);
	rs->all = calloc(rs->n, sizeof *rs->all);
	if (rs->all == NULL)
		return 1;
	for (size_t i = 0; i < rs->n; i++) {
		struct route *rt = &rs->all[i];
		const struct prov_desc *d = prov_at_in(cfg, i);
		const struct config_provider *acct = config_provider(cfg, d->name);
		const struct config_rate *limit;

		rt->desc = d;
		switch (prov_state_in(d, cfg)) {
		case PROV_CONFIGURED:
			break;
		case PROV_MOCK:
			log_warn("worker", NULL, "%s: %s is not set; the built-in mock answers its"
				 " calls (AIGW_MOCK=on)", d->name, acct->key_var);
			rt->mock = true;
			continue;
		case PROV_MISSING:
			log_info("worker", NULL, "%s: %s is not set; its calls fail", d->name,
				 acct->key_var);
			rt->missing = true;
			continue;
		}
		if (d->kind == PROV_BUILTIN) {
			rt->mock = true;
			continue;
		}
		/* config_load checked the URL and dropped its trailing slashes. */
		rt->pc.api_key = acct->key;
		rt->pc.base_url = acct->base_url;
		limit = config_rate_limit(cfg, d->name);
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
