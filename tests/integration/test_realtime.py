"""Long-poll and Server-Sent Events through nginx (docs/api.md): answers
that come when the row changes, not at a timeout; streams that carry every
change in order, resume from Last-Event-ID and end after the final state;
owners; the bound on how many requests wait at once; plain CGI; a client
that leaves; and a database restart during a wait.

A trigger installed by the `changes` fixture records the database time of
every version a chat or job reaches, so that latencies are measured from
the change itself and the versions a stream sent can be compared with the
versions there were.
"""

import json
import signal
import threading
import time
import uuid

import pytest
import requests

import stack as stk
from conftest import (HTTP_TIMEOUT, assert_error, bearer, fail_on_sanitizer_reports,
                      jobtypes_dir, poll)


# A job type of two short steps, so that a job changes a few times in ~2 s,
# each change far enough from the next for a loaded machine's client to
# see it on its own.
RT_TYPE = {
    "name": "t_realtime", "timeout_s": 60, "attempts": 1, "poll_interval_s": 1,
    "input": {"q": {"type": "string", "required": True, "max_length": 100}},
    "steps": [
        {"name": "one", "status_message": "One...", "progress": 50, "provider": "openai",
         "model": "gpt-4o~delay=1000", "prompt": "one {{input.q}}"},
        {"name": "two", "status_message": "Two...", "progress": 100, "provider": "anthropic",
         "model": "claude-3-5-haiku-latest~delay=1000", "prompt": "two {{input.q}}"},
    ],
}


WAIT_MAX = 2
HEARTBEAT_S = 1
SSE_MAX_S = 4
# Keys, so that another user's id can be asked for; limits out of the way.
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "0", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_WAIT_MAX": str(WAIT_MAX),
             "AIGW_SSE_HEARTBEAT_S": str(HEARTBEAT_S), "AIGW_SSE_MAX_S": str(SSE_MAX_S),
             "AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-rt-jobtypes-", RT_TYPE,
                                                       shipped=["competitor_analysis.json"])}

# A long-poll must answer this soon after the change it waited for.
LATENCY_S = 0.1
FINAL = ("completed", "failed", "cancelled")


def new_key(stack, user):
    return bearer(stack, user, "acme")


@pytest.fixture(scope="module")
def alice(stack):
    return new_key(stack, "alice")


@pytest.fixture(scope="module")
def bob(stack):
    return new_key(stack, "bob")


@pytest.fixture(scope="module")
def changes(stack):
    """Records (kind, id, version, epoch seconds) of every version written."""
    stack.pg.psql("""
        CREATE TABLE rt_changes (kind text, id uuid, version int, at double precision);
        CREATE FUNCTION rt_log() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' OR NEW.version IS DISTINCT FROM OLD.version THEN
            INSERT INTO rt_changes VALUES (TG_ARGV[0], (to_jsonb(NEW) ->> TG_ARGV[1])::uuid,
                                           NEW.version, extract(epoch FROM clock_timestamp()));
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER rt_chat AFTER INSERT OR UPDATE ON chat_results
          FOR EACH ROW EXECUTE FUNCTION rt_log('chat', 'chat_id');
        CREATE TRIGGER rt_job AFTER INSERT OR UPDATE ON jobs
          FOR EACH ROW EXECUTE FUNCTION rt_log('job', 'job_id');
    """)

    def versions(row_id):
        out = stack.pg.psql(f"SELECT version, at FROM rt_changes WHERE id = '{row_id}'"
                            " ORDER BY version")
        return [(int(v), float(a)) for v, a in (line.split("|") for line in out.splitlines())]
    return versions


