"""Durable streaming end to end: the mock providers stream their formats
(tests/mockproviders/README.md, Streaming), the worker stores the pieces as
they arrive, and a client of the event stream rebuilds every provider's
text exactly, however often it reconnects; retries and a worker's death
show as `reset`s, never as repeated or lost text; cancel keeps the text so
far; plain polling sees the text grow."""

import json
import os
import random
import signal
import time
import uuid

import requests

from conftest import HTTP_TIMEOUT, poll, status, submit, wait_final

EXTRA_ENV = {"AIGW_LEASE_S": "5", "AIGW_STREAM_IDLE_S": "2", "AIGW_STREAM_FLUSH_MS": "50"}

MODELS = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
          "gemini": "gemini-2.5-flash"}


def models(**directives):
    """The three providers' models, each with its directives."""
    return {p: m + "".join(f"~{d}" for d in directives.get(p, ())) for p, m in MODELS.items()}


def chat_row(stack, chat_id, column):
    return stack.pg.psql(f"SELECT {column} FROM chat_results WHERE chat_id = '{chat_id}'")


class Reader:
    """One event-stream connection, read event by event."""

    def __init__(self, stack, chat_id, last_event_id=None):
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.r = requests.get(stack.url("/api/ai/chat/events"), params={"id": chat_id},
                              headers=headers, stream=True, timeout=HTTP_TIMEOUT)
        self.lines = self.r.iter_lines(decode_unicode=True) if self.r.status_code == 200 else None

    def events(self):
        cur = {}
        for line in self.lines:
            if line == "":
                if "event" in cur or "data" in cur:
                    yield cur
                cur = {}
            elif line.startswith(":"):
                continue
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                cur[name] = cur[name] + "\n" + value if name == "data" and name in cur else value

    def close(self):
        self.r.close()


class Texts:
    """A client's view: the contract's rules applied to every event."""

    def __init__(self):
        self.text = {}
        self.deltas = {}    # the deltas and resets alone
        self.final = {}
        self.delta_seqs = []
        self.resets = []
        self.ids = []
        self.status = None

    def apply(self, ev):
        if "id" in ev:
            self.ids.append(int(ev["id"]))
        data = json.loads(ev.get("data", "null"))
        kind = ev.get("event")
        if kind == "delta":
            assert int(ev["id"]) == data["seq"], ev
            self.delta_seqs.append(data["seq"])
            for t in (self.text, self.deltas):
                t[data["provider"]] = t.get(data["provider"], "") + data["text"]
        elif kind == "reset":
            self.resets.append(data["provider"])
            self.text[data["provider"]] = ""
            self.deltas[data["provider"]] = ""
        elif kind == "progress":
            self.status = data["status"]
            for p, r in data.get("results", {}).items():
                if r.get("ok") is not None:
                    self.final[p] = r
                    if r.get("text") is not None:
                        self.text[p] = r["text"]
        return kind

    def streamed(self, provider):
        """What the deltas alone rebuilt: the stream, not the final result."""
        return self.deltas.get(provider, "")


def follow(stack, chat_id, texts, last=None, stop_after=None, limit_s=40):
    """Reads events into texts until the end (or stop_after events); the
    last id seen."""
    rd = Reader(stack, chat_id, last)
    if rd.r.status_code == 204:
        return last, True
    assert rd.r.status_code == 200, rd.r.text
    n, ended = 0, False
    deadline = time.monotonic() + limit_s
    try:
        for ev in rd.events():
            if "id" in ev:
                last = int(ev["id"])
            if texts.apply(ev) == "end":
                ended = True
                break
            n += 1
            if stop_after is not None and n >= stop_after:
                break
            assert time.monotonic() < deadline, "the stream did not end in time"
    finally:
        rd.close()
    return last, ended


def final_texts(body):
    return {p: r.get("text") for p, r in body["results"].items()}


def test_three_providers_streaming_at_different_rates_rebuild_exactly(stack):
    m = models(openai=("words=40", "tps=20"), anthropic=("words=40", "tps=40"),
               gemini=("words=40", "tps=80"))
    chat_id = submit(stack.url(), m, message=f"rates {uuid.uuid4()}").json()["chatId"]
    texts = Texts()
    _, ended = follow(stack, chat_id, texts)
    assert ended
    body = wait_final(stack.url(), chat_id)
    assert body["status"] == "completed", body
    assert all(r["ok"] for r in body["results"].values()), body
    # A read from the start gives every event once, in order.
    fresh = Texts()
    follow(stack, chat_id, fresh)
    assert fresh.ids == sorted(set(fresh.ids)), fresh.ids
    for p in MODELS:
        assert texts.streamed(p) == body["results"][p]["text"], p
        assert texts.text[p] == body["results"][p]["text"], p
    # A 40-word answer at 20 tokens/s takes 2 s: it came in many pieces.
    assert len(texts.delta_seqs) >= 6, texts.delta_seqs
    assert texts.resets == []
    assert texts.delta_seqs == sorted(set(texts.delta_seqs))


