/* chatrun.c: the chat runner (see chatrun.h). */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/log.h"
#include "core/util.h"
#include "db/batches.h"
#include "db/chats.h"
#include "db/pieces.h"
#include "db/status.h"
#include "worker/chatrun.h"
#include "worker/resultjson.h"
#include "worker/results.h"

#define CHAT_WRITE_MAX 512          /* results stored by one statement */

struct chat_run {
	struct chatrun *cr;
	struct db_chat_claim c;
	json_object *models;
	json_object *conversation;   /* the stored messages, or NULL */
	struct prov_turn *turns;     /* borrowing from conversation */
	size_t nturns;
	struct task *tasks;
	size_t ntasks;
	size_t open;               /* tasks not settled */
	enum chat_state state;
	int64_t renew_ms;
	int64_t finish_ms;         /* CHAT_FINISHING: when to try again */
	struct chat_run *next;
};

struct chatrun {
	struct worker_ctx *w;
	struct chat_run *chats;
	int n;
	struct results_queue results;  /* the turn's results, written together */
	int64_t pieces_hold_ms;        /* no piece write before (the database was away) */
	uint64_t pieces_writes;        /* piece writes so far: each one's number */
};

/* ---- life cycle ---- */

static void
chat_free(struct task_engine *te, struct chat_run *ch)
{
	for (size_t i = 0; i < ch->ntasks; i++)
		task_abandon(te, &ch->tasks[i]);
	free(ch->tasks);
	json_object_put(ch->models);
	free(ch->turns);
	json_object_put(ch->conversation);
	free(ch->c.message);
	free(ch->c.system);
	free(ch->c.location);
	free(ch->c.models_json);
	free(ch->c.results_json);
	free(ch->c.messages_json);
	free(ch);
}

static void
chat_remove(struct chatrun *cr, struct chat_run *ch)
{
	for (struct chat_run **p = &cr->chats; *p != NULL; p = &(*p)->next) {
		if (*p == ch) {
			*p = ch->next;
			cr->n--;
			break;
		}
	}
	chat_free(&cr->w->te, ch);
}

/* The chat's final write is done (status "" when the fence kept it out). */
static void
chat_finished(struct chat_run *ch, const char *status)
{
	if (db_status_is(status, DB_STATUS_PROCESSING))
		log_info("worker", ch->c.chat_id, "chat awaits its batch results");
	else if (status[0] != '\0')
		log_info("worker", ch->c.chat_id, "chat %s", status);
	/* Removal happens in the turn, never under a caller's feet. */
	chat_state_move(&ch->state, CHAT_GONE, ch->c.chat_id);
}

static void
chat_maybe_finish(struct task_engine *te, struct chat_run *ch, int64_t now)
{
	char status[16];

	if (ch->open > 0 || ch->state == CHAT_GONE)
		return;
	if (db_chat_finish(te->db, ch->c.chat_id, ch->c.attempt, status) != AIGW_OK) {
		if (ch->state == CHAT_OPEN)
			chat_state_move(&ch->state, CHAT_FINISHING, ch->c.chat_id);
		ch->finish_ms = task_write_retry_at(now);
		return;
	}
	chat_finished(ch, status);
}

/* ---- its tasks ---- */

static const char *
chat_task_log_id(const struct task *t)
{
	return ((const struct chat_run *)t->owner)->c.chat_id;
}

static enum aigw_err
chat_task_delegate(struct task_engine *te, struct task *t, int64_t now)
{
	struct chat_run *ch = t->owner;
	struct db_batch_call c = {
		.provider = t->provider, .model = t->model, .chat_id = ch->c.chat_id,
		.message = t->call.message, .system = t->call.system,
		.max_tokens = t->call.max_tokens, .websearch = t->call.websearch,
		.location = t->call.location, .json_output = t->call.json_output,
		/* the conversation read at the claim, when it was one */
		.messages_json = ch->nturns > 0 ? ch->c.messages_json : NULL,
	};
	enum aigw_err err = db_batch_item_add(te->db, &c);

	if (err != AIGW_OK)
		return err;
	/* The chat's worker is done with this call: finishing the chat now
	 * leaves it awaiting the batch, which finishes it. */
	ch->open--;
	chat_maybe_finish(te, ch, now);
	return AIGW_OK;
}

