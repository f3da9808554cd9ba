"""AIGW_CORS_ORIGINS through nginx: a listed origin's preflight (OPTIONS,
answered before authentication) and its answers, errors and event streams
included, carry the CORS headers; an unlisted origin gets none; no
credentials (cookies) are ever allowed. A second stack without the setting
answers OPTIONS 405 as before."""

import uuid

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, fail_on_sanitizer_reports, poll, run_aigw

FRONT = "https://front.example"
OTHER = "http://localhost:5173"
EXTRA_ENV = {"AIGW_CORS_ORIGINS": f"{FRONT}, {OTHER}", "AIGW_AUTH": "keys"}

ROUTES = [  # every path of the route table, with its methods
    ("/api/ai/chat", "POST, DELETE"),
    ("/api/ai/chat/status", "GET"),
    ("/api/ai/chat/events", "GET"),
    ("/api/ai/chat/cancel", "POST"),
    ("/api/health", "GET"),
    ("/api/metrics", "GET"),
    ("/api/jobs", "POST, GET"),
    ("/api/jobtypes", "GET"),
    (f"/api/jobs/{uuid.uuid4()}", "GET, DELETE"),
    (f"/api/jobs/{uuid.uuid4()}/status", "GET"),
    (f"/api/jobs/{uuid.uuid4()}/result", "GET"),
    (f"/api/jobs/{uuid.uuid4()}/events", "GET"),
    (f"/api/jobs/{uuid.uuid4()}/cancel", "POST"),
    ("/api/analysis/batches", "GET"),
    (f"/api/analysis/batches/{uuid.uuid4()}", "GET"),
    ("/v1/responses", "POST"),
    ("/v1/responses/resp_1", "GET"),
    ("/v1/responses/resp_1/cancel", "POST"),
    ("/v1/chat/completions", "POST"),
    ("/v1/models", "GET"),
]


def preflight(stack, path, origin, method="POST"):
    return requests.options(stack.url(path), timeout=HTTP_TIMEOUT, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


def no_cors(r):
    return [h for h in r.headers if h.lower().startswith("access-control-")]


@pytest.fixture(scope="module")
def key(stack):
    return run_aigw(stack, "keys", "create", "--user", "ann", "--org", "acme",
                    "--name", "cors").stdout.splitlines()[0]


@pytest.mark.parametrize("path,methods", ROUTES)
def test_preflight_of_every_route(stack, path, methods):
    r = preflight(stack, path, FRONT)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == FRONT
    assert r.headers["Access-Control-Allow-Methods"] == methods
    allowed = [h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")]
    for h in ("authorization", "content-type", "last-event-id", "idempotency-key"):
        assert h in allowed
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in r.headers
    assert "Origin" in r.headers["Vary"]
    assert r.headers["Allow"] == methods + ", OPTIONS"
    assert r.content == b""


def test_the_openai_clients_headers_are_allowed(stack):
    """OpenAI's generated clients send X-Stainless-* headers with every
    request: a browser page using one preflights them to /v1/."""
    asked = ("authorization, content-type, x-stainless-arch, x-stainless-lang,"
             " x-stainless-os, x-stainless-package-version, x-stainless-retry-count,"
             " x-stainless-runtime, x-stainless-runtime-version, x-stainless-timeout")
    r = requests.options(stack.url("/v1/responses"), timeout=HTTP_TIMEOUT, headers={
        "Origin": FRONT, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": asked + ", x-other"})
    assert r.status_code == 204, r.text
    allowed = [h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")]
    assert all(h.strip() in allowed for h in asked.split(",")), allowed
    assert "x-other" not in allowed


def test_unlisted_origins_get_no_cors_headers(stack):
    for origin in ("https://evil.example", "https://front.example.evil.com", "http://front.example",
                   "https://front.example:443", "null"):
        r = preflight(stack, "/api/ai/chat", origin)
        assert r.status_code == 204 and no_cors(r) == [], (origin, dict(r.headers))
    r = requests.options(stack.url("/api/ai/chat"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 204 and no_cors(r) == []
    r = requests.get(stack.url("/api/health"), headers={"Origin": "https://evil.example"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and no_cors(r) == []


def test_unknown_path_is_404_even_for_a_preflight(stack):
    r = preflight(stack, "/api/nothing", FRONT)
    assert r.status_code == 404
    assert r.headers["Access-Control-Allow-Origin"] == FRONT  # readable 404


def test_a_listed_origin_reads_answers_errors_and_streams(stack, key):
    hdr = {"Origin": OTHER, "Authorization": f"Bearer {key}"}
    r = requests.post(stack.url("/api/ai/chat"), headers=hdr, timeout=HTTP_TIMEOUT,
                      json={"message": "hello across origins", "models": {"mock": "m"}})
    assert r.status_code == 202, r.text
    assert r.headers["Access-Control-Allow-Origin"] == OTHER
    exposed = [h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")]
    assert {"Location", "Retry-After", "X-Request-Id"} <= set(exposed)
    assert "Access-Control-Allow-Credentials" not in r.headers
    chat = r.json()["chatId"]

    # The browser preflights the event stream (Authorization, Last-Event-ID).
    r = preflight(stack, "/api/ai/chat/events", OTHER, "GET")
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == OTHER
    with requests.get(stack.url(f"/api/ai/chat/events?id={chat}"),
                      headers={**hdr, "Accept": "text/event-stream"}, stream=True,
                      timeout=HTTP_TIMEOUT) as s:
        assert s.status_code == 200
        assert s.headers["Content-Type"].startswith("text/event-stream")
        assert s.headers["Access-Control-Allow-Origin"] == OTHER

    done = poll(lambda: requests.get(stack.url(f"/api/ai/chat/status?id={chat}"), headers=hdr,
                                     timeout=HTTP_TIMEOUT),
                lambda r: r.json().get("status") == "completed", timeout=30)
    assert done.headers["Access-Control-Allow-Origin"] == OTHER

    # An error is readable too: without the headers the page sees only a
    # network failure, never the 401's code.
    r = requests.get(stack.url("/api/jobs"), headers={"Origin": FRONT}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == FRONT
    r = requests.post(stack.url("/v1/chat/completions"), headers={"Origin": FRONT},
                      json={}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == FRONT


def test_off_by_default():
    s = stk.Stack(prefix="aigw-cors-off-")
    try:
        r = preflight(s, "/api/ai/chat", FRONT)
        assert r.status_code == 405 and no_cors(r) == []
        assert "Vary" not in r.headers
        r = requests.get(s.url("/api/health"), headers={"Origin": FRONT}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200 and no_cors(r) == []
    finally:
        s.close()
    fail_on_sanitizer_reports(s)
