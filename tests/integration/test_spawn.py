"""Workers are started on demand, never more than AIGW_WORKERS_MAX at
once, and leave after AIGW_WORKER_IDLE_S seconds with nothing to do."""

import concurrent.futures
import time

import pytest

from conftest import Sampler, poll, submit, wait_final

IDLE_S = 3
EXTRA_ENV = {"AIGW_WORKERS_MAX": "2", "AIGW_WORKER_IDLE_S": str(IDLE_S),
             "AIGW_MOCK_DELAY_MS": "300"}


@pytest.fixture(scope="module")
def burst(stack):
    """30 submits at once, each polled to its end, with the worker count
    sampled throughout."""
    with Sampler(stack) as sampler:
        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            replies = list(pool.map(
                lambda i: submit(stack.url(), {"mock": "m", "openai": "gpt-4o~delay=200"},
                                 message=f"burst {i}"), range(30)))
        assert [r.status_code for r in replies] == [202] * 30, [r.text for r in replies]
        finals = [wait_final(stack.url(), r.json()["chatId"], timeout=60) for r in replies]
    return sampler, finals


def test_burst_of_30_submits_never_runs_more_than_workers_max(burst):
    sampler, _ = burst
    assert sampler.samples > 50, "too few samples to tell"
    assert 1 <= sampler.most <= 2, f"{sampler.most} workers alive at once"


def test_burst_of_30_submits_all_complete(burst):
    _, finals = burst
    assert [f["status"] for f in finals] == ["completed"] * 30
    for f in finals:
        assert f["results"]["mock"]["ok"] is True and f["results"]["openai"]["ok"] is True


def test_workers_exit_after_worker_idle_s(stack, burst):  # noqa: ARG001 - runs after it
    r = submit(stack.url(), {"mock": "m"}, message="then idle")
    wait_final(stack.url(), r.json()["chatId"], interval=0.05)
    done = time.monotonic()
    assert stack.workers(), "the worker left at once instead of idling"
    poll(stack.workers, lambda pids: pids == [], timeout=IDLE_S + 10, interval=0.1,
         what="every worker gone")
    idle = time.monotonic() - done
    assert idle >= IDLE_S - 1, f"workers left after {idle:.1f} s idle, before {IDLE_S} s"


def test_a_submit_after_the_workers_left_starts_one_again(stack, burst):  # noqa: ARG001
    poll(stack.workers, lambda pids: pids == [], timeout=IDLE_S + 10, interval=0.1,
         what="every worker gone")
    r = submit(stack.url(), {"mock": "m"}, message="wake up")
    assert wait_final(stack.url(), r.json()["chatId"])["status"] == "completed"


def test_chat_left_pending_without_a_wakeup_still_runs(stack):
    # A row that no submit woke anyone for (as when a worker leaves idle
    # just as a chat comes): the waker's sweep starts a worker for it.
    poll(lambda: stack.workers(), lambda w: w == [], 15, what="workers to leave")
    chat_id = stack.pg.psql(
        "INSERT INTO chat_results (chat_id, message, models, expires_at)"
        " VALUES (gen_random_uuid(), 'left behind', '{\"mock\": \"m\"}',"
        " now() + interval '1 hour') RETURNING chat_id").splitlines()[0]
    final = wait_final(stack.url(), chat_id, timeout=15)
    assert final["status"] == "completed"
    assert final["results"]["mock"]["ok"] is True
