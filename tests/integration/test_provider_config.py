"""A provider without its key (AIGW_MOCK): with AIGW_MOCK off (the
default) its calls fail at once with what to set, a chat naming only such
providers is refused, and nothing is answered by the mock unless the mock
is named; with AIGW_MOCK on the mock stands in, and every worker says so.
/api/health and `aigw status` show how each provider is reached."""
import json
import os
import subprocess

import pytest
import requests

import stack as stk
from conftest import (SHIPPED_TYPES, assert_error, jobtypes_dir, poll, run_aigw, submit,
                      wait_final)

HTTP_TIMEOUT = 10
NOT_CONFIGURED = "openai is not configured: set OPENAI_API_KEY"


# The shipped job types and one fanning out to the mock and openai.
T_KEYS = {"name": "t_keys", "timeout_s": 60, "attempts": 3, "poll_interval_s": 1,
          "input": {"q": {"type": "string", "required": True, "max_length": 200}},
          "steps": [{"name": "all", "status_message": "Asking...", "progress": 100,
                     "fanout": [{"provider": "mock", "model": "m"},
                                {"provider": "openai", "model": "gpt-4o"}],
                     "prompt": "keys {{input.q}}"}]}


KEYS_TYPES = jobtypes_dir("aigw-jobtypes-", T_KEYS, shipped=SHIPPED_TYPES)


@pytest.fixture(scope="module")
def bare():
    """aigw without any provider key and AIGW_MOCK at its default (off)."""
    s = stk.Stack(mock=False, extra_env={"AIGW_MOCK": "", "AIGW_JOBTYPES_DIR": KEYS_TYPES})
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def mocked():
    """aigw without any provider key, AIGW_MOCK=on."""
    s = stk.Stack(mock=False, extra_env={"AIGW_MOCK": "on"})
    try:
        yield s
    finally:
        s.close()


def test_a_chat_naming_only_unconfigured_providers_is_refused(bare):
    for models in ({"openai": "gpt-4o"}, {"openai": "gpt-4o", "gemini": "g"},
                   {"openai-batch": "gpt-4o"}, {"snapshot": "gd_x"}):
        r = submit(bare.url(), models)
        assert_error(r, 400, "provider_not_configured", "models")
        first = next(iter(models))
        key = {"openai": "OPENAI", "gemini": "OPENAI", "openai-batch": "OPENAI",
               "snapshot": "SNAPSHOT"}[first]
        assert r.json()["error"] == f"{first} is not configured: set {key}_API_KEY", r.text
    assert bare.count_rows() == 0


def test_the_mock_named_explicitly_always_answers(bare):
    r = submit(bare.url(), {"mock": "m"})
    assert r.status_code == 202, r.text
    final = wait_final(bare.url(), r.json()["chatId"])
    assert final["status"] == "completed", final
    assert final["results"]["mock"]["ok"] is True
    assert "mock" not in final["results"]["mock"]  # not standing in for anyone


def test_an_unconfigured_provider_fails_at_once_beside_a_working_one(bare):
    r = submit(bare.url(), {"mock": "m", "openai": "gpt-4o", "anthropic-batch": "claude"})
    assert r.status_code == 202, r.text
    final = wait_final(bare.url(), r.json()["chatId"])
    assert final["status"] == "completed", final
    assert final["results"]["mock"]["ok"] is True
    openai = final["results"]["openai"]
    assert openai["ok"] is False and openai["error"] == NOT_CONFIGURED, openai
    assert openai["errorClass"] == "not_configured" and openai["attempts"] == 1, openai
    assert "mock" not in openai
    batch = final["results"]["anthropic-batch"]
    assert batch["ok"] is False and batch["attempts"] == 1, batch
    assert batch["error"] == "anthropic-batch is not configured: set ANTHROPIC_API_KEY"


def wait_job(s, job_id):
    return poll(lambda: requests.get(s.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT).json(),
                lambda j: j["status"] in ("completed", "failed", "cancelled"), 30, 0.1,
                "job final")


