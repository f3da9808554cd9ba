"""Deployment: the systemd units (systemd-analyze verify and security),
socket activation as systemd does it (StandardInput=socket, and the
LISTEN_FDS protocol), the socket file's mode and group, make install
and make distcheck, and scale-out (two aigw-fcgi and worker sets sharing
one PostgreSQL behind one nginx upstream)."""

import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import stack as stk
from conftest import fail_on_sanitizer_reports, mock_answer, poll, submit, wait_final

SYSTEMD_DIR = os.path.join(stk.SRCDIR, "systemd")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
UNITS = sorted(f for f in os.listdir(SYSTEMD_DIR)
               if f.endswith((".service", ".socket", ".timer")))
SERVICES = [u for u in UNITS if u.endswith(".service")]
EXPOSURE_MAX = 2.5


# ---------------------------------------------------------------- helpers

class Proc:
    """A process of the test (aigw-fcgi on an inherited socket, a worker
    as its service runs it), stopped by its PID at the end."""

    def __init__(self, argv, env, log, cwd, stdin=subprocess.DEVNULL):
        self.log = log
        with open(log, "a") as err:
            self.proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                                         stderr=err, cwd=cwd)
        stk._track(self)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, timeout=40):
        """SIGTERM, then the exit status (SIGKILL after timeout)."""
        stk._untrack(self)
        stk.stop_process(self.proc, timeout)
        return self.proc.returncode


class Backend:
    """PostgreSQL, the mock providers and a migrated schema, shared by the
    tests of this module; each test starts its own aigw processes."""

    def __init__(self):
        self.base = stk.make_base("aigw-deploy-")
        self._tmp = stk._track(stk._TempDir(self.base))
        self.pg = self.mock = None
        self.logs = []
        try:
            self.pg = stk.Postgres(self.base)
            self.mock = stk.MockProviders(self.base)
            self.env = self.aigw_env()
            stk.migrate(self.env)
        except BaseException:
            self.close()
            raise

    def aigw_env(self, **extra):
        """aigw's environment as a systemd host has it: no spawning, the
        worker service does the work."""
        env = stk.aigw_env(self.base, self.pg, self.mock, {"AIGW_SPAWN": "off"})
        env.update(extra)
        return env

    def worker(self, env, name):
        """aigw-worker as aigw-worker.service runs it (never idles out)."""
        log = os.path.join(self.base, f"{name}.log")
        self.logs.append(log)
        return Proc([stk.program("aigw-worker")], dict(env, AIGW_WORKER_IDLE_S="86400",
                                                      AIGW_LOG_FILE=log), log, self.base)

    def fcgi_on_fd0(self, env, sock, name, threads=4):
        """aigw-fcgi without --listen and the listening socket as its
        descriptor 0: what StandardInput=socket does."""
        log = os.path.join(self.base, f"{name}.err")
        self.logs.append(log)
        return Proc([stk.program("aigw-fcgi"), "--threads", str(threads)], env, log, self.base,
                    stdin=sock.fileno())

    def report(self):
        return "".join(f"\n---- {p}\n{stk.tail(p)}" for p in self.logs + [self.mock.err,
                                                                           self.pg.log])

    def close(self):
        if self.mock is not None:
            self.mock.stop()
        if self.pg is not None:
            self.pg.close()
        marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "SUMMARY: UndefinedBehaviorSanitizer")
        found = []
        for path in self.logs:
            text = open(path, errors="replace").read() if os.path.exists(path) else ""
            if any(m in text for m in marks):
                found.append(f"---- {path}\n{text[-6000:]}")
        self.sanitizer_report = "\n".join(found)
        self._tmp.stop()


@pytest.fixture(scope="module")
def backend():
    for p in ("aigw", "aigw-fcgi", "aigw-worker"):
        if not os.access(stk.program(p), os.X_OK):
            pytest.fail(f"not built: {stk.program(p)} (set AIGW_BUILDDIR)", pytrace=False)
    b = Backend()
    try:
        yield b
    finally:
        b.close()
    fail_on_sanitizer_reports(b)


