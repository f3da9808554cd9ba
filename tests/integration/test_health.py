"""GET /api/health, and the static page nginx serves beside the API."""

import requests

from conftest import submit, wait_final


def test_health_reports_database_queue_depth_and_workers(stack):
    r = requests.get(stack.url("/api/health"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    for key in ("queue_depth", "workers"):
        assert isinstance(body[key], int) and not isinstance(body[key], bool), body
        assert body[key] >= 0


def test_health_counts_a_live_worker(stack):
    r = submit(stack.url(), {"mock": "m"}, message="wake a worker")
    wait_final(stack.url(), r.json()["chatId"])
    # the worker stays AIGW_WORKER_IDLE_S (5 s) after its last chat
    assert requests.get(stack.url("/api/health"), timeout=10).json()["workers"] >= 1


def test_static_chat_page_is_served(stack):
    r = requests.get(stack.url("/"), timeout=10)
    assert r.status_code == 200
    assert "text/html" in r.headers["Content-Type"]
