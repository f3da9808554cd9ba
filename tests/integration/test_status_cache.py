"""aigw-fcgi's status cache (docs/architecture.md, The status cache), seen
through nginx as a polling client sees it: polls of a row nothing changed
are answered from memory (aigw_status_cache_lookups_total), yet every
change shows, in order, to a client polling while the row changes, a poll
after a long-poll's wake shows at least the woken version, the cache is
emptied when PostgreSQL restarts (and no poll goes back), another owner's
id and an expired chat are 404 from memory as from the database, the
cache keeps to its bound, and a key kept in memory is refused once revoked.

Changes are written here as the worker writes them (pieces.py: the write,
then its NOTIFY) into chats whose provider calls hang, so that nothing
else changes them meanwhile.
"""

import json
import re
import threading
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, assert_error, bearer, poll, run_aigw
from pieces import add_pieces, chat_status, finish, row, state_change, submit_hanging

CACHE_BYTES = 8192
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "0", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_STATUS_CACHE_BYTES": str(CACHE_BYTES),
             "AIGW_WAIT_MAX_PER_OWNER": "0"}


@pytest.fixture(scope="module")
def alice(stack):
    return bearer(stack, "alice", "acme")


@pytest.fixture(scope="module")
def bob(stack):
    return bearer(stack, "bob", "acme")


