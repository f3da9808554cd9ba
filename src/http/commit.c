/* commit.c: chat submits committed together (see commit.h). */
#include <stddef.h>

#include "http/commit.h"

/* Lives on its thread's stack while the thread waits. */
struct commit_entry {
	const struct db_chat_new *row;
	enum aigw_err err;
	bool done;
	struct commit_entry *next;
};

void
commit_group_init_insert(struct commit_group *g, commit_insert_fn insert)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->done, NULL);
	g->head = NULL;
	g->tail = &g->head;
	g->writing = false;
	g->insert = insert;
}

void
commit_group_init(struct commit_group *g)
{
	commit_group_init_insert(g, db_chat_insert);
}

void
commit_group_destroy(struct commit_group *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->done);
}

/* Writes the entries queued first (up to COMMIT_GROUP_MAX), the lock
 * released meanwhile; they are done on return. Called with the lock. */
static void
write_group(struct commit_group *g, struct db *db)
{
	const struct db_chat_new *rows[COMMIT_GROUP_MAX];
	struct commit_entry *group = g->head, *e;
	size_t n = 0;
	enum aigw_err err;

	for (e = group; e != NULL && n < COMMIT_GROUP_MAX; e = e->next)
		rows[n++] = e->row;
	/* e: the first entry left for the next group. */
	g->head = e;
	if (e == NULL)
		g->tail = &g->head;
	g->writing = true;
	pthread_mutex_unlock(&g->lock);
	err = g->insert(db, rows, n);
	pthread_mutex_lock(&g->lock);
	for (e = group; n > 0; n--) {
		struct commit_entry *next = e->next;

		e->err = err;
		e->done = true;
		e = next;
	}
	g->writing = false;
	pthread_cond_broadcast(&g->done);
}

enum aigw_err
commit_group_insert(struct commit_group *g, struct db *db, const struct db_chat_new *row)
{
	struct commit_entry self = { .row = row, .err = AIGW_EDB };

	if (g == NULL)
		return db_chat_insert(db, &row, 1);
	pthread_mutex_lock(&g->lock);
	/* Queued on our stack: write_group takes it off the queue (and the
	 * tail off it) before it marks it done, and we return only then. */
	*g->tail = &self;
	/* cppcheck-suppress autoVariables */
	g->tail = &self.next;
	while (!self.done) {
		/* When nobody writes, this thread writes the next group:
		 * ours, or one queued before it. */
		if (!g->writing)
			write_group(g, db);
		else
			pthread_cond_wait(&g->done, &g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return self.err;
}
