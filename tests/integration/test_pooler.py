"""aigw behind PgBouncer in transaction mode (AIGW_DB_POOLER=transaction):
DATABASE_URL goes through Debian's pgbouncer, whose server connections
change from one transaction to the next, and AIGW_LISTEN_DATABASE_URL
straight to PostgreSQL. Chats, jobs, an API key, a long-poll wake-up and an
event stream all work, with submit limits on (their transactions and
transaction-level locks) and no named prepared statement on any server
connection
(a pool of two server connections makes a named statement fail at once).

The other modules can run through the pooler too: AIGW_TEST_POOLER=1
(see conftest.py)."""

import json
import time

import requests

from conftest import HTTP_TIMEOUT, jobtypes_dir, mock_answer, poll, run_aigw, submit, wait_final

STEP_TYPE = {
    "name": "t_pooled", "timeout_s": 60, "attempts": 1, "poll_interval_s": 1,
    "input": {"q": {"type": "string", "required": True, "max_length": 100}},
    "steps": [
        {"name": "one", "status_message": "One...", "progress": 50, "provider": "openai",
         "model": "gpt-4o~delay=500", "prompt": "one {{input.q}}"},
        {"name": "two", "status_message": "Two...", "progress": 100, "provider": "anthropic",
         "model": "claude-3-5-haiku-latest~delay=500", "prompt": "two {{input.q}}"},
    ],
}


EXTRA_ENV = {"AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-pool-jobtypes-", STEP_TYPE),
             "AIGW_LIMIT_USER": "50", "AIGW_LIMIT_ORG": "50", "AIGW_LIMIT_DECISION": "50"}
FINAL = ("completed", "failed", "cancelled")


def chat_status(s, chat_id, **params):
    return requests.get(s.url("/api/ai/chat/status"), params={"id": chat_id, **params},
                        timeout=60)


def test_statements_go_through_the_pooler(pooled_stack):
    s = pooled_stack
    r = submit(s.url(), {"openai": "gpt-4o"}, message="pooled")
    assert r.status_code == 202, r.text
    wait_final(s.url(), r.json()["chatId"])
    # the transactions went through PgBouncer (its console counts them)
    stats = s.bouncer.psql("SHOW STATS")
    row = [line for line in stats.splitlines() if line.startswith("aigw|")]
    assert row and int(row[0].split("|")[1]) > 0, stats  # total_xact_count


def test_chats_are_submitted_and_answered(pooled_stack):
    s = pooled_stack
    ids = []
    for i in range(12):
        r = submit(s.url(), {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest"},
                   message=f"pooled chat {i}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["chatId"])
    for i, chat_id in enumerate(ids):
        body = wait_final(s.url(), chat_id, timeout=30)
        assert body["status"] == "completed", body
        assert body["results"]["openai"]["text"] == mock_answer("openai", "gpt-4o",
                                                               f"pooled chat {i}")


def test_job_runs_every_step(pooled_stack):
    s = pooled_stack
    r = requests.post(s.url("/api/jobs"), json={"type": "t_pooled", "input": {"q": "x"}},
                      headers={"Idempotency-Key": "pooled-1"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    again = requests.post(s.url("/api/jobs"), json={"type": "t_pooled", "input": {"q": "x"}},
                          headers={"Idempotency-Key": "pooled-1"}, timeout=HTTP_TIMEOUT)
    assert again.json()["id"] == job_id, again.text
    job = poll(lambda: requests.get(s.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT).json(),
               lambda b: b.get("status") in FINAL, 30, 0.2, "job final")
    assert job["status"] == "completed", job
    assert [st["status"] for st in job["steps"]] == ["completed", "completed"], job


def test_longpoll_is_woken_by_the_change(pooled_stack):
    s = pooled_stack
    r = submit(s.url(), {"openai": "gpt-4o~delay=1500"}, message="wake me")
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    body = poll(lambda: chat_status(s, chat_id).json(), lambda b: b["status"] == "processing",
                10, 0.02, "chat claimed")
    t0 = time.monotonic()
    r = chat_status(s, chat_id, wait=20, since=body["version"])
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert r.json()["version"] > body["version"]
    assert r.json()["status"] == "completed"
    # woken by the result's notification, not by the end of the wait
    assert took < 10, took


def test_event_stream_carries_the_changes_and_ends(pooled_stack):
    s = pooled_stack
    r = requests.post(s.url("/api/jobs"), json={"type": "t_pooled", "input": {"q": "sse"}},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    events = []
    with requests.get(s.url(f"/api/jobs/{job_id}/events"), stream=True,
                      timeout=(5, 20)) as st:
        assert st.status_code == 200, st.text
        assert st.headers["Content-Type"].startswith("text/event-stream")
        cur = {}
        for line in st.iter_lines(decode_unicode=True):
            if line == "":
                if cur:
                    events.append(cur)
                cur = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                cur[name] = value
    assert events[-1]["event"] == "end", events
    versions = [json.loads(e["data"])["version"] for e in events if e.get("event") == "progress"]
    assert versions == sorted(versions) and len(versions) >= 2, versions
    assert json.loads(events[-1]["data"])["status"] == "completed", events


def test_cli_works_through_the_pooler(pooled_stack):
    s = pooled_stack
    out = run_aigw(s, "keys", "create", "--user", "pooled-user", "--name", "p").stdout
    assert "pooled-user" in run_aigw(s, "keys", "list").stdout, out
    run_aigw(s, "status")
    run_aigw(s, "reap")
    # migrations and the scheduler's lock take the direct connection
    run_aigw(s, "migrate")
