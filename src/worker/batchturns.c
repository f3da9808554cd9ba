/* batchturns.c: a batch's calls' conversations (see batchturns.h). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "worker/batchturns.h"

enum aigw_err
batch_turns_load(struct batch_turns *bt, const struct db_batch_item *items,
		 struct prov_batch_item *calls, size_t n)
{
	memset(bt, 0, sizeof *bt);
	for (size_t i = 0; i < n; i++) {
		enum aigw_err err;

		if (items[i].messages_json == NULL)
			continue;
		if (bt->n == 0) {
			bt->conversations = calloc(n, sizeof *bt->conversations);
			bt->turns = calloc(n, sizeof *bt->turns);
			bt->n = n;
			if (bt->conversations == NULL || bt->turns == NULL)
				goto nomem;
		}
		bt->conversations[i] = json_tokener_parse(items[i].messages_json);
		err = prov_turns_from_json(bt->conversations[i], &bt->turns[i], &calls[i].call.nturns);
		if (err == AIGW_ENOMEM)
			goto nomem;
		if (err != AIGW_OK) {
			/* Not a conversation the API let in: sent as its last
			 * message rather than not at all. */
			log_error("batch", items[i].item_id, "stored messages are not a conversation");
			calls[i].call.nturns = 0;
			continue;
		}
		calls[i].call.turns = bt->turns[i];
	}
	return AIGW_OK;
nomem:
	for (size_t i = 0; i < n; i++) {
		calls[i].call.turns = NULL;
		calls[i].call.nturns = 0;
	}
	batch_turns_free(bt);
	return AIGW_ENOMEM;
}

void
batch_turns_free(struct batch_turns *bt)
{
	for (size_t i = 0; i < bt->n; i++) {
		if (bt->conversations != NULL)
			json_object_put(bt->conversations[i]);
		if (bt->turns != NULL)
			free(bt->turns[i]);
	}
	free(bt->conversations);
	free(bt->turns);
	memset(bt, 0, sizeof *bt);
}