def test_a_job_with_a_step_reaching_no_provider_is_refused(bare):
    r = requests.post(bare.url("/api/jobs"), timeout=HTTP_TIMEOUT,
                      json={"type": "brief_generation", "input": {"topic": "keys"}})
    assert_error(r, 400, "provider_not_configured", "type")
    assert r.json()["error"] == "step draft: anthropic is not configured: set ANTHROPIC_API_KEY"


def test_a_job_step_call_to_an_unconfigured_provider_fails_at_once(bare):
    # The fan-out reaches the mock, so the job is taken; openai's call fails
    # at once in the step's results, not retried.
    r = requests.post(bare.url("/api/jobs"), timeout=HTTP_TIMEOUT,
                      json={"type": "t_keys", "input": {"q": "keys"}})
    assert r.status_code == 202, r.text
    job = wait_job(bare, r.json()["id"])
    assert job["status"] == "completed", job
    results = job["output"]["results"]
    assert results["mock"]["ok"] is True, results
    assert results["openai"]["ok"] is False and results["openai"]["error"] == NOT_CONFIGURED
    assert results["openai"]["attempts"] == 1, results


def test_health_and_status_list_the_providers(bare, mocked):
    for s, state in ((bare, "missing"), (mocked, "mock")):
        body = requests.get(s.url("/api/health"), timeout=HTTP_TIMEOUT).json()
        assert body["providers"]["mock"] == "configured", body
        for p in ("openai", "anthropic", "gemini", "perplexity", "openai-batch",
                  "anthropic-batch", "snapshot"):
            assert body["providers"][p] == state, body
        out = run_aigw(s, "status").stdout
        line = next(ln for ln in out.splitlines() if ln.startswith("providers:"))
        assert f"openai {state}," in line and "mock configured" in line, out
    # With a key, a provider is configured (the key is never shown).
    env = dict(bare.env, OPENAI_API_KEY="sk-status-test-key")
    r = subprocess.run([stk.program("aigw"), "status"], env=env, capture_output=True,
                       text=True, timeout=30, check=True)
    assert "openai configured," in r.stdout and "sk-status-test-key" not in r.stdout


def test_aigw_config_shows_the_settings_but_never_a_secret(bare):
    env = dict(bare.env, OPENAI_API_KEY="sk-config-test-key",
               GEMINI_BASE_URL="https://user:url-password@gemini.example",
               AIGW_LEASE_S="45")
    r = subprocess.run([stk.program("aigw"), "config"], env=env, capture_output=True,
                       text=True, timeout=30, check=True)
    shown = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert shown["OPENAI_API_KEY"] == "(set)" and shown["ANTHROPIC_API_KEY"] == "(not set)"
    assert shown["GEMINI_BASE_URL"] == "(set)" and shown["OPENAI_BASE_URL"] == "(default)"
    assert shown["DATABASE_URL"] == "(set)" and shown["AIGW_LEASE_S"] == "45"
    assert shown["AIGW_MOCK"] == "off", r.stdout
    assert "sk-config-test-key" not in r.stdout and "url-password" not in r.stdout
    assert bare.env["DATABASE_URL"] not in r.stdout
    bad = subprocess.run([stk.program("aigw"), "config", "extra"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "usage: aigw config" in bad.stderr


def test_with_aigw_mock_on_the_mock_stands_in_and_the_worker_says_so(mocked):
    r = submit(mocked.url(), {"openai": "gpt-4o", "snapshot": "gd_x"})
    assert r.status_code == 202, r.text
    final = wait_final(mocked.url(), r.json()["chatId"])
    for p in ("openai", "snapshot"):
        assert final["results"][p]["ok"] is True and final["results"][p]["mock"] is True, final

    def warnings():
        found = set()
        with open(os.path.join(mocked.base, "aigw.log"), encoding="utf-8") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("level") == "warn" and "the built-in mock answers" in e.get("msg", ""):
                    found.add(e["msg"].split(":")[0])
        return found

    seen = poll(warnings, lambda w: len(w) == 7, 10, 0.1, "a warning per mocked provider")
    assert seen == {"openai", "anthropic", "gemini", "perplexity", "openai-batch",
                    "anthropic-batch", "snapshot"}
