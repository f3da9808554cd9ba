"""The official openai client library for Node.js (tests/sdk, pinned 6.x,
installed by script/bootstrap --test) against aigw's /v1/ API through nginx:
background responses polled to the end for each provider through the mock
providers, a stream to its end, a stream cut after 10 events and resumed
with starting_after, cancel, chat completions with and without stream,
the SDK's error classes, and the model list (docs/openai.md).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import requests

from conftest import HTTP_TIMEOUT, bearer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mockproviders"))
from mockproviders import answer_text  # noqa: E402

SDK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk")
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "2", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_SSE_HEARTBEAT_S": "1"}


def run_case(stack, key, name, *args, timeout=60):
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "openai")):
        pytest.skip("node or tests/sdk's packages are missing (script/bootstrap --test installs them)")
    r = subprocess.run([node, os.path.join(SDK_DIR, "cases.mjs"), name, stack.url("/v1"), key,
                        *args], capture_output=True, text=True, timeout=timeout, cwd=SDK_DIR)
    lines = r.stdout.strip().splitlines()
    assert lines, (r.returncode, r.stderr)
    return json.loads(lines[-1])


@pytest.fixture(scope="module")
def key(stack):
    return bearer(stack, "alice", "acme")["Authorization"][len("Bearer "):]


@pytest.mark.parametrize("model,provider,base", [
    ("gpt-4o", "openai", "gpt-4o"),
    ("anthropic/claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"),
    ("gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
    ("perplexity/sonar", "perplexity", "sonar"),
])
def test_background_polled_to_the_end(stack, key, model, provider, base):
    out = run_case(stack, key, "background", model)
    assert out.get("thrown") is None, out
    assert out["created"] == "queued" and out["status"] == "completed", out
    assert out["output_text"] == f"[{provider}/{base}] Say hello"
    assert out["model"] == model
    u = out["usage"]
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"] > 0


def test_stream_to_the_end(stack, key):
    out = run_case(stack, key, "stream", "gemini/gemini-2.5-flash~words=30~tps=60")
    assert out.get("thrown") is None, out
    assert out["types"][:2] == ["response.created", "response.in_progress"]
    assert out["types"][-1] == "response.completed"
    assert out["seqs"] == list(range(len(out["seqs"])))
    want = answer_text("gemini", "gemini-2.5-flash", "Tell", False, 30)
    assert out["text"] == want and out["final"] == want


def test_stream_cut_after_10_events_then_resumed(stack, key):
    out = run_case(stack, key, "resume", "gpt-4o~words=60~tps=30")
    assert out.get("thrown") is None, out
    assert out["seqs"] == list(range(len(out["seqs"]))) and len(out["seqs"]) > 10
    assert out["last"] == "response.completed"
    assert out["text"] == answer_text("openai", "gpt-4o", "Resume", False, 60)


def test_cancel(stack, key):
    out = run_case(stack, key, "cancel", "gpt-4o~hang")
    assert out == {"status": "cancelled", "again": "cancelled"}, out


def test_chat_completion(stack, key):
    out = run_case(stack, key, "chat", "perplexity/sonar")
    assert out.get("thrown") is None, out
    assert out["object"] == "chat.completion" and out["id"].startswith("chatcmpl-")
    assert out["content"] == "[perplexity/sonar] Hi" and out["finish"] == "stop"
    assert out["usage"]["total_tokens"] > 0


def test_chat_completion_stream(stack, key):
    out = run_case(stack, key, "chat_stream", "anthropic/claude-3-5-haiku-latest~words=20~tps=60")
    assert out.get("thrown") is None, out
    assert out["text"] == answer_text("anthropic", "claude-3-5-haiku-latest", "Count", False, 20)
    assert out["finish"] == "stop" and out["usage"]["total_tokens"] > 0 and out["chunks"] > 3


def test_authentication_error(stack):
    out = run_case(stack, "aigw_not_a_key", "models")
    assert out["error"] == "AuthenticationError" and out["status"] == 401, out


def test_not_found_error(stack, key):
    out = run_case(stack, key, "retrieve_missing")
    assert out["error"] == "NotFoundError" and out["status"] == 404, out


def test_bad_request_error(stack, key):
    out = run_case(stack, key, "create_error", "nosuch/model")
    assert out["error"] == "BadRequestError" and out["status"] == 400, out
    assert out["param"] == "model" and out["code"] == "unknown_provider", out


def test_rate_limit_error(stack):
    carol = bearer(stack, "carol", "acme")
    held = []
    for _ in range(2):
        r = requests.post(stack.url("/v1/responses"), headers=carol, timeout=HTTP_TIMEOUT,
                          json={"model": "gpt-4o~hang", "input": "hold", "background": True})
        assert r.status_code == 200, r.text
        held.append(r.json()["id"])
    out = run_case(stack, carol["Authorization"][len("Bearer "):], "create_error", "gpt-4o")
    assert out["error"] == "RateLimitError" and out["status"] == 429, out
    for rid in held:
        requests.post(stack.url(f"/v1/responses/{rid}/cancel"), headers=carol, timeout=HTTP_TIMEOUT)


def test_models_list(stack, key):
    out = run_case(stack, key, "models")
    ids = {m["id"] for m in out["ids"]}
    assert {"openai/gpt-4o", "anthropic/claude-3-5-haiku", "gemini/gemini-2.5-flash",
            "perplexity/sonar"} <= ids, out
    assert all(m["id"].startswith(m["owned_by"] + "/") for m in out["ids"])
