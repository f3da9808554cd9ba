"""Workers are started on demand, never more than AIGW_WORKERS_MAX, and leave when idle."""

import concurrent.futures
import threading
import time

import stack as stk
from conftest import submit, wait_final

EXTRA_ENV = {"AIGW_WORKERS_MAX": "2", "AIGW_WORKER_IDLE_S": "2", "AIGW_MOCK_DELAY_MS": "300"}


def test_burst_never_starts_more_than_workers_max(stack):
    most = 0
    stop = threading.Event()

    def sample():
        nonlocal most
        while not stop.is_set():
            most = max(most, len(stk.live_workers(stack.base)))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            replies = list(pool.map(
                lambda i: submit(stack.url(), {"mock": "m", "openai": "gpt-4o~delay=200"},
                                 message=f"burst {i}"), range(30)))
        assert all(r.status_code == 202 for r in replies)
        finals = [wait_final(stack.url(), r.json()["chatId"], timeout=30) for r in replies]
    finally:
        stop.set()
        sampler.join()
    assert all(f["status"] == "completed" for f in finals)
    assert 1 <= most <= 2, f"{most} workers alive at once"


def test_idle_workers_exit(stack):
    r = submit(stack.url(), {"mock": "m"})
    wait_final(stack.url(), r.json()["chatId"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and stk.live_workers(stack.base):
        time.sleep(0.2)
    assert stk.live_workers(stack.base) == []
