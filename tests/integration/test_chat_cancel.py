"""Cancelling a chat (docs/api.md, Cancel a chat): POST
/api/ai/chat/cancel?id= and DELETE /api/ai/chat?id= stop it at once with the
text streamed so far kept as the answer; `cancelled` is a final status in
the status, the event stream and the metrics; the reaper drops the pieces
of chats and jobs finished more than a minute ago.
"""

import json
import re
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT, assert_error, bearer, jobtypes_dir, poll, run_aigw
from pieces import Stream, add_pieces, chat_status, q, read_all, submit_hanging

HANG_TYPE = {
    "name": "t_cancel", "timeout_s": 120, "attempts": 1, "poll_interval_s": 1,
    "input": {"q": {"type": "string", "required": True, "max_length": 100}},
    "steps": [{"name": "ask", "status_message": "Asking...", "progress": 100,
               "provider": "openai", "model": "gpt-4o~hang", "prompt": "ask {{input.q}}"}],
}

EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "0", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_SSE_HEARTBEAT_S": "1",
             "AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-cancel-jobtypes-", HANG_TYPE)}

THREE = {"openai": "gpt-4o~hang", "anthropic": "claude-3-5-haiku-latest~hang",
         "gemini": "gemini-2.5-flash"}


@pytest.fixture(scope="module")
def alice(stack):
    return bearer(stack, "alice", "acme")


@pytest.fixture(scope="module")
def bob(stack):
    return bearer(stack, "bob", "acme")


def cancel(stack, headers, chat_id, form="post"):
    if form == "post":
        return requests.post(stack.url("/api/ai/chat/cancel"), params={"id": chat_id},
                             headers=headers, timeout=HTTP_TIMEOUT)
    return requests.delete(stack.url("/api/ai/chat"), params={"id": chat_id}, headers=headers,
                           timeout=HTTP_TIMEOUT)


def metric(stack, family, **labels):
    text = requests.get(stack.url("/api/metrics"), timeout=HTTP_TIMEOUT).text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        m = re.fullmatch(rf"{family}\{{(.*)\}} (\S+)", line)
        if m and m.group(1) == want:
            return float(m.group(2))
    return 0.0


def test_cancel_mid_stream_keeps_the_text_so_far(stack, alice):
    chats_before = metric(stack, "aigw_chats_total", status="cancelled")
    calls_before = metric(stack, "aigw_provider_calls_total", provider="openai",
                          outcome="cancelled")
    chat_id = submit_hanging(stack, alice, THREE)
    poll(lambda: chat_status(stack, alice, chat_id).json(),
         lambda b: "gemini" in b["results"], 15, 0.05, "gemini answered")
    add_pieces(stack, chat_id, [("openai", False, "Half an "), ("openai", True, ""),
                                ("openai", False, "Half "), ("openai", False, "answer")])
    before = chat_status(stack, alice, chat_id).json()
    stream = Stream(stack, "/api/ai/chat/events", alice, id=chat_id)
    try:
        assert stream.r.status_code == 200, stream.r.text
        first = [stream.next() for _ in range(5)]
        assert first[-1]["event"] == "delta", first
        r = cancel(stack, alice, chat_id)
        rest = read_all(stream)
    finally:
        stream.close()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled" and body["pending"] == []
    assert body["version"] == before["version"] + 1 and body["completedAt"]
    assert body["results"]["openai"] == {"ok": True, "cancelled": True, "text": "Half answer",
                                         "model": "gpt-4o~hang", "attempts": 1}
    assert body["results"]["anthropic"] == {
        "ok": False, "cancelled": True, "error": "cancelled before it answered",
        "errorClass": "cancelled", "model": "claude-3-5-haiku-latest~hang", "attempts": 1}
    assert body["results"]["gemini"] == before["results"]["gemini"]
    # the stream ends with the cancelled state
    assert [e["event"] for e in rest] == ["progress", "end"]
    assert json.loads(rest[0]["data"]) == body
    assert json.loads(rest[1]["data"]) == {"status": "cancelled", "version": body["version"]}
    # and a client resuming after it is told there is nothing more
    with Stream(stack, "/api/ai/chat/events", alice, last_event_id=body["version"],
                id=chat_id).r as r2:
        assert r2.status_code == 204
    # repeating it changes nothing
    again = cancel(stack, alice, chat_id)
    assert again.status_code == 200 and again.json() == body
    assert chat_status(stack, alice, chat_id).json() == body
    # counted once, as a cancelled chat and cancelled calls
    assert metric(stack, "aigw_chats_total", status="cancelled") == chats_before + 1
    assert metric(stack, "aigw_provider_calls_total", provider="openai",
                  outcome="cancelled") == calls_before + 1


