"""PostgreSQL stopped and started again under a running aigw-fcgi: 503 in
the error shape while it is down, service again without a restart after."""

import requests

from conftest import assert_error, poll, status, submit, wait_final


def test_database_down_gives_503_then_recovers_without_restart(own_stack):
    s = own_stack
    ok = submit(s.url(), {"mock": "m"}, message="before the outage")
    assert ok.status_code == 202, ok.text
    chat_id = ok.json()["chatId"]
    wait_final(s.url(), chat_id)
    rows = s.count_rows()

    s.pg.stop()
    try:
        assert not s.pg.running
        assert_error(submit(s.url(), {"mock": "m"}, message="during the outage"),
                     503, "unavailable")
        assert_error(status(s.url(), chat_id), 503, "unavailable")
        body = assert_error(requests.get(s.url("/api/health"), timeout=10), 503, "unavailable")
        assert body["status"] == "unavailable" and body["database"] == "down"
        # and it stays so while the database is away: no half-done work
        assert_error(submit(s.url(), {"mock": "m"}, message="during the outage"),
                     503, "unavailable")
    finally:
        s.pg.start()

    poll(lambda: requests.get(s.url("/api/health"), timeout=10).status_code,
         lambda code: code == 200, timeout=10, interval=0.2,
         what="health 200 after PostgreSQL came back")
    assert s.fcgi.proc.poll() is None, "aigw-fcgi exited"
    assert s.count_rows() == rows, "a submit made during the outage left a row"
    # every handler thread has reconnected: a burst of requests all succeed
    for _ in range(24):
        r = status(s.url(), chat_id)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "completed"
    r = submit(s.url(), {"mock": "m"}, message="after the restart")
    assert r.status_code == 202, r.text
    assert wait_final(s.url(), r.json()["chatId"])["status"] == "completed"
