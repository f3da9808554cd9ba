/*
 * snapshot.c: a scraping-style dataset service ("snapshot", docs/architecture.md; the
 * shape of the Bright Data Web Scraper API, "Trigger a collection",
 * "Monitor progress", "Download snapshot" and "Cancel snapshot"): a
 * collection is triggered on a dataset (the model) with one input a call,
 * runs, and its records are downloaded when it is ready.
 *
 * States (what build sends for each; parse reads the answer to it):
 *   NULL                  POST {base}/trigger?dataset_id=<model> with a JSON
 *                         array of {"custom_id","prompt","country"} (Bearer).
 *                         {"snapshot_id"} is the external id; WAIT:
 *   {"step":"poll","snapshot_id"}
 *                         GET {base}/progress/{snapshot_id}: {"status"}
 *                         starting, running: WAIT; ready: NEXT; failed:
 *                         FAILED with its error; canceled: FAILED; else bad
 *                         body.
 *   {"step":"fetch","snapshot_id"}
 *                         GET {base}/snapshot/{snapshot_id}?format=json: an
 *                         array of records, each with custom_id and
 *                         answer_text (and citations [{"url","title"}]) or
 *                         error; DONE. A 202 {"status":"running"|"building"}
 *                         (not ready after all) is WAIT, to fetch again.
 * Cancel: POST {base}/snapshot/{snapshot_id}/cancel once there is a
 * snapshot_id (the service's documented path).
 *
 * An input carries the call's message and country only: the service has
 * no field for a system prompt, max_tokens or a JSON mode, and its answers
 * come from the web whatever websearch says. A record names its call by
 * custom_id, or by input.custom_id where the service echoes each input
 * whole; a record naming none is skipped. The service counts no tokens:
 * they stay unknown (-1), and it has no price.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/buf.h"
#include "providers/common.h"
#include "providers/provider.h"

#define NAME "snapshot"
/*
 * Each input is a browser session at the service, billed per record. The
 * snapshot is downloaded to disk and read record by record, so its size is
 * not what bounds a batch; 1,000 inputs keep one collection's run short.
 */
#define MAX_ITEMS 1000

/* ---- building requests ---- */

/* method {base}{prefix}<id>{suffix} with the key, no body. */
static enum aigw_err
request(const struct prov_config *cfg, const char *method, const char *prefix, const char *id,
	const char *suffix, struct prov_http *out)
{
	return prov_async_build_bare(cfg, method, prefix, id, suffix, prov_async_bearer, out);
}

static enum aigw_err
build_trigger(const struct prov_config *cfg, const char *model, const struct prov_batch_item *items,
	      size_t n, struct prov_http *out)
{
	json_object *body = NULL;
	enum aigw_err err;
	int rc = 0;

	/* max_tokens means nothing to a scraped answer: not required */
	if ((err = prov_async_check(cfg, model, items, n, MAX_ITEMS, false)) != AIGW_OK)
		goto out;
	err = AIGW_ENOMEM;
	if ((body = json_object_new_array()) == NULL)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *country = prov_common_location(&items[i].call);
		json_object *in = json_object_new_object();

		if (in != NULL) {
			rc |= prov_common_add(in, "custom_id", json_object_new_string(items[i].custom_id));
			rc |= prov_common_add(in, "prompt", json_object_new_string(items[i].call.message));
			rc |= prov_common_add(in, "country", json_object_new_string(country ? country : ""));
		}
		rc |= prov_common_push(body, in);
	}
	if (rc != 0)
		goto out;
	out->creates = true;
	if ((err = request(cfg, "POST", "/trigger?dataset_id=", model, "", out)) != AIGW_OK ||
	    (err = prov_common_header(out, "Content-Type", NULL, "application/json")) != AIGW_OK ||
	    (err = prov_common_body(out, body)) != AIGW_OK)
		goto out;
out:
	json_object_put(body);
	return err;
}

static enum aigw_err
build(const struct prov_config *cfg, const char *model, const char *state,
      const struct prov_batch_item *items, size_t n, struct prov_http *out)
{
	json_object *st = NULL;
	const char *step = NULL, *id;
	enum aigw_err err = AIGW_EINVAL;

	memset(out, 0, sizeof *out);
	if (state == NULL) {
		err = build_trigger(cfg, model, items, n, out);
		goto out;
	}
	if (!prov_async_config_ok(cfg) || (err = prov_async_state(state, &st, &step)) != AIGW_OK)
		goto out;
	err = AIGW_EINVAL;
	if (strcmp(step, "find") == 0) {
		/* the dataset's snapshots: GET {base}/snapshots?dataset_id=<model> */
		if (model != NULL && model[0] != '\0')
			err = request(cfg, "GET", "/snapshots?dataset_id=", model, "", out);
		goto out;
	}
	if ((id = prov_async_get_id(st, "snapshot_id")) == NULL)
		goto out;
	if (strcmp(step, "poll") == 0)
		err = request(cfg, "GET", "/progress/", id, "", out);
	else if (strcmp(step, "fetch") == 0)
		if ((err = request(cfg, "GET", "/snapshot/", id, "?format=json", out)) == AIGW_OK)
			out->download = true;
out:
	if (err != AIGW_OK)
		prov_http_free(out);
	json_object_put(st);
	return err;
}