def unix_listener(path):
    """A listening unix socket as aigw-fcgi.socket makes it (nginx's
    workers, www-data when we are root, must reach it)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.chmod(os.path.dirname(path), 0o755)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o666)
    sock.listen(1024)
    return sock


def fcgi_answers(url, timeout=15):
    stk.wait_for(lambda: requests.get(url + "/api/health", timeout=2).status_code == 200,
                 timeout, "aigw-fcgi behind nginx")


class Served:
    """aigw-fcgi (and a worker) behind nginx for the length of a with
    block: when the block fails, the logs join the report; at its end
    nginx stops, then aigw-fcgi and the worker, each of which must exit 0,
    then each of `after` runs. A block that restarts aigw-fcgi sets .fcgi
    to the new process."""

    def __init__(self, backend, fcgi, nginx, worker=None, after=()):
        self.backend, self.fcgi, self.nginx, self.worker = backend, fcgi, nginx, worker
        self.after = after

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            sys.stderr.write(self.backend.report() +
                             f"\n---- nginx\n{stk.tail(self.nginx.error_log)}")
        self.nginx.stop()
        assert self.fcgi.stop() == 0, stk.tail(self.fcgi.log)
        if self.worker is not None:
            assert self.worker.stop() == 0, stk.tail(self.worker.log)
        for step in self.after:
            step()
        return False


# ---------------------------------------------------------------- socket activation

def test_socket_activation_serves_and_survives_a_restart(backend):
    """aigw-fcgi.service takes its socket from aigw-fcgi.socket on
    descriptor 0. A restart of the service must leave the socket
    listening: connections made while no aigw-fcgi runs wait in its
    backlog and are answered by the next one."""
    env = backend.aigw_env()
    sock = unix_listener(os.path.join(backend.base, "run", "fcgi.sock"))
    worker = backend.worker(env, "activated-worker")
    fcgi = backend.fcgi_on_fd0(env, sock, "activated-fcgi-1")
    nginx = stk.Nginx(backend.base, [f"unix:{sock.getsockname()}"])
    with Served(backend, fcgi, nginx, worker, after=[sock.close]) as run:
        url = nginx.url()
        fcgi_answers(url)
        r = submit(url, {"openai": "gpt-4o", "mock": "m"}, message="socket activation")
        assert r.status_code == 202, r.text
        body = wait_final(url, r.json()["chatId"], timeout=20)
        assert body["status"] == "completed", body
        assert body["results"]["openai"]["text"] == mock_answer("openai", "gpt-4o",
                                                                "socket activation")

        # systemctl restart aigw-fcgi: SIGTERM, then a new process on the
        # same socket. Nothing answers in between; a submit waits.
        t0 = time.monotonic()
        assert run.fcgi.stop(timeout=30) == 0, stk.tail(run.fcgi.log)
        assert time.monotonic() - t0 < 5, "aigw-fcgi took long to stop"
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(submit, url, {"mock": "m"}, message="while restarting")
            time.sleep(1.0)
            assert not pending.done(), "answered while no aigw-fcgi was running"
            run.fcgi = backend.fcgi_on_fd0(env, sock, "activated-fcgi-2")
            r = pending.result(timeout=20)
        assert r.status_code == 202, r.text
        assert wait_final(url, r.json()["chatId"], timeout=20)["status"] == "completed"
        r = requests.get(url + "/api/health", timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text


def test_socket_activation_by_listen_fds_with_systemd_socket_activate(backend):
    """The sd_listen_fds protocol (LISTEN_FDS, LISTEN_PID, descriptor 3), as
    a socket unit without StandardInput=socket and `systemd-socket-activate
    -l` pass a socket."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed (Debian package systemd)")
    env = backend.aigw_env()
    port = stk.free_port()
    log = os.path.join(backend.base, "sd-activated-fcgi.err")
    backend.logs.append(log)
    # It passes on only the variables named by -E, then execs aigw-fcgi
    # in its own process at the first connection.
    fcgi = Proc([activate, "-l", f"127.0.0.1:{port}"] + [f"-E{k}" for k in sorted(env)] +
                [stk.program("aigw-fcgi"), "--threads", "2"], env, log, backend.base)
    worker = backend.worker(env, "sd-activated-worker")
    nginx = stk.Nginx(backend.base, port)
    with Served(backend, fcgi, nginx, worker):
        url = nginx.url()
        fcgi_answers(url)
        with open(f"/proc/{fcgi.pid}/cmdline", "rb") as f:
            assert os.path.basename(f.read().split(b"\0")[0]) == b"aigw-fcgi"
        r = submit(url, {"mock": "m"}, message="sd_listen_fds")
        assert r.status_code == 202, r.text
        assert wait_final(url, r.json()["chatId"], timeout=20)["status"] == "completed"


