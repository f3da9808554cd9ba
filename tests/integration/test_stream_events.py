"""Streamed answers as clients see them (docs/api.md, Long-poll and events):
event streams carry every piece as a `delta` or `reset` in seq order with
the states between them, resume from any Last-Event-ID without losing or
repeating a piece, read a long backlog in bounded reads; /status and
long-poll show a streaming provider's text so far and wake on a piece.

The pieces are written here as the worker writes them (one transaction:
version and pieces_seq raised by n, the n pieces with those seqs, one
NOTIFY), into a chat or job claimed by a worker whose provider calls hang,
so nothing else changes the row while a test writes.
"""

import json
import random
import threading
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, bearer, jobtypes_dir, poll
from pieces import (TIMEOUT, Stream, add_pieces, apply, chat_status, check_order, finish,
                    read_all, row, state_change, stored_pieces, submit_hanging, texts_of)

HANG_TYPE = {
    "name": "t_stream", "timeout_s": 120, "attempts": 1, "poll_interval_s": 1,
    "input": {"q": {"type": "string", "required": True, "max_length": 100}},
    "steps": [
        {"name": "ask", "status_message": "Asking...", "progress": 100, "fanout": [
            {"provider": "openai", "model": "gpt-4o~hang"},
            {"provider": "gemini", "model": "gemini-2.5-flash~hang"}],
         "prompt": "ask {{input.q}}"},
    ],
}

EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "0", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_SSE_HEARTBEAT_S": "1",
             "AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-stream-jobtypes-", HANG_TYPE)}


@pytest.fixture(scope="module")
def alice(stack):
    return bearer(stack, "alice", "acme")


def test_events_carry_deltas_and_resets_in_order_around_the_states(stack, alice):
    chat_id = submit_hanging(stack, alice)
    s1 = add_pieces(stack, chat_id, [("openai", False, "Hel"), ("anthropic", False, "Bon"),
                                    ("openai", False, "lo \"w\"\n")])
    state_change(stack, chat_id)
    _, state = row(stack, chat_id)
    s2 = add_pieces(stack, chat_id, [("anthropic", True, ""), ("anthropic", False, "jour é")])
    stream = Stream(stack, "/api/ai/chat/events", alice, id=chat_id)
    try:
        assert stream.r.status_code == 200, stream.r.text
        got = [stream.next() for _ in range(6)]
        # the history so far: three pieces, the state, the reset and its text
        assert [(e["event"], int(e["id"])) for e in got] == \
            [("delta", s1[0]), ("delta", s1[1]), ("delta", s1[2]), ("progress", state),
             ("reset", s2[0]), ("delta", s2[1])]
        assert json.loads(got[0]["data"]) == {"provider": "openai", "text": "Hel", "seq": s1[0]}
        assert json.loads(got[4]["data"]) == {"provider": "anthropic", "seq": s2[0]}
        progress = json.loads(got[3]["data"])
        # the state shows who streams, not the text (the deltas carry it)
        assert progress["results"] == {"openai": {"ok": None, "streaming": True},
                                       "anthropic": {"ok": None, "streaming": True}}
        assert progress["status"] == "processing"
        # live: a piece written now comes at once, after what came before
        s3 = add_pieces(stack, chat_id, [("openai", False, "!")])
        e = stream.next()
        assert (e["event"], int(e["id"])) == ("delta", s3[0])
        finish(stack, chat_id, {"openai": {"ok": True, "text": "Hello \"w\"\n!"},
                                "anthropic": {"ok": True, "text": "jour é"}})
        rest = read_all(stream)
    finally:
        stream.close()
    events = got + [e] + rest
    check_order(events)
    assert [e["event"] for e in rest] == ["progress", "end"]
    final = json.loads(rest[0]["data"])
    assert final["status"] == "completed" and final["version"] == row(stack, chat_id)[1]
    assert json.loads(rest[1]["data"]) == {"status": "completed", "version": final["version"]}
    assert apply({}, events) == {"openai": "Hello \"w\"\n!", "anthropic": "jour é"}


def test_resume_from_50_random_points_loses_and_repeats_nothing(stack, alice):
    chat_id = submit_hanging(stack, alice)
    rnd = random.Random(17)
    words = ["lorem ", "ipsum ", "dolor", "\n", "é", "\"q\" ", "sit "]
    done = threading.Event()
    failure = []

    def writer():
        wr = random.Random(18)
        try:
            i = 0
            # until the reader has come back 50 times, and at least 120 flushes
            while i < 120 or reconnects < 50:
                assert i < 5000, "the reader does not reconnect"
                i += 1
                batch = []
                for _ in range(wr.randint(1, 4)):
                    p = wr.choice(["openai", "anthropic"])
                    reset = wr.random() < 0.05
                    batch.append((p, reset, "" if reset else wr.choice(words)))
                add_pieces(stack, chat_id, batch)
                if i % 15 == 7:
                    state_change(stack, chat_id)
                time.sleep(wr.uniform(0, 0.02))
        except Exception as exc:  # noqa: BLE001
            failure.append(exc)
        finally:
            done.set()

    seen, events, last, reconnects = set(), [], None, 0
    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 90
    try:
        while True:
            assert time.monotonic() < deadline, "the client did not catch up"
            stream = Stream(stack, "/api/ai/chat/events", alice, last_event_id=last, id=chat_id)
            try:
                assert stream.r.status_code == 200, stream.r.text
                # drop the connection after a random number of events
                for _ in range(rnd.randint(1, 12)):
                    e = stream.wait(1)
                    while e is TIMEOUT:
                        # caught up with a writer that has stopped?
                        if done.is_set() and last is not None and \
                                last >= row(stack, chat_id)[0]:
                            break
                        assert time.monotonic() < deadline, "no event came"
                        e = stream.wait(1)
                    if e is TIMEOUT:
                        break
                    assert e is not None
                    i = int(e["id"])
                    assert last is None or i > last, (last, e)
                    if e["event"] in ("delta", "reset"):
                        assert i not in seen, e
                        seen.add(i)
                    events.append(e)
                    last = i
            finally:
                stream.close()
            reconnects += 1
            if done.is_set() and last >= row(stack, chat_id)[0]:
                break
    finally:
        t.join()
    assert not failure, failure
    assert reconnects >= 50
    check_order(events)
    stored = stored_pieces(stack, chat_id)
    assert sorted(seen) == [s for s, _, _, _ in stored]
    assert apply({}, events) == texts_of(stored)
    # the status shows the same text so far
    body = chat_status(stack, alice, chat_id).json()
    for p, text in texts_of(stored).items():
        if text:
            assert body["results"][p] == {"ok": None, "streaming": True, "text": text}
        else:
            assert p not in body["results"]


