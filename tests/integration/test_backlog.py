"""A backlog drains, it does not thrash. Chats are inserted straight into
the queue, as a load test with AIGW_SPAWN=off leaves them, then two workers
start on the same busy two-core machine:

- 20,000 chats for the built-in mock with a 15 s lease: every chat
  completes on its first claim, no lease is lost, no slot is taken over;
- 6,000 chats for one provider host that serves 50 calls at once (the
  rest queue at the host while aigw's 5 s attempt timeout runs): every
  chat completes and few calls are sent twice, because the workers send
  that host fewer calls at once; with AIGW_PROVIDER_CONNECTIONS at what
  the host serves, no call is sent twice.

Drain times and repeated calls are printed (-s)."""

import os
import subprocess
import time

import stack as stk
from conftest import fail_on_sanitizer_reports, poll

WORKERS = 2
# The mock's own directives: 200 ms an answer, 50 answered at once.
OVERLOADED = '{"openai": "gpt-4o~delay=200~capacity=50"}'


def drain(chats, models, env, timeout):
    """Inserts chats, starts the workers, waits for every chat to end.
    Returns (seconds, status:attempts:count rows, provider calls made,
    leases lost, slots taken over)."""
    env = dict({"AIGW_SPAWN": "off", "AIGW_WORKERS_MAX": str(WORKERS),
                "AIGW_CHAT_TTL_S": "7200"}, **env)
    s = stk.Stack(extra_env=env)
    workers = []
    try:
        s.pg.psql(f"INSERT INTO chat_results (message, models)"
                  f" SELECT 'backlog ' || i, '{models}' FROM generate_series(1, {chats}) AS i")
        start = time.monotonic()
        with open(os.path.join(s.base, "workers.out"), "ab") as out:
            for _ in range(WORKERS):
                workers.append(subprocess.Popen([stk.program("aigw-worker")],
                                                env=dict(s.env, AIGW_WORKER_IDLE_S="600"),
                                                stdout=out, stderr=out))
        left = ("SELECT count(*) FROM chat_results"
                " WHERE status NOT IN ('completed', 'failed')")
        poll(lambda: int(s.pg.psql(left)), lambda n: n == 0, timeout, 1, "the backlog drained")
        seconds = time.monotonic() - start
        counts = s.pg.psql("SELECT status || ':' || attempts || ':' || count(*)"
                           " FROM chat_results GROUP BY status, attempts ORDER BY 1").split()
        calls = len(s.mock.requests_log())
        log = stk.tail(s.env["AIGW_LOG_FILE"], 10 ** 9) + stk.tail(
            os.path.join(s.base, "workers.out"), 10 ** 9)
        return seconds, counts, calls, log.count("lease lost"), log.count("was taken over")
    finally:
        for w in workers:
            stk.stop_process(w)
        s.close()
        fail_on_sanitizer_reports(s)


def test_20000_waiting_chats_drain_without_a_lost_lease():
    chats = 20000
    seconds, counts, _, lost, taken = drain(
        chats, '{"mock": "m"}', {"AIGW_LEASE_S": "15", "AIGW_MOCK_DELAY_MS": "200"}, 600)
    print(f"\nbacklog: {chats} chats drained by {WORKERS} workers in {seconds:.1f} s"
          f" ({chats / seconds:.0f} chats/s); leases lost {lost}, slots taken over {taken}")
    assert counts == [f"completed:1:{chats}"], counts
    assert (lost, taken) == (0, 0)


def test_an_overloaded_host_gets_fewer_calls_at_once_not_repeated_ones():
    chats = 6000
    seconds, counts, calls, lost, taken = drain(
        chats, OVERLOADED, {"AIGW_LEASE_S": "15", "AIGW_PROVIDER_TIMEOUT_S": "5"}, 600)
    repeated = calls - chats
    print(f"\noverloaded host: {chats} chats in {seconds:.1f} s; {repeated} calls repeated"
          f" ({100 * repeated / chats:.1f}%)")
    assert counts == [f"completed:1:{chats}"], counts
    # Timeouts while the windows find the host's pace cost some calls
    # (8-14% here); sending every waiting call at once cost 150%.
    assert repeated < chats // 3, repeated
    assert (lost, taken) == (0, 0)


def test_provider_connections_at_the_hosts_capacity_repeat_nothing():
    chats = 6000
    seconds, counts, calls, lost, taken = drain(
        chats, OVERLOADED, {"AIGW_LEASE_S": "15", "AIGW_PROVIDER_TIMEOUT_S": "5",
                            "AIGW_PROVIDER_CONNECTIONS": str(50 // WORKERS)}, 600)
    print(f"\nhost at capacity: {chats} chats in {seconds:.1f} s; {calls - chats} calls repeated")
    assert counts == [f"completed:1:{chats}"], counts
    assert calls == chats
    assert (lost, taken) == (0, 0)
