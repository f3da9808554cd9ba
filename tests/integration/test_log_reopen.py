"""SIGHUP and the log: a worker reopens AIGW_LOG_FILE after logrotate moved
it, aigw-fcgi survives the signal; under journald (JOURNAL_STREAM names
stderr) every line carries its priority; a bad prices.json stops both
programs with one line."""

import json
import os
import signal
import subprocess
import time

import stack as stk
from conftest import poll, submit, wait_final

# The worker that wrote the first chat's lines must still be alive for the
# SIGHUP: no idling out in between.
EXTRA_ENV = {"AIGW_WORKER_IDLE_S": "60"}


def json_lines(path):
    with open(path, errors="strict") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_sighup_reopens_the_workers_log_and_spares_the_handler(stack):
    log = stack.env["AIGW_LOG_FILE"]
    first = submit(stack.url(), {"mock": "m"}, message="before the rotation").json()["chatId"]
    wait_final(stack.url(), first)
    workers = poll(lambda: stk.live_workers(stack.base), bool, 15, 0.1, "a live worker")
    os.rename(log, log + ".1")
    for pid in workers:
        os.kill(pid, signal.SIGHUP)
    os.kill(stack.fcgi.proc.pid, signal.SIGHUP)
    poll(lambda: os.path.exists(log), bool, 10, 0.05, "the log file made anew")
    second = submit(stack.url(), {"mock": "m"}, message="after the rotation").json()["chatId"]
    assert wait_final(stack.url(), second)["status"] == "completed"
    # The handler is alive and said so; the new file has the worker's
    # reopen and the second chat's lines, the old one only the first's.
    assert stack.fcgi.proc.poll() is None
    poll(lambda: [e for e in json_lines(log) if e.get("id") == second], bool, 10, 0.1,
         "the second chat's lines in the new file")
    new, old = json_lines(log), json_lines(log + ".1")
    assert any(e["msg"] == "SIGHUP: log file reopened" and e["program"] == "aigw-worker"
               for e in new), new
    assert any(e.get("id") == first for e in old)
    assert not any(e.get("id") == second for e in old)
    assert not any(e.get("id") == first for e in new)
    poll(lambda: [e for e in json_lines(stack.fcgi.errlog)
                  if e["msg"] == "SIGHUP: logging to stderr, nothing to reopen"], bool, 10, 0.1,
         "aigw-fcgi's line about the SIGHUP")


def test_journald_priorities_when_stderr_is_the_journal_stream(tmp_path):
    """JOURNAL_STREAM names the stderr a program got: its lines start with
    <3>..<7>. The stream here is a file, which is what the check looks at
    (the device and inode of descriptor 2)."""
    err = tmp_path / "journal.err"
    with open(err, "w") as f:
        st = os.fstat(f.fileno())
        env = {"PATH": "/usr/bin:/bin", "AIGW_ENV_FILE": str(tmp_path / "none.env"),
               "DATABASE_URL": "postgresql://127.0.0.1:1/none", "AIGW_DB_TIMEOUT_S": "1",
               "AIGW_JOBTYPES_DIR": str(tmp_path / "none"),
               "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        p = subprocess.Popen([stk.program("aigw-worker")], env=env, stdout=subprocess.DEVNULL,
                             stderr=f)
        try:
            poll(lambda: err.read_text().count("\n") >= 2, bool, 15, 0.1, "log lines")
        finally:
            stk.stop_process(p)
    lines = [line for line in err.read_text().splitlines() if line]
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    for line in lines:
        entry = json.loads(line[3:])
        assert line[:3] == {"error": "<3>", "warn": "<4>", "info": "<6>",
                            "debug": "<7>"}[entry["level"]], line
    # Another stream (or none): plain objects.
    plain = tmp_path / "plain.err"
    with open(plain, "w") as f:
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"  # not this file
        p = subprocess.Popen([stk.program("aigw-worker")], env=env, stdout=subprocess.DEVNULL,
                             stderr=f)
        try:
            poll(lambda: plain.read_text().count("\n") >= 2, bool, 15, 0.1, "log lines")
        finally:
            stk.stop_process(p)
    assert all(line.startswith("{") for line in plain.read_text().splitlines() if line)


def test_a_bad_prices_file_stops_the_programs_with_one_line(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text('{"models": [{"provider": "openai", "model": "gpt-4o",'
                   ' "input": "cheap", "output": 10}]}\n')
    env = {"PATH": "/usr/bin:/bin", "AIGW_ENV_FILE": str(tmp_path / "none.env"),
           "AIGW_PRICES_FILE": str(bad)}
    for program, argv in (("aigw-worker", []), ("aigw-fcgi", ["--listen", "127.0.0.1:1"])):
        start = time.monotonic()
        r = subprocess.run([stk.program(program), *argv], env=env, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and time.monotonic() - start < 10, (program, r)
        assert r.stderr == (f"{program}: prices file {bad}: models[0].input: expected a number"
                            " from 0 to 10000\n"), r.stderr
