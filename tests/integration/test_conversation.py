"""Multi-turn chats: POST /api/ai/chat with `messages` (an OpenAI-style
conversation) reaches every sync provider's wire format whole, streamed
(AIGW_STREAM=on) and not (off): the mock providers' log reads the turns
each request carried (tests/mockproviders/README.md, `turns`). Bad
`messages` get a 400 naming the element."""

import json
import os
import sys

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stack as stk  # noqa: E402
from conftest import (HTTP_TIMEOUT, _require_programs, assert_error,  # noqa: E402
                      fail_on_sanitizer_reports, wait_final)

MODELS = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
          "gemini": "gemini-2.5-flash", "perplexity": "sonar"}

CONVERSATION = [
    {"role": "system", "content": "Answer in one line."},
    {"role": "user", "content": "Name a language for command-line tools."},
    {"role": "assistant", "content": [{"type": "text", "text": "Go is a good choice."}]},
    {"role": "user", "content": "And why not Rust?"},
]


@pytest.fixture(scope="module", params=["on", "off"])
def conv_stack(request):
    """A deployment with streaming on, then one with it off."""
    _require_programs()
    s = stk.Stack(extra_env={"AIGW_STREAM": request.param, "AIGW_STREAM_FLUSH_MS": "20",
                             "AIGW_BATCH_WINDOW_MS": "300"})
    s.streaming = request.param == "on"
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


def chat(s, body):
    return requests.post(s.url("/api/ai/chat"), json=body, timeout=HTTP_TIMEOUT)


def provider_requests(s):
    return {e["provider"]: e for e in s.mock.requests_log() if e["provider"] in MODELS}


def test_every_provider_gets_the_whole_conversation(conv_stack):
    s = conv_stack
    s.mock.reset()
    r = chat(s, {"models": MODELS, "system": "Be kind.", "messages": CONVERSATION})
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    body = wait_final(s.url(), chat_id, timeout=30)
    assert body["status"] == "completed", body
    for p, m in MODELS.items():
        res = body["results"][p]
        assert res["ok"] is True, (p, res)
        # the mock answers the last user turn
        assert res["text"].startswith(f"[{p}/{m}] And why not Rust?"), (p, res["text"])
    want = [{"role": "system", "text": "Be kind.\n\nAnswer in one line."},
            {"role": "user", "text": "Name a language for command-line tools."},
            {"role": "assistant", "text": "Go is a good choice."},
            {"role": "user", "text": "And why not Rust?"}]
    log = provider_requests(s)
    assert set(log) == set(MODELS), log
    for p, e in log.items():
        assert e["status"] == 200, (p, e)
        assert e["turns"] == want, (p, e["turns"])
        assert e["stream"] is s.streaming, (p, e["stream"])
        assert e["message"] == "And why not Rust?"
    # what is stored: the user and assistant turns, contents as strings
    stored = json.loads(s.pg.psql(
        f"SELECT messages FROM chat_results WHERE chat_id = '{chat_id}'"))
    assert stored == [{"role": "user", "content": "Name a language for command-line tools."},
                      {"role": "assistant", "content": "Go is a good choice."},
                      {"role": "user", "content": "And why not Rust?"}]
    assert s.pg.psql(f"SELECT message FROM chat_results WHERE chat_id = '{chat_id}'") == \
        "And why not Rust?"


def test_perplexity_gets_alternating_turns(conv_stack):
    """Adjacent turns of one role are merged for Sonar, which refuses them
    (as the mock does); the others get them as sent."""
    s = conv_stack
    s.mock.reset()
    msgs = [{"role": "user", "content": "First question."},
            {"role": "user", "content": "Second question."},
            {"role": "assistant", "content": "One answer."},
            {"role": "user", "content": "Third question."}]
    r = chat(s, {"models": {"perplexity": "sonar", "openai": "gpt-4o"}, "messages": msgs})
    assert r.status_code == 202, r.text
    body = wait_final(s.url(), r.json()["chatId"], timeout=30)
    assert body["status"] == "completed", body
    assert body["results"]["perplexity"]["ok"] is True, body["results"]["perplexity"]
    log = provider_requests(s)
    assert log["perplexity"]["turns"] == [
        {"role": "user", "text": "First question.\n\nSecond question."},
        {"role": "assistant", "text": "One answer."},
        {"role": "user", "text": "Third question."}]
    assert [t["text"] for t in log["openai"]["turns"]] == [m["content"] for m in msgs]