/* chats_write stores the results of every chat together. A result that
 * could not even be built is left to another attempt after the lease:
 * finishing without it would call it failed. */
static const struct task_ops chat_task_ops = {
	.lost = NULL, .log_id = chat_task_log_id, .delegate = chat_task_delegate,
};

/*
 * Stores the chats' results that came in since the last turn, all in one
 * statement: one commit and one notification per chat, however many
 * answers arrived at once. A chat whose last open call is among them is
 * finished by the same statement.
 */
static void
chats_write(struct chatrun *cr, int64_t now)
{
	struct results_queue *q = &cr->results;
	size_t waiting = 0;

	for (struct chat_run *ch = cr->chats; ch != NULL; ch = ch->next) {
		size_t due = results_count(ch->tasks, ch->ntasks, now), before = q->n;

		if (due == 0 || ch->state == CHAT_GONE)
			continue;
		if (waiting + due > CHAT_WRITE_MAX)
			break; /* the rest next turn, which comes at once */
		for (size_t i = 0; i < ch->ntasks; i++) {
			struct task *t = &ch->tasks[i];
			struct result_row r = {
				.kind = RESULT_CHAT, .task = t, .provider = t->provider,
				.result_json = t->result_json, .id = ch->c.chat_id,
				.attempt = ch->c.attempt, .finish = ch->open == due,
			};

			if (results_due(t, now) && !results_add(q, &r)) {
				/* Out of memory: this chat and the rest later,
				 * a chat's results together (finish says so). */
				q->n = before;
				goto write;
			}
		}
		waiting += due;
	}
write:
	results_flush(cr->w->te.db, q, now);
	for (size_t i = 0; i < q->n; i++) {
		const struct result_row *r = &q->rows[i];
		struct chat_run *ch = r->task->owner;

		if (r->outcome == RESULT_HELD)
			continue;
		if (r->outcome == RESULT_FENCED)
			log_info("worker", ch->c.chat_id, "%s: result not stored (the lease moved on)",
				 r->task->provider);
		results_written(r->task);
		ch->open--;
		if (r->finish && (i + 1 == q->n || q->rows[i + 1].task->owner != ch))
			chat_finished(ch, r->status);
	}
	results_clear(q);
}

/* ---- streamed text ---- */

/* When the chats' streams must be written next (PIECES_NEVER: nothing waits). */
static int64_t
chats_pieces_due(const struct chatrun *cr)
{
	int64_t due = PIECES_NEVER;
	long flush_ms = cr->w->te.cfg->stream_flush_ms;

	for (const struct chat_run *ch = cr->chats; ch != NULL; ch = ch->next) {
		if (ch->state == CHAT_GONE)
			continue;
		for (size_t i = 0; i < ch->ntasks; i++) {
			int64_t d = pieces_due(&ch->tasks[i].pieces, flush_ms);

			if (d < due)
				due = d;
		}
	}
	return due == PIECES_NEVER ? due : pieces_flush_at(due, cr->pieces_hold_ms);
}

/*
 * Writes the waiting text of every stream of every chat in one statement
 * once the oldest has waited its AIGW_STREAM_FLUSH_MS. Kept, in order, when
 * the database is away; void when the fence refused it (the chat is no
 * longer this claim's).
 */
