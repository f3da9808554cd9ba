/*
 * itemindex.h: a batch's items indexed by their ids, so that each result
 * of a batch answer finds its call at once (open addressing over FNV-1a).
 *
 * The index borrows the items (it stores positions). Building it fails
 * only on ENOMEM. Not thread-safe; one per batch.
 */
#ifndef AIGW_WORKER_ITEMINDEX_H
#define AIGW_WORKER_ITEMINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "db/batches.h"

struct item_index {
	size_t *slots;              /* item position + 1 by the hash of its id; 0: free */
	size_t nslots;              /* a power of two, more than twice the items */
};

/* false on ENOMEM (then ix holds nothing). */
bool item_index_build(struct item_index *ix, const struct db_batch_item *items, size_t n);
/* The item whose id is id, NULL when none; items is the array indexed. */
struct db_batch_item *item_index_find(const struct item_index *ix, struct db_batch_item *items,
				      const char *id);
void item_index_free(struct item_index *ix);

#endif
