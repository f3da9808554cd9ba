"""Start and stop the pieces of a private aigw deployment for tests and
benchmarks: PostgreSQL, the mock providers, aigw-fcgi, nginx and lighttpd.

Everything listens on 127.0.0.1 on a free port and is stopped by its PID.
Programs come from AIGW_BUILDDIR (default: <repo>/build) and the sources
from AIGW_SRCDIR (default: the repo).
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

SRCDIR = os.environ.get("AIGW_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("AIGW_BUILDDIR") or os.path.join(SRCDIR, "build")
PGBIN = "/usr/lib/postgresql/15/bin"
PYTHON = "/usr/bin/python3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}: {last}")


def program(name):
    return os.path.join(BUILDDIR, "src", name)


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def stop_process(proc, timeout=5):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class Postgres:
    """A private cluster. As root it runs as the postgres user."""

    def __init__(self, base):
        self.dir = os.path.join(base, "pg")
        self.port = free_port()
        os.makedirs(self.dir)
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                    "max_connections = 300\n")
        self.start()
        self._run([f"{PGBIN}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                   "-qc", "CREATE DATABASE aigw"])

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/aigw"

    def _run(self, cmd):
        subprocess.run(self.as_user + cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd="/")

    def start(self):
        self._run([f"{PGBIN}/pg_ctl", "-D", self.data, "-o", f"-p {self.port}", "-l",
                   os.path.join(self.dir, "log"), "-w", "-t", "30", "start"])

    def stop(self):
        self._run([f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])

    def psql(self, sql):
        out = subprocess.run([f"{PGBIN}/psql", self.url, "-Atqc", sql], check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()


class MockProviders:
    def __init__(self, base):
        self.port = free_port()
        self.log = os.path.join(base, "mockproviders.log")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SRCDIR, "tests/mockproviders/mockproviders.py"),
             "--host", "127.0.0.1", "--port", str(self.port), "--log", self.log],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "mock.err"), "w"))
        wait_for(lambda: requests.get(self.url("/_health"), timeout=1).ok, 10, "mock providers")

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def env(self):
        base = self.url()
        return {
            "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": base + "/openai/v1",
            "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": base + "/anthropic",
            "GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": base + "/gemini",
            "PERPLEXITY_API_KEY": "test-key", "PERPLEXITY_BASE_URL": base + "/perplexity",
        }

    def requests_log(self):
        return requests.get(self.url("/_log"), timeout=5).json()

    def stop(self):
        stop_process(self.proc)


def aigw_env(base, pg, mock, extra=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIGW_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "PERPLEXITY_"))}
    env.update({
        "DATABASE_URL": pg.url,
        "AIGW_ENV_FILE": os.path.join(base, "none.env"),
        "AIGW_WORKER_BIN": program("aigw-worker"),
        "AIGW_LOG_FILE": os.path.join(base, "aigw.log"),
        "AIGW_MIGRATIONS_DIR": os.path.join(SRCDIR, "migrations"),
        "AIGW_WORKER_IDLE_S": "5",
        "AIGW_MOCK_DELAY_MS": "200",
        "AIGW_LOG_LEVEL": "info",
    })
    if mock is not None:
        env.update(mock.env())
    env.update(extra or {})
    return env


def migrate(env):
    subprocess.run([program("aigw"), "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


class Fcgi:
    def __init__(self, base, env, threads=8):
        self.port = free_port()
        self.errlog = os.path.join(base, f"fcgi-{self.port}.err")
        self.proc = subprocess.Popen(
            [program("aigw-fcgi"), "--listen", f"127.0.0.1:{self.port}", "--threads", str(threads)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.errlog, "w"))

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_for(listening, 10, "aigw-fcgi")

    def stop(self):
        stop_process(self.proc)


def world_readable_dir(base, name):
    path = os.path.join(base, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


class Nginx:
    def __init__(self, base, fcgi_port):
        self.port = free_port()
        self.dir = world_readable_dir(base, f"nginx-{self.port}")
        conf = os.path.join(self.dir, "nginx.conf")
        # aigw.conf includes fastcgi_params relative to this configuration.
        shutil.copy("/etc/nginx/fastcgi_params", self.dir)
        user = "user www-data;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {self.dir}/body;
    fastcgi_temp_path {self.dir}/fastcgi;
    proxy_temp_path {self.dir}/proxy;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    upstream aigw_fcgi {{ server 127.0.0.1:{fcgi_port}; }}
    server {{
        listen 127.0.0.1:{self.port};
        root {SRCDIR}/nginx/html;
        include {SRCDIR}/nginx/aigw.conf;
    }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "w"))
        wait_for(lambda: requests.get(self.url("/api/health"), timeout=2) is not None, 10, "nginx")

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        stop_process(self.proc)


class Lighttpd:
    """aigw-fcgi as a plain CGI program under lighttpd's mod_cgi."""

    def __init__(self, base, env):
        self.port = free_port()
        self.dir = world_readable_dir(base, f"lighttpd-{self.port}")
        cgibin = world_readable_dir(self.dir, "cgi-bin")
        shutil.copy(program("aigw-fcgi"), os.path.join(cgibin, "aigw"))
        env_file = os.path.join(self.dir, "aigw.env")
        with open(env_file, "w") as f:
            for k, v in env.items():
                if k.startswith(("AIGW_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "PERPLEXITY_")) \
                        or k == "DATABASE_URL":
                    if k != "AIGW_ENV_FILE":
                        f.write(f"{k}={v}\n")
        conf = os.path.join(self.dir, "lighttpd.conf")
        asan = os.environ.get("ASAN_OPTIONS", "")
        with open(conf, "w") as f:
            f.write(f"""server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = {self.port}
server.document-root = "{self.dir}"
server.errorlog = "{self.dir}/error.log"
server.pid-file = "{self.dir}/lighttpd.pid"
alias.url = ("/cgi-bin/" => "{cgibin}/")
cgi.assign = ("" => "")
setenv.add-environment = ("AIGW_ENV_FILE" => "{env_file}", "ASAN_OPTIONS" => "{asan}")
""")
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "w"))
        wait_for(lambda: requests.get(self.url("/cgi-bin/aigw/api/health"), timeout=5).status_code
                 in (200, 503), 10, "lighttpd")

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        stop_process(self.proc)


