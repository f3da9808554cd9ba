"""Helpers of the browser tests (used by conftest.py and the test module):
the job types the browser stack runs, the check that the tools are
installed, and the runner of the node scenarios next to this file, which
drive Debian's chromium through playwright-core (`script/bootstrap --test`
installs both)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import stack as stk  # noqa: E402

NODE = shutil.which("node") or "/usr/bin/node"
CHROMIUM = os.environ.get("AIGW_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.environ.get("AIGW_BROWSER_ARTIFACTS") or os.path.join(HERE, "artifacts")
STEP_DELAY_MS = 3000  # per competitor_analysis step


def slowed_jobtypes(dest):
    """The shipped job types in dest, competitor_analysis's models delayed."""
    os.makedirs(dest, exist_ok=True)
    src = os.path.join(stk.SRCDIR, "jobtypes")
    for name in os.listdir(src):
        if name.endswith(".json"):
            shutil.copy(os.path.join(src, name), dest)
    path = os.path.join(dest, "competitor_analysis.json")
    with open(path) as f:
        t = json.load(f)
    for step in t["steps"]:
        step["model"] += f"~delay={STEP_DELAY_MS}"
    with open(path, "w") as f:
        json.dump(t, f, indent=1)
    return dest


def require_tools():
    if os.environ.get("AIGW_SKIP_BROWSER_TESTS"):
        pytest.skip("AIGW_SKIP_BROWSER_TESTS is set")
    missing = [p for p in ("aigw", "aigw-fcgi", "aigw-worker")
               if not os.access(stk.program(p), os.X_OK)]
    if missing:
        pytest.fail(f"not built: {', '.join(missing)} in {stk.BUILDDIR}/src (set AIGW_BUILDDIR)",
                    pytrace=False)
    if not os.access(NODE, os.X_OK):
        pytest.fail("node is not installed: run script/bootstrap --test", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed: run script/bootstrap --test", pytrace=False)
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        pytest.fail("tests/browser/node_modules is missing: run script/bootstrap --test "
                    "(npm ci in tests/browser)", pytrace=False)


class Scenario:
    """The outcome of `node <name>.mjs <base-url> <artifacts>`."""

    def __init__(self, name, proc, result):
        self.name = name
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        self.result = result

    @property
    def failed(self):
        if self.result is None:
            return [{"name": "scenario printed its result", "detail": self.stdout[-2000:]}]
        return [c for c in self.result["checks"] if not c["ok"]]

    def report(self):
        lines = [f"scenario {self.name}: exit {self.returncode}"]
        for c in self.failed:
            lines.append(f"  FAILED {c['name']}: {json.dumps(c.get('detail'))[:1500]}")
        if self.stderr.strip():
            lines.append("  stderr: " + self.stderr.strip()[-3000:])
        return "\n".join(lines)


def run_scenario(name, stack, timeout=240):
    """Runs tests/browser/<name>.mjs against the stack; returns a Scenario."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    proc = subprocess.run([NODE, os.path.join(HERE, name + ".mjs"), stack.url(), ARTIFACTS],
                          cwd=HERE, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    result = None
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                pass
            break
    return Scenario(name, proc, result)


def assert_scenario(sc):
    """Every check of the scenario passed and it exited 0."""
    assert sc.result is not None and sc.returncode == 0 and not sc.failed and sc.result["ok"], \
        sc.report()


