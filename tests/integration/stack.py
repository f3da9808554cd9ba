"""Start and stop the pieces of a private aigw deployment for tests and
benchmarks: PostgreSQL, the mock providers, `aigw migrate`, aigw-fcgi,
nginx, and lighttpd running aigw-fcgi as a plain CGI program.

Everything listens on 127.0.0.1 on a free port and is stopped by its PID,
also when a test fails or the run is interrupted (atexit, SIGTERM).
Programs come from AIGW_BUILDDIR (default: <repo>/build) and the sources
from AIGW_SRCDIR (default: the repo). Runs under /usr/bin/python3 with only
the standard library and requests.
"""

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

SRCDIR = os.path.abspath(os.environ.get("AIGW_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILDDIR = os.path.abspath(os.environ.get("AIGW_BUILDDIR") or os.path.join(SRCDIR, "build"))


def pg_bindir():
    """PostgreSQL's server programs (initdb, pg_ctl, psql): AIGW_PG_BINDIR
    if set, else `pg_config --bindir` when initdb is there (Debian's
    pg_config is libpq-dev's and names its own major version, which may
    not be the server's), else the newest version pg_lsclusters lists
    whose programs are installed. None when none is found."""
    def has_server(d):
        return bool(d) and all(os.access(os.path.join(d, p), os.X_OK)
                               for p in ("initdb", "pg_ctl", "psql"))
    if os.environ.get("AIGW_PG_BINDIR"):
        return os.environ["AIGW_PG_BINDIR"]
    try:
        d = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                           timeout=30).stdout.strip()
        if has_server(d):
            return d
    except OSError:
        pass
    try:
        out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True,
                             timeout=30).stdout
    except OSError:
        out = ""
    versions = sorted({line.split()[0] for line in out.splitlines() if line.split()},
                      key=lambda v: [int(x) if x.isdigit() else 0 for x in v.split(".")])
    for v in reversed(versions):
        d = f"/usr/lib/postgresql/{v}/bin"
        if has_server(d):
            return d
    return None


PGBIN = pg_bindir()
PYTHON = "/usr/bin/python3"
PROVIDER_VARS = ("OPENAI_", "ANTHROPIC_", "GEMINI_", "PERPLEXITY_", "SNAPSHOT_")


# ---------------------------------------------------------------- helpers

def free_port():
    """A port free on 127.0.0.1 right now (bind port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout, what, interval=0.05, proc=None, log=None):
    """Call check() until it returns true, for at most timeout seconds.
    With proc, give up at once when that process has exited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as e:  # noqa: BLE001 - reported below
            last = e
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: exited with status {proc.returncode}"
                               + (f"\n{tail(log)}" if log else ""))
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}: {last}"
                       + (f"\n{tail(log)}" if log else ""))