def live_workers(base=None):
    """PIDs of running aigw-worker processes, read from /proc; with base,
    only those of the stack whose temp dir that is."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if os.path.basename(argv0) != b"aigw-worker" or state == "Z":
            continue
        if base is not None:
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if base.encode() not in f.read():
                        continue
            except OSError:
                continue
        pids.append(int(entry))
    return pids


class Stack:
    """PostgreSQL + mock providers + aigw-fcgi + nginx, ready to serve."""

    def __init__(self, extra_env=None, threads=8):
        self.base = tempfile.mkdtemp(prefix="aigw-it-")
        os.chmod(self.base, 0o755)
        self.pg = self.mock = self.fcgi = self.nginx = None
        try:
            self.pg = Postgres(self.base)
            self.mock = MockProviders(self.base)
            self.env = aigw_env(self.base, self.pg, self.mock, extra_env)
            migrate(self.env)
            self.fcgi = Fcgi(self.base, self.env, threads)
            self.nginx = Nginx(self.base, self.fcgi.port)
        except BaseException:
            self.close()
            raise

    def url(self, path=""):
        return self.nginx.url(path)

    def logs(self):
        parts = [("aigw.log", os.path.join(self.base, "aigw.log"))]
        if self.fcgi:
            parts.append(("aigw-fcgi stderr", self.fcgi.errlog))
        if self.nginx:
            parts.append(("nginx error.log", os.path.join(self.nginx.dir, "error.log")))
        return "\n".join(f"---- {name}\n{tail(path)}" for name, path in parts)

    def close(self):
        for part in (self.nginx, self.fcgi, self.mock):
            if part is not None:
                part.stop()
        for pid in live_workers(self.base):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.pg is not None:
            try:
                self.pg.stop()
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)