static void
chats_pieces_flush(struct chatrun *cr, int64_t now)
{
	struct pieces_flush f;

	if (chats_pieces_due(cr) > now)
		return;
	pieces_flush_init(&f);
	for (struct chat_run *ch = cr->chats; ch != NULL; ch = ch->next) {
		for (size_t i = 0; ch->state != CHAT_GONE && i < ch->ntasks; i++) {
			struct task *t = &ch->tasks[i];
			const struct db_piece base = { .id = ch->c.chat_id, .attempt = ch->c.attempt,
						       .provider = t->provider };

			pieces_flush_add(&f, &t->pieces, &base);
		}
	}
	cr->pieces_hold_ms = pieces_flush_write(&f, cr->w->te.db, db_chat_pieces_write,
						&cr->pieces_writes)
			     ? 0 : task_write_retry_at(now);
}

/*
 * A chat claimed again may hold text streamed by a worker that died: each
 * provider of it that has text so far and is run again here starts with a
 * reset. When the database cannot say, every provider resets (a reset of
 * nothing costs a piece, a missed one a doubled text).
 */
static void
chat_resume_pieces(struct task_engine *te, struct chat_run *ch)
{
	char **names = NULL;
	size_t n = 0;
	bool all = db_chat_pieces_open(te->db, ch->c.chat_id, &names, &n) != AIGW_OK;

	for (size_t i = 0; i < ch->ntasks; i++) {
		bool open = all;

		for (size_t k = 0; k < n && !open; k++)
			open = strcmp(names[k], ch->tasks[i].provider) == 0;
		if (open)
			pieces_mark_written(&ch->tasks[i].pieces);
	}
	db_pieces_names_free(names, n);
}

/* ---- claiming ---- */

/* Takes ownership of the claim's strings. */
static enum aigw_err
chat_add(struct chatrun *cr, struct db_chat_claim *c, int64_t now)
{
	struct task_engine *te = &cr->w->te;
	struct chat_run *ch = calloc(1, sizeof *ch);
	json_object *done = NULL;
	size_t n = 0;

	if (ch == NULL)
		return AIGW_ENOMEM;
	ch->cr = cr;
	ch->c = *c;
	memset(c, 0, sizeof *c);
	ch->state = CHAT_OPEN;
	ch->renew_ms = task_lease_next(now, te->cfg->lease_s);
	ch->models = json_tokener_parse(ch->c.models_json);
	done = json_tokener_parse(ch->c.results_json);
	ch->next = cr->chats;
	cr->chats = ch;
	cr->n++;
	if (ch->c.messages_json != NULL) {
		ch->conversation = json_tokener_parse(ch->c.messages_json);
		if (prov_turns_from_json(ch->conversation, &ch->turns, &ch->nturns) != AIGW_OK) {
			/* Not a conversation the API let in: run it as its last
			 * message rather than not at all. */
			log_error("worker", ch->c.chat_id, "stored messages are not a conversation");
			ch->nturns = 0;
		}
	}
	if (!json_object_is_type(ch->models, json_type_object) ||
	    !json_object_is_type(done, json_type_object)) {
		/* Nothing can be run: finishing it with no results fails it. */
		log_error("worker", ch->c.chat_id, "stored models or results are not JSON objects");
		json_object_put(done);
		chat_maybe_finish(te, ch, now);
		return AIGW_EINVAL;
	}
	ch->tasks = calloc((size_t)json_object_object_length(ch->models) + 1, sizeof *ch->tasks);
	if (ch->tasks == NULL) {
		/* Left to its lease: another attempt takes it. */
		json_object_put(done);
		chat_remove(cr, ch);
		return AIGW_ENOMEM;
	}
	json_object_object_foreach(ch->models, provider, model) {
		struct task *t = &ch->tasks[n];

		/* A result stored by an earlier attempt is never redone. */
		if (json_object_object_get_ex(done, provider, NULL))
			continue;
		task_init(te, t, &chat_task_ops, ch, provider, json_object_get_string(model), now);
		t->call.message = ch->c.message;
		t->call.system = ch->c.system;
		t->call.max_tokens = ch->c.max_tokens;
		t->call.websearch = ch->c.websearch;
		t->call.location = ch->c.location;
		t->call.turns = ch->turns;
		t->call.nturns = ch->nturns;
		n++;
	}
	json_object_put(done);
	ch->ntasks = n;
	ch->open = n;
	if (ch->c.attempt > 1 && n > 0 && te->cfg->stream)
		chat_resume_pieces(te, ch);
	chat_maybe_finish(te, ch, now);
	return AIGW_OK;
}