def test_one_user_turn_is_a_message(conv_stack):
    """messages of one user turn is the same chat as message: stored without
    a conversation, so a batch provider takes it too."""
    s = conv_stack
    r = chat(s, {"models": {"mock": "m"}, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Just this."}]})
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    body = wait_final(s.url(), chat_id, timeout=30)
    assert body["status"] == "completed", body
    assert "Just this." in body["results"]["mock"]["text"]
    assert s.pg.psql(f"SELECT coalesce(messages::text, 'none'), system_prompt FROM chat_results "
                     f"WHERE chat_id = '{chat_id}'") == "none|Be brief."


BAD = [
    ({"message": "hi", "messages": [{"role": "user", "content": "hi"}]}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
     "messages[1].role"),
    ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]},
     "messages[0].role"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"},
                   {"role": "user", "content": "c"}]}, "messages[1].role"),
    ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "user", "content": [{"type": "text", "text": "look"},
                                                {"type": "image_url",
                                                 "image_url": {"url": "https://x/y.png"}}]}]},
     "messages[2].content[1].type"),
    ({"messages": [{"role": "user", "content": "x" * 32769}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "q"}] * 201}, "messages"),
]


@pytest.mark.parametrize("extra,field", BAD, ids=[f for _, f in BAD])
def test_bad_messages(conv_stack, extra, field):
    if not conv_stack.streaming:
        pytest.skip("input checks do not depend on streaming")
    body = {"models": {"openai": "gpt-4o"}}
    body.update(extra)
    assert_error(chat(conv_stack, body), 400, "invalid_field", field)


def test_snapshot_takes_no_conversation(conv_stack):
    if not conv_stack.streaming:
        pytest.skip("input checks do not depend on streaming")
    r = chat(conv_stack, {"models": {"openai": "gpt-4o", "snapshot": "x"},
                          "messages": CONVERSATION[1:]})
    assert_error(r, 400, "invalid_field", "models.snapshot")


def test_batch_providers_get_the_whole_conversation(conv_stack):
    """A conversation delegated to a batch keeps its turns (batch_items.messages):
    each batch line is the sync request with every turn."""
    s = conv_stack
    if not s.streaming:
        pytest.skip("batches do not stream")
    s.mock.reset()
    r = chat(s, {"models": {"openai-batch": "gpt-4o-mini~batch_s=1",
                            "anthropic-batch": "claude-3-5-haiku-latest~batch_s=1"},
                 "system": "Be kind.", "messages": CONVERSATION})
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    body = wait_final(s.url(), chat_id, timeout=60)
    assert body["status"] == "completed", body
    for p in ("openai-batch", "anthropic-batch"):
        assert body["results"][p]["ok"] is True, (p, body["results"][p])
        assert "And why not Rust?" in body["results"][p]["text"], body["results"][p]
    turns = [{"role": "user", "content": "Name a language for command-line tools."},
             {"role": "assistant", "content": "Go is a good choice."},
             {"role": "user", "content": "And why not Rust?"}]
    system = "Be kind.\n\nAnswer in one line."
    log = s.mock.requests_log()
    uploads = [e for e in log if e["provider"] == "openai-batch" and e["action"] == "upload"]
    assert len(uploads) == 1, uploads
    (line,) = uploads[0]["body"]
    assert line["messages"] == [{"role": "system", "content": system}] + turns, line
    creates = [e for e in log if e["provider"] == "anthropic-batch" and e["action"] == "create"]
    assert len(creates) == 1, creates
    (req,) = creates[0]["body"]["requests"]
    assert req["params"]["system"] == system and req["params"]["messages"] == turns, req
    assert json.loads(s.pg.psql(
        f"SELECT json_agg(messages) FROM batch_items WHERE chat_id = '{chat_id}'")) == [turns, turns]
