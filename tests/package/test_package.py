"""The Debian package on a clean Debian 12: installed with apt into a
minbase chroot that debootstrap makes here, configured as
docs/operations.md ("Install from the package") says, serving a chat
through the installed nginx snippet and example site, then removed and
purged.

Needs root, debootstrap and a reachable Debian mirror (AIGW_DEBIAN_MIRROR,
default http://deb.debian.org/debian); skipped, saying which is missing,
otherwise. The .deb is AIGW_PACKAGE_DEB if set, else script/package
builds one. The packages debootstrap downloads are kept as a tarball in
AIGW_PACKAGE_CACHE (default /var/cache/aigw-tests) so that a second run
downloads nothing for the base system; the chroot itself is made anew
each run. Takes a few minutes.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package/test_package.py
"""

import glob
import os
import re
import shutil
import socket
import stat
import subprocess
import time
import urllib.request

import pytest
import requests

SRCDIR = os.environ.get("AIGW_SRCDIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
MIRROR = os.environ.get("AIGW_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
CACHE = os.environ.get("AIGW_PACKAGE_CACHE", "/var/cache/aigw-tests")
UNITS = ["aigw-fcgi.service", "aigw-fcgi.socket", "aigw-reap.service", "aigw-reap.timer",
         "aigw-schedule.service", "aigw-schedule.timer", "aigw-worker.service"]


def why_not():
    if os.geteuid() != 0:
        return "needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None:
        return "needs debootstrap (apt-get install debootstrap)"
    try:
        urllib.request.urlopen(f"{MIRROR}/dists/{SUITE}/Release", timeout=10).close()
    except OSError as e:
        return f"the Debian mirror {MIRROR} is not reachable: {e}"
    return None


REASON = why_not()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def run(args, timeout=900, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, done, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = done()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


class Chroot:
    """A minbase Debian 12 made by debootstrap, with /proc and /dev bound
    for PostgreSQL and nginx, and no service started by package scripts
    (policy-rc.d)."""

    def __init__(self, path):
        self.path = path
        self.mounts = []

    def make(self):
        os.makedirs(CACHE, exist_ok=True)
        tarball = os.path.join(CACHE, f"debootstrap-{SUITE}-minbase.tar")
        if not os.path.exists(tarball):
            run(["debootstrap", "--variant=minbase", f"--make-tarball={tarball}.tmp", SUITE,
                 self.path + ".dl", MIRROR], timeout=1800)
            os.rename(tarball + ".tmp", tarball)
            shutil.rmtree(self.path + ".dl", ignore_errors=True)
        run(["debootstrap", "--variant=minbase", f"--unpack-tarball={tarball}", SUITE,
             self.path, MIRROR], timeout=1800)
        with open(self.file("usr/sbin/policy-rc.d"), "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(self.file("usr/sbin/policy-rc.d"), 0o755)
        shutil.copy("/etc/resolv.conf", self.file("etc/resolv.conf"))
        run(["mount", "-t", "proc", "proc", self.file("proc")])
        self.mounts.append(self.file("proc"))
        # debootstrap makes /dev/null and the like where it may; else the
        # host's /dev, bound as a slave so that nothing done here reaches it.
        null = self.file("dev/null")
        if not (os.path.exists(null) and stat.S_ISCHR(os.stat(null).st_mode)):
            run(["mount", "--bind", "/dev", self.file("dev")])
            self.mounts.append(self.file("dev"))
            run(["mount", "--make-rslave", self.file("dev")])

    def file(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def run(self, *args, **kw):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "DEBIAN_FRONTEND": "noninteractive"}
        return run(["chroot", self.path, *args], env=env, **kw)

    def apt(self, *args, **kw):
        return self.run("apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", *args, **kw)

    def destroy(self):
        for m in reversed(self.mounts):
            run(["umount", "-l", m], check=False)
        self.mounts = []
        # Never rm -rf through a mount still in place.
        with open("/proc/mounts") as f:
            assert not any(f" {self.path}/" in line for line in f), "a mount is left in the chroot"
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    given = os.environ.get("AIGW_PACKAGE_DEB")
    if given:
        return os.path.abspath(given)
    out = tmp_path_factory.mktemp("dist")
    r = run([os.path.join(SRCDIR, "script/package"), str(out)], timeout=3600)
    path = r.stdout.strip().splitlines()[-1]
    assert re.search(r"/aigw_[0-9][^/]*_[a-z0-9]+\.deb$", path), r.stdout
    return path


@pytest.fixture
def root(tmp_path):
    c = Chroot(str(tmp_path / "root"))
    try:
        c.make()
        yield c
    finally:
        c.destroy()


def deb_contents(deb):
    return run(["dpkg-deb", "-c", deb]).stdout


def test_the_package_holds_what_the_issue_lists(deb):
    files = deb_contents(deb)
    for path in ["./usr/bin/aigw", "./usr/bin/aigw-fcgi", "./usr/bin/aigw-worker",
                 "./usr/share/aigw/migrations/0001_chat_results.sql",
                 "./usr/share/aigw/nginx/html/index.html", "./usr/share/aigw/nginx/html/aigw.js",
                 "./etc/aigw/jobtypes.d/", "./etc/aigw/aigw.env",
                 "./etc/nginx/snippets/aigw.conf", "./etc/nginx/snippets/aigw-http.conf",
                 "./etc/nginx/snippets/aigw-upstream.conf", "./etc/nginx/sites-available/aigw",
                 "./usr/lib/sysusers.d/aigw.conf", "./usr/lib/tmpfiles.d/aigw.conf",
                 "./usr/share/doc/aigw/copyright"] + [f"./lib/systemd/system/{u}" for u in UNITS]:
        assert re.search(r" " + re.escape(path) + r"$", files, re.M), f"{path} not in the package"
    assert re.search(r"^-rw-r----- root/root .* \./etc/aigw/aigw\.env$", files, re.M), files
    # The manual pages, where the source has them (man/).
    for page in glob.glob(f"{SRCDIR}/man/*.[0-9].scd"):
        name = os.path.basename(page)[:-len(".scd")]
        path = f"./usr/share/man/man{name[-1]}/{name}.gz"
        assert re.search(r" " + re.escape(path) + r"$", files, re.M), f"{path} not in the package"
    migrations = sorted(os.path.basename(p) for p in glob.glob(f"{SRCDIR}/migrations/*.sql"))
    assert sorted(re.findall(r"/usr/share/aigw/migrations/(\S+\.sql)$", files, re.M)) == migrations
    conffiles = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    assert "/etc/aigw/aigw.env" in conffiles and "/etc/nginx/snippets/aigw.conf" in conffiles
    # The snippet serves the API only; the example site mounts the pages.
    with open(f"{SRCDIR}/nginx/aigw.conf") as f:
        assert not re.search(r"^\s*location\s+/\s*\{", f.read(), re.M)


def test_install_migrate_serve_a_chat_through_nginx_and_remove(deb, root):
    shutil.copy(deb, root.file("tmp/aigw.deb"))
    root.apt("update")
    r = root.apt("install", "--no-install-recommends", "/tmp/aigw.deb", "nginx-light",
                 "postgresql")
    # No database yet: the install succeeds and says what to do.
    assert "no database set in /etc/aigw/aigw.env yet: skipping aigw migrate" in r.stdout, r.stdout
    assert root.run("dpkg-query", "-W", "-f=${Status}", "aigw").stdout == "install ok installed"

    # What debhelper's scripts made: the user, /run/aigw, the env file's owner.
    assert re.search(r"^aigw:", open(root.file("etc/passwd")).read(), re.M)
    run_aigw = os.stat(root.file("run/aigw"))
    assert stat.S_ISDIR(run_aigw.st_mode) and stat.S_IMODE(run_aigw.st_mode) == 0o750
    env_file = root.file("etc/aigw/aigw.env")
    st = os.stat(env_file)
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 0
    assert root.run("stat", "-c", "%G", "/etc/aigw/aigw.env").stdout.strip() == "aigw"
    # The installed units name the installed programs and parse.
    r = root.run("systemd-analyze", "verify", *[f"/lib/systemd/system/{u}" for u in UNITS],
                 check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    # Every setting the installed aigw knows is in the env file, commented out.
    names = [line.split("=", 1)[0] for line in root.run(
        "env", "AIGW_ENV_FILE=/dev/null", "aigw", "config").stdout.splitlines()]
    assert len(names) > 50
    with open(env_file) as f:
        env_text = f.read()
    for name in names:
        assert re.search(rf"^#{name}=", env_text, re.M), f"{name} missing from aigw.env"
    assert not re.search(r"^[A-Z]", env_text, re.M), "aigw.env sets something by default"

    # PostgreSQL inside the root, on its unix socket only (the host's own
    # may be on 5432), and the database as operations.md says.
    version = sorted(os.listdir(root.file("etc/postgresql")))[-1]
    pg_port = free_port()
    with open(root.file(f"etc/postgresql/{version}/main/postgresql.conf"), "a") as f:
        # mmap: no /dev/shm needed in the root.
        f.write(f"\nport = {pg_port}\nlisten_addresses = ''\ndynamic_shared_memory_type = mmap\n")
    root.run("pg_ctlcluster", version, "main", "start", timeout=120)
    procs = []
    nginx_started = False
    try:
        with open(env_file, "a") as f:
            f.write(f"DATABASE_URL=postgresql:///aigw?host=/var/run/postgresql&port={pg_port}\n"
                    "AIGW_MOCK=on\nAIGW_MOCK_DELAY_MS=50\nAIGW_WORKER_IDLE_S=2\n")
        # A database set but not made yet: the migration fails, says how to
        # run it later, and the package is still configured.
        r = root.apt("install", "--reinstall", "/tmp/aigw.deb")
        out = r.stdout + r.stderr
        assert "aigw: aigw migrate failed (above); the package is installed" in out, out
        assert root.run("dpkg-query", "-W", "-f=${Status}", "aigw").stdout == "install ok installed"

        root.run("runuser", "-u", "postgres", "--", "createuser", "-p", str(pg_port), "aigw")
        root.run("runuser", "-u", "postgres", "--", "createdb", "-p", str(pg_port), "-O", "aigw",
                 "aigw")

        # An upgrade (a reinstall is one): postinst migrates and says what
        # it did; the second time there is nothing left to apply.
        shipped = len(glob.glob(root.file("usr/share/aigw/migrations/*.sql")))
        for applied in (shipped, 0):
            r = root.apt("install", "--reinstall", "/tmp/aigw.deb")
            out = r.stdout + r.stderr
            assert "aigw: aigw migrate (the database in /etc/aigw/aigw.env)" in out, out
            assert re.search(rf"^{applied} migrations? applied$", out, re.M), out
            assert "aigw: aigw migrate: done" in out, out
        # And by hand, as operations.md says, with the package's migrations.
        root.run("runuser", "-u", "aigw", "--", "aigw", "migrate")
        tables = root.run("runuser", "-u", "postgres", "--", "psql", "-p", str(pg_port), "-At",
                          "-d", "aigw", "-c", "select count(*) from pg_tables "
                          "where schemaname = 'public'").stdout.strip()
        assert int(tables) >= 5

        # aigw-fcgi as the aigw user on the socket the socket unit would
        # make (nginx's group on it); the root's nginx with the example
        # site, on a free port.
        fcgi = subprocess.Popen(
            [shutil.which("chroot") or "/usr/sbin/chroot", root.path, "setpriv", "--reuid=aigw", "--regid=aigw",
             # In nginx's group, to give it the socket (operations.md).
             "--groups=www-data",
             "/usr/bin/aigw-fcgi", "--listen", "/run/aigw/fcgi.sock", "--socket-group",
             "www-data"], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(root.file("tmp/fcgi.err"), "w"))
        procs.append(fcgi)

        def fcgi_listening():
            if fcgi.poll() is not None:
                with open(root.file("tmp/fcgi.err")) as f:
                    raise AssertionError(f"aigw-fcgi exited {fcgi.returncode}: {f.read()[-3000:]}")
            return os.path.exists(root.file("run/aigw/fcgi.sock"))
        wait_until("aigw-fcgi's socket", fcgi_listening, 15)
        port = free_port()
        with open(root.file("etc/nginx/sites-available/aigw")) as f:
            site = f.read()
        site, n = re.subn(r"^\s*listen 80;\n\s*listen \[::\]:80;\n", f"    listen 127.0.0.1:{port};\n",
                          site, flags=re.M)
        assert n == 1, site
        os.remove(root.file("etc/nginx/sites-enabled/default"))
        with open(root.file("etc/nginx/sites-enabled/aigw"), "w") as f:
            f.write(site)
        root.run("nginx", "-t")
        root.run("nginx")
        nginx_started = True
        base = f"http://127.0.0.1:{port}"
        wait_until("nginx", lambda: requests.get(base + "/api/health", timeout=5).ok, 15)
        health = requests.get(base + "/api/health", timeout=5).json()
        assert health["database"] == "ok", health

        page = requests.get(base + "/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert requests.get(base + "/aigw.js", timeout=5).status_code == 200

        sub = requests.post(base + "/api/ai/chat", timeout=10, json={
            "message": "Say hello", "models": {"openai": "gpt-4o", "anthropic": "claude"}})
        assert sub.status_code == 202, sub.text
        chat_id = sub.json()["chatId"]

        def done():
            s = requests.get(base + "/api/ai/chat/status", params={"id": chat_id},
                             timeout=10).json()
            return s if s["status"] in ("completed", "failed", "cancelled") else None
        final = wait_until("the chat", done, 60)
        assert final["status"] == "completed", final
        assert final["results"]["openai"]["ok"] and final["results"]["openai"]["mock"]
        assert final["results"]["anthropic"]["text"]
    finally:
        if nginx_started:
            root.run("nginx", "-s", "stop", check=False)
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        # The worker aigw-fcgi spawned exits after AIGW_WORKER_IDLE_S (2 s).
        worker = root.file("usr/bin/aigw-worker")

        def workers_gone():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.readlink(f"/proc/{pid}/exe") == worker:
                        return False
                except OSError:
                    pass
            return True
        wait_until("the spawned worker's idle exit", workers_gone, 30)
        root.run("pg_ctlcluster", version, "main", "stop", timeout=120, check=False)

    # Removed: the programs go, the conffiles stay; purged: they go too.
    root.apt("remove", "aigw")
    assert not os.path.exists(root.file("usr/bin/aigw"))
    assert not os.path.exists(root.file("lib/systemd/system/aigw-fcgi.service"))
    assert os.path.exists(root.file("etc/aigw/aigw.env"))
    root.apt("purge", "aigw")
    for gone in ["etc/aigw/aigw.env", "etc/nginx/snippets/aigw.conf",
                 "etc/nginx/sites-available/aigw", "usr/share/aigw"]:
        assert not os.path.exists(root.file(gone)), gone
    assert root.run("dpkg-query", "-W", "-f=${Status}", "aigw", check=False).stdout \
        in ("", "unknown ok not-installed")
    assert root.run("dpkg", "--audit").stdout == ""