def test_socket_activation_by_listen_fds_on_a_unix_socket_keeps_them_from_workers(backend):
    """The same protocol on a unix socket the test holds, as systemd does;
    the workers aigw-fcgi spawns inherit neither LISTEN_FDS nor LISTEN_PID
    (they would take descriptor 3 for a socket of their own)."""
    logs = stk.world_readable_dir(backend.base, "lfd-unix")
    env = backend.aigw_env(AIGW_SPAWN="on", AIGW_LOG_FILE=os.path.join(logs, "aigw.log"),
                           LISTEN_FDS="1", LISTEN_FDNAMES="aigw-fcgi.socket")
    sock = unix_listener(os.path.join(backend.base, "run-lfd", "fcgi.sock"))
    log = os.path.join(logs, "fcgi.err")
    backend.logs.append(log)
    # LISTEN_PID must be aigw-fcgi's own: a shell moves the socket from 0
    # to 3, sets it to its PID and execs.
    wrapper = 'exec 3<&0 0</dev/null; export LISTEN_PID=$$; exec "$@"'
    fcgi = Proc(["/bin/sh", "-c", wrapper, "sh", stk.program("aigw-fcgi"), "--threads", "2"],
                env, log, backend.base, stdin=sock.fileno())
    nginx = stk.Nginx(backend.base, [f"unix:{sock.getsockname()}"])

    def stop_workers():
        for pid in stk.live_workers(logs):
            os.kill(pid, signal.SIGTERM)

    with Served(backend, fcgi, nginx, after=[stop_workers, sock.close]):
        url = nginx.url()
        fcgi_answers(url)
        r = submit(url, {"openai": "gpt-4o~delay=1500"}, message="LISTEN_FDS on unix")
        assert r.status_code == 202, r.text
        pids = poll(lambda: stk.live_workers(logs), lambda p: p, timeout=10,
                    what="a worker spawned by aigw-fcgi")
        for pid in pids:
            with open(f"/proc/{pid}/environ", "rb") as f:
                names = {e.split(b"=", 1)[0] for e in f.read().split(b"\0") if e}
            assert not names & {b"LISTEN_FDS", b"LISTEN_PID", b"LISTEN_FDNAMES"}, names
        assert wait_final(url, r.json()["chatId"], timeout=20)["status"] == "completed"


# ---------------------------------------------------------------- the socket file

def test_a_socket_path_is_0660_and_its_group_lets_nginx_in(backend):
    """--listen PATH makes the socket 0660: nginx's workers (www-data when
    we are root) reach it through --socket-group; any other local account
    cannot connect, so cannot claim a REMOTE_USER of its choosing."""
    root = os.geteuid() == 0
    group = "www-data" if root else grp.getgrgid(os.getegid()).gr_name
    run = stk.world_readable_dir(backend.base, "run-group")
    path = os.path.join(run, "fcgi.sock")
    log = os.path.join(backend.base, "socket-group-fcgi.err")
    backend.logs.append(log)
    fcgi = Proc([stk.program("aigw-fcgi"), "--listen", path, "--socket-group", group,
                 "--threads", "2"], backend.aigw_env(), log, backend.base)
    nginx = stk.Nginx(backend.base, [f"unix:{path}"])
    with Served(backend, fcgi, nginx):
        fcgi_answers(nginx.url())
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        assert st.st_gid == grp.getgrnam(group).gr_gid
        if root:
            probe = ("import socket, sys\n"
                     "s = socket.socket(socket.AF_UNIX)\n"
                     "s.connect(sys.argv[1])\n")
            r = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", probe, path],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode != 0 and "PermissionError" in r.stderr, r.stderr


