"""Logs: one JSON object per line from aigw-fcgi and the worker, with the
request's method, path, status and duration, and each provider call's
provider, status and duration; prompts only when AIGW_LOG_PROMPTS is on."""

import json
import uuid

import stack as stk
from conftest import submit, wait_final


def lines(path):
    with open(path, errors="strict") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_every_line_is_a_json_object_with_the_fields(stack):
    marker = uuid.uuid4().hex
    chat = submit(stack.url(), {"openai": "gpt-4o", "gemini": "gemini-2.5-flash~status=400"},
                  message=f"secret prompt {marker}")
    assert chat.status_code == 202
    chat_id = chat.json()["chatId"]
    wait_final(stack.url(), chat_id)
    request_id = chat.headers["X-Request-Id"]

    handler = lines(stack.fcgi.errlog)
    assert all({"time", "level", "program", "pid", "component", "msg"} <= set(e) for e in handler)
    sent = [e for e in handler if e.get("id") == request_id]
    assert len(sent) == 1, sent
    assert sent[0]["program"] == "aigw-fcgi" and sent[0]["method"] == "POST"
    assert sent[0]["path"] == "/api/ai/chat" and sent[0]["status"] == 202
    assert isinstance(sent[0]["duration_ms"], int) and sent[0]["duration_ms"] >= 0

    worker = lines(stack.env["AIGW_LOG_FILE"])
    calls = {e["provider"]: e for e in worker if e.get("id") == chat_id and "provider" in e}
    assert calls["openai"]["status"] == "ok" and calls["openai"]["program"] == "aigw-worker"
    assert calls["gemini"]["status"] == "failed" and calls["gemini"]["attempts"] == 1
    assert all(isinstance(c["duration_ms"], int) for c in calls.values())
    # No prompt, anywhere.
    for path in (stack.fcgi.errlog, stack.env["AIGW_LOG_FILE"]):
        assert marker not in open(path).read()


def test_prompts_are_logged_only_when_asked():
    with stk.Stack(extra_env={"AIGW_LOG_PROMPTS": "on"}) as s:
        marker = uuid.uuid4().hex
        chat_id = submit(s.url(), {"mock": "m"}, message=f"tell me {marker}").json()["chatId"]
        wait_final(s.url(), chat_id)
        claimed = [e for e in lines(s.env["AIGW_LOG_FILE"]) if e.get("id") == chat_id
                   and "prompt" in e]
        assert claimed and claimed[0]["prompt"] == f"tell me {marker}"
