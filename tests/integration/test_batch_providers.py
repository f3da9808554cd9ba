"""Async batch providers (docs/architecture.md): calls queued together go out as one batch,
results land in the right chats and job steps, a killed worker's batch is
resumed without a second submission, and line errors, expiry and deadlines
fail only what they must, with a clear error."""

import concurrent.futures
import json
import os
import signal
import time
import uuid

import requests

from conftest import HTTP_TIMEOUT, jobtypes_dir, poll, submit, wait_final


# A job whose steps go through both batch providers.
BATCH_STEP_TYPE = {
    "name": "t_batch_step", "timeout_s": 120, "attempts": 3,
    "input": {"q": {"type": "string", "required": True}},
    "steps": [
        {"name": "gather", "status_message": "Batching...", "progress": 50,
         "fanout": [{"provider": "openai-batch", "model": "gpt-4o-mini~batch_s=1"},
                    {"provider": "openai", "model": "gpt-4o"}],
         "prompt": "batch step {{input.q}}"},
        {"name": "sum", "status_message": "Summing up...", "progress": 100,
         "provider": "anthropic-batch", "model": "claude-3-5-haiku-latest~batch_s=1",
         "prompt": "sum {{input.q}}: {{steps.gather.text}}"}]}


EXTRA_ENV = {"AIGW_BATCH_WINDOW_MS": "1500", "AIGW_LEASE_S": "5",
             "AIGW_BATCH_DEADLINE_S": "10",
             "AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-batch-types-", BATCH_STEP_TYPE)}


def log(stack, provider):
    return [e for e in stack.mock.requests_log() if e.get("provider") == provider]


def submissions(stack, provider, tag):
    """Accepted batch submissions holding a call of a chat whose message
    carries tag (the mock logs the custom_ids, which are batch item ids)."""
    ids = set(stack.pg.psql("SELECT coalesce(string_agg(item_id::text, ' '), '') FROM batch_items"
                            f" JOIN chat_results c USING (chat_id) WHERE c.message LIKE '% {tag} %'")
              .split())
    return [e for e in log(stack, provider) if e.get("action") == "create"
            and e.get("status") == 200 and ids & set(e.get("custom_ids") or [])]


def chats(stack, models, messages):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda m: submit(stack.url(), models, message=m), messages))
    assert [r.status_code for r in replies] == [202] * len(messages)
    return [r.json()["chatId"] for r in replies]


def test_25_calls_queued_together_go_out_as_one_batch(stack):
    tag = uuid.uuid4().hex[:8]
    messages = [f"batch {tag} {i}" for i in range(25)]
    ids = chats(stack, {"openai-batch": "gpt-4o-mini~batch_s=1"}, messages)
    finals = [wait_final(stack.url(), chat_id, timeout=40) for chat_id in ids]
    for message, body in zip(messages, finals):
        assert body["status"] == "completed", body
        result = body["results"]["openai-batch"]
        assert result["ok"] is True, result
        # Each answer is its own chat's: the mock echoes the message.
        assert result["text"].endswith(message), (message, result["text"])
        assert result["usage"]["inputTokens"] > 0
    sent = submissions(stack, "openai-batch", tag)
    assert len(sent) == 1, sent
    assert stack.pg.psql(f"SELECT count(*) FROM batch_items i JOIN chat_results c USING (chat_id)"
                         f" WHERE c.message LIKE 'batch {tag} %'") == "25"
    assert stack.pg.psql("SELECT count(DISTINCT batch_id) FROM batch_items i JOIN chat_results c"
                         f" USING (chat_id) WHERE c.message LIKE 'batch {tag} %'") == "1"


def test_a_chat_mixing_sync_and_batch_providers_completes(stack):
    msg = f"mixed {uuid.uuid4().hex[:8]}"
    chat_id = submit(stack.url(), {"openai": "gpt-4o", "anthropic-batch":
                                   "claude-3-5-haiku-latest~batch_s=1",
                                   "openai-batch": "gpt-4o-mini~batch_s=2"},
                     message=msg).json()["chatId"]
    seen = []
    body = poll(lambda: requests.get(stack.url(f"/api/ai/chat/status?id={chat_id}"),
                                     timeout=HTTP_TIMEOUT).json(),
                lambda b: seen.append(sorted(b["results"])) or b["status"] in ("completed", "failed"),
                40, 0.1, "final")
    assert body["status"] == "completed", body
    assert all(r["ok"] for r in body["results"].values()), body
    # The sync answer came first, the batches' later, one at a time.
    assert ["openai"] in seen and ["anthropic-batch", "openai"] in seen, seen
    assert body["results"]["openai-batch"]["costUsd"] is not None, body


def test_an_errored_line_fails_only_its_own_call(stack):
    tag = uuid.uuid4().hex[:8]
    messages = [f"line {tag} {i}" for i in range(4)] + [f"line {tag} bad ~line_error"]
    ids = chats(stack, {"openai-batch": "gpt-4o-mini~batch_s=1"}, messages)
    finals = [wait_final(stack.url(), chat_id, timeout=40) for chat_id in ids]
    assert [b["status"] for b in finals] == ["completed"] * 4 + ["failed"]
    bad = finals[-1]["results"]["openai-batch"]
    assert bad["ok"] is False and bad["error"], bad


def test_an_expired_batch_fails_its_calls_with_a_clear_error(stack):
    tag = uuid.uuid4().hex[:8]
    ids = chats(stack, {"anthropic-batch": "claude-3-5-haiku-latest~batch_s=1~expire=0"},
                [f"expire {tag} {i}" for i in range(3)])
    for chat_id in ids:
        body = wait_final(stack.url(), chat_id, timeout=40)
        assert body["status"] == "failed", body
        error = body["results"]["anthropic-batch"]["error"]
        assert "did not run the request" in error and "24 hours" in error, error