def test_a_socket_path_without_options_is_0660_of_the_programs_group(backend):
    path = os.path.join(stk.world_readable_dir(backend.base, "run-default"), "fcgi.sock")
    log = os.path.join(backend.base, "socket-default-fcgi.err")
    backend.logs.append(log)
    fcgi = Proc([stk.program("aigw-fcgi"), "--listen", path, "--threads", "1"],
                backend.aigw_env(), log, backend.base)
    try:
        stk.wait_for(lambda: os.path.exists(path), 15, "the socket file", proc=fcgi.proc, log=log)
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        assert st.st_gid == os.getegid()
    finally:
        assert fcgi.stop() == 0, stk.tail(fcgi.log)


@pytest.mark.parametrize("args, says", [
    (["--socket-mode", "0888"], "--socket-mode: expected an octal mode"),
    (["--socket-mode", "4770"], "--socket-mode: expected an octal mode"),
    (["--socket-mode", "rw-rw----"], "--socket-mode: expected an octal mode"),
    (["--socket-group", "no-such-group-aigw"], "--socket-group: no group named no-such-group-aigw"),
    (["--socket-group", ""], "--socket-group: no group named"),
])
def test_bad_socket_options_stop_the_program(backend, args, says):
    path = os.path.join(stk.world_readable_dir(backend.base, "run-bad"), "fcgi.sock")
    r = subprocess.run([stk.program("aigw-fcgi"), "--listen", path] + args, env=backend.env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr, r.stderr
    assert not os.path.exists(path)


def test_socket_options_need_a_socket_path(backend):
    for argv in (["--listen", f"127.0.0.1:{stk.free_port()}", "--socket-mode", "0660"],
                 ["--socket-group", grp.getgrgid(os.getegid()).gr_name]):
        r = subprocess.run([stk.program("aigw-fcgi")] + argv, env=backend.env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, r.stderr
        assert "use them with --listen PATH" in r.stderr, r.stderr


# ---------------------------------------------------------------- systemd units

REQUIRED_HARDENING = (
    "NoNewPrivileges=yes", "CapabilityBoundingSet=", "PrivateUsers=yes",
    "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
    "ProtectProc=invisible", "ProtectClock=yes", "ProtectHostname=yes",
    "ProtectKernelLogs=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
    "ProtectControlGroups=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes", "RestrictRealtime=yes", "RestrictSUIDSGID=yes",
    "MemoryDenyWriteExecute=yes", "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM", "UMask=0027",
    "User=aigw", "Environment=AIGW_SPAWN=off")


def need_systemd_analyze():
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    """The units as make installs them, with the programs of this build:
    systemd-analyze verify wants every ExecStart= to exist."""
    d = tmp_path_factory.mktemp("units")
    for name in sorted(os.listdir(SYSTEMD_DIR)):
        with open(os.path.join(SYSTEMD_DIR, name)) as f:
            text = f.read()
        if name.endswith(".in"):
            name = name[:-3]
            text = text.replace("@bindir@", os.path.join(stk.BUILDDIR, "src"))
            text = text.replace("@docdir@", "/usr/local/share/doc/aigw")
        (d / name).write_text(text)
    return d


def unit_names(units):
    return sorted(p.name for p in units.iterdir())


def test_every_unit_is_shipped(units):
    assert unit_names(units) == [
        "aigw-fcgi.service", "aigw-fcgi.socket", "aigw-reap.service", "aigw-reap.timer",
        "aigw-schedule.service", "aigw-schedule.timer", "aigw-worker.service",
        "aigw-worker@.service"]


def test_units_pass_systemd_analyze_verify(units):
    need_systemd_analyze()
    paths = [str(units / n) for n in unit_names(units)]
    r = subprocess.run([SYSTEMD_ANALYZE, "verify", *paths], capture_output=True, text=True,
                       timeout=60)
    # Any complaint about one of ours (an unknown key, a bad value) fails.
    ours = [line for line in (r.stdout + r.stderr).splitlines() if "aigw" in line]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


def test_services_are_hardened(units):
    for name in unit_names(units):
        if name.endswith(".service"):
            lines = set((units / name).read_text().splitlines())
            missing = [d for d in REQUIRED_HARDENING if d not in lines]
            assert not missing, f"{name} lacks {missing}"


def exposure(unit_path):
    r = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager",
                        str(unit_path)], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    if m is None and "offline" in r.stderr:
        pytest.skip(f"systemd-analyze security cannot analyse files offline: {r.stderr}")
    assert m, r.stdout + r.stderr
    return float(m.group(1))


def test_services_exposure_is_below_2_5(units):
    need_systemd_analyze()
    scores = {n: exposure(units / n) for n in unit_names(units) if n.endswith(".service")}
    sys.stderr.write(f"systemd-analyze security: {scores}\n")
    assert all(s < EXPOSURE_MAX for s in scores.values()), scores


# ---------------------------------------------------------------- the system call filter

def syscall_group(name, cache={}):  # noqa: B006 - a cache on purpose
    """The system calls of a systemd group, nested groups expanded."""
    if name not in cache:
        r = subprocess.run([SYSTEMD_ANALYZE, "syscall-filter", name], capture_output=True,
                           text=True, timeout=30, check=True)
        calls = set()
        for line in r.stdout.splitlines()[1:]:
            word = line.strip()
            if not word or word.startswith("#"):
                continue
            calls |= syscall_group(word) if word.startswith("@") else {word}
        cache[name] = calls
    return cache[name]


def sanitized_build():
    with open(stk.program("aigw-worker"), "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__ubsan_handle" in data


STRACE_CALL = re.compile(r"^\d+\s+([a-z0-9_]+)\((.*)")


def traced_calls(path):
    """System calls in an strace -f log: {name: [argument text...]}."""
    calls = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_CALL.match(line)
            if m:
                calls.setdefault(m.group(1), []).append(m.group(2))
    return calls


def test_programs_stay_inside_the_units_system_call_filter(backend, units):
    """The services allow @system-service without @privileged and
    @resources; any other call fails with EPERM under systemd. Run every
    service's program under strace doing its work (a chat through nginx
    and socket activation, the reaper, the scheduler, a stop on SIGTERM)
    and check each call it made is allowed, that nothing but its own
    /proc entries is read (ProcSubset=pid, ProtectProc=invisible) and
    that nothing but the log is opened for writing (ProtectSystem=strict)."""
    need_systemd_analyze()
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    if sanitized_build():
        pytest.skip("a sanitizer build makes calls of its own; the units run a plain build")
    if subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "true"],
                      capture_output=True, timeout=30).returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    allowed = (syscall_group("@system-service") - syscall_group("@privileged")
               - syscall_group("@resources"))
    base = backend.base
    env = backend.aigw_env(AIGW_LOG_FILE="")  # to stderr, as under systemd
    traces = {}

    def traced(name, argv, stdin=subprocess.DEVNULL, extra=None):
        traces[name] = os.path.join(base, f"strace-{name}.out")
        log = os.path.join(base, f"strace-{name}.err")
        backend.logs.append(log)
        return Proc([strace, "-f", "-qq", "-o", traces[name], "--", *argv],
                    dict(env, **(extra or {})), log, base, stdin=stdin)

    def stop_traced(p):
        # strace passes SIGTERM on to nobody: signal the traced program.
        for kid in stk.children(p.pid):
            os.kill(kid, signal.SIGTERM)
        assert p.proc.wait(40) == 0, stk.tail(p.log)
        stk._untrack(p)

    sock = unix_listener(os.path.join(base, "run-strace", "fcgi.sock"))
    worker = traced("aigw-worker", [stk.program("aigw-worker")], extra={
        "AIGW_WORKER_IDLE_S": "86400"})
    fcgi = traced("aigw-fcgi", [stk.program("aigw-fcgi"), "--threads", "2"], stdin=sock)
    nginx = stk.Nginx(base, [f"unix:{sock.getsockname()}"])
    try:
        url = nginx.url()
        fcgi_answers(url, timeout=30)
        r = submit(url, {"openai": "gpt-4o", "gemini": "gemini-2.5-flash", "mock": "m"},
                   message="system call filter")
        assert r.status_code == 202, r.text
        assert wait_final(url, r.json()["chatId"], timeout=30)["status"] == "completed"
        assert requests.get(url + "/api/metrics", timeout=10).status_code == 200
        for sub in ("reap", "schedule"):
            p = traced(f"aigw-{sub}", [stk.program("aigw"), sub])
            assert p.proc.wait(60) == 0, stk.tail(p.log)
            stk._untrack(p)
    finally:
        nginx.stop()
        stop_traced(fcgi)
        stop_traced(worker)
        sock.close()

    faults = []
    for name, path in traces.items():
        calls = traced_calls(path)
        assert "execve" in calls and len(calls) > 20, f"{name}: no trace in {path}"
        denied = sorted(set(calls) - allowed)
        if denied:
            faults.append(f"{name} calls what its unit denies: {denied}")
        for args in calls.get("openat", []) + calls.get("open", []):
            m = re.match(r'(?:AT_FDCWD, )?"([^"]*)", (\S+)', args)
            if m is None or "ENOENT" in args:
                continue
            file, flags = m.groups()
            if re.match(r"/proc/(?!self/|thread-self/|\d+/)", file):
                faults.append(f"{name} reads {file} (hidden by ProcSubset=pid)")
            if re.search(r"O_WRONLY|O_RDWR|O_CREAT", flags) and file != "/dev/null":
                faults.append(f"{name} opens {file} for writing ({flags})")
    assert not faults, "\n".join(faults)


