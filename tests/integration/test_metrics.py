"""GET /api/metrics: the Prometheus text format (checked by promtool), figures
that move as chats and jobs finish, fail and get stuck, who may read them,
the alert rules, `aigw status`, and a scrape that stays off the finished
rows with a million of them in each table."""

import re
import subprocess
import threading
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
    # The gauges' label is kind (chat or job), not type: type is a job type.
    assert 'aigw_queue_depth{kind="chat"}' in text and 'aigw_running{kind="job"}' in text
    assert 'aigw_oldest_pending_seconds{kind="job"}' in text
    assert not re.search(r'^aigw_(queue_depth|running|oldest_pending_seconds)\{type=', text, re.M)


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
    "aigw_provider_tokens_total": "counter",
    "aigw_provider_cost_usd_total": "counter",
    "aigw_http_requests_total": "counter",
    "aigw_http_busy_total": "counter",
    # of the aigw-fcgi answering (FastCGI with its cache on), not the database's
    "aigw_status_cache_lookups_total": "counter",
    "aigw_status_cache_clears_total": "counter",
    "aigw_status_cache_entries": "gauge",
    "aigw_status_cache_bytes": "gauge",
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


def test_tokens_and_cost_by_provider_and_model(stack):
    before = scrape(stack)
    chat_id = submit(stack.url(), {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
                                   "gemini": "gemini-2.5-flash~status=400"},
                     message="count my tokens").json()["chatId"]
    final = wait_final(stack.url(), chat_id)
    assert final["status"] == "completed", final
    after = scrape(stack)
    promtool_check(after)

    def delta(key):
        return value(after, key) - value(before, key)

    for provider in ("openai", "anthropic"):
        res = final["results"][provider]
        assert res["ok"] and res["usage"]["inputTokens"] > 0, res
        who = f'provider="{provider}",model="{res["model"]}"'
        assert delta(f'aigw_provider_tokens_total{{{who},direction="input"}}') \
            == res["usage"]["inputTokens"]
        assert delta(f'aigw_provider_tokens_total{{{who},direction="output"}}') \
            == res["usage"]["outputTokens"]
        assert res["costUsd"] > 0, res
        assert abs(delta(f"aigw_provider_cost_usd_total{{{who}}}") - res["costUsd"]) < 1e-9
    # The failed call used no tokens and cost nothing.
    assert not [k for k in samples(after) if k.startswith("aigw_provider_tokens_total")
                and 'provider="gemini"' in k]


def test_http_requests_by_route_pattern_and_status(stack):
    chat_id = submit(stack.url(), {"mock": "m"}, message="count my requests").json()["chatId"]
    wait_final(stack.url(), chat_id)
    before = scrape(stack)
    job_id = str(uuid.uuid4())
    for _ in range(3):
        r = requests.get(stack.url(f"/api/jobs/{job_id}/status"), timeout=HTTP_TIMEOUT)
        assert r.status_code == 404
    assert requests.get(stack.url("/api/no/such/thing"), timeout=HTTP_TIMEOUT).status_code == 404
    r = requests.get(stack.url("/api/ai/chat/status"), params={"id": chat_id},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    after = scrape(stack)
    promtool_check(after)

    def delta(key):
        return value(after, key) - value(before, key)

    # The route's pattern, never the path with its id in it.
    assert delta('aigw_http_requests_total{route="/api/jobs/{id}/status",status="404"}') == 3
    assert delta('aigw_http_requests_total{route="unmatched",status="404"}') == 1
    assert delta('aigw_http_requests_total{route="/api/ai/chat/status",status="200"}') == 1
    # The scrape before this one was counted as it was answered.
    assert delta('aigw_http_requests_total{route="/api/metrics",status="200"}') == 1
    assert job_id not in after and chat_id not in after


def test_busy_503s_are_counted():
    with stk.Stack(extra_env={"AIGW_WAIT_MAX": "1"}) as s:
        chat_id = submit(s.url(), {"mock": "m"}, message="busy").json()["chatId"]
        version = wait_final(s.url(), chat_id)["version"]
        before = scrape(s)
        params = {"id": chat_id, "wait": 3, "since": version}
        waiter = threading.Thread(target=lambda: requests.get(
            s.url("/api/ai/chat/status"), params=params, timeout=HTTP_TIMEOUT))
        waiter.start()
        time.sleep(1)  # the one place is taken now
        r = requests.get(s.url("/api/ai/chat/status"), params=params, timeout=HTTP_TIMEOUT)
        assert_error(r, 503, "busy")
        waiter.join(10)
        after = scrape(s)
        assert value(after, "aigw_http_busy_total") - value(before, "aigw_http_busy_total") == 1
        assert value(after, 'aigw_http_requests_total{route="/api/ai/chat/status",status="503"}') \
            - value(before, 'aigw_http_requests_total{route="/api/ai/chat/status",status="503"}') \
            == 1


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
    assert "SUCCESS: 10 rules found" in r.stdout
    text = open(rules).read()
    for metric in ("aigw_jobs_total", "aigw_queue_depth", "aigw_job_duration_seconds_bucket",
                   "aigw_stuck_jobs", "aigw_webhook_deliveries_total", "aigw_http_busy_total",
                   "aigw_http_requests_total", "aigw_provider_cost_usd_total",
                   "aigw_oldest_pending_seconds"):
        assert metric in text
    # The gauges' label is kind now.
    assert "by (kind)" in text and "$labels.kind" in text


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
