"""Jobs run by the worker: every shipped type completes; progress rises
through each step; a failing step fails the job; cancel stops the calls;
a job whose worker is killed resumes on another without redoing a step."""

import json
import os
import signal
import threading
import time
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT, SHIPPED_TYPES, jobtypes_dir, poll

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(os.path.dirname(os.path.dirname(HERE)), "jobtypes")


def step(name, progress, provider, model, prompt, **extra):
    s = {"name": name, "status_message": f"Working on {name}...", "progress": progress,
         "provider": provider, "model": model, "prompt": prompt}
    s.update(extra)
    return s


def jobtype(name, steps, **extra):
    t = {"name": name, "timeout_s": 120, "attempts": 3, "poll_interval_s": 1,
         "input": {"q": {"type": "string", "required": True, "max_length": 200}},
         "steps": steps}
    t.update(extra)
    return t


TEST_TYPES = [
    jobtype("t_progress", [
        step("one", 30, "openai", "gpt-4o~delay=400", "progress one {{input.q}}"),
        step("two", 60, "anthropic", "claude-3-5-haiku-latest~delay=400",
             "progress two {{input.q}} after {{steps.one.text}}"),
        step("three", 100, "gemini", "gemini-2.5-flash~delay=400", "progress three {{input.q}}"),
    ]),
    jobtype("t_fail", [
        step("one", 50, "openai", "gpt-4o~status=500", "fail one {{input.q}}"),
        step("two", 100, "openai", "gpt-4o", "fail two {{input.q}}"),
    ]),
    jobtype("t_slow", [
        step("one", 50, "openai", "gpt-4o~delay=3000", "slow one {{input.q}}"),
        step("two", 100, "anthropic", "claude-3-5-haiku-latest", "slow two {{input.q}}"),
    ]),
    jobtype("t_resume", [
        step("one", 50, "openai", "gpt-4o", "resume one {{input.q}}"),
        step("two", 100, "anthropic", "claude-3-5-haiku-latest~delay=4000",
             "resume two {{input.q}}: {{steps.one.text}}"),
    ]),
    jobtype("t_fanout", [
        {"name": "all", "status_message": "Asking everyone...", "progress": 100,
         "fanout": [{"provider": "openai", "model": "gpt-4o~delay=1500"},
                    {"provider": "anthropic", "model": "claude-3-5-haiku-latest~delay=1500"},
                    {"provider": "gemini", "model": "gemini-2.5-flash~delay=1500"}],
         "prompt": "fanout {{input.q}}"},
    ]),
]


# The lease is short so that a killed worker's job is taken again soon.
EXTRA_ENV = {"AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-jobtypes-", *TEST_TYPES,
                                              shipped=SHIPPED_TYPES),
             "AIGW_LEASE_S": "5"}

SHIPPED_INPUTS = {
    "brief_generation": {"topic": "Onboarding emails", "audience": "new users"},
    "competitor_analysis": {"company_name": "Acme Corp", "company_url": "https://acme.example"},
    "evidence_search": {"claim": "Remote work raises productivity"},
    "market_research": {"market": "Electric bikes", "region": "Europe"},
    "multi_agent": {"question": "Should we rewrite the billing service in Rust?"},
    "option_analysis": {"decision": "Where to host", "options": ["AWS", "Hetzner"],
                        "criteria": ["cost", "latency"]},
    "prompt_analysis": {"prompt": "What is the best CRM for small teams?"},
}


