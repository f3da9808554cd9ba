/* itemindex.c: a batch's items by id (see itemindex.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/itemindex.h"

static size_t
hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

bool
item_index_build(struct item_index *ix, const struct db_batch_item *items, size_t nitems)
{
	size_t n = 16;

	while (n <= 2 * nitems)
		n *= 2;
	if ((ix->slots = calloc(n, sizeof *ix->slots)) == NULL)
		return false;
	ix->nslots = n;
	for (size_t i = 0; i < nitems; i++) {
		size_t k = hash_id(items[i].item_id) & (n - 1);

		while (ix->slots[k] != 0)
			k = (k + 1) & (n - 1);
		ix->slots[k] = i + 1;
	}
	return true;
}

struct db_batch_item *
item_index_find(const struct item_index *ix, struct db_batch_item *items, const char *id)
{
	if (ix->nslots == 0)
		return NULL;
	for (size_t k = hash_id(id) & (ix->nslots - 1); ix->slots[k] != 0;
	     k = (k + 1) & (ix->nslots - 1))
		if (strcmp(items[ix->slots[k] - 1].item_id, id) == 0)
			return &items[ix->slots[k] - 1];
	return NULL;
}

void
item_index_free(struct item_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->nslots = 0;
}
