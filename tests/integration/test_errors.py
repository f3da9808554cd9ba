"""Every error of the API has the right status and shape, and stores nothing."""

import json
import socket
import time
import uuid

import pytest
import requests

from conftest import assert_error, submit

OK_MODELS = {"openai": "gpt-4o"}


def count_rows(stack):
    return stack.count_rows("chat_results")


def post_raw(stack, data, content_type="application/json"):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return requests.post(stack.url("/api/ai/chat"), data=data, headers=headers, timeout=10)


@pytest.mark.parametrize("data", [b"", b"not json", b"{", b"[1, 2]", b"\"text\"",
                                  b'{"message": "a", "models": {"openai": "m"}} extra',
                                  b'{"message": "\xff\xfe", "models": {"openai": "m"}}'])
def test_invalid_json(stack, data):
    before = count_rows(stack)
    assert_error(post_raw(stack, data), 400, "invalid_json")
    assert count_rows(stack) == before


@pytest.mark.parametrize("body,field", [
    ({"models": OK_MODELS}, "message"),
    ({"message": "", "models": OK_MODELS}, "message"),
    ({"message": "x" * 32769, "models": OK_MODELS}, "message"),
    ({"message": 5, "models": OK_MODELS}, "message"),
    ({"message": "a"}, "models"),
    ({"message": "a", "models": {}}, "models"),
    ({"message": "a", "models": ["openai"]}, "models"),
    ({"message": "a", "models": "openai"}, "models"),
    ({"message": "a", "models": None}, "models"),
    ({"message": "a", "models": {f"p{i}": "m" for i in range(9)}}, "models"),
    ({"message": "a", "models": {"openai": ""}}, "models.openai"),
    ({"message": "a", "models": {"openai": "m" * 129}}, "models.openai"),
    ({"message": "a", "models": {"openai": 3}}, "models.openai"),
    ({"message": "a", "models": OK_MODELS, "max_tokens": 0}, "max_tokens"),
    ({"message": "a", "models": OK_MODELS, "max_tokens": "100"}, "max_tokens"),
    ({"message": "a", "models": OK_MODELS, "max_tokens": 65537}, "max_tokens"),
    ({"message": "a", "models": OK_MODELS, "max_tokens": 1.5}, "max_tokens"),
    ({"message": "a", "models": OK_MODELS, "websearch": "yes"}, "websearch"),
    ({"message": "a", "models": OK_MODELS, "location": "USA"}, "location"),
    ({"message": "a", "models": OK_MODELS, "location": 49}, "location"),
    ({"message": "a", "models": OK_MODELS, "system": ["x"]}, "system"),
    ({"message": "a", "models": OK_MODELS, "system": "s" * 32769}, "system"),
])
def test_invalid_field(stack, body, field):
    before = count_rows(stack)
    r = requests.post(stack.url("/api/ai/chat"), json=body, timeout=10)
    assert_error(r, 400, "invalid_field", field)
    assert count_rows(stack) == before


def test_message_at_the_limit_is_accepted(stack):
    r = submit(stack.url(), {"mock": "m"}, message="é" * 32768)
    assert r.status_code == 202, r.text


def test_unknown_provider(stack):
    before = count_rows(stack)
    r = submit(stack.url(), {"openai": "gpt-4o", "skynet": "t-800"})
    assert_error(r, 400, "unknown_provider", "models.skynet")
    assert count_rows(stack) == before


@pytest.mark.parametrize("query", ["", "?id=", "?id=abc", "?id=9b2f0000-0000-4000-8000-00000000000",
                                   "?id=9b2f0000-0000-4000-8000-00000000000g"])
def test_invalid_id(stack, query):
    r = requests.get(stack.url("/api/ai/chat/status" + query), timeout=10)
    assert_error(r, 400, "invalid_id")


def test_unknown_chat_is_404(stack):
    r = requests.get(stack.url("/api/ai/chat/status"), params={"id": str(uuid.uuid4())}, timeout=10)
    assert_error(r, 404, "not_found")


