"""aigw-fcgi as a plain CGI program under lighttpd."""

import time

import pytest
import requests

import stack as stk


@pytest.fixture(scope="module")
def cgi(stack):
    server = stk.Lighttpd(stack.base, stack.env)
    yield server
    server.stop()


def test_cgi_submit_answers_at_once_and_completes(stack, cgi):
    url = cgi.url("/cgi-bin/aigw/api/ai/chat")
    t0 = time.monotonic()
    r = requests.post(url, json={"message": "legacy hosting",
                                 "models": {"openai": "gpt-4o~delay=1500", "mock": "m"}},
                      timeout=10)
    elapsed = time.monotonic() - t0
    assert r.status_code == 202, r.text
    # the detached worker holds neither stdout nor stderr of the CGI
    assert elapsed < 1.0, f"the CGI answer took {elapsed:.2f} s"
    chat_id = r.json()["chatId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s = requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat/status"), params={"id": chat_id},
                         timeout=10)
        assert s.status_code == 200, s.text
        if s.json()["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    body = s.json()
    assert body["status"] == "completed", body
    assert body["results"]["openai"]["ok"] is True


def test_cgi_errors_have_the_same_shape(cgi):
    r = requests.get(cgi.url("/cgi-bin/aigw/api/ai/chat"), timeout=10)
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "POST"
