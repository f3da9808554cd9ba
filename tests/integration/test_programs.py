"""The programs people read: --help, --version and --opt=value for every
program and subcommand, the version in /api/health and in the metric
aigw_build_info, and the manual pages rendered by man(1) without a warning."""

import os
import re
import signal
import socket
import subprocess

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, run_aigw


def configured_version():
    """The version of configure.ac's AC_INIT: what every program reports."""
    with open(os.path.join(stk.SRCDIR, "configure.ac"), encoding="utf-8") as f:
        m = re.search(r"^AC_INIT\(\[aigw\], \[([^\]]+)\]", f.read(), re.M)
    assert m, "no AC_INIT version in configure.ac"
    return m.group(1)


VERSION = configured_version()

# Each command line's words after the program, and the options its --help
# names (each must be in its manual page too).
COMMANDS = [
    ("aigw", []),
    ("aigw", ["migrate"]),
    ("aigw", ["keys"]),
    ("aigw", ["keys", "create"]),
    ("aigw", ["keys", "list"]),
    ("aigw", ["keys", "revoke"]),
    ("aigw", ["reap"]),
    ("aigw", ["prompts"]),
    ("aigw", ["prompts", "add"]),
    ("aigw", ["prompts", "list"]),
    ("aigw", ["prompts", "deactivate"]),
    ("aigw", ["schedule"]),
    ("aigw", ["analysis"]),
    ("aigw", ["status"]),
    ("aigw", ["config"]),
    ("aigw-fcgi", []),
    ("aigw-worker", []),
]
IDS = [" ".join([p] + w) for p, w in COMMANDS]
PAGES = ["aigw.8", "aigw-fcgi.8", "aigw-worker.8", "aigw.env.5"]


def run(program, args):
    """The program with the defaults of every setting (no settings file, no
    database): --help and --version need neither."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "AIGW_ENV_FILE": "/nonexistent/aigw.env", "LC_ALL": "C.UTF-8"}
    return subprocess.run([stk.program(program), *args], env=env, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("program, words", COMMANDS, ids=IDS)
def test_help_goes_to_stdout_with_exit_0(program, words):
    for flag in ("--help", "-h"):
        r = run(program, words + [flag])
        assert r.returncode == 0, (flag, r.stderr)
        assert r.stdout.startswith("usage: "), r.stdout
        assert r.stderr == "", r.stderr


@pytest.mark.parametrize("program, words", COMMANDS, ids=IDS)
def test_version_names_the_program_and_the_configured_version(program, words):
    for flag in ("--version", "-V"):
        r = run(program, words + [flag])
        assert r.returncode == 0, (flag, r.stderr)
        assert r.stdout.splitlines()[0] == f"{program} (aigw) {VERSION}", r.stdout
        assert r.stderr == ""


@pytest.mark.parametrize("program, words", COMMANDS, ids=IDS)
def test_an_unknown_option_prints_the_usage_on_stderr_with_exit_2(program, words):
    r = run(program, words + ["--no-such-option"])
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    assert "unknown option --no-such-option" in r.stderr, r.stderr
    assert "usage: " in r.stderr, r.stderr


@pytest.mark.parametrize("program, words, opt", [
    ("aigw", ["keys", "create"], "--user"),
    ("aigw", ["keys", "create"], "--webhook-url"),
    ("aigw", ["prompts", "add"], "--project"),
    ("aigw", ["prompts", "add"], "--platforms"),
    ("aigw", ["prompts", "list"], "--project"),
    ("aigw-fcgi", [], "--listen"),
    ("aigw-fcgi", [], "--threads"),
    ("aigw-fcgi", [], "--socket-group"),
])
def test_an_option_without_its_value_is_named(program, words, opt):
    r = run(program, words + [opt])
    assert r.returncode == 2, r.stderr
    assert f"option {opt} needs a value" in r.stderr, r.stderr
    assert "usage: " in r.stderr


def test_no_command_is_a_usage_error():
    r = run("aigw", [])
    assert r.returncode == 2 and r.stdout == "" and "usage: aigw" in r.stderr


# ---------------------------------------------------------------- --opt=value

def test_subcommands_take_opt_equals_value(stack):
    key = run_aigw(stack, "keys", "create", "--user=eq-user", "--org=eq-org",
                   "--name=eq name").stdout.splitlines()[0]
    assert re.fullmatch(r"aigw_[0-9a-f]{16}_[0-9a-f]{64}", key)
    listing = run_aigw(stack, "keys", "list").stdout
    assert "eq-user" in listing and "eq-org" in listing and "eq name" in listing
    # The same with the values apart, and the operand before the options.
    prompt = run_aigw(stack, "prompts", "add", "tracked with equals", "--project=eq-proj",
                      "--platforms=openai", "--location=de").stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", prompt), prompt
    assert "tracked with equals" in run_aigw(stack, "prompts", "list",
                                             "--project=eq-proj").stdout
    assert "tracked with equals" not in run_aigw(stack, "prompts", "list",
                                                 "--project", "other").stdout
    r = run_aigw(stack, "keys", "create", "--user=", check=False)
    assert r.returncode == 2 and "--user is required" in r.stderr, r.stderr


def test_aigw_fcgi_takes_opt_equals_value(stack):
    """--listen=ADDR --threads=N: it listens there, and stops on SIGTERM."""
    port = stk.free_port()
    proc = subprocess.Popen([stk.program("aigw-fcgi"), f"--listen=127.0.0.1:{port}",
                             "--threads=2"], env=stack.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def listening():
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        stk.wait_for(listening, 20, f"aigw-fcgi listening on {port}", proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err


# ---------------------------------------------------------------- the version served

def test_health_reports_the_version(stack):
    r = requests.get(stack.url("/api/health"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == VERSION


def test_build_info_metric_carries_the_version(stack):
    r = requests.get(stack.url("/api/metrics"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert "# TYPE aigw_build_info gauge\n" in r.text
    lines = [line for line in r.text.splitlines() if line.startswith("aigw_build_info")]
    assert lines == [f'aigw_build_info{{version="{VERSION}"}} 1'], lines


# ---------------------------------------------------------------- manual pages

@pytest.mark.parametrize("page", PAGES)
def test_man_renders_each_page_without_warnings(page):
    path = os.path.join(stk.BUILDDIR, "man", page)
    assert os.path.exists(path), f"{path} not built (make builds it from man/{page}.scd)"
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    name = page.rsplit(".", 1)[0]
    assert re.search(rf"^NAME\n\s+{re.escape(name)} - ", r.stdout, re.M), r.stdout[:500]
    assert VERSION not in r.stderr


@pytest.mark.parametrize("program, words", COMMANDS, ids=IDS)
def test_every_option_of_a_usage_is_in_its_manual_page(program, words):
    with open(os.path.join(stk.SRCDIR, "man", f"{program}.8.scd"), encoding="utf-8") as f:
        page = f.read()
    usage = run(program, words + ["--help"]).stdout
    for opt in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", usage)):
        assert f"*{opt}*" in page, f"{opt} of {program} {' '.join(words)} not in {program}(8)"
