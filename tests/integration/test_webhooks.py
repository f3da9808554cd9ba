"""Signed webhooks (docs/webhooks.md): a receiver in the test gets a POST,
signed as Standard Webhooks says with the key's secret, when a chat or a
job reaches its final state; a receiver failing three times gets the event
four times under one webhook-id; kill -9 of the worker after the final
state and before the delivery still delivers; an address on 127.0.0.1 is
refused without AIGW_WEBHOOK_ALLOW_PRIVATE; a per-request URL is refused
without AIGW_WEBHOOK_PER_REQUEST.

The module's stack allows private addresses and per-request URLs (the
receiver listens on 127.0.0.1); the `strict` stack keeps both defaults.
"""

import base64
import hashlib
import hmac
import json
import os
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import stack as stk
from conftest import (HTTP_TIMEOUT, assert_error, fail_on_sanitizer_reports, jobtypes_dir,
                      poll, run_aigw, wait_final)

JOBTYPE = {"name": "t_hook", "timeout_s": 60, "attempts": 2, "poll_interval_s": 1,
           "input": {"q": {"type": "string", "required": True, "max_length": 200}},
           "steps": [{"name": "one", "status_message": "Asking...", "progress": 100,
                      "provider": "openai", "model": "gpt-4o", "prompt": "hook {{input.q}}"}]}
# Past its one second the reaper fails it (the step takes 8).
SLOW_JOBTYPE = dict(JOBTYPE, name="t_hook_slow", timeout_s=1, attempts=1,
                    steps=[dict(JOBTYPE["steps"][0], model="gpt-4o~delay=8000")])
TYPES_DIR = jobtypes_dir("aigw-hooktypes-", JOBTYPE, SLOW_JOBTYPE)

# A short timeout keeps the lease of a killed worker's attempt short
# (timeout + 5 s); a small backoff keeps the retries quick.
COMMON = {"AIGW_AUTH": "keys", "AIGW_WEBHOOK_TIMEOUT_S": "2", "AIGW_WEBHOOK_BACKOFF_MS": "200",
          "AIGW_JOBTYPES_DIR": TYPES_DIR, "AIGW_MOCK_DELAY_MS": "50"}
SERVER_SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
EXTRA_ENV = dict(COMMON, AIGW_WEBHOOK_ALLOW_PRIVATE="on", AIGW_WEBHOOK_PER_REQUEST="on",
                 AIGW_WEBHOOK_SECRET=SERVER_SECRET)

OPENAI = {"openai": "gpt-4o"}


