"""Helpers of the tests of streamed answers: pieces written as the worker
writes them (one transaction: version and pieces_seq raised by n, the n
pieces with those seqs, one NOTIFY), into a chat or job claimed by a worker
whose provider calls hang; an event stream read event by event; the client
rule that rebuilds the texts."""

import json
import time

import requests

from conftest import HTTP_TIMEOUT, poll

# Providers that hang: the chat stays processing while a test writes.
HANG = {"openai": "gpt-4o~hang", "anthropic": "claude-3-5-haiku-latest~hang"}


def q(s):
    return "'" + s.replace("'", "''") + "'"


def add_pieces(stack, chat_id, pieces, job_step=None):
    """Writes pieces [(provider, reset, text)] as one flush of the worker
    does; returns their seqs."""
    table, key, channel = ("chat_results", "chat_id", "aigw_chat") if job_step is None else \
        ("jobs", "job_id", "aigw_job")
    n = len(pieces)
    arr = lambda xs: "ARRAY[" + ",".join(xs) + "]"  # noqa: E731
    provs = arr(q(p) for p, _, _ in pieces) + "::text[]"
    resets = arr("true" if r else "false" for _, r, _ in pieces) + "::bool[]"
    texts = arr(q(t) for _, _, t in pieces) + "::text[]"
    if job_step is None:
        insert = ("INSERT INTO chat_pieces (chat_id, seq, provider, reset, text)"
                  f" SELECT {q(chat_id)}, u.base + x.o, x.p, x.r, x.t")
    else:
        insert = ("INSERT INTO job_pieces (job_id, seq, step_index, provider, reset, text)"
                  f" SELECT {q(chat_id)}, u.base + x.o, {job_step}, x.p, x.r, x.t")
    out = stack.pg.psql(
        f"BEGIN; WITH u AS (UPDATE {table} SET version = version + {n},"
        f" pieces_seq = version + {n} WHERE {key} = {q(chat_id)}"
        f" RETURNING version - {n} AS base), i AS ({insert}"
        f" FROM u, unnest({provs}, {resets}, {texts}) WITH ORDINALITY AS x(p, r, t, o)"
        f" RETURNING seq) SELECT seq FROM i ORDER BY seq;"
        f" SELECT pg_notify('{channel}', {q(chat_id)}); COMMIT;")
    return [int(x) for x in out.split() if x.strip()]


def state_change(stack, chat_id, results=None):
    """A state change as the worker's result write makes it."""
    extra = f", results = results || {q(json.dumps(results))}::jsonb" if results else ""
    stack.pg.psql(f"UPDATE chat_results SET version = version + 1{extra}"
                  f" WHERE chat_id = {q(chat_id)}; SELECT pg_notify('aigw_chat', {q(chat_id)})")


def finish(stack, chat_id, results):
    stack.pg.psql(
        f"UPDATE chat_results SET version = version + 1, status = 'completed',"
        f" completed_at = now(), lease_until = NULL,"
        f" results = results || {q(json.dumps(results))}::jsonb"
        f" WHERE chat_id = {q(chat_id)}; SELECT pg_notify('aigw_chat', {q(chat_id)})")


def row(stack, chat_id):
    v, sv = stack.pg.psql(f"SELECT version, state_version FROM chat_results"
                          f" WHERE chat_id = {q(chat_id)}").split("|")
    return int(v), int(sv)


def stored_pieces(stack, chat_id):
    out = stack.pg.psql("SELECT json_agg(json_build_array(seq, provider, reset, text)"
                        f" ORDER BY seq) FROM chat_pieces WHERE chat_id = {q(chat_id)}")
    return [tuple(x) for x in json.loads(out or "[]")]


def texts_of(pieces):
    """The text so far of each provider: after its last reset."""
    t = {}
    for _, p, reset, text in pieces:
        t[p] = "" if reset else t.get(p, "") + text
    return t


def submit_hanging(stack, headers, models=HANG):
    r = requests.post(stack.url("/api/ai/chat"), json={"message": "stream please",
                                                      "models": models},
                      headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    poll(lambda: chat_status(stack, headers, chat_id).json(),
         lambda b: b["status"] == "processing", 15, 0.05, "chat claimed")
    return chat_id


def chat_status(stack, headers, chat_id, **params):
    return requests.get(stack.url("/api/ai/chat/status"), params={"id": chat_id, **params},
                        headers=headers, timeout=HTTP_TIMEOUT + 30)


TIMEOUT = object()


class Stream:
    """An event stream read event by event."""

    def __init__(self, stack, path, headers, last_event_id=None, **params):
        h = dict(headers)
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        self.r = requests.get(stack.url(path), params=params, headers=h, stream=True,
                              timeout=(5, 10))
        self.it = self.r.iter_lines(chunk_size=1, decode_unicode=False) \
            if self.r.status_code == 200 else iter(())
        self.cur = {}

    def next(self, limit_s=15):
        """The next event, None at the stream's end."""
        e = self.wait(limit_s)
        assert e is not TIMEOUT, "no event came"
        return e

    def wait(self, limit_s):
        """The next event, None at the stream's end, or TIMEOUT when none
        came within about limit_s (the heartbeats, AIGW_SSE_HEARTBEAT_S,
        let it see the time pass); a later call goes on where it stopped."""
        deadline = time.monotonic() + limit_s
        for raw in self.it:
            line = raw.decode()
            if line == "":
                if "data" in self.cur:
                    e, self.cur = self.cur, {}
                    return e
                self.cur = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                self.cur[name] = value[1:] if value.startswith(" ") else value
            if time.monotonic() >= deadline:
                return TIMEOUT
        return None

    def close(self):
        self.r.close()


def read_all(stream, limit_s=20):
    events, deadline = [], time.monotonic() + limit_s
    while True:
        assert time.monotonic() < deadline, "stream did not end"
        e = stream.next()
        if e is None:
            return events
        events.append(e)


def check_order(events):
    """ids strictly rise; progress ids are the state's version."""
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == sorted(set(ids)), ids
    for e in events:
        d = json.loads(e["data"])
        if e["event"] in ("delta", "reset"):
            assert d["seq"] == int(e["id"]), e
        elif e["event"] == "progress":
            assert d["version"] == int(e["id"]), e


def apply(texts, events):
    """The client rule: delta appends, reset clears, a final result replaces."""
    for e in events:
        d = json.loads(e["data"])
        if e["event"] == "delta":
            texts[d["provider"]] = texts.get(d["provider"], "") + d["text"]
        elif e["event"] == "reset":
            texts[d["provider"]] = ""
    return texts