def test_delete_form_and_a_pending_chat(stack, alice):
    # nothing streamed: every provider is cancelled before it answered
    r = requests.post(stack.url("/api/ai/chat"),
                      json={"message": "later", "models": {"openai": "gpt-4o~hang"}},
                      headers=alice, timeout=HTTP_TIMEOUT)
    chat_id = r.json()["chatId"]
    r = cancel(stack, alice, chat_id, form="delete")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled"
    assert body["results"]["openai"]["ok"] is False
    assert body["results"]["openai"]["errorClass"] == "cancelled"
    # the worker's later writes find it cancelled
    assert stack.pg.psql(f"SELECT status FROM chat_results WHERE chat_id = {q(chat_id)}") \
        == "cancelled"


def test_finished_chat_is_returned_unchanged(stack, alice):
    r = requests.post(stack.url("/api/ai/chat"),
                      json={"message": "quick", "models": {"openai": "gpt-4o"}},
                      headers=alice, timeout=HTTP_TIMEOUT)
    chat_id = r.json()["chatId"]
    done = poll(lambda: chat_status(stack, alice, chat_id).json(),
                lambda b: b["status"] == "completed", 20, 0.05, "chat completed")
    for form in ("post", "delete"):
        r = cancel(stack, alice, chat_id, form)
        assert r.status_code == 200 and r.json() == done


def test_bad_unknown_and_others_ids(stack, alice, bob):
    for form in ("post", "delete"):
        assert_error(cancel(stack, alice, "not-a-uuid", form), 400, "invalid_id", "id")
        assert_error(cancel(stack, alice, str(uuid.uuid4()), form), 404, "not_found")
    chat_id = submit_hanging(stack, alice)
    for form in ("post", "delete"):
        assert_error(cancel(stack, bob, chat_id, form), 404, "not_found")
    assert chat_status(stack, alice, chat_id).json()["status"] == "processing"
    # without a key: 401, as every chat route
    for form in ("post", "delete"):
        assert_error(cancel(stack, {}, chat_id, form), 401, "unauthorized")
    # no id at all
    r = requests.post(stack.url("/api/ai/chat/cancel"), headers=alice, timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_id", "id")
    # the cancel route takes POST only
    r = requests.get(stack.url("/api/ai/chat/cancel"), params={"id": chat_id}, headers=alice,
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_reaper_drops_the_pieces_of_work_finished_a_minute_ago(stack, alice):
    old = submit_hanging(stack, alice)
    recent = submit_hanging(stack, alice)
    live = submit_hanging(stack, alice)
    for chat_id in (old, recent, live):
        add_pieces(stack, chat_id, [("openai", False, "some "), ("openai", False, "text")])
    assert cancel(stack, alice, old).status_code == 200
    assert cancel(stack, alice, recent).status_code == 200
    stack.pg.psql("UPDATE chat_results SET completed_at = now() - interval '61 seconds'"
                  f" WHERE chat_id = {q(old)}")
    r = requests.post(stack.url("/api/jobs"), json={"type": "t_cancel", "input": {"q": "x"}},
                      headers=alice, timeout=HTTP_TIMEOUT)
    job_id = r.json()["id"]
    poll(lambda: requests.get(stack.url(f"/api/jobs/{job_id}/status"), headers=alice,
                              timeout=HTTP_TIMEOUT).json(),
         lambda b: b["steps"][0]["status"] == "running", 15, 0.05, "step running")
    add_pieces(stack, job_id, [("openai", False, "job text")], job_step=0)
    requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), headers=alice, timeout=HTTP_TIMEOUT)
    stack.pg.psql("UPDATE jobs SET completed_at = now() - interval '61 seconds'"
                  f" WHERE job_id = {q(job_id)}")

    out = run_aigw(stack, "reap").stdout
    count = lambda t, k, i: int(stack.pg.psql(  # noqa: E731
        f"SELECT count(*) FROM {t} WHERE {k} = {q(i)}"))
    assert count("chat_pieces", "chat_id", old) == 0
    assert count("chat_pieces", "chat_id", recent) == 2
    assert count("chat_pieces", "chat_id", live) == 2
    assert count("job_pieces", "job_id", job_id) == 0
    assert re.search(r"pieces: 2 of chats, 1 of jobs", out), out
    # the final result still holds the text
    body = chat_status(stack, alice, old).json()
    assert body["results"]["openai"]["text"] == "some text"