def test_resume_at_fifty_random_points_loses_and_repeats_nothing(stack):
    m = models(openai=("words=120", "tps=40"), anthropic=("words=120", "tps=30"),
               gemini=("words=120", "tps=50"))
    chat_id = submit(stack.url(), m, message=f"resume {uuid.uuid4()}").json()["chatId"]
    rng = random.Random(17)
    texts = Texts()
    last, ended, reconnects = None, False, 0
    while not ended and reconnects < 200:
        last, ended = follow(stack, chat_id, texts, last, stop_after=rng.randint(1, 4))
        reconnects += 1
    assert ended, "the stream did not end"
    assert reconnects >= 50, reconnects
    body = wait_final(stack.url(), chat_id)
    assert texts.delta_seqs == sorted(set(texts.delta_seqs)), "a piece came twice"
    # Every piece the database holds reached the client once.
    whole = Texts()
    follow(stack, chat_id, whole)
    assert texts.delta_seqs == whole.delta_seqs
    for p in MODELS:
        assert texts.streamed(p) == body["results"][p]["text"], p


def test_a_stream_cut_mid_answer_is_retried_after_a_reset(stack):
    m = models(openai=("words=40", "tps=40", "cut=10", "fail=1"))
    msg = f"cut {uuid.uuid4()}"
    chat_id = submit(stack.url(), m, message=msg).json()["chatId"]
    texts = Texts()
    follow(stack, chat_id, texts)
    body = wait_final(stack.url(), chat_id)
    assert body["results"]["openai"]["ok"], body
    assert body["results"]["openai"]["attempts"] == 2, body
    assert texts.resets == ["openai"], texts.resets
    assert texts.streamed("openai") == body["results"]["openai"]["text"]


def test_a_stall_longer_than_the_idle_bound_is_a_timeout_then_a_retry(stack):
    m = models(gemini=("words=20", "stall=3:4", "fail=1"))
    chat_id = submit(stack.url(), m, message=f"stall {uuid.uuid4()}").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=40)
    g = body["results"]["gemini"]
    assert g["ok"] and g["attempts"] == 2, g


def test_a_garbled_stream_fails_that_call_only(stack):
    m = models(openai=("words=20", "stream_garbage=3"))
    chat_id = submit(stack.url(), m, message=f"garbage {uuid.uuid4()}").json()["chatId"]
    body = wait_final(stack.url(), chat_id, timeout=60)
    assert body["results"]["openai"]["ok"] is False, body
    assert body["results"]["anthropic"]["ok"] and body["results"]["gemini"]["ok"], body
    assert body["status"] == "completed", body


def test_plain_polling_sees_the_text_grow(stack):
    m = models(openai=("words=60", "tps=30"))
    chat_id = submit(stack.url(), m, message=f"poll {uuid.uuid4()}").json()["chatId"]
    lengths, since = [], 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = requests.get(stack.url("/api/ai/chat/status"),
                         params={"id": chat_id, "wait": 10, "since": since}, timeout=15)
        body = r.json()
        since = body["version"]
        o = body["results"].get("openai")
        if o is not None and o.get("ok") is None:
            assert o["streaming"] is True, o
            lengths.append(len(o["text"]))
        if body["status"] == "completed":
            break
    assert len(set(lengths)) >= 3, lengths
    assert lengths == sorted(lengths), lengths


def test_cancel_mid_stream_keeps_the_text_so_far(stack):
    m = models(openai=("words=200", "tps=20"), anthropic=("words=200", "tps=20"),
               gemini=("words=200", "tps=20"))
    chat_id = submit(stack.url(), m, message=f"cancel {uuid.uuid4()}").json()["chatId"]
    texts = Texts()
    follow(stack, chat_id, texts, stop_after=8)
    r = requests.post(stack.url("/api/ai/chat/cancel"), params={"id": chat_id},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled", body
    full = 200
    for p, res in body["results"].items():
        assert res["cancelled"] is True, res
        if res["ok"]:
            assert 0 < len(res["text"].split()) < full, res
    # After the cancel only the usage the streams reported is added (one
    # write); the texts stay as the cancel stored them.
    time.sleep(1.5)
    after = status(stack.url(), chat_id).json()
    assert after["version"] <= body["version"] + 1, after
    assert final_texts(after) == final_texts(body), after
    # Cancelling again changes nothing; DELETE is the same.
    r = requests.delete(stack.url("/api/ai/chat"), params={"id": chat_id}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text


def test_kill_9_mid_stream_finishes_with_resets_and_no_duplicate(stack):
    m = models(openai=("words=100", "tps=25"), anthropic=("words=100", "tps=25"),
               gemini=("words=100", "tps=25"))
    chat_id = submit(stack.url(), m, message=f"kill {uuid.uuid4()}").json()["chatId"]
    texts = Texts()
    last, _ = follow(stack, chat_id, texts, stop_after=6)
    had_text = {p for p in MODELS if texts.streamed(p)}
    assert had_text, texts.deltas
    pid = int(chat_row(stack, chat_id, "worker").rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    ended = False
    while not ended:
        last, ended = follow(stack, chat_id, texts, last, limit_s=60)
    body = wait_final(stack.url(), chat_id, timeout=60)
    assert body["status"] == "completed", body
    assert texts.delta_seqs == sorted(set(texts.delta_seqs)), "a piece came twice"
    # Each answer begun by the dead worker was begun again after a reset.
    assert set(texts.resets) >= had_text, texts.resets
    for p in MODELS:
        assert texts.streamed(p) == body["results"][p]["text"], p
    assert chat_row(stack, chat_id, "attempts") == "2"
    poll(lambda: status(stack.url(), chat_id).json(), lambda b: b["status"] == "completed", 5)