def test_a_long_backlog_comes_whole_in_bounded_reads(stack, alice):
    chat_id = submit_hanging(stack, alice)
    first = add_pieces(stack, chat_id, [("openai", False, f"{i} ") for i in range(2500)])
    state_change(stack, chat_id)
    _, state = row(stack, chat_id)
    more = add_pieces(stack, chat_id, [("anthropic", False, "x")] * 10)
    stream = Stream(stack, "/api/ai/chat/events", alice, id=chat_id)
    try:
        got = [stream.next() for _ in range(2511)]
    finally:
        stream.close()
    check_order(got)
    assert [int(e["id"]) for e in got[:2500]] == first
    assert (got[2500]["event"], int(got[2500]["id"])) == ("progress", state)
    assert [int(e["id"]) for e in got[2501:]] == more
    assert apply({}, got)["openai"] == "".join(f"{i} " for i in range(2500))


def test_status_and_longpoll_show_the_text_growing(stack, alice):
    chat_id = submit_hanging(stack, alice)
    body = chat_status(stack, alice, chat_id).json()
    assert body["results"] == {} and body["pending"] == ["anthropic", "openai"]
    add_pieces(stack, chat_id, [("openai", False, "Once "), ("openai", False, "upon")])
    body = chat_status(stack, alice, chat_id).json()
    assert body["results"] == {"openai": {"ok": None, "streaming": True, "text": "Once upon"}}
    assert body["pending"] == ["anthropic", "openai"]
    version = body["version"]

    # a long-poll from that version wakes on the next piece
    def later():
        time.sleep(0.5)
        add_pieces(stack, chat_id, [("openai", True, ""), ("openai", False, "Twice")])

    t = threading.Thread(target=later)
    t.start()
    t0 = time.monotonic()
    r = chat_status(stack, alice, chat_id, wait=20, since=version)
    took = time.monotonic() - t0
    t.join()
    assert r.status_code == 200
    assert 0.3 < took < 10, took
    body = r.json()
    assert body["version"] == version + 2
    # after a reset only the new text counts
    assert body["results"]["openai"] == {"ok": None, "streaming": True, "text": "Twice"}
    # a final result replaces the pieces
    finish(stack, chat_id, {"openai": {"ok": True, "text": "Twice upon"},
                            "anthropic": {"ok": False, "error": "x"}})
    body = chat_status(stack, alice, chat_id).json()
    assert body["results"]["openai"] == {"ok": True, "text": "Twice upon"}
    assert body["pending"] == []


def test_job_events_and_status_carry_the_step(stack, alice):
    r = requests.post(stack.url("/api/jobs"), json={"type": "t_stream", "input": {"q": "x"}},
                      headers=alice, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    def running():
        b = requests.get(stack.url(f"/api/jobs/{job_id}/status"), headers=alice,
                         timeout=HTTP_TIMEOUT).json()
        return b
    poll(running, lambda b: b["steps"][0]["status"] == "running", 15, 0.05, "step running")
    seqs = add_pieces(stack, job_id, [("openai", False, "Step "), ("gemini", False, "G"),
                                      ("openai", False, "text")], job_step=0)
    body = running()
    assert body["steps"][0]["results"] == {
        "openai": {"ok": None, "streaming": True, "text": "Step text"},
        "gemini": {"ok": None, "streaming": True, "text": "G"}}
    stream = Stream(stack, f"/api/jobs/{job_id}/events", alice)
    try:
        got = [stream.next() for _ in range(4)]
    finally:
        stream.close()
    check_order(got)
    assert got[0]["event"] == "progress"
    progress = json.loads(got[0]["data"])
    assert progress["steps"][0]["results"]["openai"] == {"ok": None, "streaming": True}
    assert [(e["event"], json.loads(e["data"])) for e in got[1:]] == [
        ("delta", {"provider": "openai", "step": 0, "text": "Step ", "seq": seqs[0]}),
        ("delta", {"provider": "gemini", "step": 0, "text": "G", "seq": seqs[1]}),
        ("delta", {"provider": "openai", "step": 0, "text": "text", "seq": seqs[2]})]
    r = requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), headers=alice,
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