static const char *const cancel_before[] = { "find", NULL };
static const char *const cancel_steps[] = { "poll", "fetch", NULL };
static const struct prov_async_cancel cancel = {
	"snapshot_id", cancel_before, cancel_steps, "/snapshot/", "/cancel", prov_async_bearer,
};

static enum aigw_err
build_cancel(const struct prov_config *cfg, const char *state, struct prov_http *out)
{
	return prov_async_build_cancel(cfg, state, &cancel, out);
}

/* ---- reading answers ---- */

static enum aigw_err
parse_trigger(json_object *root, struct prov_step *out)
{
	return prov_async_created(out, NAME, prov_async_get_id(root, "snapshot_id"), "snapshot_id",
				  "no snapshot_id");
}

/*
 * The dataset's snapshots, [{"id","dataset_id","status","created",
 * "dataset_size"}]: a snapshot carries nothing of ours, so the lost one is
 * the snapshot of as many inputs created closest to the first trigger (as
 * in anthropic_batch.c, adopting another can only fail calls).
 */
static enum aigw_err
parse_find(json_object *st, const char *body, size_t len, struct prov_step *out)
{
	json_object *list = prov_common_json(body, len);
	struct prov_async_find f;
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	long long gap = -1;
	const char *best = NULL;
	enum aigw_err err = AIGW_OK;

	if (prov_async_find_read(st, &f) != AIGW_OK) {
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				      NAME);
		goto out;
	}
	if (!json_object_is_type(list, json_type_array)) {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "the list of snapshots is not an array", NAME);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(list, i);
		json_object *size = prov_common_get(s, "dataset_size", json_type_int);
		const char *id = prov_async_get_id(s, "id");

		if (size != NULL && prov_async_id_ok(id) &&
		    prov_async_closer(&f, json_object_get_int64(size),
				      prov_async_time(prov_common_get_str(s, "created")), &gap))
			best = id;
	}
	if (best != NULL)
		err = prov_async_found(out, "snapshot_id", best);
	else
		out->kind = PROV_STEP_ABSENT;
out:
	json_object_put(list);
	return err;
}

static enum aigw_err
parse_poll(json_object *st, json_object *root, struct prov_step *out)
{
	const char *status = prov_common_get_str(root, "status");
	const char *why = prov_async_get_id(root, "error");
	char *snip = NULL;
	enum aigw_err err = AIGW_OK;

	if (why == NULL)
		why = prov_async_get_id(root, "error_message");
	if (status == NULL) {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY,
				      "%s returned an unexpected body: no status", NAME);
	} else if (strcmp(status, "starting") == 0 || strcmp(status, "running") == 0) {
		out->kind = PROV_STEP_WAIT;
	} else if (strcmp(status, "ready") == 0) {
		err = prov_async_move(out, PROV_STEP_NEXT, "step", "fetch", "snapshot_id",
				      prov_async_get_id(st, "snapshot_id"), (char *)NULL);
	} else if (strcmp(status, "failed") == 0) {
		/* the collection is over: asking again would tell the same */
		if (why != NULL && (snip = prov_common_snippet(why)) == NULL)
			err = AIGW_ENOMEM;
		else if (snip != NULL)
			err = prov_async_fail(out, PROV_ERR_CLIENT, "%s collection failed: %s", NAME, snip);
		else
			err = prov_async_fail(out, PROV_ERR_CLIENT, "%s collection failed", NAME);
	} else if (strcmp(status, "canceled") == 0) {
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s collection was canceled", NAME);
	} else if ((snip = prov_common_snippet(status)) == NULL) {
		err = AIGW_ENOMEM;
	} else {
		err = prov_async_fail(out, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
				      "unknown status \"%s\"", NAME, snip);
	}
	free(snip);
	return err;
}

