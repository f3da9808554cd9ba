"""GET /api/health."""

import requests


def test_health_reports_database_queue_and_workers(stack):
    r = requests.get(stack.url("/api/health"), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert isinstance(body["queue_depth"], int) and body["queue_depth"] >= 0
    assert isinstance(body["workers"], int) and body["workers"] >= 0


def test_static_chat_page_is_served(stack):
    r = requests.get(stack.url("/"), timeout=10)
    assert r.status_code == 200
    assert "text/html" in r.headers["Content-Type"]
    assert "/api/ai/chat" in requests.get(stack.url("/aigw.js"), timeout=10).text
