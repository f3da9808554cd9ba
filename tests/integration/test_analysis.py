"""Scheduled prompt analysis: tracked prompts, `aigw schedule`, the capped
run of their prompt_analysis jobs on four platforms, what is recorded in
analysis_jobs and ai_responses, `aigw analysis show`, and the dashboard API.

The model names of a job type are fixed, so faults and delays ride in the
prompts (the mock's `~~provider~directive` message form)."""

import re
import time
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT, Sampler, assert_error, poll
from conftest import run_aigw as aigw

CAP = 5
PLATFORMS = ["anthropic", "gemini", "openai", "perplexity"]
EXTRA_ENV = {"AIGW_WORKERS_MAX": "3", "AIGW_ANALYSIS_CONCURRENCY": str(CAP)}


def add_prompt(stack, text, *extra, project="acme-seo"):
    out = aigw(stack, "prompts", "add", "--project", project, *extra, text).stdout
    prompt_id = out.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", prompt_id), out
    return prompt_id


def q(stack, sql):
    return stack.pg.psql(sql)


def analyses_at_once(stack):
    """Analysis jobs running now, and analyses seen part way (some of their
    platforms in, not all)."""
    sql = ("SELECT (SELECT count(*) FROM jobs WHERE analysis_batch IS NOT NULL"
           " AND status = 'running'), (SELECT count(*) FROM analysis_jobs"
           " WHERE status = 'running' AND completed_platforms + failed_platforms"
           " BETWEEN 1 AND total_platforms - 1)")
    return tuple(int(v) for v in q(stack, sql).split("|"))


def wait_batch_final(stack, batch, n, timeout=120):
    poll(lambda: int(q(stack, f"SELECT count(*) FROM analysis_jobs WHERE batch_id = '{batch}'"
                              " AND status IN ('completed', 'partial', 'failed', 'cancelled')")),
         lambda done: done == n, timeout, 0.25, f"{n} analyses of {batch} final")


@pytest.fixture(scope="module")
def run(stack):
    """12 active prompts (one with web search and a location, one whose
    Gemini call fails, one of another user), one deactivated; openai
    answers slowly so that the cap is reached; then one schedule."""
    slow = "~~openai~delay=1500"
    prompts = {}
    for i in range(9):
        prompts[f"plain{i}"] = add_prompt(stack, f"best crm tools {i} {slow}")
    prompts["search"] = add_prompt(stack, f"best crm for startups {slow}", "--websearch",
                                   "--location", "us")
    prompts["failing"] = add_prompt(stack, "best crm for banks ~~gemini~status=400")
    prompts["bob"] = add_prompt(stack, f"bob's own prompt {slow}", "--user", "bob",
                                "--org", "bobco", project="bob-seo")
    gone = add_prompt(stack, "a prompt nobody tracks any more")
    aigw(stack, "prompts", "deactivate", gone)

    start = time.monotonic()
    with Sampler(stack, lambda: analyses_at_once(stack), interval=0.02) as sampler:
        r = aigw(stack, "schedule")
        batch = r.stdout.splitlines()[0]
        wait_batch_final(stack, batch, 12)
    return {"batch": batch, "prompts": prompts, "gone": gone, "sampler": sampler,
            "schedule_stderr": r.stderr, "elapsed": time.monotonic() - start}


# ---------------------------------------------------------------- commands

def test_prompts_add_refuses_bad_input(stack):
    bad = [
        ["--project", "p", ""],                                     # empty prompt
        ["new prompt"],                                             # no project
        ["--project", "p", "--location", "USA", "x"],               # not two letters
        ["--project", "p", "--location", "1a", "x"],
        ["--project", "p", "--platforms", "openai,bing", "x"],      # unknown platform
        ["--project", "p", "--platforms", "openai,openai", "x"],    # repeated
        ["--project", "p", "--platforms", "openai,", "x"],          # empty name
        ["--project", "p\tq", "x"],                                 # control character
        ["--project", "p", "--bogus", "x"],
    ]
    for args in bad:
        r = aigw(stack, "prompts", "add", *args, check=False)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert r.stderr.strip(), args
    assert aigw(stack, "prompts", "deactivate", "not-a-uuid", check=False).returncode == 2
    r = aigw(stack, "prompts", "deactivate", str(uuid.uuid4()), check=False)
    assert r.returncode == 1 and "no active prompt" in r.stderr
    assert aigw(stack, "analysis", "show", "nope", check=False).returncode == 2
    r = aigw(stack, "analysis", "show", str(uuid.uuid4()), check=False)
    assert r.returncode == 1 and "no batch" in r.stderr
    assert aigw(stack, "schedule", "--bogus", check=False).returncode == 2


