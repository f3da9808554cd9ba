"""Fixtures of the browser tests: the integration tests' stack (PostgreSQL,
mock providers, aigw-fcgi, nginx serving nginx/html), started once for the
module, with the job types of browser_harness.slowed_jobtypes: the shipped
ones, except that competitor_analysis's models carry a mock-provider
delay, so that a page can be seen between its steps (its prompts end with
fixed text, so the delay cannot ride in its input as it can for the other
types)."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from browser_harness import require_tools, slowed_jobtypes, stk  # noqa: E402


@pytest.fixture(scope="module")
def stack():
    require_tools()
    jobtypes = stk.make_base("aigw-browser-jobtypes-")
    try:
        # https://front.test: client_module.mjs's other-origin front end.
        s = stk.Stack(extra_env={"AIGW_JOBTYPES_DIR": slowed_jobtypes(jobtypes),
                                 "AIGW_CORS_ORIGINS": "https://front.test"},
                      prefix="aigw-browser-")
        try:
            yield s
        finally:
            s.close()
    finally:
        shutil.rmtree(jobtypes, ignore_errors=True)
    if getattr(s, "sanitizer_report", ""):
        pytest.fail("sanitizer reports in aigw's logs:\n" + s.sanitizer_report, pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    s = (getattr(item, "funcargs", {}) or {}).get("stack")
    if isinstance(s, stk.Stack):
        report.sections.append((f"aigw stack logs ({s.base})", s.logs()))
