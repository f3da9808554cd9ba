"""aigw.js and markdown.js checked in node alone (no browser, no server):
tests/browser/client_units.mjs rebuilds streamed texts from recorded event
sequences, follows a faked event stream cut at every event, cancels a
streamed chat, and feeds Markdown attacks to the renderer."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from browser_harness import HERE, NODE


def test_client_units():
    if not os.access(NODE, os.X_OK):
        pytest.fail("node is not installed: run script/bootstrap --test", pytrace=False)
    proc = subprocess.run([NODE, os.path.join(HERE, "client_units.mjs")], cwd=HERE,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    assert lines, f"no result line; exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(lines[-1])
    failed = [c for c in result["checks"] if not c["ok"]]
    assert not failed and result["ok"] and proc.returncode == 0, \
        "\n".join(f"FAILED {c['name']}: {json.dumps(c['detail'])[:1500]}" for c in failed) + proc.stderr[-2000:]


def test_declarations_type_check():
    """aigw.d.ts checked by tsc (pinned in package.json) on types/usage.ts,
    which imports the package by name, as a bundler finds it through
    package.json's exports; its @ts-expect-error lines prove that the
    declarations refuse mistakes."""
    tsc = os.path.join(HERE, "node_modules", "typescript", "bin", "tsc")
    if not os.path.exists(tsc):
        pytest.fail("tests/browser/node_modules has no typescript: run script/bootstrap "
                    "(npm ci in tests/browser)", pytrace=False)
    html = os.path.join(os.path.dirname(os.path.dirname(HERE)), "nginx", "html")
    with tempfile.TemporaryDirectory(prefix="aigw-tsc-") as tmp:
        os.makedirs(os.path.join(tmp, "node_modules"))
        os.symlink(html, os.path.join(tmp, "node_modules", "aigw-client"))
        for name in ("usage.ts", "tsconfig.json"):
            shutil.copy(os.path.join(HERE, "types", name), tmp)
        proc = subprocess.run([NODE, tsc, "-p", tmp], cwd=tmp, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
