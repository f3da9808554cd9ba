"""aigw reap (docs/architecture.md): rows aged by SQL are failed, put back in the queue or
deleted exactly as the rules say; fresh rows are left alone."""

import json
import subprocess

import pytest
import requests

from conftest import HTTP_TIMEOUT, poll, submit
import stack as stk

# No worker takes anything: the rows stay as the tests leave them.
EXTRA_ENV = {"AIGW_SPAWN": "off", "AIGW_PENDING_TIMEOUT_S": "10"}
MODELS = {"openai": "gpt-4o", "gemini": "gemini-2.5-flash"}
# AIGW_MAX_ATTEMPTS (3) x (AIGW_PROVIDER_TIMEOUT_S (120) + 30)
CHAT_TIMEOUT_S = 450


def reap(stack):
    r = subprocess.run([stk.program("aigw"), "reap"], env=stack.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def sql(stack, q):
    return stack.pg.psql(q)


def new_chat(stack):
    r = submit(stack.url(), MODELS)
    assert r.status_code == 202, r.text
    return r.json()["chatId"]


def new_job(stack):
    r = requests.post(stack.url("/api/jobs"), json={"type": "competitor_analysis",
                      "input": {"company_name": "Acme"}}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def chat(stack, chat_id):
    return json.loads(sql(stack, f"SELECT json_build_object('status', status, 'results', results,"
                                 f" 'attempts', attempts) FROM chat_results"
                                 f" WHERE chat_id = '{chat_id}'") or "null")


def job(stack, job_id):
    return json.loads(sql(stack, f"SELECT json_build_object('status', status, 'error', error,"
                                 f" 'attempts', attempts, 'steps', (SELECT json_agg(status"
                                 f" ORDER BY step_index) FROM job_steps s"
                                 f" WHERE s.job_id = j.job_id)) FROM jobs j"
                                 f" WHERE job_id = '{job_id}'") or "null")


def test_pending_chat_past_the_timeout_fails(stack):
    old, fresh = new_chat(stack), new_chat(stack)
    sql(stack, f"UPDATE chat_results SET created_at = now() - interval '11 seconds'"
               f" WHERE chat_id = '{old}'")
    out = reap(stack)
    assert "chats: 1 unclaimed failed" in out, out
    c = chat(stack, old)
    assert c["status"] == "failed"
    for provider in MODELS:
        assert c["results"][provider]["ok"] is False
        assert c["results"][provider]["error"] == "no worker picked it up within 10 s"
    # The API shows it as any failed chat.
    body = requests.get(stack.url("/api/ai/chat/status"), params={"id": old},
                        timeout=HTTP_TIMEOUT).json()
    assert body["status"] == "failed" and body["pending"] == [] and body["completedAt"]
    assert chat(stack, fresh)["status"] == "pending"


def test_pending_job_past_the_timeout_fails(stack):
    old, fresh = new_job(stack), new_job(stack)
    sql(stack, f"UPDATE jobs SET created_at = now() - interval '11 seconds' WHERE job_id = '{old}'")
    out = reap(stack)
    assert "jobs: 1 unclaimed failed" in out, out
    j = job(stack, old)
    assert j["status"] == "failed" and j["error"] == "no worker picked it up within 10 s", j
    assert job(stack, fresh)["status"] == "pending"


def claimed(stack, table, key, row_id, attempts, lease, attempt_age="0 seconds", status=None):
    status = status or ("processing" if table == "chat_results" else "running")
    sql(stack, f"UPDATE {table} SET status = '{status}', attempts = {attempts},"
               f" lease_until = now() + interval '{lease}', started_at = now(),"
               f" attempt_at = now() - interval '{attempt_age}' WHERE {key} = '{row_id}'")


def test_chat_whose_worker_died_with_attempts_spent_is_finished(stack):
    dead, partial, alive, retry = (new_chat(stack) for _ in range(4))
    claimed(stack, "chat_results", "chat_id", dead, 3, "-1 second")
    claimed(stack, "chat_results", "chat_id", partial, 3, "-1 second")
    sql(stack, "UPDATE chat_results SET results = '{\"openai\": {\"ok\": true, \"text\": \"hi\"}}'"
               f" WHERE chat_id = '{partial}'")
    claimed(stack, "chat_results", "chat_id", alive, 3, "30 seconds")
    # A lease that ran out with attempts left is simply claimable again.
    claimed(stack, "chat_results", "chat_id", retry, 1, "-1 second")
    reap(stack)
    c = chat(stack, dead)
    assert c["status"] == "failed", c
    assert c["results"]["gemini"]["error"] == "the worker stopped, and 3 attempts are spent"
    c = chat(stack, partial)
    assert c["status"] == "completed", c
    assert c["results"]["openai"] == {"ok": True, "text": "hi"}
    assert c["results"]["gemini"]["ok"] is False
    assert chat(stack, alive)["status"] == "processing"
    assert chat(stack, retry)["status"] == "processing"


def test_chat_running_past_its_timeout_is_requeued_or_failed(stack):
    again, spent = new_chat(stack), new_chat(stack)
    age = f"{CHAT_TIMEOUT_S + 1} seconds"
    claimed(stack, "chat_results", "chat_id", again, 1, "30 seconds", age)
    claimed(stack, "chat_results", "chat_id", spent, 3, "30 seconds", age)
    out = reap(stack)
    assert "1 requeued" in out.splitlines()[0], out
    c = chat(stack, again)
    assert c["status"] == "pending" and c["attempts"] == 1, c
    c = chat(stack, spent)
    assert c["status"] == "failed", c
    assert c["results"]["openai"]["error"] == \
        f"timed out after {CHAT_TIMEOUT_S} s, and 3 attempts are spent"


def test_job_running_past_its_timeout_is_requeued_or_failed(stack):
    again, spent, dead = new_job(stack), new_job(stack), new_job(stack)
    for job_id, attempts, lease, age in ((again, 1, "30 seconds", "601 seconds"),
                                         (spent, 3, "30 seconds", "601 seconds"),
                                         (dead, 3, "-1 second", "0 seconds")):
        claimed(stack, "jobs", "job_id", job_id, attempts, lease, age)
        sql(stack, "UPDATE job_steps SET status = CASE step_index WHEN 0 THEN 'completed'"
                   f" ELSE 'running' END WHERE job_id = '{job_id}'")
    out = reap(stack)
    assert "1 requeued" in out.splitlines()[1], out
    j = job(stack, again)
    assert j["status"] == "pending" and j["steps"] == ["completed", "pending"], j
    j = job(stack, spent)
    assert j["status"] == "failed" and j["steps"] == ["completed", "failed"], j
    assert j["error"] == "timed out after 600 s, and 3 attempts are spent"
    j = job(stack, dead)
    assert j["status"] == "failed" and j["error"] == "the worker stopped, and 3 attempts are spent"


def test_expired_chats_are_deleted(stack):
    old, fresh = new_chat(stack), new_chat(stack)
    sql(stack, f"UPDATE chat_results SET expires_at = now() - interval '1 second'"
               f" WHERE chat_id = '{old}'")
    reap(stack)
    assert chat(stack, old) is None
    assert chat(stack, fresh) is not None


@pytest.mark.parametrize("status,age_days,kept", [
    ("completed", 31, False), ("completed", 29, True),
    ("failed", 8, False), ("failed", 6, True),
    ("cancelled", 8, False), ("cancelled", 6, True),
])
def test_finished_jobs_are_kept_then_deleted(stack, status, age_days, kept):
    job_id = new_job(stack)
    progress = 100 if status == "completed" else 0
    sql(stack, f"UPDATE jobs SET status = '{status}', progress = {progress},"
               f" completed_at = now() - interval '{age_days} days' WHERE job_id = '{job_id}'")
    reap(stack)
    assert (job(stack, job_id) is not None) == kept
    if not kept:
        assert sql(stack, f"SELECT count(*) FROM job_steps WHERE job_id = '{job_id}'") == "0"


def test_reap_on_an_untouched_queue_changes_nothing(stack):
    sql(stack, "DELETE FROM chat_results; DELETE FROM jobs")
    chat_id, job_id = new_chat(stack), new_job(stack)
    out = reap(stack)
    assert out.startswith("chats: 0 unclaimed failed, 0 with attempts spent finished,"
                          " 0 requeued, 0 expired deleted\n"
                          "jobs: 0 unclaimed failed, 0 with attempts spent failed,"
                          " 0 requeued, 0 past keeping deleted\n"), out
    assert chat(stack, chat_id)["status"] == "pending"
    assert job(stack, job_id)["status"] == "pending"


def test_reap_starts_a_worker_for_a_lease_with_no_worker(own_stack):
    s = own_stack
    r = submit(s.url(), {"mock": "m"})
    chat_id = r.json()["chatId"]
    poll(lambda: chat(s, chat_id)["status"], lambda st: st == "completed", 20, 0.1, "done")
    # No aigw-fcgi (whose waker would do it) and no worker left: a chat
    # whose worker died mid-way waits for the reaper.
    s.fcgi.stop()
    poll(s.workers, lambda w: not w, 20, 0.2, "workers gone")
    sql(s, f"UPDATE chat_results SET status = 'processing', attempts = 1, results = '{{}}',"
           f" lease_until = now() - interval '1 second', completed_at = NULL"
           f" WHERE chat_id = '{chat_id}'")
    out = reap(s)
    assert "1 waiting to be claimed: waking the workers" in out, out
    c = poll(lambda: chat(s, chat_id), lambda c: c["status"] == "completed", 20, 0.1, "retaken")
    assert c["attempts"] == 2


def test_workers_reap_on_their_own(own_stack):
    s = own_stack
    gone = submit(s.url(), {"mock": "m"}).json()["chatId"]
    poll(lambda: chat(s, gone)["status"], lambda st: st == "completed", 20, 0.1, "done")
    sql(s, f"UPDATE chat_results SET expires_at = now() - interval '1 second'"
           f" WHERE chat_id = '{gone}'")
    # Let the next worker's first reap be due, then make one start.
    poll(s.workers, lambda w: not w, 20, 0.2, "workers gone")
    sql(s, "UPDATE reaper_state SET ran_at = now() - interval '1 hour'")
    submit(s.url(), {"mock": "m"})
    poll(lambda: chat(s, gone), lambda c: c is None, 20, 0.2, "deleted by a worker")
    ran = sql(s, "SELECT ran_at > now() - interval '1 minute' FROM reaper_state")
    assert ran == "t"
