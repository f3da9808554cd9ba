"""Fixtures over stack.py, and HTTP and polling helpers with deadlines.

Each test module gets its own deployment (PostgreSQL, mock providers,
aigw-fcgi, nginx); a module may set EXTRA_ENV to change aigw's settings,
NGINX_SUBMIT_RATE for nginx's per-address submit limit (lifted by default),
NGINX_CONN_LIMIT true for nginx's shipped limit on requests in progress per
address (lifted by default) and NGINX_SERVER_EXTRA for more of nginx's
server block.
Tests that stop PostgreSQL build a stack of their own. With
AIGW_TEST_POOLER=1 the module's deployment reaches PostgreSQL through
PgBouncer in transaction mode (as `pooled_stack` always does). When a test fails,
the last lines of the aigw, nginx, lighttpd and PostgreSQL logs are added
to its report.
"""

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import openapi_check  # noqa: E402
import stack as stk  # noqa: E402
from tcpfreeze import TcpFreeze  # noqa: E402

HTTP_TIMEOUT = 10

# Every answer of aigw a test receives through requests is checked against
# docs/openapi.yaml (openapi_check.py); AIGW_OPENAPI_CHECK=0 turns it off.
if os.environ.get("AIGW_OPENAPI_CHECK", "1") != "0":
    openapi_check.install(stk)


def pytest_terminal_summary(terminalreporter):
    if openapi_check.checked_count():
        terminalreporter.write_line(f"docs/openapi.yaml: {openapi_check.checked_count()} "
                                    "answers of aigw checked")


@pytest.fixture(autouse=True)
def _answers_match_openapi():
    """Fails the test whose requests got an answer docs/openapi.yaml does
    not describe (and, at its start, clears what module fixtures got)."""
    before = openapi_check.take_violations()
    yield
    found = before + openapi_check.take_violations()
    if found:
        pytest.fail("answers not as docs/openapi.yaml says:\n" + "\n".join(
            dict.fromkeys(found)), pytrace=False)


def _require_programs():
    missing = [p for p in ("aigw", "aigw-fcgi", "aigw-worker")
               if not os.access(stk.program(p), os.X_OK)]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)} in {stk.BUILDDIR}/src "
                    "(set AIGW_BUILDDIR)", pytrace=False)


@pytest.fixture(scope="module")
def stack(request):
    _require_programs()
    s = stk.Stack(extra_env=getattr(request.module, "EXTRA_ENV", None),
                  submit_rate=getattr(request.module, "NGINX_SUBMIT_RATE", stk.TEST_SUBMIT_RATE),
                  nginx_server_extra=getattr(request.module, "NGINX_SERVER_EXTRA", ""),
                  nginx_conn_limit=getattr(request.module, "NGINX_CONN_LIMIT", False),
                  wrap_db=stk.behind_pgbouncer if os.environ.get("AIGW_TEST_POOLER") else None)
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


@pytest.fixture(scope="module")
def pooled_stack(request):
    """The module's deployment with its statements going through PgBouncer
    in transaction mode (AIGW_DB_POOLER=transaction) and its LISTEN
    connections straight to PostgreSQL."""
    _require_programs()
    s = stk.Stack(extra_env=getattr(request.module, "EXTRA_ENV", None),
                  wrap_db=stk.behind_pgbouncer)
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


FROZEN_DB_TIMEOUT_S = 3


@pytest.fixture()
def frozen_stack():
    """A deployment for one test whose every database connection goes
    through a TcpFreeze (s.proxy), with AIGW_DB_TIMEOUT_S at 3."""
    _require_programs()

    def wrap(s):
        s.proxy = TcpFreeze(s.pg.port)
        s.db_parts.append(s.proxy)
        return {"DATABASE_URL": s.proxy.url(), "AIGW_DB_TIMEOUT_S": str(FROZEN_DB_TIMEOUT_S)}

    s = stk.Stack(wrap_db=wrap)
    try:
        yield s
    finally:
        s.proxy.thaw()
        s.close()
    fail_on_sanitizer_reports(s)


@pytest.fixture()
def own_stack():
    """A deployment for one test only (it may stop PostgreSQL or the like)."""
    _require_programs()
    s = stk.Stack()
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


def fail_on_sanitizer_reports(s):
    """Under --enable-sanitizers, a report in aigw's logs fails the run."""
    if getattr(s, "sanitizer_report", ""):
        pytest.fail("sanitizer reports in aigw's logs:\n" + s.sanitizer_report, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {}) or {}
    seen = set()
    for value in funcargs.values():
        if isinstance(value, stk.Stack) and id(value) not in seen:
            seen.add(id(value))
            report.sections.append((f"aigw stack logs ({value.base})", value.logs()))


# ---------------------------------------------------------------- HTTP helpers

# Every job type file aigw ships (jobtypes/*.json), for jobtypes_dir.
SHIPPED_TYPES = tuple(sorted(f for f in os.listdir(os.path.join(stk.SRCDIR, "jobtypes"))
                             if f.endswith(".json")))


