"""Hostile input: each request gets the right 4xx (or is stored verbatim
when it is valid), nothing else is stored, and aigw keeps serving."""

import socket

import pytest
import requests

from conftest import HTTP_TIMEOUT, assert_error, status, submit

EXTRA_ENV = {"AIGW_SPAWN": "off"}
MODELS = {"mock": "m"}


def post(stack, data, path="/api/ai/chat", content_type="application/json"):
    return requests.post(stack.url(path), data=data, headers={"Content-Type": content_type},
                         timeout=HTTP_TIMEOUT)


def rows(stack):
    return stack.count_rows("chat_results"), stack.count_rows("jobs")


@pytest.fixture(autouse=True)
def still_serving(stack):
    yield
    assert requests.get(stack.url("/api/health"), timeout=HTTP_TIMEOUT).status_code == 200


@pytest.mark.parametrize("message", [
    "'; DROP TABLE chat_results; --",
    "Robert'); DELETE FROM jobs WHERE ('1'='1",
    "$1 $$ \\x00 %s %n {{input.x}} \" \\",
    "日本語 😀 مرحبا",
])
def test_sql_and_format_metacharacters_are_stored_verbatim(stack, message):
    r = submit(stack.url(), MODELS, message=message)
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    stored = stack.pg.psql(f"SELECT message FROM chat_results WHERE chat_id = '{chat_id}'")
    assert stored == message
    assert status(stack.url(), chat_id).status_code == 200


@pytest.mark.parametrize("data,code", [
    (b'{"message": "a\\u0000b", "models": {"mock": "m"}}', "invalid_field"),
    (b'{"message": "a\x00b", "models": {"mock": "m"}}', "invalid_json"),
    (b'{"message": "\xc3\x28", "models": {"mock": "m"}}', "invalid_json"),
    # A UTF-16 surrogate encoded as UTF-8: json-c lets it through, PostgreSQL
    # would not; the body is refused whole.
    (b'{"message": "\xed\xa0\x80", "models": {"mock": "m"}}', "invalid_json"),
    (b"[" * 10000 + b"]" * 10000, "invalid_json"),
    (b'{"message": ' + b"[" * 10000 + b"]" * 10000 + b', "models": {"mock": "m"}}', "invalid_json"),
    (b'{"message": "a", "message": "b", "models": {"mock": "m"}}', "invalid_json"),
    (b'{"message": "a", "models": {"mock": "m", "mock": "n"}}', "invalid_json"),
    (b'{"message": "a", "models": {"m\\u0000ck": "m"}}', "unknown_provider"),
])
def test_malformed_chat_bodies_are_400_and_store_nothing(stack, data, code):
    before = rows(stack)
    assert_error(post(stack, data), 400, code)
    assert rows(stack) == before


@pytest.mark.parametrize("data,code", [
    (b'{"type": "brief_generation", "input": {"topic": "a\\u0000b"}}', "invalid_field"),
    (b'{"type": "brief\\u0000_generation", "input": {"topic": "a"}}', "unknown_job_type"),
    (b'{"type": "brief_generation", "type": "x", "input": {"topic": "a"}}', "invalid_json"),
    (b'{"type": "brief_generation", "input": {"topic": "a", "topic": "b"}}', "invalid_json"),
    (b'{"type": "brief_generation", "input": ' + b"[" * 10000 + b"]" * 10000 + b"}",
     "invalid_json"),
    (b"{\"type\": \"brief_generation\", \"input\": {\"topic\": \"'; DROP TABLE jobs; --\","
     b" \"audience\": 7}}", "invalid_field"),
])
def test_malformed_job_bodies_are_400_and_store_nothing(stack, data, code):
    before = rows(stack)
    assert_error(post(stack, data, "/api/jobs"), 400, code)
    assert rows(stack) == before


def test_a_300_kib_body_is_413(stack):
    before = rows(stack)
    big = b'{"message": "' + b"x" * (300 * 1024) + b'", "models": {"mock": "m"}}'
    for path in ("/api/ai/chat", "/api/jobs"):
        r = post(stack, big, path)
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "body_too_large"
    assert rows(stack) == before


@pytest.mark.parametrize("declared,sent", [(10, b'{"message": "hello", "models": {"mock": "m"}}'),
                                           (10**12, b'{"message": "x"}'),
                                           (-5, b"{}")])
def test_a_lying_content_length_is_answered_not_overrun(stack, declared, sent):
    before = rows(stack)
    with socket.create_connection(("127.0.0.1", stack.nginx.port), timeout=10) as s:
        s.sendall(b"POST /api/ai/chat HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/json\r\nConnection: close\r\n"
                  + f"Content-Length: {declared}\r\n\r\n".encode() + sent)
        s.settimeout(10)
        answer = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except socket.timeout:
            pass
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split()[1] in (b"400", b"413"), answer[:300]
    assert rows(stack) == before


@pytest.mark.parametrize("query", ["id=%00", "id=%ff%fe", "id=' OR 1=1 --",
                                   "id=" + "a" * 5000, "id=%", "id=%zz"])
def test_hostile_query_strings_are_400(stack, query):
    r = requests.get(stack.url("/api/ai/chat/status?" + query), timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_id")


@pytest.mark.parametrize("query,field", [("status=%00", "status"), ("type=%ff", "type"),
                                         ("cursor=1.' OR 1=1", "cursor"),
                                         ("limit=1e9", "limit")])
def test_hostile_list_filters_are_400(stack, query, field):
    r = requests.get(stack.url("/api/jobs?" + query), timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_field", field)