# ---------------------------------------------------------------- make install, make distcheck

def make_env():
    """The environment for a make of our own, apart from any make running
    this test (its jobserver)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def build_variables():
    """prefix, bindir, ... as the build's Makefile has them, expanded."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", stk.BUILDDIR, "-f", "-",
                        "show"], input="include Makefile\nshow:\n"
                        "\t@echo $(bindir) $(pkgdatadir) $(sysconfdir) $(docdir) $(prefix) $(mandir)\n",
                        capture_output=True, text=True, env=make_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(zip(("bindir", "pkgdatadir", "sysconfdir", "docdir", "prefix", "mandir"),
                    r.stdout.split()))


def listing(path, pattern=None):
    return sorted(f for f in os.listdir(path) if pattern is None or re.search(pattern, f))


def test_make_install_puts_everything_where_the_docs_say(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-C", stk.BUILDDIR, "install", f"DESTDIR={dest}"],
                       capture_output=True, text=True, env=make_env(), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    v = build_variables()

    def inst(*parts):
        return os.path.join(str(dest) + v[parts[0]], *parts[1:])
    for prog in ("aigw", "aigw-fcgi", "aigw-worker"):
        assert os.access(inst("bindir", prog), os.X_OK), prog
    src = stk.SRCDIR
    assert listing(inst("pkgdatadir", "migrations")) == listing(f"{src}/migrations", r"\.sql$")
    assert listing(inst("pkgdatadir", "nginx")) == [
        "aigw-http.conf", "aigw-site.conf", "aigw-upstream.conf", "aigw.conf", "html"]
    # The example site includes the installed snippets and serves the installed pages.
    with open(inst("pkgdatadir", "nginx", "aigw-site.conf")) as f:
        site = f.read()
    assert f"include {v['pkgdatadir']}/nginx/aigw.conf;" in site
    assert f"root {v['pkgdatadir']}/nginx/html;" in site
    # the pages, and the OpenAPI document nginx serves at /api/openapi.yaml
    assert listing(inst("pkgdatadir", "nginx", "html")) == \
        sorted(listing(f"{src}/nginx/html") + ["openapi.yaml"])
    assert listing(inst("pkgdatadir", "nginx", "html", "vendor")) == \
        listing(f"{src}/nginx/html/vendor")
    assert listing(inst("sysconfdir", "aigw", "jobtypes.d")) == listing(f"{src}/jobtypes",
                                                                        r"\.json$")
    assert listing(inst("pkgdatadir", "prometheus")) == ["aigw-alerts.yml"]
    assert listing(inst("sysconfdir", "aigw"), r"\.json$") == ["prices.json"]
    assert listing(inst("sysconfdir", "logrotate.d")) == ["aigw"]
    assert listing(inst("docdir")) == ["LICENSE", "NEWS", "README.md", "docs"]
    assert listing(inst("mandir", "man8")) == ["aigw-fcgi.8", "aigw-worker.8", "aigw.8"]
    assert listing(inst("mandir", "man5")) == ["aigw.env.5"]
    assert listing(inst("docdir", "docs")) == listing(f"{src}/docs", r"\.(md|png)$")
    unitdir = inst("prefix", "lib", "systemd", "system")
    assert listing(unitdir) == [
        "aigw-fcgi.service", "aigw-fcgi.socket", "aigw-reap.service", "aigw-reap.timer",
        "aigw-schedule.service", "aigw-schedule.timer", "aigw-worker.service",
        "aigw-worker@.service"]
    for unit in listing(unitdir, r"\.service$"):
        with open(os.path.join(unitdir, unit)) as f:
            text = f.read()
        assert "@bindir@" not in text and "@docdir@" not in text, unit
        execs = re.findall(r"^ExecStart=(\S+)", text, re.M)
        assert execs and all(e.startswith(v["bindir"] + "/") for e in execs), (unit, execs)
        assert all(os.access(str(dest) + e, os.X_OK) for e in execs), (unit, execs)


@pytest.mark.skipif(bool(os.environ.get("AIGW_SKIP_DISTCHECK")), reason="AIGW_SKIP_DISTCHECK")
def test_make_distcheck_slow():
    """SLOW (about 3 minutes on 2 cores): make distcheck builds the tarball,
    configures and builds it out of a read-only tree, runs its unit tests
    (make check runs no service: not these tests again), installs, uninstalls
    and cleans. Set AIGW_SKIP_DISTCHECK=1 to leave it out."""
    if sanitized_build():
        pytest.skip("run in the plain build only (the distcheck build is a plain one)")
    r = subprocess.run(["make", "-C", stk.BUILDDIR, "-j2", "distcheck"], capture_output=True,
                       text=True, env=make_env(), timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert not re.search(r"^\d+ (passed|failed)", r.stdout, re.M), "make check ran pytest"
    assert re.search(r"^# FAIL:\s+0$", r.stdout, re.M), r.stdout[-3000:]
    assert "archives ready for distribution" in r.stdout


# ---------------------------------------------------------------- scale-out

SCALE_CHATS = 500


def test_scale_out_two_handler_and_worker_sets_share_one_database(backend):
    """Two "hosts", each an aigw-fcgi on its own TCP port and two workers
    as aigw-worker.service runs them, share one PostgreSQL behind one
    nginx upstream. 500 chats are spread over both handlers, run by the
    workers of both, and each provider is called exactly once per chat.
    AIGW_WORKERS_MAX holds over both: a fifth worker finds no slot."""
    # 50 chats a worker at most: no one worker can take all 500, so the
    # work must spread over the sets.
    env = backend.aigw_env(AIGW_WORKERS_MAX="4", AIGW_WORKER_CHATS_MAX="50")
    fcgis, workers = [], []
    nginx = None
    access_log = os.path.join(backend.base, "scale-access.log")
    try:
        for host in ("a", "b"):
            fcgis.append(stk.Fcgi(backend.base, env, threads=8))
            backend.logs.append(fcgis[-1].errlog)
            workers += [backend.worker(env, f"scale-worker-{host}{i}") for i in (1, 2)]
        hosts = {fcgis[0].port: "a", fcgis[1].port: "b"}
        nginx = stk.Nginx(
            backend.base, [f"127.0.0.1:{f.port}" for f in fcgis],
            http_extra="log_format aigw_upstream '$request_method $uri $upstream_addr';",
            server_extra=f"access_log {access_log} aigw_upstream;")
        url = nginx.url()
        fcgi_answers(url)
        poll(lambda: int(backend.pg.psql(
            "SELECT count(*) FROM worker_slots WHERE heartbeat_at > now() - interval '15 s'")),
            lambda n: n == 4, 15, 0.2, "four workers holding slots")

        # The global bound: a fifth worker, on either host, gets no slot.
        extra = backend.worker(env, "scale-worker-extra")
        assert extra.proc.wait(15) != 0
        stk._untrack(extra)
        assert "worker slots are taken" in stk.tail(extra.log)

        t0 = time.monotonic()
        models = {"openai": "gpt-4o-mini~delay=300", "anthropic": "claude-3-5-haiku-latest"}

        def one(i):
            r = submit(url, models, message=f"scale-out {i}")
            assert r.status_code == 202, r.text
            return r.json()["chatId"]
        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(one, range(SCALE_CHATS)))
        submitted = time.monotonic() - t0
        assert len(set(ids)) == SCALE_CHATS

        def finished():
            return backend.pg.psql(
                "SELECT count(*) FILTER (WHERE status = 'completed'),"
                " count(*) FILTER (WHERE status = 'failed')"
                " FROM chat_results WHERE message LIKE 'scale-out %'")
        poll(finished, lambda s: s == f"{SCALE_CHATS}|0", 120, 0.5, "every chat completed")
        elapsed = time.monotonic() - t0
        sys.stderr.write(f"scale-out: {SCALE_CHATS} chats submitted in {submitted:.1f} s, "
                         f"all completed {elapsed:.1f} s after the first\n")
    except BaseException:
        sys.stderr.write(backend.report())
        raise
    finally:
        if nginx is not None:
            nginx.stop()
        for f in fcgis:
            f.stop()
        stopped = [w.stop() for w in workers]
    assert stopped == [0] * len(workers), [stk.tail(w.log) for w in workers]

    # Both handlers served submits (nginx round-robins the upstream).
    served = {"a": 0, "b": 0}
    with open(access_log) as f:
        for line in f:
            method, uri, upstream = line.split()
            if method == "POST" and uri == "/api/ai/chat":
                served[hosts[int(upstream.rsplit(":", 1)[1])]] += 1
    assert sum(served.values()) == SCALE_CHATS and min(served.values()) > 0, served

    # The workers of both sets ran chats (a claim's worker is host#N:pid).
    pids = {w.pid: os.path.basename(w.log)[len("scale-worker-")] for w in workers}
    ran = {"a": 0, "b": 0}
    for row in backend.pg.psql("SELECT worker, count(*) FROM chat_results"
                               " WHERE message LIKE 'scale-out %' GROUP BY worker").splitlines():
        name, n = row.split("|")
        ran[pids[int(name.rsplit(":", 1)[1])]] += int(n)
    assert sum(ran.values()) == SCALE_CHATS and min(ran.values()) > 0, ran
    sys.stderr.write(f"scale-out: submits served per handler {served}, chats run by the "
                     f"workers of each set {ran}\n")

    # Each provider was called exactly once per chat.
    calls = {}
    for e in backend.mock.requests_log():
        if (e.get("message") or "").startswith("scale-out "):
            key = (e["provider"], e["message"])
            calls[key] = calls.get(key, 0) + 1
    assert len(calls) == 2 * SCALE_CHATS, len(calls)
    assert set(calls.values()) == {1}, {k: n for k, n in calls.items() if n != 1}
