"""Provider rate limits shared by every worker (docs/architecture.md): no more than RPM
requests to a provider in any 60 s window, as the mock providers saw them,
over two workers; an unlimited provider is not slowed; tokens per minute;
retries count; the offline mock is never limited; a worker that cannot ask
the database does not send.

test_60_rpm_over_two_workers takes a bit over two minutes by nature (150
requests at 60 a minute); it is the only slow test. Its figures are printed
(run with -s to see them)."""

import concurrent.futures
import time
import uuid

import stack as stk
from conftest import Sampler, fail_on_sanitizer_reports, poll, submit, wait_final, workers_gone

RPM = 60
# 64 chats a worker at most, so that 150 waiting chats need both workers.
EXTRA_ENV = {"AIGW_WORKERS_MAX": "2", "AIGW_WORKER_CHATS_MAX": "64",
             "AIGW_RPM_OPENAI": str(RPM), "AIGW_RPM_ANTHROPIC": "0"}


def sent(stack, prefix):
    """The provider requests whose message starts with prefix, oldest first."""
    return sorted((e for e in stack.mock.requests_log()
                   if (e.get("message") or "").startswith(prefix)), key=lambda e: e["time"])


def most_in_a_minute(entries):
    """The most requests that arrived within any 60 s: every window that
    starts at a request (the fullest window always does)."""
    times = [e["time"] for e in entries]
    most, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + 60:
            j += 1
        most = max(most, j - i)
    return most


def submit_many(stack, models, messages, **extra):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda m: submit(stack.url(), models, message=m, **extra),
                                messages))
    assert [r.status_code for r in replies] == [202] * len(messages), replies[0].text
    return [r.json()["chatId"] for r in replies]


def count_final(stack, prefix):
    return int(stack.pg.psql(f"SELECT count(*) FROM chat_results WHERE message LIKE '{prefix}%'"
                             " AND status IN ('completed', 'failed')"))


def waits(stack, provider):
    row = stack.pg.psql(f"SELECT waits, wait_ms FROM rate_limit_waits"
                        f" WHERE provider = '{provider}'")
    return tuple(int(v) for v in row.split("|")) if row else (0, 0)


# ---------------------------------------------------------------- no limit

def test_an_unlimited_provider_is_not_slowed(stack):
    prefix = f"free {uuid.uuid4().hex[:8]} "
    start = time.monotonic()
    submit_many(stack, {"anthropic": "claude-3-5-haiku-latest"},
                [f"{prefix}{i}" for i in range(100)])
    poll(lambda: count_final(stack, prefix), lambda n: n == 100, 30, 0.2, "all final")
    elapsed = time.monotonic() - start
    entries = sent(stack, prefix)
    assert len(entries) == 100
    # Far past 60 in a minute: RPM 0 is no limit, and nothing was held.
    assert most_in_a_minute(entries) == 100
    assert elapsed < 30, elapsed
    assert stack.pg.psql("SELECT count(*) FROM rate_reservations"
                         " WHERE provider = 'anthropic'") == "0"
    assert waits(stack, "anthropic") == (0, 0)
    print(f"\nno limit: 100 anthropic chats in {elapsed:.1f} s")


# ---------------------------------------------------------------- RPM

def test_60_rpm_over_two_workers(stack):
    prefix = f"rpm {uuid.uuid4().hex[:8]} "
    other = f"beside {uuid.uuid4().hex[:8]} "
    workers_gone(stack)
    start = time.monotonic()
    with Sampler(stack) as sampler:
        submit_many(stack, {"openai": "gpt-4o"}, [f"{prefix}{i}" for i in range(150)])
        # The first minute's requests go at once; the rest wait for it.
        poll(lambda: len(sent(stack, prefix)), lambda n: n >= RPM, 30, 0.2, "first minute sent")
        time.sleep(2)
        assert len(sent(stack, prefix)) == RPM
        # Meanwhile an unlimited provider is not held by openai's limit.
        beside = time.monotonic()
        submit_many(stack, {"anthropic": "claude-3-5-haiku-latest"},
                    [f"{other}{i}" for i in range(20)])
        poll(lambda: count_final(stack, other), lambda n: n == 20, 15, 0.2, "anthropic final")
        beside = time.monotonic() - beside
        poll(lambda: count_final(stack, prefix), lambda n: n == 150, 240, 0.5, "all final")
    elapsed = time.monotonic() - start

    done = stack.pg.psql(f"SELECT count(*) FROM chat_results WHERE message LIKE '{prefix}%'"
                         " AND status = 'completed'")
    assert done == "150"
    entries = sent(stack, prefix)
    assert len(entries) == 150 and all(e["status"] == 200 for e in entries)
    most = most_in_a_minute(entries)
    assert most <= RPM, most
    times = [e["time"] for e in entries]
    closest = min(b - a for a, b in zip(times, times[RPM:]))  # request n and n + 60
    # 150 at 60 a minute: the last 30 cannot start before two minutes.
    assert 120 <= elapsed < 200, elapsed
    # Two workers shared the limit.
    assert sampler.most == 2, sampler.most
    # (a claim's worker is host#N:pid: count the pids)
    workers = stack.pg.psql(f"SELECT count(DISTINCT substring(worker FROM ':[0-9]+$'))"
                            f" FROM chat_results WHERE message LIKE '{prefix}%'")
    assert workers == "2", workers
    # Every request past the first minute's 60 waited, and was counted once.
    n, wait_ms = waits(stack, "openai")
    assert n == 150 - RPM, n
    assert wait_ms >= n * 55000, wait_ms
    print(f"\n60 rpm: 150 chats over {sampler.most} workers in {elapsed:.1f} s; at most {most}"
          f" requests in any 60 s (request n + 60 came {closest:.3f} s after request n at the"
          f" closest); {n} waits, {wait_ms / n / 1000:.1f} s on average; 20 anthropic chats"
          f" beside it in {beside:.1f} s")


