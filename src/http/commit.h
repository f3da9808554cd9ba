/*
 * commit.h: chat submits committed together (group commit).
 *
 * Each FastCGI thread committing its own INSERT makes every submit wait
 * for a commit of its own, and PostgreSQL spends most of a small INSERT's
 * cost on the statement and the commit. Here a submit joins a queue; the
 * first thread to find no insert running takes the whole queue and
 * inserts it on its own connection in one statement and one commit, then
 * wakes the others of that group with the outcome, and the first submit
 * queued meanwhile to write the next group. Every thread answers only
 * after the commit that holds its row. Alone, a submit goes straight through; under
 * load the groups grow by themselves while the previous one is written.
 *
 * Can fail as the insert does (AIGW_EDB, AIGW_ENOMEM), for the whole
 * group. Thread-safe.
 */
#ifndef AIGW_HTTP_COMMIT_H
#define AIGW_HTTP_COMMIT_H

#include <pthread.h>
#include <stdbool.h>

#include "db/chats.h"
#include "db/db.h"

#define COMMIT_GROUP_MAX 64         /* chats in one statement */

struct commit_entry;

/* Writes rows[0..n) in one statement and one commit (db_chat_insert). */
typedef enum aigw_err (*commit_insert_fn)(struct db *db, const struct db_chat_new *const *rows,
					  size_t n);

struct commit_group {
	pthread_mutex_t lock;
	struct commit_entry *head, **tail;
	bool writing;                   /* a thread is inserting a group */
	commit_insert_fn insert;
};

/* Groups written by db_chat_insert. Cannot fail. */
void commit_group_init(struct commit_group *g);
/* Groups written by insert instead (the tests' stand-in for the
 * database). Cannot fail. */
void commit_group_init_insert(struct commit_group *g, commit_insert_fn insert);
void commit_group_destroy(struct commit_group *g);

/* Inserts row, with whatever submits wait beside it, on db (the calling
 * thread's connection, used when this thread writes the group). g NULL:
 * inserted alone. */
enum aigw_err commit_group_insert(struct commit_group *g, struct db *db,
				  const struct db_chat_new *row) AIGW_MUSTCHECK;

#endif