def program(name):
    return os.path.join(BUILDDIR, "src", name)


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def children(pid):
    """Direct children of pid, from /proc."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def kill_pid(pid, sig=signal.SIGTERM, timeout=10):
    """Send sig to pid and wait (bounded) until it is gone; SIGKILL after."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Stop a child started with Popen by its PID: sig, then SIGKILL (also
    to its children, so that no nginx or lighttpd worker is left behind)."""
    if proc is None or proc.poll() is not None:
        return
    kids = children(proc.pid)
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
    for kid in kids:
        if pid_alive(kid):
            kill_pid(kid, signal.SIGKILL, 2)


# Everything started, so that it is stopped even when a test run is cut short.
_LIVE = []
_LIVE_LOCK = threading.Lock()


def _track(part):
    with _LIVE_LOCK:
        _LIVE.append(part)
    return part


def _untrack(part):
    with _LIVE_LOCK:
        if part in _LIVE:
            _LIVE.remove(part)


def stop_everything():
    """Stop every part still running, newest first. Runs at exit."""
    while True:
        with _LIVE_LOCK:
            if not _LIVE:
                return
            part = _LIVE.pop()
        try:
            part.stop()
        except Exception as e:  # noqa: BLE001 - cleanup goes on
            sys.stderr.write(f"stack: stopping {part!r}: {e}\n")


atexit.register(stop_everything)


def _sigterm(signum, frame):  # noqa: ARG001
    # As Ctrl-C: pytest stops the session and tears its fixtures down;
    # elsewhere finally blocks and atexit run.
    raise KeyboardInterrupt(f"signal {signum}")


if threading.current_thread() is threading.main_thread():
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(_sig) in (signal.SIG_DFL, None):
            signal.signal(_sig, _sigterm)


def make_base(prefix="aigw-it-"):
    """A temp dir every server user can traverse (PostgreSQL runs as
    postgres and nginx's workers as www-data when we are root)."""
    parent = os.environ.get("AIGW_TEST_TMPDIR")
    if parent is None and os.geteuid() == 0:
        parent = "/tmp"  # $TMPDIR may sit under a private /root
    base = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(base, 0o755)
    return base


def world_readable_dir(base, name):
    path = os.path.join(base, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    return path


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    """A private PostgreSQL cluster with database `aigw`, on a TCP port
    of 127.0.0.1 only. stop() and start() keep the port. As root, every
    server command runs as the postgres user."""

    def __init__(self, base, max_connections=300, durable=False):
        """durable: PostgreSQL's default durability (fsync, synchronous
        commits), as the benchmark needs; tests run faster without."""
        if PGBIN is None:
            raise RuntimeError("PostgreSQL's programs not found (pg_config --bindir, "
                               "pg_lsclusters): run script/bootstrap, or set AIGW_PG_BINDIR")
        self.dir = os.path.join(base, "pg")
        self.port = free_port()
        self.pid = None
        os.makedirs(self.dir)
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([f"{PGBIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8", "--locale", "C"])
        # root may append to the postgres-owned file; the mode stays.
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"port = {self.port}\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = ''\n"
                    + ("" if durable else
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n") +
                    f"max_connections = {max_connections}\n"
                    "log_min_messages = warning\n")
        _track(self)
        self.start()
        self.psql("CREATE DATABASE aigw", db="postgres")

    def __repr__(self):
        return f"<Postgres 127.0.0.1:{self.port}>"

    @property
    def data(self):
        return os.path.join(self.dir, "data")

    @property
    def log(self):
        return os.path.join(self.dir, "log")

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/aigw"

    def _run(self, cmd):
        r = subprocess.run(self.as_user + cmd, text=True, cwd="/", stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr}"
                               f"\n{tail(self.log)}")

    def _postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    @property
    def running(self):
        return self.pid is not None and pid_alive(self.pid)

    def start(self):
        """Start (again) on the same port; returns once it accepts connections."""
        if self.running:
            return
        self._run([f"{PGBIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30",
                   "start"])
        self.pid = self._postmaster_pid()

    def stop(self, timeout=30):
        """Fast shutdown by PID (SIGINT), bounded; SIGKILL after."""
        pid = self.pid or self._postmaster_pid()
        self.pid = None
        if pid is None or not pid_alive(pid):
            return
        kill_pid(pid, signal.SIGINT, timeout)

    def close(self):
        _untrack(self)
        self.stop()

    # A change a test makes to a chat or job by hand, as aigw's own changes
    # are, is followed by the rows' notifications: aigw-fcgi's status cache
    # forgets what it heard of (a deletion is notified before and after).
    ROW_CHANGE = re.compile(r"\b(UPDATE|DELETE\s+FROM|INSERT\s+INTO|TRUNCATE)\s+"
                            r"(chat_results|jobs|job_steps|chat_pieces|job_pieces)\b", re.I)
    NOTIFY_ALL = ("SELECT count(pg_notify('aigw_chat', chat_id::text)) FROM chat_results;"
                  " SELECT count(pg_notify('aigw_job', job_id::text)) FROM jobs")

    def psql(self, sql, db="aigw"):
        """Run SQL with psql; returns its unaligned output."""
        changes = db == "aigw" and self.ROW_CHANGE.search(sql) is not None
        notifies = "pg_notify" in sql
        if changes and not notifies:
            self._psql(self.NOTIFY_ALL, db)
        out = self._psql(sql, db)
        if changes and not notifies:
            self._psql(self.NOTIFY_ALL, db)
        if changes or notifies:
            # The notifications reach each aigw-fcgi's hub within a
            # fraction of this (docs/architecture.md, The status cache):
            # a test's next poll must not race them.
            time.sleep(0.05)
        return out

    def _psql(self, sql, db):
        url = f"postgresql://postgres@127.0.0.1:{self.port}/{db}"
        out = subprocess.run([f"{PGBIN}/psql", url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {out.stderr}")
        return out.stdout.strip()


# ---------------------------------------------------------------- PgBouncer

class PgBouncer:
    """Debian's PgBouncer in transaction mode in front of a Postgres, on a
    port of 127.0.0.1 only, trusting its users as the cluster does. As
    root it runs as the postgres user (it refuses to run as root)."""

    def __init__(self, base, pg, pool_size=2):
        self.dir = os.path.join(base, "pgbouncer")
        self.port = free_port()
        self.log = os.path.join(self.dir, "pgbouncer.log")
        os.makedirs(self.dir)
        user = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            user = {"user": pw.pw_uid, "group": pw.pw_gid}
        userlist = os.path.join(self.dir, "userlist.txt")
        with open(userlist, "w") as f:
            f.write('"postgres" ""\n')
        self.ini = os.path.join(self.dir, "pgbouncer.ini")
        with open(self.ini, "w") as f:
            f.write(f"""[databases]
aigw = host=127.0.0.1 port={pg.port} dbname=aigw
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {userlist}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
admin_users = postgres
logfile = {self.log}
log_connections = 0
log_disconnections = 0
""")
        with open(os.path.join(self.dir, "stderr"), "w") as err:
            self.proc = subprocess.Popen(["pgbouncer", self.ini], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, cwd=self.dir,
                                         **user)
        _track(self)

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_for(listening, 15, "pgbouncer", proc=self.proc, log=self.log)

    def __repr__(self):
        return f"<PgBouncer 127.0.0.1:{self.port}>"

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/aigw"

    def psql(self, command):
        """A command of PgBouncer's admin console (SHOW STATS); its
        unaligned output."""
        out = subprocess.run([f"{PGBIN}/psql", f"postgresql://postgres@127.0.0.1:{self.port}"
                              "/pgbouncer", "-Atc", command], capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"pgbouncer console: {command}: {out.stderr}")
        return out.stdout.strip()

    def stop(self):
        _untrack(self)
        stop_process(self.proc)


def behind_pgbouncer(s):
    """A Stack's wrap_db: aigw's statements through PgBouncer in
    transaction mode, LISTEN and session locks straight to PostgreSQL."""
    bouncer = PgBouncer(s.base, s.pg)
    s.db_parts.append(bouncer)
    s.bouncer = bouncer
    return {"DATABASE_URL": bouncer.url, "AIGW_LISTEN_DATABASE_URL": s.pg.url,
            "AIGW_DB_POOLER": "transaction"}


# ---------------------------------------------------------------- mock providers

class MockProviders:
    """tests/mockproviders/mockproviders.py on a port it picks itself."""

    def __init__(self, base):
        self.log = os.path.join(base, "mockproviders.log")
        self.out = os.path.join(base, "mockproviders.out")
        self.err = os.path.join(base, "mockproviders.err")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [PYTHON, os.path.join(SRCDIR, "tests/mockproviders/mockproviders.py"),
                 "--host", "127.0.0.1", "--port", "0", "--log", self.log],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=base)
        _track(self)
        self.port = None

        def listening():
            with open(self.out) as f:
                for line in f:
                    if line.startswith("listening on "):
                        self.port = int(line.split()[-1].rsplit(":", 1)[1])
                        return True
            return False
        wait_for(listening, 15, "mock providers", proc=self.proc, log=self.err)
        wait_for(lambda: requests.get(self.url("/_health"), timeout=1).ok, 10,
                 "mock providers /_health", proc=self.proc, log=self.err)

    def __repr__(self):
        return f"<MockProviders 127.0.0.1:{self.port}>"

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def env(self):
        base = self.url()
        return {
            "OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": base + "/openai/v1",
            "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": base + "/anthropic",
            "GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": base + "/gemini",
            "PERPLEXITY_API_KEY": "test-key", "PERPLEXITY_BASE_URL": base + "/perplexity",
            "SNAPSHOT_API_KEY": "test-key", "SNAPSHOT_BASE_URL": base + "/snapshot",
        }

    def requests_log(self):
        """Every request the mock saw since start or the last reset."""
        return requests.get(self.url("/_log"), timeout=5).json()

    def reset(self):
        requests.post(self.url("/_reset"), timeout=5).raise_for_status()

    def stop(self):
        _untrack(self)
        stop_process(self.proc)


# ---------------------------------------------------------------- aigw

def aigw_env(base, pg, mock, extra=None):
    """The environment of aigw's programs: the caller's, without any aigw or
    provider setting, plus the stack's database, mock providers and logs."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIGW_",) + PROVIDER_VARS) and k != "DATABASE_URL"}
    env.update({
        "DATABASE_URL": pg.url,
        "AIGW_ENV_FILE": os.path.join(base, "none.env"),  # never /etc/aigw/aigw.env
        "AIGW_WORKER_BIN": program("aigw-worker"),
        "AIGW_LOG_FILE": os.path.join(base, "aigw.log"),
        "AIGW_MIGRATIONS_DIR": os.path.join(SRCDIR, "migrations"),
        "AIGW_JOBTYPES_DIR": os.path.join(SRCDIR, "jobtypes"),
        "AIGW_WORKER_IDLE_S": "5",
        "AIGW_MOCK_DELAY_MS": "200",
        "AIGW_LOG_LEVEL": "info",
    })
    if mock is not None:
        env.update(mock.env())
    env.update(extra or {})
    # A provider without its key is answered by the built-in mock only
    # when asked for; the tests that leave a key out rely on it unless they
    # say otherwise.
    if "AIGW_MOCK" not in (extra or {}) and \
            not all(env.get(f"{p}API_KEY") for p in PROVIDER_VARS):
        env["AIGW_MOCK"] = "on"
    return env


def migrate(env):
    r = subprocess.run([program("aigw"), "migrate"], env=env, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"aigw migrate: exit {r.returncode}: {r.stderr}{r.stdout}")


class Fcgi:
    """aigw-fcgi --listen 127.0.0.1:<port>."""

    def __init__(self, base, env, threads=8):
        self.port = free_port()
        self.errlog = os.path.join(base, f"fcgi-{self.port}.err")
        with open(self.errlog, "w") as err:
            self.proc = subprocess.Popen(
                [program("aigw-fcgi"), "--listen", f"127.0.0.1:{self.port}",
                 "--threads", str(threads)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                cwd=base)
        _track(self)

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_for(listening, 15, "aigw-fcgi", proc=self.proc, log=self.errlog)

    def __repr__(self):
        return f"<Fcgi 127.0.0.1:{self.port}>"

    def stop(self):
        _untrack(self)
        stop_process(self.proc)


# ---------------------------------------------------------------- nginx

# Tests submit far faster than a person: nginx's per-address submit limit
# is lifted unless a test asks for it.
TEST_SUBMIT_RATE = "100000r/s"


def nginx_http_snippet(submit_rate, conn_limit=False):
    """nginx/aigw-http.conf with the submit rate a test wants. Tests make
    many requests at once from one address: the per-address limit on
    requests in progress is lifted (an empty key is not counted) unless
    conn_limit asks for the shipped one."""
    with open(os.path.join(SRCDIR, "nginx/aigw-http.conf")) as f:
        text = f.read()
    text = re.sub(r"rate=\S+;", f"rate={submit_rate};", text)
    if not conn_limit:
        text, n = re.subn(r"limit_conn_zone \S+ zone=aigw_conn:", 'limit_conn_zone "" zone=aigw_conn:',
                          text)
        assert n == 1, "nginx/aigw-http.conf: no aigw_conn zone"
    return text


def upstream_servers(fcgi):
    """nginx `server` lines of the aigw_fcgi upstream: fcgi is a port on
    127.0.0.1, or a list of nginx addresses ("127.0.0.1:9000",
    "unix:/run/aigw/fcgi.sock")."""
    addresses = [f"127.0.0.1:{fcgi}"] if isinstance(fcgi, int) else list(fcgi)
    return " ".join(f"server {a};" for a in addresses)


def nginx_conf(dirname, port, fcgi_port, workers=1, submit_rate=TEST_SUBMIT_RATE,
               server_extra="", http_extra="", conn_limit=False):
    """An nginx.conf whose pid, logs and temp paths all live in dirname.
    fcgi_port is what upstream_servers() takes. server_extra is added to
    the server block after aigw.conf, http_extra to the http block;
    conn_limit is nginx_http_snippet()'s."""
    user = "user www-data;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes {workers};
daemon off;
pid {dirname}/nginx.pid;
error_log {dirname}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {dirname}/body;
    fastcgi_temp_path {dirname}/fastcgi;
    proxy_temp_path {dirname}/proxy;
    uwsgi_temp_path {dirname}/uwsgi;
    scgi_temp_path {dirname}/scgi;
    {nginx_http_snippet(submit_rate, conn_limit)}
    {http_extra}
    upstream aigw_fcgi {{ {upstream_servers(fcgi_port)} }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {SRCDIR}/nginx/aigw.conf;
        # The pages, mounted as nginx/aigw-site.conf does: aigw.conf
        # serves only the API.
        root {dirname}/html;
        index index.html;
        location / {{ try_files $uri $uri/ =404; }}
        set $aigw_openapi {dirname}/openapi.yaml;
        {server_extra}
    }}
}}
"""


class Nginx:
    """nginx in the foreground (daemon off) with aigw's snippet, in front
    of aigw-fcgi on fcgi_port (or the addresses upstream_servers() takes)."""

    def __init__(self, base, fcgi_port, workers=1, submit_rate=TEST_SUBMIT_RATE, server_extra="",
                 http_extra="", conn_limit=False):
        self.port = free_port()
        self.dir = world_readable_dir(base, f"nginx-{self.port}")
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        # aigw.conf says `include fastcgi_params;`, relative to this config.
        shutil.copy("/etc/nginx/fastcgi_params", self.dir)
        # nginx's workers run as www-data, which may not reach the checkout
        # (say, under /root): serve a readable copy of the pages.
        shutil.copytree(os.path.join(SRCDIR, "nginx/html"), os.path.join(self.dir, "html"))
        for dirpath, _, files in os.walk(os.path.join(self.dir, "html")):
            os.chmod(dirpath, 0o755)
            for name in files:
                os.chmod(os.path.join(dirpath, name), 0o644)
        # The OpenAPI document of the source tree, readable by www-data too.
        shutil.copy(os.path.join(SRCDIR, "docs/openapi.yaml"), self.dir)
        os.chmod(os.path.join(self.dir, "openapi.yaml"), 0o644)
        with open(self.conf, "w") as f:
            f.write(nginx_conf(self.dir, self.port, fcgi_port, workers, submit_rate, server_extra,
                               http_extra, conn_limit))
        self.check_config()
        with open(os.path.join(self.dir, "stderr"), "w") as err:
            self.proc = subprocess.Popen(["nginx", "-e", self.error_log, "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, cwd=self.dir)
        _track(self)

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        wait_for(listening, 15, "nginx", proc=self.proc, log=self.error_log)

    def __repr__(self):
        return f"<Nginx 127.0.0.1:{self.port}>"

    def check_config(self):
        """nginx -t on the generated configuration."""
        r = subprocess.run(["nginx", "-t", "-q", "-e", self.error_log, "-c", self.conf],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"nginx -t: {r.stderr}{tail(self.error_log)}")

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        _untrack(self)
        stop_process(self.proc)


# ---------------------------------------------------------------- lighttpd (CGI)

class Lighttpd:
    """aigw-fcgi as a plain CGI program under lighttpd's mod_cgi, reached at
    /cgi-bin/aigw/<api path>. A CGI server controls the environment, so aigw
    is configured through AIGW_ENV_FILE (a NAME=value file) instead."""

    def __init__(self, base, env):
        self.port = free_port()
        self.dir = world_readable_dir(base, f"lighttpd-{self.port}")
        self.error_log = os.path.join(self.dir, "error.log")
        docroot = world_readable_dir(self.dir, "htdocs")
        cgibin = world_readable_dir(self.dir, "cgi-bin")
        shutil.copy(program("aigw-fcgi"), os.path.join(cgibin, "aigw"))
        self.env_file = os.path.join(self.dir, "aigw.env")
        with open(self.env_file, "w") as f:
            for k, v in sorted(env.items()):
                if (k.startswith(("AIGW_",) + PROVIDER_VARS) or k == "DATABASE_URL") \
                        and k != "AIGW_ENV_FILE":
                    f.write(f"{k}={v}\n")
        # Sanitizer settings are read before main(), so they cannot come
        # from the env file.
        passed = {"AIGW_ENV_FILE": self.env_file}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if env.get(k):
                passed[k] = env[k]
        setenv = ", ".join(f'"{k}" => "{v}"' for k, v in passed.items())
        self.conf = os.path.join(self.dir, "lighttpd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = {self.port}
server.document-root = "{docroot}"
server.errorlog = "{self.error_log}"
server.pid-file = "{self.dir}/lighttpd.pid"
alias.url = ("/cgi-bin/" => "{cgibin}/")
$HTTP["url"] =~ "^/cgi-bin/" {{
    cgi.assign = ("" => "")
}}
setenv.add-environment = ({setenv})
""")
        r = subprocess.run(["lighttpd", "-t", "-f", self.conf], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"lighttpd -t: {r.stderr}{r.stdout}")
        with open(os.path.join(self.dir, "stderr"), "w") as err:
            self.proc = subprocess.Popen(["lighttpd", "-D", "-f", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, cwd=self.dir)
        _track(self)
        wait_for(lambda: requests.get(self.url("/cgi-bin/aigw/api/health"), timeout=5)
                 .status_code in (200, 503), 15, "lighttpd", proc=self.proc,
                 log=self.error_log)

    def __repr__(self):
        return f"<Lighttpd 127.0.0.1:{self.port}>"

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        _untrack(self)
        stop_process(self.proc)


# ---------------------------------------------------------------- workers

def live_workers(base=None):
    """PIDs of live (not zombie) aigw-worker processes, read from /proc;
    with base, only those of the stack whose temp dir that is (its path is
    in their environment through AIGW_LOG_FILE)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            if os.path.basename(argv0) != b"aigw-worker" or not pid_alive(int(entry)):
                continue
            if base is not None:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if base.encode() not in f.read():
                        continue
        except OSError:
            continue
        pids.append(int(entry))
    return pids


class _Workers:
    """Stops the aigw-worker processes a stack's aigw-fcgi started."""

    def __init__(self, base):
        self.base = base

    def __repr__(self):
        return f"<aigw-worker processes of {self.base}>"

    def stop(self):
        _untrack(self)
        pids = live_workers(self.base)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.05)
        for pid in pids:
            if pid_alive(pid):
                kill_pid(pid, signal.SIGKILL, 2)