size_t
chatrun_claim(struct chatrun *cr, long want, int64_t now)
{
	const struct aigw_config *cfg = cr->w->te.cfg;
	struct db_chat_claim *claims = NULL;
	size_t n = 0;

	if (db_chat_claim(cr->w->te.db, (int)want, cfg->lease_s, cr->w->name, cfg->max_attempts,
			  &claims, &n) != AIGW_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char id[UUID_STR_LEN + 1];

		memcpy(id, claims[i].chat_id, sizeof id);
		if (cfg->log_prompts) {
			const struct log_attr prompt[] = { LOG_STR("prompt", claims[i].message) };

			log_event(LOG_INFO, "worker", id, prompt, 1, "claimed (attempt %d)",
				  claims[i].attempt);
		} else {
			log_info("worker", id, "claimed (attempt %d)", claims[i].attempt);
		}
		if (chat_add(cr, &claims[i], now) == AIGW_ENOMEM)
			log_error("worker", id, "out of memory; left to its lease");
	}
	db_chat_claims_free(claims, n);
	return n;
}

/* ---- the turn ---- */

/*
 * Renews every chat lease due within the next half of a renewal period, in
 * one statement, before anything else a turn does: claims and writes must
 * never make a lease wait. Leases renewed together fall due together, so a
 * worker sends about three of these a lease however many chats it holds.
 */
static void
chats_renew(struct chatrun *cr, int64_t now)
{
	struct task_engine *te = &cr->w->te;
	long lease_s = te->cfg->lease_s;
	struct db_chat_lease *rows = NULL;
	struct chat_run **owners = NULL;
	size_t n = 0, due = 0;

	for (struct chat_run *ch = cr->chats; ch != NULL; ch = ch->next)
		due += ch->state != CHAT_GONE && task_lease_due_soon(ch->renew_ms, now, lease_s);
	if (due == 0)
		return;
	rows = calloc(due, sizeof *rows);
	owners = calloc(due, sizeof *owners);
	if (rows == NULL || owners == NULL)
		goto out; /* tried again next turn */
	for (struct chat_run *ch = cr->chats; ch != NULL && n < due; ch = ch->next) {
		if (ch->state == CHAT_GONE || !task_lease_due_soon(ch->renew_ms, now, lease_s))
			continue;
		rows[n] = (struct db_chat_lease){ .chat_id = ch->c.chat_id, .attempt = ch->c.attempt };
		owners[n++] = ch;
	}
	if (db_chat_renew(te->db, rows, n, lease_s) != AIGW_OK) {
		/* The database is away: ask again soon, while the leases last. */
		for (size_t i = 0; i < n; i++)
			owners[i]->renew_ms = task_write_retry_at(now);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (rows[i].ours) {
			owners[i]->renew_ms = task_lease_next(now, lease_s);
			continue;
		}
		log_warn("worker", owners[i]->c.chat_id, "lease lost; dropping the chat");
		chat_remove(cr, owners[i]);
	}
out:
	free(rows);
	free(owners);
}