def test_prompts_list(stack, run):
    out = aigw(stack, "prompts", "list").stdout
    assert run["prompts"]["search"] in out and run["gone"] not in out
    assert "anthropic,gemini,openai,perplexity" in out or "openai,gemini" in out
    everything = aigw(stack, "prompts", "list", "--all").stdout
    assert run["gone"] in everything
    bob = aigw(stack, "prompts", "list", "--project", "bob-seo").stdout
    assert run["prompts"]["bob"] in bob and run["prompts"]["search"] not in bob


# ---------------------------------------------------------------- the run

def test_one_job_per_active_prompt_and_a_response_per_platform(stack, run):
    batch = run["batch"]
    assert q(stack, f"SELECT count(*) FROM analysis_jobs WHERE batch_id = '{batch}'") == "12"
    assert q(stack, f"SELECT count(*) FROM analysis_jobs WHERE batch_id = '{batch}'"
                    f" AND prompt_id = '{run['gone']}'") == "0"
    assert q(stack, f"SELECT count(*) FROM jobs WHERE analysis_batch = '{batch}'"
                    " AND type = 'prompt_analysis'") == "12"
    assert q(stack, f"SELECT count(*) FROM ai_responses WHERE batch_id = '{batch}'") == "48"
    # Every response of a platform that answered has its figures.
    missing = q(stack, f"SELECT count(*) FROM ai_responses WHERE batch_id = '{batch}'"
                       " AND status = 'success' AND (tokens_used IS NULL OR tokens_used <= 0"
                       " OR cost_usd IS NULL OR cost_usd <= 0 OR execution_time_ms IS NULL"
                       " OR model_version IS NULL OR response_text IS NULL)")
    assert missing == "0"
    assert q(stack, f"SELECT count(*) FROM ai_responses WHERE batch_id = '{batch}'"
                    " AND execution_time_ms IS NULL") == "0"
    # The slow platform's time is its own.
    slow = q(stack, f"SELECT min(execution_time_ms) FROM ai_responses WHERE batch_id = '{batch}'"
                    " AND platform = 'openai' AND prompt_text LIKE '%delay=1500'")
    assert int(slow) >= 1400, slow
    assert "12 prompt_analysis jobs made for 12 active prompts" in run["schedule_stderr"]


def test_one_platform_failing_leaves_the_others(stack, run):
    batch, failing = run["batch"], run["prompts"]["failing"]
    row = q(stack, f"SELECT status, total_platforms, completed_platforms, failed_platforms"
                   f" FROM analysis_jobs WHERE batch_id = '{batch}' AND prompt_id = '{failing}'")
    assert row == "partial|4|3|1", row
    rows = q(stack, f"SELECT r.platform, r.status, coalesce(r.error_message, '')"
                    f" FROM ai_responses r"
                    f" JOIN analysis_jobs a USING (analysis_id)"
                    f" WHERE a.batch_id = '{batch}' AND a.prompt_id = '{failing}'"
                    " ORDER BY platform").splitlines()
    by = {r.split("|")[0]: r.split("|")[1:] for r in rows}
    assert sorted(by) == PLATFORMS
    assert by["gemini"][0] == "error" and "400" in by["gemini"][1], by
    assert all(by[p][0] == "success" for p in PLATFORMS if p != "gemini"), by
    # Every other analysis has all four platforms.
    others = q(stack, f"SELECT status || ':' || completed_platforms || ':' || failed_platforms"
                      f" FROM analysis_jobs WHERE batch_id = '{batch}'"
                      f" AND prompt_id <> '{failing}'").splitlines()
    assert len(others) == 11 and set(others) == {"completed:4:0"}, others


def test_never_more_than_the_cap_at_once(run):
    s = run["sampler"]
    most, partway = s.most
    assert s.samples > 20, s.samples
    assert 2 <= most <= CAP, most
    # Counters move as each platform answers, not only at the end.
    assert partway > 0
    print(f"\nanalysis: 12 prompts x 4 platforms in {run['elapsed']:.1f} s,"
          f" at most {most} running at once ({s.samples} samples)")


def test_citations_are_kept(stack, run):
    batch, search = run["batch"], run["prompts"]["search"]
    # Perplexity always searches: every Perplexity answer has sources.
    assert q(stack, f"SELECT count(*) FROM ai_responses WHERE batch_id = '{batch}'"
                    " AND platform = 'perplexity' AND status = 'success'"
                    " AND jsonb_array_length(citations) = 0") == "0"
    # With web search, every platform grounds its answer and says where.
    rows = q(stack, f"SELECT r.platform, jsonb_array_length(r.citations),"
                    f" r.citations->0->>'url' FROM ai_responses r JOIN analysis_jobs a"
                    f" USING (analysis_id) WHERE a.batch_id = '{batch}'"
                    f" AND a.prompt_id = '{search}' ORDER BY 1").splitlines()
    assert len(rows) == 4, rows
    for row in rows:
        platform, n, url = row.split("|")
        assert int(n) > 0 and url.startswith("http"), row
    # And the location went with the search.
    sent = [e for e in stack.mock.requests_log()
            if (e.get("message") or "").startswith("best crm for startups")]
    assert {e["provider"] for e in sent} == set(PLATFORMS)
    assert all(e["websearch"] for e in sent if e["provider"] != "perplexity"), sent
    located = {e["provider"] for e in sent if e.get("location") == "US"}
    assert {"openai", "anthropic", "perplexity"} <= located, located


