"""aigw-fcgi as a plain CGI program under lighttpd's mod_cgi, configured
through AIGW_ENV_FILE."""

import os
import time

import pytest
import requests

from conftest import assert_error, follow_with_aigw_js, poll

MESSAGE = "legacy hosting"
# Sent as the first submit's Authorization and Cookie: a CGI request's
# secrets, which must not live on in the worker it starts.
SECRET = "cgi-secret-" + os.urandom(8).hex()
CGI_WAIT_MAX_S = 2
EXTRA_ENV = {"AIGW_CGI_WAIT_MAX_S": str(CGI_WAIT_MAX_S)}


@pytest.fixture(scope="module")
def cgi(stack):
    return stack.lighttpd()  # stopped with the stack


@pytest.fixture(scope="module")
def cgi_submit(stack, cgi):
    """One submit through lighttpd; the first of this stack, so it is the
    CGI process that starts the worker."""
    assert stack.workers() == []
    t0 = time.monotonic()
    r = requests.post(cgi.url("/cgi-bin/aigw/api/ai/chat"),
                      json={"message": MESSAGE,
                            "models": {"openai": "gpt-4o~delay=1500", "mock": "m"}},
                      headers={"Authorization": f"Bearer {SECRET}", "Cookie": f"session={SECRET}"},
                      timeout=30)
    return r, time.monotonic() - t0


def test_cgi_submit_answers_202_in_under_a_second(cgi_submit):
    r, elapsed = cgi_submit
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    assert r.headers["Location"] == f"/api/ai/chat/status?id={r.json()['chatId']}"
    assert r.headers["Cache-Control"] == "no-store"
    # the worker it started (alive for 1.5 s of work and 5 s idle after)
    # holds neither the CGI's stdout nor its stderr
    assert elapsed < 1.0, f"the CGI answer took {elapsed:.2f} s"


def test_cgi_started_worker_has_no_inherited_stdio(stack, cgi_submit):
    pids = poll(stack.workers, lambda p: p, timeout=5, what="a worker started by the CGI")
    for pid in pids:
        fds = {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in ("0", "1", "2")}
        assert fds["0"] == "/dev/null", fds
        assert fds["1"] == "/dev/null", fds
        assert fds["2"] in ("/dev/null", stack.env["AIGW_LOG_FILE"]), fds


def test_cgi_started_worker_has_none_of_the_request_in_its_environment(stack, cgi_submit):
    pids = poll(stack.workers, lambda p: p, timeout=5, what="a worker started by the CGI")
    for pid in pids:
        with open(f"/proc/{pid}/environ", "rb") as f:
            names = {e.split(b"=", 1)[0].decode() for e in f.read().split(b"\0") if e}
            f.seek(0)
            assert SECRET.encode() not in f.read()
        for name in ("HTTP_AUTHORIZATION", "HTTP_COOKIE", "QUERY_STRING", "REQUEST_METHOD",
                     "REMOTE_ADDR", "CONTENT_LENGTH", "GATEWAY_INTERFACE"):
            assert name not in names, (name, sorted(names))
        # what it needs is still there
        assert "AIGW_ENV_FILE" in names and "AIGW_WORKER_SLOT" in names, sorted(names)


def test_cgi_chat_completes_when_polled_through_lighttpd(cgi, cgi_submit):
    r, _ = cgi_submit
    chat_id = r.json()["chatId"]

    def fetch():
        s = requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat/status"), params={"id": chat_id},
                         timeout=10)
        assert s.status_code == 200, s.text
        return s.json()
    body = poll(fetch, lambda b: b["status"] in ("completed", "failed"), timeout=20,
                interval=0.2, what="chat through CGI final")
    assert body["status"] == "completed", body
    assert body["results"]["openai"]["ok"] is True
    assert body["results"]["openai"]["text"] == f"[openai/gpt-4o] {MESSAGE}"
    assert body["results"]["mock"]["ok"] is True


def test_cgi_health(cgi):
    r = requests.get(cgi.url("/cgi-bin/aigw/api/health"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"


def test_cgi_errors_have_the_same_shape(cgi):
    r = requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat"), timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "POST, DELETE"
    r = requests.post(cgi.url("/cgi-bin/aigw/api/ai/chat"), data=b"not json",
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert_error(r, 400, "invalid_json")
    assert_error(requests.get(cgi.url("/cgi-bin/aigw/api/nothing"), timeout=10),
                 404, "not_found")


def final_chat(cgi, cgi_submit):
    chat_id = cgi_submit[0].json()["chatId"]
    return poll(lambda: requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat/status"),
                                     params={"id": chat_id}, timeout=10).json(),
                lambda b: b["status"] in ("completed", "failed"), timeout=20, interval=0.2,
                what="chat through CGI final")


def test_cgi_longpoll_waits_at_most_the_cgi_bound(cgi, cgi_submit):
    """Each waiting CGI request is a process and a database connection:
    wait=30 answers, unchanged, after AIGW_CGI_WAIT_MAX_S."""
    final = final_chat(cgi, cgi_submit)
    t0 = time.monotonic()
    r = requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat/status"),
                     params={"id": final["chatId"], "wait": 30, "since": final["version"]},
                     timeout=40)
    took = time.monotonic() - t0
    assert r.status_code == 200 and r.json() == final, r.text
    assert CGI_WAIT_MAX_S - 0.1 < took < CGI_WAIT_MAX_S + 2, took


def test_cgi_event_stream_is_503_and_points_to_long_poll(cgi, cgi_submit):
    chat_id = cgi_submit[0].json()["chatId"]
    t0 = time.monotonic()
    for path, params in (("/api/ai/chat/events", {"id": chat_id}),
                         ("/api/jobs/" + chat_id + "/events", {})):
        r = requests.get(cgi.url("/cgi-bin/aigw" + path), params=params, timeout=10)
        body = assert_error(r, 503, "unavailable")
        assert "FastCGI" in body["error"] and "?wait=" in body["error"], body
    assert time.monotonic() - t0 < 5


def test_aigw_js_follows_a_chat_by_long_poll_under_cgi(cgi):
    """A page's client hears 503 from the event stream and long-polls."""
    r = requests.post(cgi.url("/cgi-bin/aigw/api/ai/chat"),
                      json={"message": "followed", "models": {"openai": "gpt-4o~delay=3000"}},
                      timeout=30)
    assert r.status_code == 202, r.text
    got = follow_with_aigw_js(cgi.url("/cgi-bin/aigw"), r.json()["chatId"])
    assert got == {"transports": ["longpoll"], "status": "completed"}, got
