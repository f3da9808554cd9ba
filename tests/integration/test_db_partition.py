"""A silent network partition between aigw and PostgreSQL: a TCP proxy
(tcpfreeze.py) that stops forwarding without closing anything. Submits and
waiting long-polls answer 503 within about AIGW_DB_TIMEOUT_S instead of
hanging for the kernel's retransmission timeout, and everything works again
once the proxy forwards again, without a restart."""

import threading
import time

import requests

from conftest import FROZEN_DB_TIMEOUT_S, assert_error, poll, status, submit, wait_final

TIMEOUT_S = FROZEN_DB_TIMEOUT_S
# Time for a sanitizer build and a shared machine on top of the timeout.
SLACK_S = 4


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def longpoll(s, chat_id, since, wait=30):
    return requests.get(s.url("/api/ai/chat/status"),
                        params={"id": chat_id, "wait": wait, "since": since}, timeout=60)


def test_partition_answers_503_in_time_and_recovers(frozen_stack):
    s = frozen_stack
    r = submit(s.url(), {"mock": "m"}, message="before the partition")
    assert r.status_code == 202, r.text
    done = wait_final(s.url(), r.json()["chatId"])
    assert done["status"] == "completed"

    # A long-poll waiting on a finished chat: only the partition can end
    # it before its 30 s.
    waited = {}

    def wait_long():
        waited["r"], waited["took"] = timed(lambda: longpoll(s, done["chatId"], done["version"]))
    waiter = threading.Thread(target=wait_long)
    waiter.start()
    time.sleep(1)
    assert waiter.is_alive(), waited.get("r") and waited["r"].text
    rows = s.count_rows()

    s.proxy.freeze()
    try:
        # a submit on a connection that stopped answering
        r, took = timed(lambda: submit(s.url(), {"mock": "m"}, message="during"))
        assert_error(r, 503, "unavailable")
        assert took < TIMEOUT_S + SLACK_S, took
        # the listener notices within its ping and the time-out, and the
        # waiting long-poll answers 503 instead of waiting out its 30 s
        waiter.join(30)
        assert not waiter.is_alive()
        assert_error(waited["r"], 503, "unavailable")
        assert waited["took"] < 1 + 2 * TIMEOUT_S + SLACK_S, waited["took"]
        # a request that has to connect afresh gives up in time as well
        for _ in range(3):
            r, took = timed(lambda: status(s.url(), done["chatId"]))
            assert_error(r, 503, "unavailable")
            assert took < TIMEOUT_S + SLACK_S, took
    finally:
        s.proxy.thaw()

    # everything recovers by itself: submits, workers and the listener
    ok = poll(lambda: submit(s.url(), {"mock": "m"}, message="after"),
              lambda r: r.status_code == 202, timeout=20, interval=0.5,
              what="a submit accepted after the partition")
    chat_id = ok.json()["chatId"]
    assert wait_final(s.url(), chat_id, timeout=30)["status"] == "completed"
    # the hub listens again: a long-poll waits (a wait needs the hub) and
    # answers 200 with the state unchanged at its end
    def waits():
        got, took = timed(lambda: longpoll(s, chat_id, 10 ** 9, wait=1))
        return got.status_code, took
    code, took = poll(waits, lambda x: x[0] == 200, timeout=20, interval=0.5,
                      what="a long-poll waiting again after the partition")
    assert took >= 0.9, took
    assert s.count_rows() == rows + 1
    assert s.fcgi.proc.poll() is None, "aigw-fcgi exited"