def submit_chat(stack, headers, models, message="realtime please"):
    r = requests.post(stack.url("/api/ai/chat"), json={"message": message, "models": models},
                      headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.json()["chatId"]


def submit_job(stack, headers, q="realtime"):
    r = requests.post(stack.url("/api/jobs"), json={"type": "t_realtime", "input": {"q": q}},
                      headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def chat_status(stack, headers, chat_id, **params):
    return requests.get(stack.url("/api/ai/chat/status"), params={"id": chat_id, **params},
                        headers=headers, timeout=HTTP_TIMEOUT + 30)


def job_status(stack, headers, job_id, **params):
    return requests.get(stack.url(f"/api/jobs/{job_id}/status"), params=params,
                        headers=headers, timeout=HTTP_TIMEOUT + 30)


def chat_final(stack, headers, chat_id):
    def fetch():
        r = chat_status(stack, headers, chat_id)
        assert r.status_code == 200, r.text
        return r.json()
    return poll(fetch, lambda b: b["status"] in FINAL, 20, 0.05, "chat final")


def job_final(stack, headers, job_id):
    def fetch():
        r = job_status(stack, headers, job_id)
        assert r.status_code == 200, r.text
        return r.json()
    return poll(fetch, lambda b: b["status"] in FINAL, 30, 0.05, "job final")


def timed(fetch):
    t0 = time.monotonic()
    r = fetch()
    return r, time.monotonic() - t0


def first_change_after(history, version):
    """(version, time) of the first change past version."""
    return next((v, at) for v, at in history if v > version)


# ---------------------------------------------------------------- SSE client

def open_stream(stack, path, headers, last_event_id=None, **params):
    h = dict(headers)
    if last_event_id is not None:
        h["Last-Event-ID"] = str(last_event_id)
    return requests.get(stack.url(path), params=params, headers=h, stream=True,
                        timeout=(5, 10))


def read_stream(r, limit_s=15, stop_after=None):
    """Reads an event stream to its end (or until stop_after events came):
    (events, comments, other fields). Each event is a dict of its fields
    plus `at`, the time.monotonic() its blank line arrived."""
    events, comments, fields = [], [], []
    cur, pending = {}, b""
    deadline = time.monotonic() + limit_s
    for chunk in r.iter_content(chunk_size=None):
        now = time.monotonic()
        assert now < deadline, "stream did not end"
        pending += chunk
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            line = raw.decode()
            if line == "":
                if "data" in cur:
                    cur["at"] = now
                    events.append(cur)
                    if stop_after is not None and len(events) >= stop_after:
                        return events, comments, fields
                elif cur:
                    fields.append(cur)
                cur = {}
            elif line.startswith(":"):
                comments.append((line, now))
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data" and "data" in cur:
                    cur["data"] += "\n" + value
                else:
                    cur[name] = value
    assert pending == b"" and cur == {}, (pending, cur)
    return events, comments, fields


def assert_stream_headers(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
    assert r.headers["Cache-Control"] == "no-cache", r.headers
    assert r.headers.get("X-Request-Id"), r.headers
    assert "Content-Length" not in r.headers


def states(events):
    """The state events as (id, parsed data); checks that id and version agree."""
    out = []
    for e in events:
        if e.get("event") == "progress":
            body = json.loads(e["data"])
            assert "\n" not in e["data"]
            assert int(e["id"]) == body["version"], e
            out.append((int(e["id"]), body))
    return out


def assert_ends_after_final(events):
    assert events[-1]["event"] == "end", events[-1]
    assert events[-2]["event"] == "progress", events[-2]
    last = json.loads(events[-2]["data"])
    assert last["status"] in FINAL
    assert json.loads(events[-1]["data"]) == {"status": last["status"],
                                              "version": last["version"]}
    assert "id" not in events[-1]
    return last


# ---------------------------------------------------------------- long-poll

def test_chat_longpoll_answers_when_the_result_lands(stack, alice, changes):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o~delay=1000"})
    body = poll(lambda: chat_status(stack, alice, chat_id).json(),
                lambda b: b["status"] == "processing", 10, 0.02, "chat claimed")
    since = body["version"]
    asked = time.time()
    r, took = timed(lambda: chat_status(stack, alice, chat_id, wait=20, since=since))
    answered = time.time()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] > since and "openai" in body["results"], body
    changed_to, changed_at = first_change_after(changes(chat_id), since)
    assert body["version"] >= changed_to
    # It waited for the answer (about 1 s), and answered right after it.
    assert 0.3 < took < 5, took
    assert changed_at > asked, "the change came before the wait began"
    assert -0.01 < answered - changed_at < LATENCY_S, answered - changed_at


def test_chat_longpoll_without_change_answers_after_wait(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    final = chat_final(stack, alice, chat_id)
    for params in ({"wait": 2, "since": final["version"]}, {"wait": 2}):
        r, took = timed(lambda: chat_status(stack, alice, chat_id, **params))
        assert r.status_code == 200, r.text
        assert r.json() == final
        assert 1.9 < took < 2.8, (params, took)


def test_longpoll_answers_at_once_when_already_newer(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    final = chat_final(stack, alice, chat_id)
    for params in ({"wait": 20, "since": final["version"] - 1}, {"since": final["version"]},
                   {"wait": 0, "since": final["version"]}, {"wait": 0}):
        r, took = timed(lambda: chat_status(stack, alice, chat_id, **params))
        assert r.status_code == 200, r.text
        assert r.json() == final
        assert took < 0.5, (params, took)


def test_job_longpoll_follows_every_change(stack, alice, changes):
    job_id = submit_job(stack, alice)
    since, seen = 0, []
    r = job_status(stack, alice, job_id)
    assert r.status_code == 200, r.text
    since = r.json()["version"]
    while True:
        asked = time.time()
        r, took = timed(lambda: job_status(stack, alice, job_id, wait=20, since=since))
        answered = time.time()
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["version"] > since, (since, body)
        assert "output" not in body
        _, changed_at = first_change_after(changes(job_id), since)
        assert took < 5, took
        # From the change, or from the request when the job had moved on
        # while the test was busy between two requests.
        latency = answered - max(changed_at, asked)
        assert -0.01 < latency < LATENCY_S, (since, latency)
        seen.append(body["version"])
        since = body["version"]
        if body["status"] in FINAL:
            break
    assert body["status"] == "completed" and body["progress"] == 100, body
    # More than one wake-up: the first step's end, then the job's. (The
    # second step starts a millisecond after the first ends, so one answer
    # may carry both versions.)
    assert len(seen) >= 2, (seen, changes(job_id))
    # Nothing changes any more: the wait runs out and the state is the same.
    r, took = timed(lambda: job_status(stack, alice, job_id, wait=1, since=since))
    assert r.status_code == 200 and r.json() == body
    assert 0.9 < took < 1.8, took


@pytest.mark.parametrize("params,field", [
    ({"wait": "-1"}, "wait"), ({"wait": "abc"}, "wait"), ({"wait": ""}, "wait"),
    ({"wait": "1.5"}, "wait"), ({"wait": "+3"}, "wait"), ({"wait": " 3"}, "wait"),
    ({"since": "-1"}, "since"), ({"since": "x"}, "since"), ({"since": ""}, "since"),
    ({"since": "99999999999999999999"}, "since"), ({"wait": "5", "since": "v2"}, "since"),
])
def test_bad_wait_or_since_is_400_naming_it(stack, alice, params, field):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    job_id = submit_job(stack, alice)
    for r in (chat_status(stack, alice, chat_id, **params),
              job_status(stack, alice, job_id, **params)):
        body = assert_error(r, 400, "invalid_field", field)
        assert field in body["error"]


def test_huge_wait_is_clamped_not_refused(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    final = chat_final(stack, alice, chat_id)
    r, took = timed(lambda: chat_status(stack, alice, chat_id, wait="9" * 40,
                                        since=final["version"] - 1))
    assert r.status_code == 200 and took < 0.5


# ---------------------------------------------------------------- events

STAGGERED = {"openai": "gpt-4o~delay=300", "anthropic": "claude-3-5-haiku-latest~delay=700",
             "gemini": "gemini-2.5-flash~delay=1100"}


def test_chat_events_carry_every_change_in_order_and_end(stack, alice, changes):
    chat_id = submit_chat(stack, alice, STAGGERED)
    t0 = time.monotonic()
    with open_stream(stack, "/api/ai/chat/events", alice, id=chat_id) as r:
        assert_stream_headers(r)
        events, _, fields = read_stream(r)
    took = time.monotonic() - t0
    assert {"retry": "1000"} in fields
    got = states(events)
    ids = [i for i, _ in got]
    assert ids == sorted(set(ids)), ids  # strictly increasing
    final = assert_ends_after_final(events)
    assert final["status"] == "completed" and final["pending"] == []
    assert final == chat_status(stack, alice, chat_id).json()
    # The connection closed after the final state (read_stream returned),
    # well before the stream's longest life.
    assert took < SSE_MAX_S - 0.5, took
    # Every version sent was one the row had; the last one it reached was
    # sent, and so was every version that lasted 100 ms or more (only a
    # change overtaken at once by the next may be folded into it).
    history = changes(chat_id)
    versions = [v for v, _ in history]
    assert set(ids) <= set(versions), (ids, versions)
    assert ids[-1] == versions[-1]
    for (v, at), (_, next_at) in zip(history, history[1:]):
        if v >= ids[0] and next_at - at >= 0.1:
            assert v in ids, (v, ids, history)
    # results grew one provider at a time through the stream
    counts = [len(b["results"]) for _, b in got]
    assert counts == sorted(counts) and counts[-1] == 3 and len(set(counts)) >= 3, counts


def test_events_resume_after_last_event_id(stack, alice):
    chat_id = submit_chat(stack, alice, STAGGERED)
    # A client that saw two states and lost its connection...
    with open_stream(stack, "/api/ai/chat/events", alice, id=chat_id) as r:
        assert_stream_headers(r)
        seen = [i for i, _ in states(read_stream(r, stop_after=2)[0])]
    assert len(seen) == 2
    # ...comes back with the last id it saw (as a browser does), and gets
    # the rest: nothing at or below it.
    with open_stream(stack, "/api/ai/chat/events", alice, last_event_id=seen[-1],
                     id=chat_id) as r:
        assert_stream_headers(r)
        events, _, _ = read_stream(r)
    ids = [i for i, _ in states(events)]
    assert ids and min(ids) > seen[-1], (seen, ids)
    final = assert_ends_after_final(events)
    assert final == chat_final(stack, alice, chat_id)
    # since in the query does the same, and the header wins over it.
    with open_stream(stack, "/api/ai/chat/events", alice, id=chat_id,
                     since=final["version"] - 1) as r:
        assert [i for i, _ in states(read_stream(r)[0])] == [final["version"]]
    with open_stream(stack, "/api/ai/chat/events", alice, last_event_id=final["version"] - 1,
                     id=chat_id, since=0) as r:
        assert [i for i, _ in states(read_stream(r)[0])] == [final["version"]]
    # Past the final state there is nothing more to send: 204 stops an
    # EventSource from reconnecting.
    for last in (final["version"], final["version"] + 5):
        with open_stream(stack, "/api/ai/chat/events", alice, last_event_id=last,
                         id=chat_id) as r:
            assert r.status_code == 204, r.text
            assert r.content == b""


def test_events_heartbeat_then_end_at_the_longest_life_and_resume(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o~delay=6000"})
    poll(lambda: chat_status(stack, alice, chat_id).json(),
         lambda b: b["status"] == "processing", 10, 0.02, "chat claimed")
    t0 = time.monotonic()
    with open_stream(stack, "/api/ai/chat/events", alice, id=chat_id) as r:
        assert_stream_headers(r)
        events, comments, _ = read_stream(r)
    took = time.monotonic() - t0
    # Nothing changed for 4 s: one state, a keepalive every second, then
    # the stream ended (AIGW_SSE_MAX_S) without an end event.
    assert [e["event"] for e in events] == ["progress"], events
    assert SSE_MAX_S - 0.2 < took < SSE_MAX_S + 1.5, took
    assert all(c == ": keepalive" for c, _ in comments), comments
    assert SSE_MAX_S - 2 <= len(comments) <= SSE_MAX_S, comments
    gaps = [b - a for (_, a), (_, b) in zip(comments, comments[1:])]
    assert all(0.7 < g < 1.5 for g in gaps), gaps
    last = int(events[-1]["id"])
    # The client comes back with the last id and gets the rest.
    with open_stream(stack, "/api/ai/chat/events", alice, last_event_id=last,
                     id=chat_id) as r:
        assert_stream_headers(r)
        events, _, _ = read_stream(r)
    ids = [i for i, _ in states(events)]
    assert ids and min(ids) > last, (last, ids)
    assert assert_ends_after_final(events)["status"] == "completed"


def test_job_events_carry_progress_and_end(stack, alice, changes):
    job_id = submit_job(stack, alice)
    with open_stream(stack, f"/api/jobs/{job_id}/events", alice) as r:
        assert_stream_headers(r)
        events, _, _ = read_stream(r)
    got = states(events)
    ids = [i for i, _ in got]
    assert ids == sorted(set(ids)), ids
    final = assert_ends_after_final(events)
    assert final["status"] == "completed" and final["progress"] == 100
    assert final == job_status(stack, alice, job_id).json()
    progress = [b["progress"] for _, b in got]
    assert progress == sorted(progress) and 50 in progress, progress
    versions = [v for v, _ in changes(job_id)]
    assert set(ids) <= set(versions) and ids[-1] == versions[-1], (ids, versions)


def test_unknown_or_other_users_id_is_404_before_any_stream(stack, alice, bob):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    job_id = submit_job(stack, alice)
    unknown = str(uuid.uuid4())
    for who, cid, jid in ((alice, unknown, unknown), (bob, chat_id, job_id)):
        for r in (open_stream(stack, "/api/ai/chat/events", who, id=cid),
                  open_stream(stack, f"/api/jobs/{jid}/events", who),
                  chat_status(stack, who, cid, wait=5, since=0),
                  job_status(stack, who, jid, wait=5, since=0)):
            assert_error(r, 404, "not_found")
    for r in (open_stream(stack, "/api/ai/chat/events", alice, id="nope"),
              open_stream(stack, "/api/jobs/nope/events", alice)):
        assert_error(r, 400, "invalid_id", "id")
    r = open_stream(stack, "/api/ai/chat/events", alice, last_event_id="x", id=chat_id)
    assert_error(r, 400, "invalid_field", "Last-Event-ID")
    r = requests.post(stack.url(f"/api/jobs/{job_id}/events"), headers=alice,
                      timeout=HTTP_TIMEOUT)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET"


# ---------------------------------------------------------------- the bound

def test_one_waiter_too_many_gets_503_busy_at_once(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    final = chat_final(stack, alice, chat_id)
    results = []

    def wait():
        results.append(chat_status(stack, alice, chat_id, wait=3, since=final["version"]))
    waiters = [threading.Thread(target=wait) for _ in range(WAIT_MAX)]
    for w in waiters:
        w.start()
    time.sleep(1)  # both are waiting now
    r, took = timed(lambda: chat_status(stack, alice, chat_id, wait=3, since=final["version"]))
    body = assert_error(r, 503, "busy")
    assert r.headers["Retry-After"] == "1"
    assert took < 0.5, took
    r = open_stream(stack, "/api/ai/chat/events", alice, id=chat_id)
    assert_error(r, 503, "busy")
    assert "wait" in body["error"]
    # A request that does not wait is not held back.
    r, took = timed(lambda: chat_status(stack, alice, chat_id, wait=3,
                                        since=final["version"] - 1))
    assert r.status_code == 200 and took < 0.5
    for w in waiters:
        w.join(10)
    assert [x.status_code for x in results] == [200] * WAIT_MAX
    # The places are free again.
    r, took = timed(lambda: chat_status(stack, alice, chat_id, wait=1, since=final["version"]))
    assert r.status_code == 200 and 0.9 < took < 1.8, took


def test_plain_cgi_waits_too(stack, alice):
    """Under a CGI server each request is its own process: a long-poll may
    wait (AIGW_CGI_WAIT_MAX_S at most), an event stream is refused."""
    cgi = stack.lighttpd()
    base = cgi.url("/cgi-bin/aigw")
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o"})
    final = chat_final(stack, alice, chat_id)
    r, took = timed(lambda: requests.get(base + "/api/ai/chat/status", headers=alice,
                                         params={"id": chat_id, "wait": 1,
                                                 "since": final["version"]},
                                         timeout=HTTP_TIMEOUT))
    assert r.status_code == 200 and r.json() == final, r.text
    assert 0.9 < took < 2.5, took
    r = requests.get(base + "/api/ai/chat/events", headers=alice, params={"id": chat_id},
                     timeout=HTTP_TIMEOUT)
    assert "wait=" in assert_error(r, 503, "unavailable")["error"]


def test_a_client_that_leaves_frees_its_place_at_once(stack, alice):
    chat_id = submit_chat(stack, alice, {"openai": "gpt-4o~delay=5000"})
    with open_stream(stack, "/api/ai/chat/events", alice, id=chat_id) as r:
        assert len(read_stream(r, stop_after=1)[0]) == 1
    # Well before the next heartbeat (1 s) would have found it gone.
    time.sleep(0.3)
    streams = [open_stream(stack, "/api/ai/chat/events", alice, id=chat_id)
               for _ in range(WAIT_MAX)]
    try:
        assert [s.status_code for s in streams] == [200] * WAIT_MAX
    finally:
        for s in streams:
            s.close()


def test_database_restart_during_a_wait_is_503_then_fine(own_stack):
    s = own_stack
    r = requests.post(s.url("/api/ai/chat"), json={"message": "m", "models": {"mock": "m"}},
                      timeout=HTTP_TIMEOUT)
    chat_id = r.json()["chatId"]
    final = poll(lambda: requests.get(s.url("/api/ai/chat/status"), params={"id": chat_id},
                                      timeout=HTTP_TIMEOUT).json(),
                 lambda b: b["status"] in FINAL, 20, 0.05, "chat final")
    got = []
    waiter = threading.Thread(target=lambda: got.append(timed(lambda: requests.get(
        s.url("/api/ai/chat/status"), params={"id": chat_id, "wait": 20,
                                              "since": final["version"]},
        timeout=HTTP_TIMEOUT + 30))))
    waiter.start()
    time.sleep(0.5)
    s.pg.stop()
    waiter.join(15)
    (r, took), = got
    assert_error(r, 503, "unavailable")
    assert took < 5, took
    s.pg.start()
    # The thread's connection comes back clean: a new wait works.
    r = poll(lambda: requests.get(s.url("/api/ai/chat/status"),
                                  params={"id": chat_id, "wait": 1, "since": final["version"]},
                                  timeout=HTTP_TIMEOUT), lambda x: x.status_code == 200, 20, 0.2,
             "status after restart")
    assert r.json() == final


# ---------------------------------------------------------------- stopping

def test_sigterm_answers_waiting_requests_at_once_and_exits():
    """A restart does not wait for the waiting requests: on SIGTERM a
    long-poll answers the state as it is, as at its deadline, an event
    stream ends cleanly, and aigw-fcgi exits within moments."""
    # No worker: the chat stays pending, so both would wait for long.
    s = stk.Stack(extra_env={"AIGW_SPAWN": "off"})
    try:
        r = requests.post(s.url("/api/ai/chat"), json={"message": "m", "models": {"mock": "m"}},
                          timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        chat_id = r.json()["chatId"]
        pending = requests.get(s.url("/api/ai/chat/status"), params={"id": chat_id},
                               timeout=HTTP_TIMEOUT).json()
        got = []
        waiter = threading.Thread(target=lambda: got.append(timed(lambda: requests.get(
            s.url("/api/ai/chat/status"), params={"id": chat_id, "wait": 30},
            timeout=HTTP_TIMEOUT + 30))))
        waiter.start()
        with open_stream(s, "/api/ai/chat/events", {}, id=chat_id) as stream:
            assert_stream_headers(stream)
            assert len(read_stream(stream, stop_after=1)[0]) == 1
            time.sleep(0.5)  # the long-poll waits too by now
            t0 = time.monotonic()
            s.fcgi.proc.send_signal(signal.SIGTERM)
            events, _, _ = read_stream(stream, limit_s=5)
            ended = time.monotonic() - t0
        waiter.join(35)
        answered = time.monotonic() - t0
        rc = s.fcgi.proc.wait(10)
        exited = time.monotonic() - t0
        assert events == [] and ended < 2, (events, ended)
        (r, took), = got
        assert r.status_code == 200 and r.json() == pending, r.text
        assert answered < 2 and took < 5, (answered, took)
        assert rc == 0 and exited < 4, (rc, exited)
    finally:
        s.close()
    fail_on_sanitizer_reports(s)
