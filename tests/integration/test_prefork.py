"""aigw-fcgi --processes 3: the parent forks three serving processes on one
socket; requests reach several of them, a long-poll is woken in whichever
holds it, SIGHUP reaches every child, a child killed with SIGKILL is
replaced while the others serve, and SIGTERM stops them all (the parent
exits 0 once no child is left). A socket inherited on descriptor 0 is
shared the same way and still listens after the stop."""

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, poll, submit

PROCESSES = 3
THREADS = 4
# Every client is 127.0.0.1, one owner.
EXTRA_ENV = {"AIGW_WAIT_MAX_PER_OWNER": "0"}


class Prefork:
    """aigw-fcgi --processes 3 on a free port, and an nginx in front."""

    def __init__(self, s):
        self.port = stk.free_port()
        self.errlog = os.path.join(s.base, f"prefork-{self.port}.err")
        with open(self.errlog, "w") as err:
            self.proc = subprocess.Popen(
                [stk.program("aigw-fcgi"), "--listen", f"127.0.0.1:{self.port}",
                 "--threads", str(THREADS), "--processes", str(PROCESSES)],
                env=s.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                cwd=s.base)
        self.nginx = stk.Nginx(s.base, self.port)
        poll(self.children, lambda k: len(k) == PROCESSES, 15, 0.05, "three children")
        poll(lambda: requests.get(self.url("/api/health"), timeout=HTTP_TIMEOUT).status_code,
             lambda c: c == 200, 15, 0.1, "health through the prefork")

    def url(self, path=""):
        return self.nginx.url(path)

    def children(self):
        return sorted(stk.children(self.proc.pid))

    def stop(self):
        self.nginx.stop()
        if self.proc.poll() is None:
            stk.stop_process(self.proc)


@pytest.fixture(scope="module")
def pf(stack):
    p = Prefork(stack)
    yield p
    p.stop()


def holders(port, pids):
    """The children that hold an established connection on port (from
    /proc/<pid>/fd and /proc/net/tcp{,6})."""
    inodes = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                        inodes.add(inode)
        except OSError:
            pass
    found = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    found.add(pid)
        except OSError:
            pass
    return found


def longpoll(pf, chat_id, since, wait, out):
    r = requests.get(pf.url("/api/ai/chat/status"),
                     params={"id": chat_id, "wait": wait, "since": since},
                     timeout=HTTP_TIMEOUT + wait)
    out.append(r)


def test_children_are_aigw_fcgi_and_each_serves(pf):
    kids = pf.children()
    assert len(kids) == PROCESSES
    for pid in kids:
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "aigw-fcgi"
    # Long-polls hold a thread, and so their connection, in the process
    # that took them: with more of them than one process may keep waiting
    # (its threads less two), they are spread over the children.
    r = submit(pf.url(), {"openai": "gpt-4o~delay=8000"}, message="hold me")
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    version = poll(lambda: requests.get(pf.url("/api/ai/chat/status"), params={"id": chat_id},
                                        timeout=HTTP_TIMEOUT).json(),
                   lambda b: b["status"] == "processing", 15, 0.02, "chat claimed")["version"]
    out = []
    polls = [threading.Thread(target=longpoll, args=(pf, chat_id, version, 3, out))
             for _ in range(PROCESSES * 2)]
    for t in polls:
        t.start()
    seen = set()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and len(seen) < 2:
        seen |= holders(pf.port, kids)
        time.sleep(0.05)
    for t in polls:
        t.join()
    assert len(seen) >= 2, f"connections held by {seen} of {kids}"
    # Each process has its own gate of waiting requests: one that took more
    # than it may keep waiting answers busy, as a single process would.
    for r in out:
        assert r.status_code == 200 or (r.status_code == 503 and r.json()["code"] == "busy"), \
            r.text
    assert sum(r.status_code == 200 for r in out) >= PROCESSES, [r.text for r in out]


def test_longpoll_is_woken_in_a_child(pf):
    r = submit(pf.url(), {"openai": "gpt-4o~delay=1500"}, message="wake me")
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    body = poll(lambda: requests.get(pf.url("/api/ai/chat/status"), params={"id": chat_id},
                                     timeout=HTTP_TIMEOUT).json(),
                lambda b: b["status"] == "processing", 15, 0.02, "chat claimed")
    t0 = time.monotonic()
    out = []
    longpoll(pf, chat_id, body["version"], 20, out)
    took = time.monotonic() - t0
    assert out[0].status_code == 200, out[0].text
    assert out[0].json()["version"] > body["version"]
    assert out[0].json()["status"] == "completed"
    assert took < 10, took  # woken by the notification, not by the deadline


def test_sighup_reaches_every_child(pf):
    kids = pf.children()
    os.kill(pf.proc.pid, signal.SIGHUP)

    def said():
        pids = set()
        with open(pf.errlog) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("msg", "").startswith("SIGHUP"):
                    pids.add(int(e["pid"]))
        return [pid for pid in kids if pid in pids]
    poll(said, lambda found: len(found) == len(kids), 10, 0.1, "each child's SIGHUP line")
    assert pf.proc.poll() is None
    assert pf.children() == kids


def test_killed_child_is_replaced_and_serving_goes_on(pf):
    before = pf.children()
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    # The others serve meanwhile.
    for _ in range(20):
        r = requests.get(pf.url("/api/health"), timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
    after = poll(pf.children, lambda k: len(k) == PROCESSES and victim not in k, 15, 0.05,
                 "a new child in the killed one's place")
    assert set(before) - {victim} <= set(after)
    with open(pf.errlog) as f:
        assert f"process {victim} was killed by signal 9" in f.read()
    r = submit(pf.url(), {"mock": "m"}, message="after the kill")
    assert r.status_code == 202, r.text


def test_sigterm_stops_every_process(pf):
    kids = pf.children()
    assert len(kids) == PROCESSES
    pf.proc.send_signal(signal.SIGTERM)
    assert pf.proc.wait(timeout=20) == 0
    for pid in kids:
        assert not stk.pid_alive(pid), f"child {pid} outlived its parent"
    assert stk.children(pf.proc.pid) == []


def test_bad_process_count_is_a_usage_error():
    for bad in ("0", "65", "two"):
        r = subprocess.run([stk.program("aigw-fcgi"), "--processes", bad], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2, r
        assert "--processes: expected 1 to 64" in r.stderr
        assert "usage: aigw-fcgi" in r.stderr


def test_inherited_socket_is_shared_and_left_listening(stack):
    """Descriptor 0 as StandardInput=socket passes it: the children serve
    on it, and after SIGTERM it still listens for the next process."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    port = lsock.getsockname()[1]
    errlog = os.path.join(stack.base, f"prefork-fd0-{port}.err")
    with open(errlog, "w") as err:
        proc = subprocess.Popen([stk.program("aigw-fcgi"), "--threads", "2", "--processes", "2"],
                                env=stack.env, stdin=lsock.fileno(), stdout=subprocess.DEVNULL,
                                stderr=err, cwd=stack.base)
    nginx = stk.Nginx(stack.base, port)
    try:
        poll(lambda: sorted(stk.children(proc.pid)), lambda k: len(k) == 2, 15, 0.05,
             "two children")
        for _ in range(10):
            r = requests.get(nginx.url("/api/health"), timeout=HTTP_TIMEOUT)
            assert r.status_code == 200, r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        # Still listening: a connection made now waits in the backlog.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        nginx.stop()
        if proc.poll() is None:
            stk.stop_process(proc)
        lsock.close()
