"""A provider's 429 with Retry-After pauses that provider for every worker
on every host until then (docs/architecture.md): two workers (the worker service mode),
one call answered 429 Retry-After: 2; every call to that provider started
after it, in either worker, reaches the provider no earlier than the pause
end (as the mock providers log request times), waiting is no attempt, and
every chat completes. Other providers are not paused. No rate limit is set
(they are off by default)."""
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

import stack as stk
from conftest import poll, submit, wait_final

RETRY_AFTER_S = 2
CHATS = 6        # to the paused provider, after the 429
CHATS_MAX = 4    # per worker: with the first and another provider's chat,
                 # both workers are needed, and all fit at once


@pytest.fixture()
def two_workers():
    s = stk.Stack(extra_env={"AIGW_SPAWN": "off", "AIGW_WORKER_IDLE_S": "120",
                             "AIGW_WORKER_CHATS_MAX": str(CHATS_MAX),
                             "AIGW_WORKERS_MAX": "2", "AIGW_MOCK_DELAY_MS": "50"})
    procs = []
    try:
        # As a worker service runs: its log on stderr (here the stack's log).
        with open(s.env["AIGW_LOG_FILE"], "ab") as log:
            for _ in range(2):
                procs.append(subprocess.Popen([stk.program("aigw-worker")], env=s.env,
                                              stdin=subprocess.DEVNULL,
                                              stdout=subprocess.DEVNULL, stderr=log))
        poll(lambda: requests.get(s.url("/api/health"), timeout=10).json()["workers"],
             lambda n: n == 2, 20, 0.1, "two workers alive")
        yield s
    finally:
        for p in procs:
            stk.stop_process(p)
        s.close()


def test_no_provider_is_rate_limited_by_default(stack):
    # Gemini's former default was 10 a minute, Anthropic's 50: a burst past
    # them waited for the next minute.
    marker = uuid.uuid4().hex[:8]
    ids = [submit(stack.url(), {"gemini": "gemini-2.5-flash", "anthropic": "claude"},
                  message=f"burst {marker} {i}").json()["chatId"] for i in range(60)]
    for c in ids:
        f = wait_final(stack.url(), c, timeout=30)
        assert f["status"] == "completed", f
        assert all(r["ok"] and "mock" not in r for r in f["results"].values()), f
    assert stack.pg.psql("SELECT count(*) FROM rate_reservations") == "0"


def log_events(s):
    with open(os.path.join(s.base, "aigw.log"), encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def test_a_429_with_retry_after_pauses_the_provider_for_every_worker(two_workers):
    s = two_workers
    marker = uuid.uuid4().hex[:8]
    first = submit(s.url(), {"openai": f"gpt-4o~fail=1~status=429~retry_after={RETRY_AFTER_S}"},
                   message=f"pause first {marker}")
    assert first.status_code == 202, first.text

    def refused():
        return [e for e in s.mock.requests_log()
                if e.get("message") == f"pause first {marker}" and e.get("status") == 429]

    t429 = poll(refused, lambda r: r, 20, 0.02, "the 429")[0]["time"]
    pause_end = t429 + RETRY_AFTER_S
    # Past a worker's re-read of the shared pauses (at most a second), and
    # well before the pause ends.
    time.sleep(max(0.0, t429 + 1.1 - time.time()))
    assert time.time() < pause_end - 0.3, "too late to test the pause"
    ids = []
    for i in range(CHATS):
        r = submit(s.url(), {"openai": "gpt-4o"}, message=f"pause next {marker} {i}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["chatId"])
    other = submit(s.url(), {"gemini": "gemini-2.5-flash"}, message=f"pause other {marker}")
    assert other.status_code == 202, other.text

    finals = [wait_final(s.url(), c, timeout=30) for c in [first.json()["chatId"]] + ids]
    for f in finals:
        assert f["status"] == "completed", f
        assert f["results"]["openai"]["ok"] is True, f
    assert finals[0]["results"]["openai"]["attempts"] == 2, finals[0]  # the 429, then ok
    for f in finals[1:]:
        # waiting for the pause is not an attempt
        assert f["results"]["openai"]["attempts"] == 1, f
    assert wait_final(s.url(), other.json()["chatId"])["status"] == "completed"

    log = s.mock.requests_log()
    later = [e for e in log if e.get("provider") == "openai"
             and isinstance(e.get("message"), str)
             and (e["message"].startswith(f"pause next {marker}")
                  or (e["message"] == f"pause first {marker}" and e["status"] != 429))]
    assert len(later) == CHATS + 1, later
    early = [(e["message"], round(e["time"] - pause_end, 3)) for e in later
             if e["time"] < pause_end - 0.05]
    assert not early, f"calls to openai during its pause (s before its end): {early}"
    gemini = [e for e in log if e.get("message") == f"pause other {marker}"]
    assert len(gemini) == 1 and gemini[0]["time"] < min(e["time"] for e in later), gemini

    # Both workers held calls to the paused provider; the log says why they waited.
    events = list(log_events(s))
    claimed_by = {e["pid"] for e in events
                  if e.get("msg", "").startswith("claimed") and e.get("id") in ids}
    assert len(claimed_by) == 2, claimed_by
    assert any(e.get("level") == "warn" and "429 with Retry-After" in e.get("msg", "")
               and e.get("pause_ms", 0) > 0 for e in events), "no pause in the log"
    assert any("openai: paused by another worker" in e.get("msg", "") for e in events), \
        "the other worker did not hear of the pause"
    print(f"\nopenai paused {RETRY_AFTER_S} s; {CHATS} later calls from 2 workers started "
          f"{min(e['time'] for e in later) - pause_end:+.3f} s to "
          f"{max(e['time'] for e in later) - pause_end:+.3f} s after its end")
