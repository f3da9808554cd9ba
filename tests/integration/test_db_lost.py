"""A connection lost while a statement ran: aigw never runs a claim or an
insert twice blindly. A statement that may have been committed is settled
by looking for its rows by the ids aigw made before inserting, so a chat
that is stored is answered 202, once, never 503."""

import threading
import time

import requests

from conftest import FROZEN_DB_TIMEOUT_S, submit, wait_final, workers_gone

SLACK_S = 4
# The Bind of the prepared chat insert (an empty portal name, then the
# statement's): sent with its Execute, after the Parse.
CHAT_INSERT_RUN = rb"B[\s\S]{4}\x00chat_insert\x00"
CHAT_CLAIM_RUN = rb"B[\s\S]{4}\x00chat_claim\x00"


def test_submit_after_the_handlers_backends_were_terminated(own_stack):
    s = own_stack
    for i in range(4):
        r = submit(s.url(), {"mock": "m"}, message=f"warm {i}")
        assert r.status_code == 202, r.text
    killed = s.pg.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE application_name = 'aigw'")
    assert int(killed) >= 1
    ids = []
    for i in range(8):
        r = submit(s.url(), {"mock": "m"}, message=f"after {i}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["chatId"])
    for chat_id in ids:
        assert wait_final(s.url(), chat_id, timeout=30)["status"] == "completed"
    assert s.count_rows() == 12


def test_insert_committed_but_its_answer_lost_is_accepted_once(frozen_stack):
    s = frozen_stack
    r = submit(s.url(), {"mock": "m"}, message="warm")
    assert r.status_code == 202, r.text
    # the next chat insert reaches the server, which commits it; its
    # answer never comes back on that connection
    s.proxy.blackhole_after(CHAT_INSERT_RUN)
    results = [None] * 6

    def one(i):
        t0 = time.monotonic()
        try:
            got = submit(s.url(), {"mock": "m"}, message=f"lost answer {i}")
        except requests.RequestException as e:
            got = e
        results[i] = (got, time.monotonic() - t0)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert s.proxy.blackholed == 1
    for got, took in results:
        assert isinstance(got, requests.Response), f"no answer: {got}"
        assert got.status_code == 202, got.text
        assert took < 2 * FROZEN_DB_TIMEOUT_S + SLACK_S, took
    ids = [got.json()["chatId"] for got, _ in results]
    stored = s.pg.psql("SELECT count(*) FROM chat_results WHERE chat_id IN (%s)"
                       % ",".join(f"'{i}'" for i in ids))
    assert stored == str(len(ids))
    assert s.count_rows() == 1 + len(ids)
    for chat_id in ids:
        assert wait_final(s.url(), chat_id, timeout=30)["status"] == "completed"
    # stored by the first insert and found, not inserted again
    with open(s.fcgi.errlog) as f:
        assert "they are stored" in f.read()


def test_claim_committed_but_its_answer_lost_runs_its_chats(frozen_stack):
    s = frozen_stack
    r = submit(s.url(), {"mock": "m"}, message="warm")
    assert r.status_code == 202, r.text
    wait_final(s.url(), r.json()["chatId"])
    # no worker claims (empty-handed, every 2 s) until the next submit
    workers_gone(s)
    s.proxy.blackhole_after(CHAT_CLAIM_RUN)
    r = submit(s.url(), {"mock": "m"}, message="claimed in the dark")
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    # the worker finds the chats its lost claim took and runs them now,
    # instead of leaving them to their lease (AIGW_LEASE_S, 60 s)
    assert wait_final(s.url(), chat_id, timeout=FROZEN_DB_TIMEOUT_S + 12)["status"] == \
        "completed"
    assert s.proxy.blackholed == 1
    assert s.pg.psql(f"SELECT attempts FROM chat_results WHERE chat_id = '{chat_id}'") == "1"
    with open(s.base + "/aigw.log") as f:
        assert "after a claim of 1 chat" in f.read()