/* A record with answer_text: the answer and its sources. */
static enum aigw_err
answer(json_object *rec, json_object *text, const char *id, struct prov_step *s)
{
	json_object *cites = prov_common_get(rec, "citations", json_type_array);
	size_t n = cites != NULL ? json_object_array_length(cites) : 0;
	struct prov_result r;
	struct buf b;
	enum aigw_err err;

	prov_common_result_init(&r);
	buf_init(&b, (size_t)json_object_get_string_len(text) + 1);
	err = buf_append(&b, json_object_get_string(text), (size_t)json_object_get_string_len(text));
	for (size_t i = 0; i < n && err == AIGW_OK; i++) {
		json_object *c = json_object_array_get_idx(cites, i);

		err = prov_common_cite(&r, prov_common_get_str(c, "url"), prov_common_get_str(c, "title"));
	}
	/* an empty answer fails, and a failed result keeps no sources */
	if (err == AIGW_OK)
		err = prov_common_finish(&r, NAME, &b, NULL);
	if (err == AIGW_OK)
		err = prov_async_add(s, id, &r);
	prov_result_free(&r);
	buf_free(&b);
	return err == AIGW_OK ? AIGW_OK : AIGW_ENOMEM;
}

static enum aigw_err
record(json_object *rec, const char *id, struct prov_step *s)
{
	json_object *text = prov_common_get(rec, "answer_text", json_type_string);
	const char *why = prov_async_get_id(rec, "error");
	char *snip = NULL;
	enum aigw_err err;

	if (why != NULL) {
		/* the service could not collect this one (a page that would not
		 * load, a blocked session): its side, worth another try */
		if ((snip = prov_common_snippet(why)) == NULL)
			return AIGW_ENOMEM;
		err = prov_async_add_fail(s, id, PROV_ERR_SERVER, "%s could not collect the answer: %s",
					  NAME, snip);
		free(snip);
	} else if (text != NULL) {
		err = answer(rec, text, id, s);
	} else {
		err = prov_async_add_fail(s, id, PROV_ERR_BAD_BODY, "%s returned an unexpected body: "
					  "a record without answer_text or error", NAME);
	}
	return err;
}

/* A record names its call by custom_id, or inside its echoed input. */
static const char *
record_id(json_object *rec)
{
	const char *id = prov_common_get_str(rec, "custom_id");

	return id != NULL ? id : prov_common_get_str(prov_common_get(rec, "input", json_type_object),
						     "custom_id");
}

/* The snapshot: records are read one by one, so a large one is never
 * held as a single parsed document. */
static enum aigw_err
parse_fetch(long status, const char *body, size_t len, struct prov_step *out)
{
	json_object *root = NULL;
	enum aigw_err err = AIGW_OK;

	/* "Snapshot is not ready yet, try again in 10s" */
	if (status == 202 && (root = prov_common_json(body, len)) != NULL &&
	    json_object_is_type(root, json_type_object)) {
		const char *s = prov_common_get_str(root, "status");

		if (s != NULL && (strcmp(s, "running") == 0 || strcmp(s, "building") == 0 ||
				  strcmp(s, "starting") == 0)) {
			out->kind = PROV_STEP_WAIT;
			goto out;
		}
	}
	err = prov_async_array(NAME, body, len, out, record_id, record);
	if (err == AIGW_OK && out->kind != PROV_STEP_FAILED)
		out->kind = PROV_STEP_DONE;
out:
	json_object_put(root);
	return err;
}

static enum aigw_err
parse(const char *state, long status, const char *body, size_t len, struct prov_step *out)
{
	json_object *st = NULL, *root = NULL;
	const char *step = NULL;
	enum aigw_err err;

	memset(out, 0, sizeof *out);
	if (state != NULL && (err = prov_async_state(state, &st, &step)) == AIGW_ENOMEM)
		goto out;
	if (state != NULL && (err != AIGW_OK ||
			      (strcmp(step, "find") != 0 && (prov_async_get_id(st, "snapshot_id") == NULL ||
			       (strcmp(step, "poll") != 0 && strcmp(step, "fetch") != 0))))) {
		err = prov_async_fail(out, PROV_ERR_CLIENT, "%s cannot continue from its stored state",
				      NAME);
		goto out;
	}
	if (step != NULL && strcmp(step, "find") == 0 && status >= 200 && status <= 299) {
		/* an array too */
		err = parse_find(st, body, len, out);
		goto out;
	}
	if (step != NULL && strcmp(step, "fetch") == 0 && status >= 200 && status <= 299) {
		/* an array, which prov_async_begin would call a bad body */
		err = parse_fetch(status, body, len, out);
		goto out;
	}
	if ((err = prov_async_begin(NAME, status, body, len, out, &root)) != AIGW_OK ||
	    out->kind == PROV_STEP_FAILED)
		goto out;
	if (step == NULL)
		err = parse_trigger(root, out);
	else
		err = parse_poll(st, root, out);
out:
	return prov_async_parse_end(out, err, root, st);
}

const struct prov_async_ops prov_snapshot_ops = {
	.max_items = MAX_ITEMS,
	.max_bytes = 0,
	.build = build,
	.parse = parse,
	.build_cancel = build_cancel,
};