int64_t
chatrun_turn(struct chatrun *cr, int64_t now, int64_t next)
{
	struct task_engine *te = &cr->w->te;
	struct chat_run *ch, *nextch;

	chats_renew(cr, now);
	chats_pieces_flush(cr, now);
	chats_write(cr, now);
	for (ch = cr->chats; ch != NULL; ch = nextch) {
		nextch = ch->next;
		if (ch->state == CHAT_FINISHING && now >= ch->finish_ms)
			chat_maybe_finish(te, ch, now);
		if (ch->state == CHAT_GONE) {
			chat_remove(cr, ch);
			continue;
		}
		if (ch->renew_ms < next)
			next = ch->renew_ms;
		if (ch->state == CHAT_FINISHING && ch->finish_ms < next)
			next = ch->finish_ms;
		for (size_t i = 0; i < ch->ntasks; i++)
			task_turn(te, &ch->tasks[i], now, &next);
		if (ch->state == CHAT_GONE)
			chat_remove(cr, ch);
	}
	{
		int64_t due = chats_pieces_due(cr);

		if (due < next)
			next = due;
	}
	return next;
}

/*
 * The usage a cancelled chat's streams in flight reported, added to the
 * results the cancel stored, in one statement. Before the tasks are
 * abandoned: their streams hold it. Best effort: the cancel stored the
 * text already, so a database away (or memory short) only loses this.
 */
static void
chat_cancel_usage(struct chatrun *cr, struct chat_run *ch)
{
	struct db_chat_usage *rows = calloc(ch->ntasks ? ch->ntasks : 1, sizeof *rows);
	size_t n = 0;
	enum aigw_err err;

	if (rows == NULL)
		return;
	for (size_t i = 0; i < ch->ntasks; i++) {
		const struct task *t = &ch->tasks[i];
		long in, out;

		if (t->stream == NULL || prov_stream_usage(t->stream, &in, &out) != AIGW_OK ||
		    (in < 0 && out < 0))
			continue;
		if ((rows[n].usage_json = worker_usage_json(t->provider, t->model, in, out)) == NULL)
			continue;
		rows[n++].provider = t->provider;
	}
	err = db_chat_cancel_usage(cr->w->te.db, ch->c.chat_id, ch->c.attempt, rows, n);
	if (err != AIGW_OK)
		log_warn("worker", ch->c.chat_id, "the usage of its cancelled calls is not stored: %s",
			 aigw_strerror(err));
	for (size_t i = 0; i < n; i++)
		free((char *)rows[i].usage_json);
	free(rows);
}

void
chatrun_cancelled(struct chatrun *cr, const char *chat_id)
{
	for (struct chat_run *ch = cr->chats; ch != NULL; ch = ch->next) {
		if (ch->state == CHAT_GONE || strcmp(ch->c.chat_id, chat_id) != 0)
			continue;
		log_info("worker", ch->c.chat_id, "cancelled; its calls are abandoned");
		chat_cancel_usage(cr, ch);
		/* The transfers end now; the chat leaves at the turn: the
		 * cancel stored its results. */
		for (size_t i = 0; i < ch->ntasks; i++)
			task_abandon(&cr->w->te, &ch->tasks[i]);
		chat_state_move(&ch->state, CHAT_GONE, ch->c.chat_id);
		return;
	}
}

void
chatrun_hand_back(struct chatrun *cr)
{
	while (cr->chats != NULL) {
		struct chat_run *ch = cr->chats;

		if (ch->open > 0 &&
		    db_chat_release(cr->w->te.db, ch->c.chat_id, ch->c.attempt) == AIGW_OK)
			log_info("worker", ch->c.chat_id, "handed back");
		chat_remove(cr, ch);
	}
}

struct chatrun *
chatrun_new(struct worker_ctx *w)
{
	struct chatrun *cr = calloc(1, sizeof *cr);

	if (cr != NULL)
		cr->w = w;
	return cr;
}

void
chatrun_free(struct chatrun *cr)
{
	if (cr == NULL)
		return;
	while (cr->chats != NULL)
		chat_remove(cr, cr->chats);
	results_queue_free(&cr->results);
	free(cr);
}

int
chatrun_count(const struct chatrun *cr)
{
	return cr->n;
}