def test_a_batch_past_its_deadline_is_cancelled_at_the_provider(stack):
    tag = uuid.uuid4().hex[:8]
    chat_id = submit(stack.url(), {"openai-batch": "gpt-4o-mini~batch_s=120"},
                     message=f"deadline {tag}").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=40)
    assert body["status"] == "failed", body
    assert "did not finish within 10 s" in body["results"]["openai-batch"]["error"], body
    assert any("/cancel" in (e.get("path") or "") for e in log(stack, "openai-batch"))


def test_a_snapshot_past_its_deadline_is_cancelled_at_the_dataset_service(stack):
    tag = uuid.uuid4().hex[:8]
    chat_id = submit(stack.url(), {"snapshot": "gd_chatgpt~batch_s=120"},
                     message=f"deadline {tag}").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=40)
    assert body["status"] == "failed", body
    cancels = [e for e in log(stack, "snapshot") if (e.get("path") or "").endswith("/cancel")]
    assert [e.get("status") for e in cancels] == [200], cancels


def test_a_create_still_out_at_the_deadline_is_looked_up_and_cancelled(stack):
    tag = uuid.uuid4().hex[:8]
    # the provider accepts the batch and never answers: at the deadline
    # (10 s, before the create's own timeout) it is found and cancelled
    chat_id = submit(stack.url(), {"openai-batch": "gpt-4o-mini~batch_s=120~accept_then=hang"},
                     message=f"late {tag}").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=60)
    assert body["status"] == "failed", body
    assert "did not finish within 10 s" in body["results"]["openai-batch"]["error"], body
    ids = set(stack.pg.psql("SELECT i.item_id FROM batch_items i JOIN chat_results c"
                            f" USING (chat_id) WHERE c.chat_id = '{chat_id}'").split())
    made = [e["batch_id"] for e in log(stack, "openai-batch") if e.get("action") == "create"
            and e.get("batch_id") and ids & set(e.get("custom_ids") or [])]
    assert len(made) == 1, made
    cancels = [e for e in log(stack, "openai-batch") if e.get("action") == "cancel"
               and e.get("batch_id") == made[0]]
    assert cancels, log(stack, "openai-batch")


def test_a_killed_workers_batch_is_resumed_not_resubmitted(stack):
    tag = uuid.uuid4().hex[:8]
    # Ready 4 s after it is accepted: long after the kill, and before the
    # next worker takes it over (the lease of 5 s, then a sweep), whose
    # first poll then finds it done well inside the 10 s deadline however
    # busy the machine.
    ids = chats(stack, {"openai-batch": "gpt-4o-mini~batch_s=4"},
                [f"resume {tag} {i}" for i in range(3)])
    running = ("SELECT worker FROM batches b WHERE external_id IS NOT NULL AND status = 'running'"
               " AND EXISTS (SELECT 1 FROM batch_items i JOIN chat_results c USING (chat_id)"
               f" WHERE i.batch_id = b.batch_id AND c.message LIKE 'resume {tag} %')")
    worker = poll(lambda: stack.pg.psql(running), lambda w: w != "", 20, 0.1, "batch accepted")
    pid = int(worker.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    for chat_id in ids:
        body = wait_final(stack.url(), chat_id, timeout=60)
        assert body["status"] == "completed", body
    assert len(submissions(stack, "openai-batch", tag)) == 1
    attempts = stack.pg.psql("SELECT attempts FROM batches b WHERE EXISTS (SELECT 1 FROM"
                             " batch_items i JOIN chat_results c USING (chat_id) WHERE"
                             f" i.batch_id = b.batch_id AND c.message LIKE 'resume {tag} %')")
    assert attempts == "2"
    print(f"\nbatch resumed and finished {time.monotonic() - start:.1f} s after its worker died")


def test_a_job_step_may_name_async_providers(stack):
    q = uuid.uuid4().hex[:8]
    r = requests.post(stack.url("/api/jobs"), json={"type": "t_batch_step", "input": {"q": q}},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = poll(lambda: requests.get(stack.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT).json(),
               lambda j: j["status"] in ("completed", "failed"), 60, 0.2, "job final")
    assert job["status"] == "completed", job
    assert sorted(json.loads(stack.pg.psql(
        f"SELECT results::text FROM job_steps WHERE job_id = '{job_id}' AND step_index = 0"))) \
        == ["openai", "openai-batch"]
    # The last step's batch answer echoes its prompt, which holds the first
    # step's answers from the batch and the sync call.
    text = job["output"]["text"]
    assert f"sum {q}: " in text and text.count(f"batch step {q}") == 2, text


def test_a_snapshot_dataset_answers_with_citations(stack):
    msg = f"snapshot {uuid.uuid4().hex[:8]}"
    chat_id = submit(stack.url(), {"snapshot": "gd_chatgpt", "perplexity": "sonar"},
                     message=msg, location="DE").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=40)
    assert body["status"] == "completed", body
    result = body["results"]["snapshot"]
    assert result["ok"] is True and result["text"].endswith(msg), result
    assert result["citations"] and all(c["url"] for c in result["citations"]), result
    # The dataset service has no price: cost unknown, not zero.
    assert result["costUsd"] is None, result
    trigger = [e for e in log(stack, "snapshot") if e.get("action") == "create"]
    assert any(msg in json.dumps(e) for e in trigger), trigger