def submit_job(stack, type_name, input_, headers=None):
    r = requests.post(stack.url("/api/jobs"), json={"type": type_name, "input": input_},
                      headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def get_job(stack, job_id, what=""):
    r = requests.get(stack.url(f"/api/jobs/{job_id}{what}"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(stack, job_id, timeout=30, states=("completed", "failed", "cancelled")):
    return poll(lambda: get_job(stack, job_id), lambda j: j["status"] in states, timeout,
                0.1, f"job {job_id} final")


def mock_calls(stack, prefix):
    """The provider requests whose user message starts with prefix."""
    return [e for e in stack.mock.requests_log()
            if isinstance(e.get("message"), str) and e["message"].startswith(prefix)]


@pytest.mark.parametrize("type_name", sorted(SHIPPED_INPUTS))
def test_each_shipped_type_completes(stack, type_name):
    with open(os.path.join(SHIPPED, type_name + ".json")) as f:
        decl = json.load(f)
    job_id = submit_job(stack, type_name, SHIPPED_INPUTS[type_name])
    job = wait_job(stack, job_id, timeout=40)
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert job["error"] is None
    assert [s["name"] for s in job["steps"]] == [s["name"] for s in decl["steps"]]
    assert all(s["status"] == "completed" for s in job["steps"]), job["steps"]
    out = job["output"]
    last = decl["steps"][-1]
    if last.get("output") == "json":
        # The model's answer, parsed: an object of the analysis.
        assert isinstance(out, dict) and out, out
    else:
        assert isinstance(out["text"], str) and out["text"], out
        assert all(r["ok"] for r in out["results"].values()), out
    result = requests.get(stack.url(f"/api/jobs/{job_id}/result"), timeout=HTTP_TIMEOUT)
    assert result.status_code == 200, result.text
    assert result.json() == {"status": "completed", "result": out}


def test_later_steps_see_earlier_outputs(stack):
    marker = uuid.uuid4().hex[:8]
    job_id = submit_job(stack, "t_progress", {"q": marker})
    assert wait_job(stack, job_id)["status"] == "completed"
    two = mock_calls(stack, f"progress two {marker}")
    assert len(two) == 1
    # The mock answers "[provider/model] message": step one's answer is in
    # step two's prompt.
    assert two[0]["message"] == f"progress two {marker} after [openai/gpt-4o] progress one {marker}"


def test_progress_rises_through_each_step(stack):
    job_id = submit_job(stack, "t_progress", {"q": uuid.uuid4().hex[:8]})
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s = get_job(stack, job_id, "/status")
        assert "output" not in s
        seen.append((s["progress"], s["status"], s["status_message"]))
        if s["status"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    progress = [p for p, _, _ in seen]
    assert progress == sorted(progress), progress
    assert {30, 60} <= set(progress), seen
    assert all(p < 100 for p, st, _ in seen if st != "completed"), seen
    assert seen[-1][:2] == (100, "completed"), seen
    messages = {m for _, _, m in seen}
    assert {"Working on one...", "Working on two...", "Working on three..."} <= messages, messages


def test_a_failing_step_fails_the_job(stack):
    marker = uuid.uuid4().hex[:8]
    job_id = submit_job(stack, "t_fail", {"q": marker})
    job = wait_job(stack, job_id)
    assert job["status"] == "failed", job
    assert job["progress"] == 0
    assert job["output"] is None
    assert "step one failed" in job["error"] and "500" in job["error"], job["error"]
    assert [s["status"] for s in job["steps"]] == ["failed", "pending"]
    # Retried as a 500 is, up to AIGW_MAX_ATTEMPTS; the next step never ran.
    assert len(mock_calls(stack, f"fail one {marker}")) == 3
    assert mock_calls(stack, f"fail two {marker}") == []
    r = requests.get(stack.url(f"/api/jobs/{job_id}/result"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] == "failed", r.text
    assert "step one failed" in r.json()["error"]


def test_fanout_calls_run_at_once(stack):
    marker = uuid.uuid4().hex[:8]
    start = time.monotonic()
    job_id = submit_job(stack, "t_fanout", {"q": marker})
    job = wait_job(stack, job_id)
    elapsed = time.monotonic() - start
    assert job["status"] == "completed", job
    assert sorted(job["output"]["results"]) == ["anthropic", "gemini", "openai"]
    assert len(mock_calls(stack, f"fanout {marker}")) == 3
    # Three calls of 1.5 s one after another would take 4.5 s.
    assert elapsed < 4.0, elapsed


def test_cancel_during_a_slow_step_stops_the_calls(stack):
    marker = uuid.uuid4().hex[:8]
    job_id = submit_job(stack, "t_slow", {"q": marker})
    poll(lambda: mock_calls(stack, f"slow one {marker}"), lambda c: len(c) == 1, 15, 0.05,
         "the slow call sent")
    start = time.monotonic()
    r = requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    job = poll(lambda: get_job(stack, job_id), lambda j: j["status"] == "cancelled", 1, 0.05,
               "cancelled")
    assert time.monotonic() - start < 1.0
    # Past the slow call's delay: nothing more was asked of any provider,
    # and the job stays cancelled.
    time.sleep(3.5)
    assert len(mock_calls(stack, f"slow one {marker}")) == 1
    assert mock_calls(stack, f"slow two {marker}") == []
    job = get_job(stack, job_id)
    assert job["status"] == "cancelled" and job["output"] is None, job
    assert [s["status"] for s in job["steps"]] == ["cancelled", "cancelled"]
    with open(stack.env["AIGW_LOG_FILE"], errors="replace") as f:
        assert any(job_id in line and "cancelled; abandoning 1 call" in line for line in f)


def test_cancel_of_a_finished_job_changes_nothing(stack):
    job_id = submit_job(stack, "t_fanout", {"q": uuid.uuid4().hex[:8]})
    done = wait_job(stack, job_id)
    r = requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == done


def worker_pid_of(stack, job_id):
    name = stack.pg.psql(f"SELECT worker FROM jobs WHERE job_id = '{job_id}'")
    return int(name.rsplit(":", 1)[1])


def test_a_killed_workers_job_resumes_without_redoing_a_step(stack):
    marker = uuid.uuid4().hex[:8]
    job_id = submit_job(stack, "t_resume", {"q": marker})
    # Step one done, step two in flight on the provider: kill the worker.
    poll(lambda: get_job(stack, job_id),
         lambda j: [s["status"] for s in j["steps"]] == ["completed", "running"], 15, 0.05,
         "step one done")
    poll(lambda: mock_calls(stack, f"resume two {marker}"), lambda c: len(c) == 1, 10, 0.05,
         "step two sent")
    pid = worker_pid_of(stack, job_id)
    os.kill(pid, signal.SIGKILL)
    job = wait_job(stack, job_id, timeout=40)
    assert job["status"] == "completed", job
    assert job["attempts"] == 2, job
    assert worker_pid_of(stack, job_id) != pid
    assert len(mock_calls(stack, f"resume one {marker}")) == 1
    assert len(mock_calls(stack, f"resume two {marker}")) == 2
    assert job["output"]["text"].startswith("[anthropic/claude-3-5-haiku-latest] resume two")


def test_many_jobs_at_once_all_complete(stack):
    ids = []
    lock = threading.Lock()

    def one(i):
        job_id = submit_job(stack, "t_fanout", {"q": f"many {i}"})
        with lock:
            ids.append(job_id)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 20
    for job_id in ids:
        assert wait_job(stack, job_id, timeout=40)["status"] == "completed"
