"""GET /api/metrics: the Prometheus text format (checked by promtool), figures
that move as chats and jobs finish, fail and get stuck, who may read them,
the alert rules, `aigw status`, and a scrape that stays off the finished
rows with a million of them in each table."""

import re
import subprocess
import time
import uuid

import requests

import stack as stk
from conftest import HTTP_TIMEOUT, assert_error, run_aigw, submit, wait_final

TOKEN = "metrics-" + uuid.uuid4().hex


def scrape(stack, **headers):
    r = requests.get(stack.url("/api/metrics"), headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def value(text, key):
    return samples(text).get(key, 0.0)


def promtool_check(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- the format

def test_the_exposition_passes_promtool(stack):
    text = scrape(stack)
    promtool_check(text)
    for family, kind in [("aigw_queue_depth", "gauge"), ("aigw_workers_alive", "gauge"),
                         ("aigw_stuck_jobs", "gauge"), ("aigw_chats_created_total", "counter"),
                         ("aigw_reaper_last_run_timestamp_seconds", "gauge")]:
        assert f"# TYPE {family} {kind}\n" in text, family
    assert 'aigw_queue_depth{type="chat"}' in text and 'aigw_running{type="job"}' in text


# Every family docs/api.md's "Metrics" table documents.
FAMILIES = {
    "aigw_build_info": "gauge",
    "aigw_chats_created_total": "counter",
    "aigw_jobs_created_total": "counter",
    "aigw_chats_total": "counter",
    "aigw_jobs_total": "counter",
    "aigw_chat_duration_seconds": "histogram",
    "aigw_job_duration_seconds": "histogram",
    "aigw_provider_calls_total": "counter",
    "aigw_provider_latency_seconds": "histogram",
    "aigw_queue_depth": "gauge",
    "aigw_running": "gauge",
    "aigw_oldest_pending_seconds": "gauge",
    "aigw_stuck_jobs": "gauge",
    "aigw_workers_alive": "gauge",
    "aigw_reaper_last_run_timestamp_seconds": "gauge",
    "aigw_rate_limit_waits_total": "counter",
    "aigw_rate_limit_wait_seconds_total": "counter",
    "aigw_webhook_deliveries_total": "counter",
}


def test_the_list_is_the_documented_table():
    with open(f"{stk.SRCDIR}/docs/api.md", encoding="utf-8") as f:
        doc = f.read()
    section = doc.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for row in re.findall(r"^\| (`aigw_.*?) \| (\w+) \|", section, re.M):
        for name in re.findall(r"`(aigw_\w+)`", row[0]):
            documented[name] = row[1]
    assert documented == FAMILIES


def test_a_fresh_deployment_declares_every_family(own_stack):
    """Before any chat, job or rate-limit wait, every family has its HELP and
    TYPE, so dashboards and alerts see it from the start."""
    text = scrape(own_stack)
    promtool_check(text)
    for family, kind in FAMILIES.items():
        assert re.search(rf"^# HELP {family} \S", text, re.M), family
        assert f"# TYPE {family} {kind}\n" in text, family
        assert text.count(f"# TYPE {family} ") == 1, family


def test_a_chat_that_completes_and_one_that_fails_move_the_counters(stack):
    before = scrape(stack)
    ok = submit(stack.url(), {"openai": "gpt-4o", "gemini": "gemini-2.5-flash~status=400"},
                message="metrics one").json()["chatId"]
    bad = submit(stack.url(), {"anthropic": "claude-3-5-haiku-latest~status=401"},
                 message="metrics two").json()["chatId"]
    assert wait_final(stack.url(), ok)["status"] == "completed"
    assert wait_final(stack.url(), bad)["status"] == "failed"
    after = scrape(stack)
    promtool_check(after)

    def delta(key):
        return value(after, key) - value(before, key)

    assert delta('aigw_chats_total{status="completed"}') == 1
    assert delta('aigw_chats_total{status="failed"}') == 1
    assert delta("aigw_chats_created_total") == 2
    assert delta('aigw_provider_calls_total{provider="openai",outcome="ok"}') == 1
    assert delta('aigw_provider_calls_total{provider="gemini",outcome="error"}') == 1
    assert delta('aigw_provider_calls_total{provider="anthropic",outcome="error"}') == 1
    assert delta("aigw_chat_duration_seconds_count") == 2
    assert delta('aigw_chat_duration_seconds_bucket{le="+Inf"}') == 2
    assert delta('aigw_provider_latency_seconds_count{provider="openai"}') == 1
    # Buckets are cumulative: each holds at least what the one below does.
    buckets = [(float(m.group(1)) if m.group(1) != "+Inf" else float("inf"), v)
               for k, v in samples(after).items()
               if (m := re.fullmatch(r'aigw_chat_duration_seconds_bucket\{le="([^"]+)"\}', k))]
    assert len(buckets) == 14
    counts = [v for _, v in sorted(buckets)]
    assert counts == sorted(counts)


def test_jobs_finished_and_stuck(stack):
    before = scrape(stack)
    r = requests.post(stack.url("/api/jobs"), timeout=HTTP_TIMEOUT, json={
        "type": "competitor_analysis", "input": {"company_name": "Acme"}})
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = requests.get(stack.url(f"/api/jobs/{job}/status"), timeout=HTTP_TIMEOUT).json()
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert status["status"] == "completed", status
    # A job whose worker died with no attempts left, as the reaper would
    # find it.
    stuck = str(uuid.uuid4())
    stack.pg.psql(
        "INSERT INTO jobs (job_id, type, input, status, attempts, max_attempts, lease_until,"
        f" started_at, attempt_at) VALUES ('{stuck}', 'competitor_analysis', '{{}}', 'running',"
        " 3, 3, now() - interval '5 minutes', now() - interval '20 minutes',"
        " now() - interval '20 minutes')")
    after = scrape(stack)
    assert value(after, 'aigw_jobs_total{type="competitor_analysis",status="completed"}') \
        - value(before, 'aigw_jobs_total{type="competitor_analysis",status="completed"}') == 1
    assert value(after, 'aigw_job_duration_seconds_count{type="competitor_analysis"}') >= 1
    # Created: the finished one and the stuck one.
    assert value(after, 'aigw_jobs_created_total{type="competitor_analysis"}') \
        - value(before, 'aigw_jobs_created_total{type="competitor_analysis"}') == 2
    assert value(after, "aigw_stuck_jobs") >= 1
    status = run_aigw(stack, "status").stdout
    assert re.search(r"^stuck jobs:\s+[1-9]", status, re.M), status
    stack.pg.psql(f"DELETE FROM jobs WHERE job_id = '{stuck}'")


# ---------------------------------------------------------------- aigw status

def test_aigw_status(stack):
    out = run_aigw(stack, "status").stdout
    for heading in ("queue depth:", "running:", "stuck jobs:", "workers alive:",
                    "oldest pending:", "last reaper run:"):
        assert re.search(rf"^{heading}", out, re.M), out
    assert re.search(r"^workers alive:\s+\d+ of \d+ slots$", out, re.M), out
    run_aigw(stack, "reap")
    out = run_aigw(stack, "status").stdout
    assert re.search(r"^last reaper run: \d{4}-\d\d-\d\dT\S+Z \(\d+ s ago\)$", out, re.M), out
    assert run_aigw(stack, "status", "extra", check=False).returncode == 2


# ---------------------------------------------------------------- access

def test_access_local_refuses_another_address():
    # nginx takes the client's address from X-Forwarded-For here, as behind
    # a proxy, so that a test on loopback can come from elsewhere.
    extra = "set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;"
    with stk.Stack(nginx_server_extra=extra) as s:
        r = requests.get(s.url("/api/metrics"), timeout=HTTP_TIMEOUT,
                         headers={"X-Forwarded-For": "203.0.113.7"})
        assert_error(r, 403, "forbidden")
        assert scrape(s, **{"X-Forwarded-For": "127.0.0.1"})


def test_access_by_token():
    with stk.Stack(extra_env={"AIGW_METRICS_ACCESS": "token",
                              "AIGW_METRICS_TOKEN": TOKEN}) as s:
        r = requests.get(s.url("/api/metrics"), timeout=HTTP_TIMEOUT)
        assert_error(r, 401, "unauthorized")
        r = requests.get(s.url("/api/metrics"), timeout=HTTP_TIMEOUT,
                         headers={"Authorization": "Bearer wrong-token-of-some-length"})
        assert_error(r, 401, "unauthorized")
        assert scrape(s, Authorization=f"Bearer {TOKEN}")
        # The API's own authentication is not asked for.
        r = requests.get(s.url("/api/health"), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200


def test_a_short_token_stops_the_program(tmp_path):
    env = {"AIGW_METRICS_ACCESS": "token", "AIGW_METRICS_TOKEN": "short",
           "AIGW_ENV_FILE": str(tmp_path / "none.env"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([stk.program("aigw"), "status"], env=env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "AIGW_METRICS_TOKEN" in r.stderr


# ---------------------------------------------------------------- alert rules

def test_alert_rules_pass_promtool():
    rules = f"{stk.SRCDIR}/contrib/prometheus/aigw-alerts.yml"
    r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 6 rules found" in r.stdout
    text = open(rules).read()
    for metric in ("aigw_jobs_total", "aigw_queue_depth", "aigw_job_duration_seconds_bucket",
                   "aigw_stuck_jobs", "aigw_webhook_deliveries_total"):
        assert metric in text


# ---------------------------------------------------------------- a million rows

def test_a_scrape_reads_no_finished_row(stack):
    """A million finished chats and a million finished jobs: the scrape
    must not scan them (counted by PostgreSQL's own statistics)."""
    stack.pg.psql(
        "INSERT INTO chat_results (chat_id, message, models, status, results, completed_at,"
        " expires_at) SELECT gen_random_uuid(), 'old', '{\"mock\": \"m\"}', 'completed', '{}',"
        " now(), now() + interval '1 hour' FROM generate_series(1, 1000000)")
    stack.pg.psql(
        "INSERT INTO jobs (job_id, type, input, status, progress, completed_at)"
        " SELECT gen_random_uuid(), 'competitor_analysis', '{}', 'completed', 100, now()"
        " FROM generate_series(1, 1000000)")
    stack.pg.psql("ANALYZE chat_results; ANALYZE jobs")

    def seq_scans():
        return stack.pg.psql("SELECT sum(seq_scan) FROM pg_stat_user_tables"
                             " WHERE relname IN ('chat_results', 'jobs')")

    scrape(stack)
    time.sleep(1)  # statistics are reported at the end of each transaction
    before = seq_scans()
    start = time.monotonic()
    for _ in range(5):
        scrape(stack)
    took = (time.monotonic() - start) / 5
    time.sleep(1)
    assert seq_scans() == before
    print(f"\nmetrics: one scrape over 1,000,000 chats and 1,000,000 jobs in {took * 1000:.1f} ms")