class _TempDir:
    """Removes a stack's temp dir (last, at exit) unless AIGW_KEEP_TMP is set."""

    def __init__(self, path):
        self.path = path

    def __repr__(self):
        return f"<temp dir {self.path}>"

    def stop(self):
        _untrack(self)
        if os.environ.get("AIGW_KEEP_TMP"):
            sys.stderr.write(f"stack: kept {self.path}\n")
        else:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------- the stack

class Stack:
    """PostgreSQL + mock providers + migrated schema + aigw-fcgi + nginx,
    ready to serve at url(). extra_env overrides aigw's environment;
    nginx_conn_limit keeps nginx's shipped limit on requests in progress
    per address."""

    def __init__(self, extra_env=None, threads=8, nginx_workers=1, mock=True, prefix="aigw-it-",
                 submit_rate=TEST_SUBMIT_RATE, nginx_server_extra="", durable=False,
                 nginx_conn_limit=False, wrap_db=None):
        """wrap_db(stack) may start something between aigw and PostgreSQL
        (a proxy, a pooler: an object with stop(), kept in db_parts) and
        returns the environment that points aigw at it."""
        self.base = make_base(prefix)
        self._tmp = _track(_TempDir(self.base))
        self.pg = self.mock = self.fcgi = self.nginx = None
        self.extras = []  # more servers (lighttpd) whose logs to show
        self.db_parts = []  # what wrap_db started, stopped before PostgreSQL
        self._workers = _track(_Workers(self.base))
        try:
            self.pg = Postgres(self.base, durable=durable)
            if mock:
                self.mock = MockProviders(self.base)
            if wrap_db is not None:
                extra_env = dict(extra_env or {}, **wrap_db(self))
            self.env = aigw_env(self.base, self.pg, self.mock, extra_env)
            migrate(self.env)
            self.fcgi = Fcgi(self.base, self.env, threads)
            self.nginx = Nginx(self.base, self.fcgi.port, nginx_workers, submit_rate,
                               nginx_server_extra, conn_limit=nginx_conn_limit)
        except BaseException:
            sys.stderr.write(self.logs())
            self.close()
            raise

    def url(self, path=""):
        return self.nginx.url(path)

    def lighttpd(self):
        """A lighttpd running this stack's aigw-fcgi as a CGI program."""
        server = Lighttpd(self.base, self.env)
        self.extras.append(server)
        return server

    def count_rows(self, table="chat_results"):
        return int(self.pg.psql(f"SELECT count(*) FROM {table}"))

    def workers(self):
        return live_workers(self.base)

    def logs(self, n=40):
        """The last lines of every log of the stack, to show on failure."""
        parts = [("aigw log", os.path.join(self.base, "aigw.log"))]
        if self.fcgi:
            parts.append(("aigw-fcgi stderr", self.fcgi.errlog))
        if self.nginx:
            parts.append(("nginx error.log", self.nginx.error_log))
        for extra in self.extras:
            parts.append((f"{type(extra).__name__} error.log", extra.error_log))
        if self.mock:
            parts.append(("mock providers stderr", self.mock.err))
        for part in self.db_parts:
            if getattr(part, "log", None):
                parts.append((repr(part), part.log))
        if self.pg:
            parts.append(("postgresql log", self.pg.log))
        return "".join(f"\n---- {name} ({path}), last {n} lines\n{tail(path, n)}"
                       for name, path in parts)

    def close(self):
        """Stop everything by PID (web servers first) and remove the temp dir."""
        for part in reversed(self.extras):
            part.stop()
        for part in (self.nginx, self.fcgi, self._workers, self.mock):
            if part is not None:
                part.stop()
        for part in reversed(self.db_parts):
            part.stop()
        if self.pg is not None:
            self.pg.close()
        # Everything of aigw has exited normally by now, so leak checkers
        # have had their say: keep what sanitizers reported before the
        # temp dir goes.
        self.sanitizer_report = self._sanitizer_reports()
        self._tmp.stop()

    def _sanitizer_reports(self):
        marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                 "SUMMARY: UndefinedBehaviorSanitizer", "WARNING: ThreadSanitizer")
        paths = [os.path.join(self.base, "aigw.log")]
        if self.fcgi:
            paths.append(self.fcgi.errlog)
        paths += [extra.error_log for extra in self.extras]  # CGI stderr
        found = []
        for path in paths:
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if any(m in text for m in marks):
                found.append(f"---- {path}\n{text[-6000:]}")
        return "\n".join(found)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
