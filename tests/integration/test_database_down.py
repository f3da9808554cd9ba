"""PostgreSQL stopped and started again under a running aigw-fcgi."""

import time

import pytest
import requests

import stack as stk
from conftest import assert_error, submit, wait_final


@pytest.fixture()
def own_stack():
    s = stk.Stack()
    yield s
    s.close()


def test_database_down_gives_503_then_recovers(own_stack):
    s = own_stack
    ok = submit(s.url(), {"mock": "m"})
    assert ok.status_code == 202
    chat_id = ok.json()["chatId"]
    wait_final(s.url(), chat_id)

    s.pg.stop()
    try:
        assert_error(submit(s.url(), {"mock": "m"}), 503, "unavailable")
        assert_error(requests.get(s.url("/api/ai/chat/status"), params={"id": chat_id}, timeout=10),
                     503, "unavailable")
        r = requests.get(s.url("/api/health"), timeout=10)
        body = assert_error(r, 503, "unavailable")
        assert body["status"] == "unavailable" and body["database"] == "down"
    finally:
        s.pg.start()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if requests.get(s.url("/api/health"), timeout=10).status_code == 200:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("aigw-fcgi did not recover after PostgreSQL came back")
    # every thread reconnects: a burst of requests all succeed
    for _ in range(20):
        assert requests.get(s.url("/api/ai/chat/status"), params={"id": chat_id},
                            timeout=10).status_code == 200
    r = submit(s.url(), {"mock": "m"}, message="after the restart")
    assert r.status_code == 202
    assert wait_final(s.url(), r.json()["chatId"])["status"] == "completed"
    assert s.fcgi.proc.poll() is None, "aigw-fcgi was not restarted"