# ---------------------------------------------------------------- TPM, the mock

def test_tokens_per_minute_and_the_offline_mock():
    # A call of a 40-byte message and max_tokens 100 counts 10 + 100 tokens:
    # two fit in 250 a minute, the third waits. Gemini has no key here, so
    # the offline mock answers it, never limited whatever its RPM says.
    env = {"AIGW_TPM_PERPLEXITY": "250", "GEMINI_API_KEY": "", "AIGW_RPM_GEMINI": "1",
           "AIGW_WORKER_STOP_S": "1"}  # the waiting chat is handed back at the end
    with stk.Stack(extra_env=env) as s:
        prefix = f"tpm {uuid.uuid4().hex[:8]} "
        messages = [f"{prefix}{i}".ljust(40, ".") for i in range(3)]
        assert {len(m.encode()) for m in messages} == {40}
        ids = submit_many(s, {"perplexity": "sonar"}, messages, max_tokens=100)
        poll(lambda: len(sent(s, prefix)), lambda n: n >= 2, 15, 0.1, "two sent")
        time.sleep(4)
        assert len(sent(s, prefix)) == 2
        assert s.pg.psql("SELECT count(*), sum(tokens) FROM rate_reservations"
                         " WHERE provider = 'perplexity'") == "2|220"
        statuses = s.pg.psql(f"SELECT string_agg(status, ',' ORDER BY status) FROM chat_results"
                             f" WHERE chat_id IN ({', '.join(repr(i) for i in ids)})")
        assert statuses == "completed,completed,processing", statuses

        start = time.monotonic()
        gemini = submit_many(s, {"gemini": "gemini-2.5-flash"},
                             [f"offline {uuid.uuid4().hex[:8]} {i}" for i in range(5)])
        results = [wait_final(s.url(), i, timeout=15)["results"]["gemini"] for i in gemini]
        assert all(r["ok"] and r.get("mock") is True for r in results), results
        assert time.monotonic() - start < 10
        assert s.pg.psql("SELECT count(*) FROM rate_reservations"
                         " WHERE provider = 'gemini'") == "0"
    fail_on_sanitizer_reports(s)


# ---------------------------------------------------------------- retries, database away

def test_a_retry_is_a_request_and_no_request_goes_without_the_database():
    with stk.Stack(extra_env={"AIGW_RPM_OPENAI": "100"}) as s:
        msg = f"retry {uuid.uuid4()}"
        chat_id = submit(s.url(), {"openai": "gpt-4o~fail=1~status=500~retry_after=2"},
                         message=msg).json()["chatId"]
        poll(lambda: len(sent(s, msg)), lambda n: n == 1, 15, 0.05, "first attempt")
        # The retry is due 2 s later; with the database away it cannot
        # reserve, so it must not go.
        s.pg.stop()
        time.sleep(5)
        assert len(sent(s, msg)) == 1
        s.pg.start()
        body = wait_final(s.url(), chat_id, timeout=30)
        assert body["status"] == "completed", body
        assert body["results"]["openai"]["attempts"] == 2
        assert [e["status"] for e in sent(s, msg)] == [500, 200]
        # Both attempts took a place in the window.
        assert s.pg.psql("SELECT count(*) FROM rate_reservations"
                         " WHERE provider = 'openai'") == "2"
    fail_on_sanitizer_reports(s)
