/* state.c: how a process reaches each provider, from its configuration (see
 * provider.h, prov_state_in). Apart from provider.c: the configuration
 * (core/config.c) builds on the provider table, and this builds on both. */
#include <stdio.h>

#include "core/config.h"
#include "providers/provider.h"

enum prov_state
prov_state_decide(const struct prov_desc *d, const char *key, bool mock_fallback)
{
	enum prov_state s = PROV_CONFIGURED;

	/* No answer is made up unless the operator asked for that. */
	if (d->kind != PROV_BUILTIN && !d->key_optional && (key == NULL || key[0] == '\0'))
		s = mock_fallback ? PROV_MOCK : PROV_MISSING;
	return s;
}

enum prov_state
prov_state_in(const struct prov_desc *d, const struct aigw_config *cfg)
{
	const struct config_provider *p = config_provider(cfg, d->name);

	return prov_state_decide(d, p != NULL ? p->key : NULL, cfg->mock);
}

const char *
prov_state_name(enum prov_state s)
{
	return s == PROV_CONFIGURED ? "configured" : s == PROV_MOCK ? "mock" : "missing";
}

const struct prov_desc *
prov_none_reachable_in(const struct aigw_config *cfg, const char *const *names, size_t n)
{
	const struct prov_desc *first = NULL;

	for (size_t i = 0; i < n; i++) {
		const struct prov_desc *d = prov_find_in(cfg, names[i]);

		if (d == NULL || prov_state_in(d, cfg) != PROV_MISSING)
			return NULL;
		if (first == NULL)
			first = d;
	}
	return first;
}

void
prov_not_configured_text(const struct prov_desc *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s is not configured: set %s", d->name,
		 d->key_env != NULL ? d->key_env : "its key");
}