def test_expired_chat_is_404(stack):
    r = submit(stack.url(), {"mock": "m"})
    chat_id = r.json()["chatId"]
    stack.pg.psql(f"UPDATE chat_results SET expires_at = now() - interval '1 second' "
                  f"WHERE chat_id = '{chat_id}'")
    r = requests.get(stack.url("/api/ai/chat/status"), params={"id": chat_id}, timeout=10)
    assert_error(r, 404, "not_found")


def test_unknown_api_path_is_404(stack):
    assert_error(requests.get(stack.url("/api/nothing"), timeout=10), 404, "not_found")
    assert_error(requests.get(stack.url("/api/ai/chat/"), timeout=10), 404, "not_found")


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/api/ai/chat", "POST, DELETE"),
    ("PUT", "/api/ai/chat", "POST, DELETE"),
    ("GET", "/api/ai/chat/cancel", "POST"),
    ("POST", "/api/ai/chat/status", "GET"),
    ("DELETE", "/api/health", "GET"),
])
def test_wrong_method_is_405_with_allow(stack, method, path, allow):
    r = requests.request(method, stack.url(path), timeout=10)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allow


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/jsonx",
                                          "multipart/form-data"])
def test_not_json_media_type_is_415(stack, content_type):
    before = count_rows(stack)
    r = post_raw(stack, b'{"message": "a", "models": {"openai": "m"}}', content_type)
    assert_error(r, 415, "unsupported_media_type")
    assert count_rows(stack) == before


def test_json_with_charset_is_accepted(stack):
    r = post_raw(stack, b'{"message": "a", "models": {"mock": "m"}}',
                 "application/json; charset=utf-8")
    assert r.status_code == 202


def test_body_over_the_limit_is_413(stack):
    before = count_rows(stack)
    big = b'{"message": "' + b"x" * (300 * 1024) + b'", "models": {"openai": "m"}}'
    assert_error(post_raw(stack, big), 413, "body_too_large")
    # past nginx's own limit too: still JSON, never an HTML page
    huge = b'{"message": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_error(post_raw(stack, huge), 413, "body_too_large", from_aigw=False)
    assert count_rows(stack) == before


def test_content_length_shorter_than_body_is_not_overrun(stack):
    # A client that sends more than its Content-Length: nginx passes what
    # the header says; aigw reads no further and rejects the truncated JSON.
    before = count_rows(stack)
    body = b'{"message": "a", "models": {"mock": "m"}}'
    deadline = time.monotonic() + 10
    answer = b""
    with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=5) as s:
        s.sendall(b"POST /api/ai/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 10\r\nConnection: close\r\n\r\n" + body)
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    if b"transfer-encoding: chunked" in head.lower():
        payload = payload.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    assert json.loads(payload)["code"] == "invalid_json"
    assert count_rows(stack) == before


@pytest.mark.parametrize("path,method", [("/api/health", "GET"),
                                         ("/api/nothing", "GET"),
                                         ("/api/ai/chat", "GET"),
                                         ("/api/ai/chat/status?id=x", "GET"),
                                         ("/api/ai/chat", "POST")])
def test_every_response_has_no_store_and_a_generated_request_id(stack, path, method):
    r = requests.request(method, stack.url(path), json={"message": "a", "models": {"mock": "m"}}
                         if method == "POST" else None, timeout=10)
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"].startswith("application/json")
    uuid.UUID(r.headers["X-Request-Id"])


def test_request_ids_are_unique(stack):
    ids = {requests.get(stack.url("/api/health"), timeout=10).headers["X-Request-Id"]
           for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("path", ["/api/health", "/api/nothing", "/api/ai/chat/status?id=x"])
def test_a_sane_request_id_is_echoed(stack, path):
    r = requests.get(stack.url(path), headers={"X-Request-Id": "trace-42.a:b_C"}, timeout=10)
    assert r.headers["X-Request-Id"] == "trace-42.a:b_C"


@pytest.mark.parametrize("sent", ["bad id<>", "x" * 129, "semi;colon"])
def test_an_insane_request_id_is_replaced(stack, sent):
    r = requests.get(stack.url("/api/health"), headers={"X-Request-Id": sent}, timeout=10)
    assert r.headers["X-Request-Id"] != sent
    uuid.UUID(r.headers["X-Request-Id"])