def cache_figures(stack):
    r = requests.get(stack.url("/api/metrics"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    figures = {}
    for m in re.finditer(r'^aigw_status_cache_(\w+?)(?:\{result="(\w+)"\})? (\d+)$', r.text,
                         re.M):
        figures[m.group(1) + ("_" + m.group(2) if m.group(2) else "")] = int(m.group(3))
    return figures


def status(stack, headers, chat_id, **params):
    r = chat_status(stack, headers, chat_id, **params)
    assert r.status_code == 200, r.text
    return r.json()


def test_repeated_polls_are_answered_from_memory(stack, alice):
    chat_id = submit_hanging(stack, alice)
    first = status(stack, alice, chat_id)
    before = cache_figures(stack)
    for _ in range(20):
        assert status(stack, alice, chat_id) == first
    after = cache_figures(stack)
    assert after["lookups_total_hit"] - before["lookups_total_hit"] >= 20, (before, after)
    assert after["entries"] >= 1 and 0 < after["bytes"] <= CACHE_BYTES, after
    # a change shows at the next poll: the notification dropped the entry
    state_change(stack, chat_id)
    assert status(stack, alice, chat_id)["version"] == row(stack, chat_id)[0]


def test_a_poller_sees_every_version_in_order_and_the_final_state(stack, alice):
    chat_id = submit_hanging(stack, alice)
    seen = [status(stack, alice, chat_id)["version"]]
    text = ""
    for k in range(25):
        if k % 3 == 2:
            state_change(stack, chat_id)
        else:
            add_pieces(stack, chat_id, [("openai", False, f"w{k} ")])
            text += f"w{k} "
        want = row(stack, chat_id)[0]
        # polled as a client does: until the change shows (each poll at
        # most as old as the last one, never older than what it showed)
        deadline = time.monotonic() + 5
        while True:
            body = status(stack, alice, chat_id)
            assert body["version"] >= seen[-1], (seen, body["version"])
            if body["version"] != seen[-1]:
                seen.append(body["version"])
            if body["version"] == want:
                break
            assert time.monotonic() < deadline, f"version {want} never showed: {seen}"
        assert body["results"]["openai"].get("text", "") == text
    finish(stack, chat_id, {"openai": {"ok": True, "text": text},
                            "anthropic": {"ok": True, "text": "x"}})
    final = poll(lambda: status(stack, alice, chat_id), lambda b: b["status"] == "completed",
                 5, 0.01, "final state")
    assert final["version"] == row(stack, chat_id)[0]
    assert final["results"]["openai"]["text"] == text
    # every change was seen, one version after the other (no poll missed
    # one, none came back)
    assert seen == sorted(set(seen)) and len(seen) == 26, seen


def test_a_poll_after_a_long_poll_wake_shows_the_woken_version(stack, alice):
    chat_id = submit_hanging(stack, alice)
    since = status(stack, alice, chat_id)["version"]
    for k in range(8):
        woken = {}

        def long_poll():
            woken["body"] = status(stack, alice, chat_id, wait=10, since=since)

        t = threading.Thread(target=long_poll)
        t.start()
        time.sleep(0.2)
        add_pieces(stack, chat_id, [("openai", False, f"p{k}")])
        t.join(15)
        assert not t.is_alive()
        v = woken["body"]["version"]
        assert v > since
        # the same process (one aigw-fcgi here) must not show less now
        after = status(stack, alice, chat_id)
        assert after["version"] >= v, (after["version"], v)
        since = after["version"]


def test_a_restart_of_postgresql_empties_the_cache_and_no_poll_goes_back(stack, alice):
    chat_id = submit_hanging(stack, alice)
    add_pieces(stack, chat_id, [("openai", False, "before")])
    before = status(stack, alice, chat_id)
    assert status(stack, alice, chat_id) == before
    clears = cache_figures(stack)["clears_total"]
    stack.pg.stop()
    try:
        # the hub notices within AIGW_DB_TIMEOUT_S; polls meanwhile are
        # answered from memory or refused, never with an older version
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            r = chat_status(stack, alice, chat_id)
            assert r.status_code in (200, 503), r.text
            if r.status_code == 200:
                assert r.json()["version"] >= before["version"]
            time.sleep(0.1)
    finally:
        stack.pg.start()
    body = poll(lambda: chat_status(stack, alice, chat_id), lambda r: r.status_code == 200,
                30, 0.2, "served again").json()
    assert body["version"] >= before["version"]
    poll(lambda: cache_figures(stack), lambda f: f["clears_total"] > clears, 30, 0.2,
         "the cache emptied")
    # listening again (the hub tries every second): polls are answered
    # from memory again, and the next change shows
    def hit_on_repeat():
        status(stack, alice, chat_id)
        hits = cache_figures(stack)["lookups_total_hit"]
        status(stack, alice, chat_id)
        return cache_figures(stack)["lookups_total_hit"] > hits
    poll(hit_on_repeat, bool, 30, 0.2, "the cache in use again")
    add_pieces(stack, chat_id, [("openai", False, " after")])
    want = row(stack, chat_id)[0]
    body = poll(lambda: status(stack, alice, chat_id), lambda b: b["version"] == want, 10,
                0.05, "the change after the restart")
    assert body["results"]["openai"]["text"] == "before after"


def test_another_owners_id_is_404_from_memory_as_from_the_database(stack, alice, bob):
    chat_id = submit_hanging(stack, alice)
    status(stack, alice, chat_id)
    status(stack, alice, chat_id)
    before = cache_figures(stack)
    cached = chat_status(stack, bob, chat_id)
    after = cache_figures(stack)
    assert after["lookups_total_hit"] == before["lookups_total_hit"] + 1, (before, after)
    # the same id uncached (its row notified): the database says the same
    state_change(stack, chat_id)
    from_db = chat_status(stack, bob, chat_id)
    assert cached.status_code == from_db.status_code == 404
    assert cached.json() == from_db.json()
    assert status(stack, alice, chat_id)["version"] == row(stack, chat_id)[0]


def test_an_expired_chat_is_404_from_memory_as_from_the_database(stack, alice):
    chat_id = submit_hanging(stack, alice)
    stack.pg.psql("UPDATE chat_results SET expires_at = date_trunc('second', now())"
                  f" + interval '3 seconds' WHERE chat_id = '{chat_id}'")
    expires = status(stack, alice, chat_id)["expiresAt"]
    assert status(stack, alice, chat_id)["expiresAt"] == expires
    poll(lambda: stack.pg.psql("SELECT now() > expires_at FROM chat_results"
                               f" WHERE chat_id = '{chat_id}'"), lambda v: v == "t", 10, 0.1,
         "expired")
    before = cache_figures(stack)
    cached = chat_status(stack, alice, chat_id)
    after = cache_figures(stack)
    assert after["lookups_total_hit"] == before["lookups_total_hit"] + 1, (before, after)
    from_db = chat_status(stack, alice, chat_id)
    assert cached.status_code == from_db.status_code == 404, (cached.text, from_db.text)
    assert cached.json() == from_db.json()
    assert cache_figures(stack)["lookups_total_miss"] > after["lookups_total_miss"]


def test_the_cache_keeps_to_its_bound(stack, alice):
    # more distinct ids than 8 KiB holds, each polled twice
    ids = []
    for _ in range(40):
        r = requests.post(stack.url("/api/ai/chat"),
                          json={"message": "bound", "models": {"openai": "gpt-4o~hang"}},
                          headers=alice, timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        ids.append(r.json()["chatId"])
    for chat_id in ids:
        status(stack, alice, chat_id)
        status(stack, alice, chat_id)
        f = cache_figures(stack)
        assert 0 < f["bytes"] <= CACHE_BYTES, f
    assert 1 <= f["entries"] < len(ids), f
    # the most recent is still answered from memory
    before = cache_figures(stack)["lookups_total_hit"]
    status(stack, alice, ids[-1])
    assert cache_figures(stack)["lookups_total_hit"] == before + 1


def test_a_key_kept_in_memory_is_refused_once_revoked(stack):
    """Keys are kept too (no query per request), and forgotten when their
    row changes: by `aigw keys revoke` or by hand, the next request is 401."""
    for how in ("command", "sql"):
        headers = bearer(stack, "dave", "acme")
        key_id = headers["Authorization"].split("_")[1]
        chat_id = submit_hanging(stack, headers)
        for _ in range(5):
            status(stack, headers, chat_id)
        if how == "command":
            run_aigw(stack, "keys", "revoke", key_id)
        else:
            stack.pg.psql(f"UPDATE api_keys SET revoked_at = now() WHERE key_id = '{key_id}'")
        assert_error(chat_status(stack, headers, chat_id), 401, "unauthorized")
    # a key that never was, well formed: refused every time
    ghost = {"Authorization": "Bearer aigw_" + "0" * 16 + "_" + "0" * 64}
    for _ in range(3):
        assert chat_status(stack, ghost, chat_id).status_code == 401


def test_tight_polling_of_a_streaming_worker_never_goes_back(stack, alice):
    """The real worker streaming an answer (the mock writes 30 words a
    second), polled without pause: the version never goes back, the text
    only grows, and the final state is the stored one."""
    r = requests.post(stack.url("/api/ai/chat"),
                      json={"message": "stream to a poller",
                            "models": {"openai": "gpt-4o~words=40~tps=30"}},
                      headers=alice, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    before = cache_figures(stack)
    versions, texts, polls = [], [], 0
    deadline = time.monotonic() + 30
    with requests.Session() as session:
        while time.monotonic() < deadline:
            body = session.get(stack.url("/api/ai/chat/status"), params={"id": chat_id},
                               headers=alice, timeout=HTTP_TIMEOUT).json()
            polls += 1
            assert not versions or body["version"] >= versions[-1], (versions[-1], body)
            versions.append(body["version"])
            o = body["results"].get("openai")
            if o is not None and "text" in o:
                assert not texts or o["text"].startswith(texts[-1]), (texts[-1], o["text"])
                texts.append(o["text"])
            if body["status"] == "completed":
                break
    assert body["status"] == "completed", body
    assert body["version"] == row(stack, chat_id)[0]
    assert len(set(versions)) >= 3 and len(set(texts)) >= 3, (versions, texts)
    after = cache_figures(stack)
    # most polls asked about a version already read
    assert after["lookups_total_hit"] - before["lookups_total_hit"] >= polls // 4, \
        (polls, before, after)


def test_a_v1_response_is_polled_from_memory_and_kept_apart_from_its_status(stack, alice,
                                                                             bob):
    """Background /v1/ work is polled with GET /v1/responses/{id}: its
    object is kept beside the same chat's /status body, and a change drops
    both."""
    r = requests.post(stack.url("/v1/responses"),
                      json={"model": "openai/gpt-4o~hang", "input": "poll me",
                            "background": True},
                      headers=alice, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    h = rid[len("resp_"):]
    chat_id = "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))

    def get(headers):
        return requests.get(stack.url(f"/v1/responses/{rid}"), headers=headers,
                            timeout=HTTP_TIMEOUT)
    poll(lambda: get(alice).json(), lambda o: o["status"] == "in_progress", 15, 0.05,
         "claimed")
    first = get(alice).json()
    before = cache_figures(stack)
    for _ in range(5):
        assert get(alice).json() == first
    # the chat's own status body, of the same row, is not the object
    body = status(stack, alice, chat_id)
    assert body["chatId"] == chat_id and "object" not in body
    assert get(alice).json() == first
    after = cache_figures(stack)
    assert after["lookups_total_hit"] - before["lookups_total_hit"] >= 6, (before, after)
    # another owner: 404 in OpenAI's shape, from memory as from the database
    cached = get(bob)
    state_change(stack, chat_id)
    from_db = get(bob)
    assert cached.status_code == from_db.status_code == 404
    assert cached.json() == from_db.json()
    # a change shows in both views at once
    add_pieces(stack, chat_id, [("openai", False, "streamed")])
    o = get(alice).json()
    assert o["status"] == "in_progress" and "streamed" in json.dumps(o), o
    assert status(stack, alice, chat_id)["results"]["openai"]["text"] == "streamed"