class Receiver:
    """An HTTP server on 127.0.0.1 (a free port) that records every POST.
    A path's behaviour: fail[path] = n answers 500 to its first n POSTs;
    hold[path] = an Event its first POST waits for before answering."""

    def __init__(self):
        self.posts = []
        self.fail = {}
        self.hold = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    seen = sum(1 for p in outer.posts if p["path"] == self.path)
                    outer.posts.append({"path": self.path, "headers": dict(self.headers),
                                        "body": body, "at": time.monotonic()})
                    failing = outer.fail.get(self.path, 0) > seen
                    hold = outer.hold.get(self.path) if seen == 0 else None
                if hold is not None:
                    hold.wait(30)
                try:
                    self.send_response(500 if failing else 200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"no" if failing else b"ok")
                except OSError:
                    pass  # the worker was killed meanwhile

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def at(self, path):
        with self.lock:
            return [p for p in self.posts if p["path"] == path]

    def wait(self, path, count, timeout=30):
        return poll(lambda: self.at(path), lambda ps: len(ps) >= count, timeout, 0.05,
                    f"{count} POST(s) to {path}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def strict():
    """Private addresses refused, per-request URLs not accepted."""
    s = stk.Stack(extra_env=COMMON)
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


def new_key(stack, user, webhook_url=None):
    """(Authorization headers, webhook secret or None)."""
    args = ["keys", "create", "--user", user] + \
        (["--webhook-url", webhook_url] if webhook_url else [])
    lines = run_aigw(stack, *args).stdout.splitlines()
    headers = {"Authorization": f"Bearer {lines[0]}"}
    if webhook_url is None:
        assert len(lines) == 1, lines
        return headers, None
    assert len(lines) == 2 and lines[1].startswith("whsec_"), lines
    return headers, lines[1]


def verify(post, secret):
    """Checks a POST as a Standard Webhooks receiver does; returns its body."""
    h = {k.lower(): v for k, v in post["headers"].items()}
    msg_id, ts, sig = h["webhook-id"], h["webhook-timestamp"], h["webhook-signature"]
    assert msg_id.startswith("msg_"), msg_id
    assert abs(int(ts) - time.time()) < 300, ts
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{ts}.".encode() + post["body"]
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert sig.split(" ") == [f"v1,{want}"], (sig, want)
    assert h["content-type"] == "application/json"
    return json.loads(post["body"])


def submit_chat(stack, headers, message, **extra):
    body = {"message": message, "models": OPENAI}
    body.update(extra)
    return requests.post(stack.url("/api/ai/chat"), json=body, headers=headers,
                         timeout=HTTP_TIMEOUT)


def submit_job(stack, headers, q, type="t_hook", **extra):  # noqa: A002
    body = {"type": type, "input": {"q": q}}
    body.update(extra)
    return requests.post(stack.url("/api/jobs"), json=body, headers=headers,
                         timeout=HTTP_TIMEOUT)


def wait_chat(stack, chat_id, headers):
    def fetch():
        r = requests.get(stack.url("/api/ai/chat/status"), params={"id": chat_id},
                         headers=headers, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()
    return poll(fetch, lambda b: b["status"] in ("completed", "failed", "cancelled"), 30, 0.1,
                f"chat {chat_id} final")


def metric(stack, outcome):
    text = requests.get(stack.url("/api/metrics"), timeout=HTTP_TIMEOUT).text
    key = f'aigw_webhook_deliveries_total{{outcome="{outcome}"}}'
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def delivery_row(stack, object_id, cols):
    return stack.pg.psql(f"SELECT {cols} FROM webhook_deliveries WHERE object_id = '{object_id}'")


def test_a_chat_is_delivered_signed_with_its_keys_secret(stack, receiver):
    headers, secret = new_key(stack, "hook-chat", receiver.url("/chat"))
    r = submit_chat(stack, headers, "webhook chat one")
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    final = wait_chat(stack, chat_id, headers)
    post = receiver.wait("/chat", 1)[0]
    body = verify(post, secret)
    assert body["type"] == "chat.completed", body
    assert body["timestamp"].endswith("Z"), body
    # data is the status body a client GETs.
    assert body["data"] == final, (body["data"], final)
    assert post["headers"]["webhook-id"] == "msg_" + delivery_row(stack, chat_id, "delivery_id")
    assert delivery_row(stack, chat_id, "delivered_at IS NOT NULL, attempts, last_status") == \
        "t|1|200"
    # A key without a URL gets no POST (and its work queues none).
    plain, none = new_key(stack, "hook-none")
    assert none is None
    quiet = submit_chat(stack, plain, "webhook chat none").json()["chatId"]
    wait_chat(stack, quiet, plain)
    assert stack.pg.psql(f"SELECT count(*) FROM webhook_deliveries WHERE object_id = '{quiet}'") \
        == "0"


def test_a_v1_response_is_delivered_as_its_response_object(stack, receiver):
    """/v1/ work: a key's URL gets response.completed carrying the object
    GET /v1/responses/{id} answers; metadata.webhook_url is a per-request
    URL (AIGW_WEBHOOK_PER_REQUEST=on here)."""
    headers, secret = new_key(stack, "hook-v1", receiver.url("/v1-key"))
    r = requests.post(stack.url("/v1/responses"), headers=headers, timeout=HTTP_TIMEOUT,
                      json={"model": "gpt-4o", "input": "webhook response", "background": True})
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    body = verify(receiver.wait("/v1-key", 1)[0], secret)
    assert body["type"] == "response.completed", body
    got = requests.get(stack.url(f"/v1/responses/{rid}"), headers=headers, timeout=HTTP_TIMEOUT)
    assert body["data"] == got.json(), (body["data"], got.text)
    assert body["data"]["id"] == rid and body["data"]["output_text"], body
    r = requests.post(stack.url("/v1/chat/completions"), headers=headers, timeout=HTTP_TIMEOUT,
                      json={"model": "gpt-4o~status=400", "metadata": {
                          "webhook_url": receiver.url("/v1-meta")},
                          "messages": [{"role": "user", "content": "webhook completion"}]})
    assert r.status_code == 500, r.text
    body = verify(receiver.wait("/v1-meta", 1)[0], secret)
    assert body["type"] == "response.failed" and body["data"]["status"] == "failed", body
    assert receiver.at("/v1-key") and len(receiver.at("/v1-key")) == 1


def test_a_host_name_is_resolved_checked_and_pinned(stack, receiver):
    """A name, not an address: the worker resolves it (without blocking its
    loop), checks every address and pins curl to them."""
    headers, secret = new_key(stack, "hook-name", receiver.url("/named", host="localhost"))
    chat_id = submit_chat(stack, headers, "webhook by name").json()["chatId"]
    got = verify(receiver.wait("/named", 1)[0], secret)
    assert got["data"]["chatId"] == chat_id
    # A name that does not resolve fails its attempts, saying why.
    headers, _ = new_key(stack, "hook-nx", "http://nx.invalid/hook")
    nx = submit_chat(stack, headers, "webhook nx").json()["chatId"]
    row = poll(lambda: delivery_row(stack, nx, "gave_up_at IS NULL, last_error"),
               lambda v: "|" in v and v.split("|", 1)[1] != "", 20, 0.1, "nx attempt")
    assert row.startswith("t|cannot resolve nx.invalid: "), row  # to be retried
    # Retried for a day otherwise: it would move the other tests' counters.
    stack.pg.psql(f"UPDATE webhook_deliveries SET gave_up_at = now() WHERE object_id = '{nx}'")


def test_a_job_is_delivered_to_its_own_url(stack, receiver):
    headers, secret = new_key(stack, "hook-job", receiver.url("/key-of-job"))
    r = submit_job(stack, headers, "one", webhook_url=receiver.url("/job"))
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    post = receiver.wait("/job", 1)[0]
    body = verify(post, secret)  # the submitting key's secret signs it
    assert body["type"] == "job.completed", body
    status = requests.get(stack.url(f"/api/jobs/{job_id}/status"), headers=headers,
                          timeout=HTTP_TIMEOUT).json()
    assert body["data"] == status, (body["data"], status)
    assert receiver.at("/key-of-job") == []


def test_a_job_the_reaper_fails_is_delivered(stack, receiver):
    """The outbox row comes with the final state whichever statement sets
    it: here the reaper's (aigw reap), not the worker's."""
    headers, secret = new_key(stack, "hook-reaped")
    r = submit_job(stack, headers, "slow", type="t_hook_slow", webhook_url=receiver.url("/reaped"))
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    poll(lambda: stack.pg.psql(f"SELECT status = 'running' AND attempt_at < now() - interval"
                               f" '1.5 seconds' FROM jobs WHERE job_id = '{job_id}'"),
         lambda v: v == "t", 20, 0.1, "job running past its timeout")
    run_aigw(stack, "reap")
    got = verify(receiver.wait("/reaped", 1)[0], SERVER_SECRET)
    assert got["type"] == "job.failed", got
    assert got["data"]["status"] == "failed" and "timed out" in got["data"]["error"], got


def test_a_cancelled_chat_is_delivered_too(stack, receiver):
    headers, secret = new_key(stack, "hook-cancel", receiver.url("/cancel"))
    body = {"message": "webhook cancel", "models": {"openai": "gpt-4o~delay=5000"}}
    chat_id = requests.post(stack.url("/api/ai/chat"), json=body, headers=headers,
                            timeout=HTTP_TIMEOUT).json()["chatId"]
    r = requests.post(stack.url("/api/ai/chat/cancel"), params={"id": chat_id}, headers=headers,
                      timeout=HTTP_TIMEOUT)
    assert r.status_code in (200, 202), r.text
    got = verify(receiver.wait("/cancel", 1)[0], secret)
    assert got["type"] == "chat.cancelled", got
    assert got["data"]["status"] == "cancelled", got


def test_a_failing_receiver_gets_the_event_four_times_under_one_id(stack, receiver):
    receiver.fail["/flaky"] = 3
    failed_before, delivered_before = metric(stack, "failed_attempt"), metric(stack, "delivered")
    headers, secret = new_key(stack, "hook-flaky", receiver.url("/flaky"))
    chat_id = submit_chat(stack, headers, "webhook flaky").json()["chatId"]
    posts = receiver.wait("/flaky", 4)
    time.sleep(1.5)  # nothing more comes after the 2xx
    posts = receiver.at("/flaky")
    assert len(posts) == 4, posts
    bodies = [verify(p, secret) for p in posts]
    assert len({p["headers"]["webhook-id"] for p in posts}) == 1
    assert len({p["body"] for p in posts}) == 1  # the same bytes every time
    assert bodies[0]["type"] == "chat.completed"
    gaps = [b["at"] - a["at"] for a, b in zip(posts, posts[1:])]
    assert all(g >= 0.09 for g in gaps), gaps  # backoff: half of 200 ms at least
    assert delivery_row(stack, chat_id, "attempts, last_status, delivered_at IS NOT NULL") == \
        "4|200|t"
    assert metric(stack, "failed_attempt") - failed_before == 3
    assert metric(stack, "delivered") - delivered_before == 1


def test_kill_9_of_the_worker_before_the_delivery_still_delivers(stack, receiver):
    receiver.hold["/held"] = threading.Event()
    headers, secret = new_key(stack, "hook-kill", receiver.url("/held"))
    chat_id = submit_chat(stack, headers, "webhook kill").json()["chatId"]
    first = receiver.wait("/held", 1)[0]  # the worker is inside its attempt
    assert stack.pg.psql(f"SELECT status FROM chat_results WHERE chat_id = '{chat_id}'") == \
        "completed"
    pids = stack.workers()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    receiver.hold["/held"].set()
    second = receiver.wait("/held", 2, timeout=40)[1]
    took = time.monotonic() - killed
    verify(first, secret)
    assert verify(second, secret)["type"] == "chat.completed"
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    poll(lambda: delivery_row(stack, chat_id, "delivered_at IS NOT NULL"), lambda v: v == "t",
         10, 0.1, "delivery recorded")
    print(f"\nkill -9: delivered {took:.1f} s after the worker died (lease 2 + 5 s)")


def test_a_key_without_a_secret_signs_with_the_servers(stack, receiver):
    """A key made without --webhook-url has no secret: its per-request
    deliveries are signed with AIGW_WEBHOOK_SECRET."""
    headers, none = new_key(stack, "hook-server-secret")
    assert none is None
    r = submit_chat(stack, headers, "webhook server secret", webhook_url=receiver.url("/srv"))
    assert r.status_code == 202, r.text
    got = verify(receiver.wait("/srv", 1)[0], SERVER_SECRET)
    assert got["type"] == "chat.completed" and got["data"]["chatId"] == r.json()["chatId"]


def test_secrets_are_never_logged(stack):
    with open(os.path.join(stack.base, "aigw.log")) as f:
        log = f.read()
    assert SERVER_SECRET not in log and SERVER_SECRET[6:] not in log
    assert "whsec_" not in log
    assert "whsec_" not in stack.pg.psql("SELECT string_agg(coalesce(last_error, ''), ' ')"
                                         " FROM webhook_deliveries")


def test_a_bad_per_request_url_is_400_naming_the_field(stack):
    headers, _ = new_key(stack, "hook-bad")
    for url in ("ftp://example.com/", "https://user:pw@example.com/", "x" * 10, 42):
        assert_error(submit_chat(stack, headers, "bad url", webhook_url=url), 400,
                     "invalid_field", "webhook_url")
        assert_error(submit_job(stack, headers, "bad", webhook_url=url), 400,
                     "invalid_field", "webhook_url")
    long_url = "https://example.com/" + "a" * 2100
    assert_error(submit_chat(stack, headers, "long url", webhook_url=long_url), 400,
                 "invalid_field", "webhook_url")


def test_keys_create_checks_its_url(stack):
    r = run_aigw(stack, "keys", "create", "--user", "u", "--webhook-url", "ftp://x/",
                 check=False)
    assert r.returncode == 2 and "--webhook-url" in r.stderr, r.stderr
    run_aigw(stack, "keys", "create", "--user", "listed", "--webhook-url",
             "https://hooks.example/listed")
    listing = run_aigw(stack, "keys", "list").stdout
    assert "https://hooks.example/listed" in listing and "whsec_" not in listing


# ---------------------------------------------------------------- defaults

def test_a_loopback_url_is_refused_without_the_override(strict, receiver):
    headers, _ = new_key(strict, "hook-refused", receiver.url("/refused"))
    chat_id = submit_chat(strict, headers, "webhook refused").json()["chatId"]
    wait_chat(strict, chat_id, headers)
    row = poll(lambda: delivery_row(strict, chat_id, "gave_up_at IS NOT NULL, last_error"),
               lambda v: v.startswith("t|"), 20, 0.1, "delivery refused")
    assert "loopback" in row and "AIGW_WEBHOOK_ALLOW_PRIVATE" in row, row
    assert metric(strict, "refused") >= 1
    assert metric(strict, "delivered") == 0
    time.sleep(1)
    assert receiver.at("/refused") == []
    with open(os.path.join(strict.base, "aigw.log")) as f:
        lines = [json.loads(line) for line in f if '"webhook"' in line]
    assert any("loopback" in e["msg"] and "given up" in e["msg"] for e in lines), lines


def test_a_name_of_a_loopback_address_is_refused_too(strict, receiver):
    headers, _ = new_key(strict, "hook-refused-name", receiver.url("/refused-name",
                                                                   host="localhost"))
    chat_id = submit_chat(strict, headers, "webhook refused by name").json()["chatId"]
    row = poll(lambda: delivery_row(strict, chat_id, "gave_up_at IS NOT NULL, last_error"),
               lambda v: v.startswith("t|"), 20, 0.1, "delivery refused")
    assert "refused: localhost is a loopback address" in row, row
    time.sleep(0.5)
    assert receiver.at("/refused-name") == []


def test_a_per_request_url_is_refused_without_the_setting(strict, receiver):
    headers, _ = new_key(strict, "hook-per-request")
    assert_error(submit_chat(strict, headers, "per request", webhook_url=receiver.url("/pr")),
                 400, "invalid_field", "webhook_url")
    assert_error(submit_job(strict, headers, "pr", webhook_url=receiver.url("/pr")),
                 400, "invalid_field", "webhook_url")
    # null is as absent.
    assert submit_chat(strict, headers, "per request null", webhook_url=None).status_code == 202
    r = requests.post(strict.url("/v1/responses"), headers=headers, timeout=HTTP_TIMEOUT,
                      json={"model": "gpt-4o", "input": "x",
                            "metadata": {"webhook_url": receiver.url("/pr")}})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "metadata.webhook_url", r.text