def test_scheduling_twice_a_day_makes_nothing(stack, run):
    batch = run["batch"]
    jobs_before = q(stack, "SELECT count(*) FROM jobs")
    r = aigw(stack, "schedule")
    assert r.stdout.splitlines()[0] == batch
    assert "nothing made" in r.stderr
    assert q(stack, "SELECT count(*) FROM jobs") == jobs_before
    assert q(stack, "SELECT count(*) FROM analysis_batches") == "1"


def test_analysis_show(stack, run):
    out = aigw(stack, "analysis", "show", run["batch"]).stdout.splitlines()
    assert out[0].split()[:4] == ["PROJECT", "PROMPT", "PLATFORM", "STATUS"]
    assert len(out) == 1 + 48 + 1, out
    assert sum(" success " in line for line in out) == 47
    assert sum(" error " in line for line in out) == 1
    assert out[-1].startswith("total: 48 responses expected, 47 succeeded, 1 failed, 0 waiting")
    assert re.search(r"\d+ tokens, 0\.\d{8} USD", out[-1]), out[-1]


# ---------------------------------------------------------------- the API

def test_batches_api_is_scoped_to_the_owner(stack, run):
    batch = run["batch"]
    r = requests.get(stack.url("/api/analysis/batches"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    listed = {b["batch_id"]: b for b in r.json()["batches"]}
    b = listed[batch]
    # The anonymous caller sees its 11 analyses, not bob's.
    assert b["prompts"] == 11 and b["completed"] == 10 and b["partial"] == 1, b
    assert b["platforms"] == 44 and b["platforms_completed"] == 43, b
    assert b["platforms_failed"] == 1 and b["tokens_used"] > 0 and b["cost_usd"] > 0, b
    assert b["complete"] is True and b["run_date"]

    r = requests.get(stack.url(f"/api/analysis/batches/{batch}"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["batch"]["batch_id"] == batch
    prompts = body["prompts"]
    assert len(prompts) == 11
    assert all("bob" not in p["prompt"] for p in prompts)
    failing = next(p for p in prompts if p["prompt_id"] == run["prompts"]["failing"])
    assert failing["status"] == "partial" and failing["failed_platforms"] == 1
    assert [x["platform"] for x in failing["responses"]] == PLATFORMS
    gem = next(x for x in failing["responses"] if x["platform"] == "gemini")
    assert gem["status"] == "error" and gem["error"] and gem["text"] is None
    ok = next(x for x in failing["responses"] if x["platform"] == "openai")
    assert ok["status"] == "success" and ok["tokens_used"] > 0 and ok["cost_usd"] > 0
    assert ok["execution_time_ms"] >= 0 and ok["text"].startswith("[openai/gpt-4o]")


def test_batches_api_bad_input(stack, run):
    assert_error(requests.get(stack.url("/api/analysis/batches/nope"), timeout=HTTP_TIMEOUT),
                 400, "invalid_id", "id")
    assert_error(requests.get(stack.url(f"/api/analysis/batches/{uuid.uuid4()}"),
                              timeout=HTTP_TIMEOUT), 404, "not_found")
    for limit in ("0", "101", "x"):
        assert_error(requests.get(stack.url(f"/api/analysis/batches?limit={limit}"),
                                  timeout=HTTP_TIMEOUT), 400, "invalid_field", "limit")
    r = requests.post(stack.url("/api/analysis/batches"), json={}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    r = requests.get(stack.url("/api/analysis/batches?limit=1"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and len(r.json()["batches"]) == 1


# ---------------------------------------------------------------- forced

def test_force_makes_a_second_batch(stack, run):
    r = aigw(stack, "schedule", "--force")
    forced = r.stdout.splitlines()[0]
    assert forced != run["batch"]
    assert "12 prompt_analysis jobs made" in r.stderr
    assert q(stack, f"SELECT count(*) FROM analysis_jobs WHERE batch_id = '{forced}'") == "12"
    wait_batch_final(stack, forced, 12)
    assert q(stack, f"SELECT count(*) FROM ai_responses WHERE batch_id = '{forced}'") == "48"
    r = requests.get(stack.url("/api/analysis/batches"), timeout=HTTP_TIMEOUT)
    assert [b["batch_id"] for b in r.json()["batches"]][:2] == [forced, run["batch"]]
