/*
 * provider_routes.h: how each provider is reached from this worker process:
 * its own API (key and base URL from the loaded configuration), the
 * built-in mock when its key is not set and AIGW_MOCK is on, or not at
 * all. Also the shared rate
 * limits and the pause a 429 with Retry-After set, which every task of the
 * provider in this process consults.
 *
 * routes_init fails only on ENOMEM; config_load has refused an invalid
 * base URL before.
 * Single threaded, like the loop.
 */
#ifndef AIGW_WORKER_PROVIDER_ROUTES_H
#define AIGW_WORKER_PROVIDER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "providers/provider.h"

struct route {
	const struct prov_desc *desc;
	struct prov_config pc;     /* strings borrowed from the configuration */
	bool mock;
	bool missing;              /* no key, no mock: every call fails at once */
	long rpm, tpm;             /* shared limits; 0 = none (always for the mock) */
	int64_t rate_open_ms;      /* the window was full: no request asks before */
	int64_t pause_until_ms;    /* paused (a 429 with Retry-After) until then */
};

struct routes {
	struct route *all;
	size_t n;
};

/* Every provider's route from cfg, which must outlive rs. 0 on success, 1 on
 * ENOMEM. routes_free undoes it either way. */
int routes_init(struct routes *rs, const struct aigw_config *cfg);
void routes_free(struct routes *rs);

/* The route of the provider named name; NULL when there is none. */
struct route *route_find(const struct routes *rs, const char *name);

#endif