def jobtypes_dir(prefix, *declarations, shipped=()):
    """A directory for a module's AIGW_JOBTYPES_DIR, removed at exit: each
    declaration written as <its name>.json, beside copies of the shipped
    job type files named in shipped (from jobtypes/). Readable by all: the
    programs may run as another user."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    for name in shipped:
        shutil.copy(os.path.join(stk.SRCDIR, "jobtypes", name), d)
    for decl in declarations:
        with open(os.path.join(d, decl["name"] + ".json"), "w") as f:
            json.dump(decl, f)
    return d


def submit(base_url, models, message="Compare Rust and Go for CLIs", headers=None, **extra):
    body = {"message": message, "models": models}
    body.update(extra)
    return requests.post(base_url + "/api/ai/chat", json=body, headers=headers,
                         timeout=HTTP_TIMEOUT)


def status(base_url, chat_id):
    return requests.get(base_url + "/api/ai/chat/status", params={"id": chat_id},
                        timeout=HTTP_TIMEOUT)


def poll(fetch, done, timeout, interval=0.1, what="condition"):
    """Call fetch() every interval seconds until done(value); returns the
    last value. Raises AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    value = None
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not reached after {timeout} s; last: {value!r}")
        time.sleep(interval)


def wait_final(base_url, chat_id, timeout=20, interval=0.1):
    """Poll the status until completed or failed; returns its body."""
    def fetch():
        r = status(base_url, chat_id)
        assert r.status_code == 200, r.text
        return r.json()
    return poll(fetch, lambda b: b["status"] in ("completed", "failed"), timeout, interval,
                f"chat {chat_id} final")


def assert_error(r, status_code, code, field=None, from_aigw=True):
    """r is an error in the API's shape: success false, error, code. An
    answer nginx makes itself (from_aigw false) need not carry X-Request-Id."""
    assert r.status_code == status_code, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body["success"] is False, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    if from_aigw:
        assert r.headers.get("X-Request-Id"), r.headers
    return body


def mock_answer(provider, base_model, message):
    """The text the mock providers answer (tests/mockproviders/README.md)."""
    return f"[{provider}/{base_model}] {message}"


def run_aigw(stack, *args, check=True):
    """Runs the aigw command line against the stack; with check, exit 0."""
    r = subprocess.run([stk.program("aigw"), *args], env=stack.env, capture_output=True,
                       text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def bearer(stack, user, org=None):
    """The Authorization header of a new API key of user (in org)."""
    args = ["keys", "create", "--user", user] + (["--org", org] if org else [])
    key = run_aigw(stack, *args).stdout.splitlines()[0]
    assert re.fullmatch(r"aigw_[0-9a-f]{16}_[0-9a-f]{64}", key)
    return {"Authorization": f"Bearer {key}"}


def workers_gone(stack, timeout=20):
    """Waits for the stack's idle workers to leave, so that a Sampler counts
    only the workers of the test at hand and not one still exiting after it
    freed its slot."""
    poll(lambda: stack.workers(), lambda w: w == [], timeout, 0.2, "idle workers to leave")


def workers_running(stack):
    """How many of the stack's aigw-worker processes live (from /proc) and
    hold a worker slot, which is what AIGW_WORKERS_MAX bounds. A worker
    that gave its slot up to exit is left out: under the sanitizers its
    exit (the leak check) takes long enough for the next worker to start
    in the slot it freed. The database is asked only when more processes
    than AIGW_WORKERS_MAX live, so that sampling stays fast."""
    pids = stack.workers()
    limit = stack.env.get("AIGW_WORKERS_MAX")
    if limit is None or len(pids) <= int(limit):
        return len(pids)
    holders = stack.pg.psql("SELECT pid FROM worker_slots WHERE pid IS NOT NULL").split()
    return len(set(pids) & {int(p) for p in holders})


class Sampler:
    """Measures again and again in a thread, and keeps the highest figure
    seen: by default workers_running(); measure may return one number or a
    tuple of them, whose highest are kept one by one."""

    def __init__(self, stack, measure=None, interval=0.002):
        self.stack = stack
        self.measure = measure or (lambda: workers_running(stack))
        self.interval = interval
        self.most = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            value = self.measure()
            if self.most is None:
                self.most = value
            elif isinstance(value, tuple):
                self.most = tuple(max(a, b) for a, b in zip(self.most, value))
            else:
                self.most = max(self.most, value)
            self.samples += 1
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def follow_with_aigw_js(base_url, chat_id, headers=None, timeout_ms=30000):
    """Follows a chat with nginx/html/aigw.js's subscribe() under node, as a
    page would: {"transports": [...], "status": ...} or, when it failed,
    {"transports": [...], "code": ..., "error": ...}."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (script/bootstrap --test installs it)")
    r = subprocess.run([node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "follow.mjs"),
                        os.path.join(stk.SRCDIR, "nginx/html/aigw.js"), base_url, chat_id,
                        json.dumps(headers or {}), str(timeout_ms)],
                       capture_output=True, text=True, timeout=timeout_ms / 1000 + 30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])
