"""Fixtures: a private aigw deployment per test module or per test."""

import os
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stack as stk  # noqa: E402


@pytest.fixture(scope="module")
def stack(request):
    s = stk.Stack(extra_env=getattr(request.module, "EXTRA_ENV", None))
    yield s
    if request.session.testsfailed:
        sys.stderr.write(s.logs())
    s.close()


def submit(base_url, models, message="Compare Rust and Go for CLIs", **extra):
    body = {"message": message, "models": models}
    body.update(extra)
    return requests.post(base_url + "/api/ai/chat", json=body, timeout=10)


def status(base_url, chat_id):
    return requests.get(base_url + "/api/ai/chat/status", params={"id": chat_id}, timeout=10)


def wait_final(base_url, chat_id, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = status(base_url, chat_id)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"chat {chat_id} not final after {timeout} s: {body}")


def assert_error(r, status_code, code, field=None):
    assert r.status_code == status_code, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert body["code"] == code
    if field is not None:
        assert body.get("field") == field, body
    return body
