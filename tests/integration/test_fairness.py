"""One client cannot hold every thread of aigw-fcgi: nginx buffers answers,
so clients that never read theirs hold no thread; one owner may hold only
AIGW_WAIT_MAX_PER_OWNER of the waiting places; and nginx bounds the
requests one address has in progress (the shipped limit, kept here).

aigw-fcgi runs with 8 threads, so 6 requests may wait at once."""

import socket
import time

import pytest
import requests

import stack as stk
from conftest import (HTTP_TIMEOUT, assert_error, bearer, fail_on_sanitizer_reports,
                      follow_with_aigw_js)

# No worker: chats stay pending, so waits and streams on them go on.
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_SPAWN": "off", "AIGW_LIMIT_USER": "0",
             "AIGW_LIMIT_ORG": "0", "AIGW_LIMIT_DECISION": "0"}
NGINX_CONN_LIMIT = True
PER_OWNER = 4      # AIGW_WAIT_MAX_PER_OWNER's default
CONN_LIMIT = 32    # nginx/aigw.conf's limit_conn
# Far more than the kernel's socket buffers and nginx's own hold on the
# way to a client that does not read.
LARGE = 8_000_000


def new_key(stack, user):
    return bearer(stack, user)


@pytest.fixture(scope="module")
def alice(stack):
    return new_key(stack, "alice")


@pytest.fixture(scope="module")
def bob(stack):
    return new_key(stack, "bob")


def submit(stack, headers, message="fair"):
    r = requests.post(stack.url("/api/ai/chat"), json={"message": message, "models": {"mock": "m"}},
                      headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.json()["chatId"]


def raw_request(stack, request, rcvbuf=None):
    """A connection to nginx that sends request and reads nothing."""
    s = socket.socket()
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", stack.nginx.port))
    s.sendall(request)
    return s


def answered_statuses(stack):
    """How many chat status requests aigw-fcgi has answered 200 (its log)."""
    with open(stack.fcgi.errlog, errors="replace") as f:
        return sum('"msg":"GET /api/ai/chat/status 200"' in line for line in f)


def test_clients_that_never_read_hold_no_thread(stack, alice):
    chat_id = submit(stack, alice)
    # A status of 8 MB: the largest answers aigw gives are of this kind
    # (results, job outputs, lists).
    stack.pg.psql("UPDATE chat_results SET results = jsonb_build_object('mock', jsonb_build_object("
                  f"'ok', true, 'text', repeat('x', {LARGE}))) WHERE chat_id = '{chat_id}'")
    head = (f"GET /api/ai/chat/status?id={chat_id} HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: {alice['Authorization']}\r\n\r\n").encode()
    before = answered_statuses(stack)
    readers = [raw_request(stack, head, rcvbuf=4096) for _ in range(16)]
    try:
        # Until aigw-fcgi has answered every one of them (with every answer
        # held on its way, it never does: half of them wait for a thread).
        deadline = time.monotonic() + 20
        while answered_statuses(stack) < before + 16 and time.monotonic() < deadline:
            time.sleep(0.1)
        t0 = time.monotonic()
        r = requests.post(stack.url("/api/ai/chat"),
                          json={"message": "the 17th", "models": {"mock": "m"}},
                          headers=alice, timeout=HTTP_TIMEOUT)
        took = time.monotonic() - t0
        assert r.status_code == 202, r.text
        assert took < 5, took
        # The readers did get their answer's beginning: nginx holds the rest.
        first = readers[0].recv(4096)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
    finally:
        for s in readers:
            s.close()


def open_streams(stack, chat_id, headers, n):
    return [requests.get(stack.url("/api/ai/chat/events"), params={"id": chat_id},
                         headers=headers, stream=True, timeout=(5, 10)) for _ in range(n)]


def test_one_owners_streams_leave_room_for_another_owner(stack, alice, bob):
    mine, theirs = submit(stack, alice), submit(stack, bob)
    version = requests.get(stack.url("/api/ai/chat/status"), params={"id": theirs}, headers=bob,
                           timeout=HTTP_TIMEOUT).json()["version"]
    streams = []
    try:
        streams = open_streams(stack, mine, alice, 20)
        # Another owner still waits (and is answered at its deadline).
        t0 = time.monotonic()
        r = requests.get(stack.url("/api/ai/chat/status"),
                         params={"id": theirs, "wait": 1, "since": version}, headers=bob,
                         timeout=HTTP_TIMEOUT)
        took = time.monotonic() - t0
        assert r.status_code == 200 and r.json()["version"] == version, r.text
        assert 0.9 < took < 2.5, took
        codes = [s.status_code for s in streams]
        assert codes == [200] * PER_OWNER + [503] * (20 - PER_OWNER), codes
        for s in streams[PER_OWNER:]:
            body = assert_error(s, 503, "busy")
            assert s.headers["Retry-After"] == "1"
            assert "user 'alice'" in body["error"], body
        # The first owner waits again once a stream of theirs has ended.
        streams[0].close()
        time.sleep(0.3)
        r = requests.get(stack.url("/api/ai/chat/status"),
                         params={"id": mine, "wait": 1}, headers=alice, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
    finally:
        for s in streams:
            s.close()


def test_aigw_js_polls_when_its_owner_may_wait_no_more(stack, alice):
    """A page following more chats or jobs than its owner may wait on
    still follows each: by polling, which holds no waiting place."""
    streams = open_streams(stack, submit(stack, alice), alice, PER_OWNER)
    try:
        assert [s.status_code for s in streams] == [200] * PER_OWNER
        # (No worker here: the chat stays pending until the deadline.)
        got = follow_with_aigw_js(stack.url(), submit(stack, alice), alice, timeout_ms=8000)
        assert got["transports"] == ["longpoll", "poll"] and got["code"] == "timeout", got
    finally:
        for s in streams:
            s.close()


def test_without_authentication_the_owner_is_the_address():
    s = stk.Stack(extra_env={"AIGW_SPAWN": "off"})
    streams = []
    try:
        chat_id = submit(s, {})
        streams = open_streams(s, chat_id, {}, PER_OWNER + 1)
        assert [x.status_code for x in streams] == [200] * PER_OWNER + [503]
        body = assert_error(streams[-1], 503, "busy")
        assert "this address" in body["error"], body
    finally:
        for x in streams:
            x.close()
        s.close()
    fail_on_sanitizer_reports(s)


def test_one_address_holds_at_most_32_requests_in_progress(stack, alice):
    # Requests whose bodies never finish: nginx holds them before aigw.
    head = (b"POST /api/ai/chat HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    held = [raw_request(stack, head) for _ in range(CONN_LIMIT)]
    try:
        time.sleep(0.3)
        r = requests.get(stack.url("/api/health"), timeout=HTTP_TIMEOUT)
        body = assert_error(r, 429, "too_many_connections", from_aigw=False)
        assert r.headers["Retry-After"] == "1"
        assert "at once" in body["error"], body
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    assert requests.get(stack.url("/api/health"), timeout=HTTP_TIMEOUT).status_code == 200
    submit(stack, alice)
