/*
 * batchturns.h: the conversations of a batch's calls. A call delegated to
 * a batch keeps its chat's conversation (batch_items.messages); loading
 * the batch turns each into its call's turns, as a claimed chat's are.
 *
 * The turns borrow from the parsed conversations this holds, and the
 * calls borrow the turns: the calls' turns are not to be read once it is
 * freed. A conversation that is
 * not one (the API never stores such) leaves its call with its message
 * alone, logged. Fails only on ENOMEM. Not thread-safe; one per batch.
 */
#ifndef AIGW_WORKER_BATCHTURNS_H
#define AIGW_WORKER_BATCHTURNS_H

#include <stddef.h>

#include <json-c/json.h>

#include "core/err.h"
#include "db/batches.h"
#include "providers/provider.h"

struct batch_turns {
	json_object **conversations;  /* per item, or NULL */
	struct prov_turn **turns;     /* per item, or NULL */
	size_t n;
};

/* Sets calls[i].call.turns/nturns from items[i].messages_json for the n
 * items. AIGW_ENOMEM (then bt holds nothing and no call has turns). */
enum aigw_err batch_turns_load(struct batch_turns *bt, const struct db_batch_item *items,
			       struct prov_batch_item *calls, size_t n) AIGW_MUSTCHECK;
/* Safe on a zeroed one. */
void batch_turns_free(struct batch_turns *bt);

#endif
