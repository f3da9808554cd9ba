/* commit.c: chat submits committed together (see commit.h). */
#include <stddef.h>

#include "http/commit.h"

/* Lives on its thread's stack while the thread waits, on a condition of
 * its own: with one condition broadcast to all, every commit woke every
 * waiting thread, most of them to find their row not written yet, and
 * all of them fought for the lock (98% of aigw-fcgi's futex calls under
 * a submit load, 8 a submit). */
struct commit_entry {
	const struct db_chat_new *row;
	enum aigw_err err;
	bool done;
	pthread_cond_t wake;
	struct commit_entry *next;
};

void
commit_group_init_insert(struct commit_group *g, commit_insert_fn insert)
{
	pthread_mutex_init(&g->lock, NULL);
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
		pthread_cond_signal(&e->wake);
		e = next;
	}
	g->writing = false;
}

enum aigw_err
commit_group_insert(struct commit_group *g, struct db *db, const struct db_chat_new *row)
{
	struct commit_entry self = { .row = row, .err = AIGW_EDB };

	if (g == NULL)
		return db_chat_insert(db, &row, 1);
	pthread_cond_init(&self.wake, NULL);
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
			pthread_cond_wait(&self.wake, &g->lock);
	}
	/* The submits queued while the last group was written wait for a
	 * writer: as this thread leaves (it wrote, or was written), the first
	 * of them becomes it. Nobody refers to our entry any more. */
	if (!g->writing && g->head != NULL)
		pthread_cond_signal(&g->head->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_cond_destroy(&self.wake);
	return self.err;
}
