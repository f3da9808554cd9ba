"""The OpenAI-compatible API under /v1/ (docs/openai.md), over HTTP through
nginx: object shapes and statuses, OpenAI-shaped errors (bad input, auth,
limits), background create/retrieve/cancel, the AIGW_SYNC_WAIT_S bound,
Responses streams resumed exactly with starting_after, chat completions
with and without stream, and the model list.
"""

import json
import os
import sys
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, bearer, poll
from pieces import add_pieces

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mockproviders"))
from mockproviders import answer_text  # noqa: E402

SYNC_WAIT_S = 2
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_LIMIT_USER": "3", "AIGW_LIMIT_ORG": "0",
             "AIGW_LIMIT_DECISION": "0", "AIGW_SYNC_WAIT_S": str(SYNC_WAIT_S),
             "AIGW_SSE_HEARTBEAT_S": "1"}


@pytest.fixture(scope="module")
def alice(stack):
    return bearer(stack, "alice", "acme")


@pytest.fixture(scope="module")
def bob(stack):
    return bearer(stack, "bob", "acme")


def post(stack, path, headers, body, **kw):
    return requests.post(stack.url(path), json=body, headers=headers,
                         timeout=kw.pop("timeout", HTTP_TIMEOUT), **kw)


def get(stack, path, headers, **kw):
    return requests.get(stack.url(path), headers=headers, timeout=kw.pop("timeout", HTTP_TIMEOUT),
                        **kw)


def assert_oa_error(r, status, param=None, code=None, etype=None):
    """r is an error in OpenAI's shape."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    e = body["error"]
    assert set(e) == {"message", "type", "param", "code"}, e
    assert isinstance(e["message"], str) and e["message"], e
    assert e["param"] == param, e
    if code is not None:
        assert e["code"] == code, e
    if etype is not None:
        assert e["type"] == etype, e
    return e


def retrieve_until(stack, headers, rid, statuses, timeout=20):
    def fetch():
        r = get(stack, f"/v1/responses/{rid}", headers)
        assert r.status_code == 200, r.text
        return r.json()
    return poll(fetch, lambda o: o["status"] in statuses, timeout, 0.1, f"{rid} {statuses}")


def sse(resp):
    """The (event, data) pairs of a text/event-stream answer, as they come."""
    event, data = None, []
    for raw in resp.iter_lines(decode_unicode=True):
        if raw == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif raw.startswith(":"):
            continue
        elif raw.startswith("event:"):
            event = raw[6:].strip()
        elif raw.startswith("data:"):
            data.append(raw[5:].lstrip(" "))


# ---- errors ----

def test_auth_errors_are_openai_shaped(stack):
    r = requests.post(stack.url("/v1/responses"), json={"model": "mock/x", "input": "hi"},
                      timeout=HTTP_TIMEOUT)
    assert_oa_error(r, 401, etype="authentication_error", code="unauthorized")
    r = requests.get(stack.url("/v1/models"), headers={"Authorization": "Bearer nope"},
                     timeout=HTTP_TIMEOUT)
    assert_oa_error(r, 401, etype="authentication_error")


def test_unknown_route_and_id_are_404(stack, alice):
    assert_oa_error(get(stack, "/v1/nothing", alice), 404, etype="not_found_error")
    assert_oa_error(get(stack, "/v1/responses/resp_0123", alice), 404, param="id")
    assert_oa_error(get(stack, "/v1/responses/resp_" + "0" * 32, alice), 404, param="id")


@pytest.mark.parametrize("body,param,code", [
    ({"model": "nosuch/model-x", "input": "hi"}, "model", "unknown_provider"),
    ({"model": "anthropic/", "input": "hi"}, "model", "invalid_value"),
    ({"model": "/gpt-4o", "input": "hi"}, "model", "unknown_provider"),
    ({"input": "hi"}, "model", "missing_required_parameter"),
    ({"model": "gpt-4o"}, "input", "missing_required_parameter"),
    ({"model": "gpt-4o", "input": [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": [{"type": "input_image", "image_url": "http://x/y.png"}]}]},
     "input[1].content[0].type", "unsupported_value"),
    ({"model": "gpt-4o", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]},
     "input[0].type", "unsupported_value"),
    ({"model": "gpt-4o", "input": "hi", "tools": [{"type": "web_search"}]},
     "tools", "unsupported_parameter"),
    ({"model": "gpt-4o", "input": "hi", "text": {"format": {"type": "json_object"}}},
     "text.format", "unsupported_parameter"),
    ({"model": "gpt-4o", "input": [{"role": "assistant", "content": "hello"}]},
     "input", "invalid_value"),
    ({"model": "gpt-4o", "input": "hi", "max_output_tokens": 0}, "max_output_tokens", "invalid_value"),
    ({"model": "gpt-4o", "input": "hi", "background": "yes"}, "background", "invalid_type"),
])
def test_responses_bad_input(stack, alice, body, param, code):
    assert_oa_error(post(stack, "/v1/responses", alice, body), 400, param=param, code=code,
                    etype="invalid_request_error")


@pytest.mark.parametrize("body,param", [
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[1].type"),
    ({"model": "gpt-4o", "messages": [{"role": "tool", "content": "x", "tool_call_id": "c"}]},
     "messages[0].role"),
    ({"model": "gpt-4o", "messages": []}, "messages"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
])
def test_completions_bad_input(stack, alice, body, param):
    assert_oa_error(post(stack, "/v1/chat/completions", alice, body), 400, param=param)


def test_bad_json_is_openai_shaped(stack, alice):
    r = requests.post(stack.url("/v1/responses"), data="{nope", timeout=HTTP_TIMEOUT,
                      headers={**alice, "Content-Type": "application/json"})
    assert_oa_error(r, 400, code="invalid_json")


# ---- background, retrieve, cancel ----

@pytest.mark.parametrize("model,provider,base", [
    ("gpt-4o", "openai", "gpt-4o"),
    ("anthropic/claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"),
    ("gemini/gemini-2.5-flash", "gemini", "gemini-2.5-flash"),
    ("perplexity/sonar", "perplexity", "sonar"),
])
def test_background_then_retrieve(stack, alice, model, provider, base):
    r = post(stack, "/v1/responses", alice,
             {"model": model, "input": "Say hello", "background": True,
              "instructions": "Be brief.", "metadata": {"ticket": "T-1"},
              "max_output_tokens": 300})
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["object"] == "response" and o["status"] == "queued", o
    assert o["id"].startswith("resp_") and len(o["id"]) == 37, o
    assert o["background"] is True and o["model"] == model
    assert o["instructions"] == "Be brief." and o["metadata"] == {"ticket": "T-1"}
    assert o["max_output_tokens"] == 300 and o["output"] == [] and o["error"] is None
    assert isinstance(o["created_at"], int) and abs(o["created_at"] - time.time()) < 60
    done = retrieve_until(stack, alice, o["id"], ("completed", "failed"))
    assert done["status"] == "completed", done
    text = f"[{provider}/{base}] Say hello"
    assert done["output_text"] == text
    [item] = done["output"]
    assert item["type"] == "message" and item["role"] == "assistant" and item["status"] == "completed"
    assert item["id"] == "msg_" + o["id"][5:]
    assert item["content"] == [{"type": "output_text", "text": text, "annotations": []}]
    u = done["usage"]
    assert u["input_tokens"] > 0 and u["output_tokens"] > 0
    assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"]


def test_another_owner_cannot_see_or_cancel(stack, alice, bob):
    o = post(stack, "/v1/responses", alice,
             {"model": "gpt-4o~delay=200", "input": "mine", "background": True}).json()
    assert_oa_error(get(stack, f"/v1/responses/{o['id']}", bob), 404, param="id")
    assert_oa_error(post(stack, f"/v1/responses/{o['id']}/cancel", bob, None), 404, param="id")


def test_cancel_is_idempotent(stack, alice):
    o = post(stack, "/v1/responses", alice,
             {"model": "gpt-4o~hang", "input": "wait", "background": True}).json()
    r = post(stack, f"/v1/responses/{o['id']}/cancel", alice, None)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    again = post(stack, f"/v1/responses/{o['id']}/cancel", alice, None)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    # A finished response comes back unchanged.
    done = post(stack, "/v1/responses", alice, {"model": "gpt-4o", "input": "quick"}).json()
    assert done["status"] == "completed", done
    r = post(stack, f"/v1/responses/{done['id']}/cancel", alice, None)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["output_text"] == done["output_text"]


def test_active_work_limit_is_429_with_retry_after(stack):
    carol = bearer(stack, "carol", "acme")
    ids = []
    for _ in range(3):
        r = post(stack, "/v1/responses", carol,
                 {"model": "gpt-4o~hang", "input": "hold", "background": True})
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    r = post(stack, "/v1/responses", carol, {"model": "gpt-4o", "input": "one more",
                                              "background": True})
    assert_oa_error(r, 429, etype="rate_limit_error", code="too_many_active_jobs")
    assert r.headers.get("Retry-After")
    for rid in ids:
        assert post(stack, f"/v1/responses/{rid}/cancel", carol, None).status_code == 200


# ---- the sync wait ----

def test_sync_answers_when_done(stack, alice):
    r = post(stack, "/v1/responses", alice, {"model": "gemini/gemini-2.5-flash", "input": "now"})
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] == "completed" and o["background"] is False
    assert o["output_text"] == "[gemini/gemini-2.5-flash] now"


def test_sync_wait_is_bounded(stack, alice):
    t0 = time.monotonic()
    r = post(stack, "/v1/responses", alice, {"model": "gpt-4o~delay=4000", "input": "slow"})
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] in ("queued", "in_progress"), o
    assert SYNC_WAIT_S - 0.5 <= took < SYNC_WAIT_S + 2, took
    done = retrieve_until(stack, alice, o["id"], ("completed",))
    assert done["output_text"] == "[openai/gpt-4o] slow"


def test_completion_past_the_wait_is_504_naming_the_id(stack, alice):
    r = post(stack, "/v1/chat/completions", alice,
             {"model": "gpt-4o~delay=4000", "messages": [{"role": "user", "content": "slow"}]})
    e = assert_oa_error(r, 504, code="timeout", etype="timeout_error")
    cid = e["message"].split("GET /v1/responses/")[1].split()[0]
    assert cid.startswith("chatcmpl-") and len(cid) == 41
    done = retrieve_until(stack, alice, cid, ("completed",))
    assert done["id"] == "resp_" + cid[9:]
    assert done["output_text"] == "[openai/gpt-4o] slow"


# ---- chat completions ----

def test_completion(stack, alice):
    r = post(stack, "/v1/chat/completions", alice, {
        "model": "anthropic/claude-3-5-haiku-latest", "max_tokens": 100,
        "messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "first"},
                     {"role": "assistant", "content": "ok"},
                     {"role": "user", "content": [{"type": "text", "text": "second"}]}]})
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["object"] == "chat.completion" and c["id"].startswith("chatcmpl-")
    assert c["model"] == "anthropic/claude-3-5-haiku-latest"
    [choice] = c["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "refusal": None,
                                 "content": "[anthropic/claude-3-5-haiku-latest] second"}
    u = c["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0


@pytest.mark.parametrize("model,provider", [
    ("gpt-4o", "openai"), ("anthropic/claude-3-5-haiku-latest", "anthropic"),
    ("gemini/gemini-2.5-flash", "gemini"), ("perplexity/sonar", "perplexity")])
def test_a_conversation_reaches_the_provider_whole(stack, alice, model, provider):
    """The earlier turns of messages (chat completions) and of input
    (responses) go to the provider in its own wire format."""
    stack.mock.reset()
    r = post(stack, "/v1/chat/completions", alice, {
        "model": model, "messages": [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "first"},
                                     {"role": "assistant", "content": "ok"},
                                     {"role": "user", "content": "second"}]})
    assert r.status_code == 200, r.text
    r = post(stack, "/v1/responses", alice, {
        "model": model, "instructions": "Be brief.",
        "input": [{"role": "user", "content": "first"},
                  {"type": "message", "role": "assistant",
                   "content": [{"type": "output_text", "text": "ok"}]},
                  {"role": "user", "content": [{"type": "input_text", "text": "second"}]}]})
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text
    want = [{"role": "system", "text": "Be brief."}, {"role": "user", "text": "first"},
            {"role": "assistant", "text": "ok"}, {"role": "user", "text": "second"}]
    log = [e for e in stack.mock.requests_log() if e["provider"] == provider]
    assert len(log) == 2, log
    for e in log:
        assert e["turns"] == want, e["turns"]


def test_completion_failure_is_500(stack, alice):
    r = post(stack, "/v1/chat/completions", alice,
             {"model": "gpt-4o~status=400", "messages": [{"role": "user", "content": "x"}]})
    assert_oa_error(r, 500, etype="server_error")


def test_completion_stream_with_usage(stack, alice):
    model = "gpt-4o~words=30~tps=60"
    with post(stack, "/v1/chat/completions", alice,
              {"model": model, "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "count"}]}, stream=True) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        datas = [d for _, d in sse(r)]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == answer_text("openai", "gpt-4o", "count", False, 30)
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 3
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


# ---- Responses streams ----

def stream_events(r):
    return [(ev, json.loads(d)) for ev, d in sse(r)]


def test_stream_and_exact_resume(stack, alice):
    model = "gpt-4o~words=40~tps=40"
    with post(stack, "/v1/responses", alice, {"model": model, "input": "tell", "stream": True},
              stream=True) as r:
        assert r.status_code == 200, r.text
        events = stream_events(r)
    types = [e for e, _ in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(d["type"] == e for e, d in events)
    want = answer_text("openai", "gpt-4o", "tell", False, 40)
    deltas = [d["delta"] for e, d in events if e == "response.output_text.delta"]
    assert len(deltas) > 3 and "".join(deltas) == want
    final = events[-1][1]["response"]
    assert final["status"] == "completed" and final["output_text"] == want
    rid = final["id"]

    # Resumed after event 10: exactly the same events after it.
    with get(stack, f"/v1/responses/{rid}", alice,
             params={"stream": "true", "starting_after": "10"}, stream=True) as r:
        assert r.status_code == 200, r.text
        again = stream_events(r)
    assert again == events[11:]
    # After the last event: beyond the stream.
    last = events[-1][1]["sequence_number"]
    r = get(stack, f"/v1/responses/{rid}", alice, params={"stream": "true",
                                                         "starting_after": str(last + 1)})
    assert_oa_error(r, 400, param="starting_after")
    r = get(stack, f"/v1/responses/{rid}", alice, params={"stream": "true",
                                                         "starting_after": "x"})
    assert_oa_error(r, 400, param="starting_after")


def test_stream_cut_while_running_then_resumed(stack, alice):
    model = "anthropic/claude-3-5-haiku-latest~words=60~tps=30"
    seen = []
    with post(stack, "/v1/responses", alice, {"model": model, "input": "cut", "stream": True,
                                              "background": True}, stream=True) as r:
        assert r.status_code == 200, r.text
        for ev in stream_events(r):
            seen.append(ev)
            if len(seen) == 10:
                break
    rid = seen[0][1]["response"]["id"]
    assert seen[0][1]["response"]["status"] == "queued"
    with get(stack, f"/v1/responses/{rid}", alice,
             params={"stream": "true", "starting_after": "9"}, stream=True, timeout=30) as r:
        assert r.status_code == 200, r.text
        rest = stream_events(r)
    events = seen + rest
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    text = "".join(d["delta"] for e, d in events if e == "response.output_text.delta")
    assert text == answer_text("anthropic", "claude-3-5-haiku-latest", "cut", False, 60)
    assert events[-1][0] == "response.completed"


def test_stream_of_a_failure(stack, alice):
    with post(stack, "/v1/responses", alice, {"model": "gpt-4o~status=400", "input": "x",
                                              "stream": True}, stream=True) as r:
        events = stream_events(r)
    assert events[-1][0] == "response.failed"
    o = events[-1][1]["response"]
    assert o["status"] == "failed" and o["error"]["message"]


# ---- models ----

def test_models(stack, alice):
    r = get(stack, "/v1/models", alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"openai/gpt-4o", "anthropic/claude-3-5-haiku", "gemini/gemini-2.5-flash",
            "perplexity/sonar"} <= ids
    for m in body["data"]:
        assert m["object"] == "model" and m["id"].startswith(m["owned_by"] + "/")


# ---- a retried attempt's reset, live pieces ----

def chat_uuid(rid):
    """The chat of a resp_ id: its hex with the UUID's dashes."""
    h = rid[len("resp_"):]
    return "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def test_reset_ends_the_stream_with_an_error(stack, alice):
    o = post(stack, "/v1/responses", alice,
             {"model": "gpt-4o~hang", "input": "reset", "background": True}).json()
    chat_id = chat_uuid(o["id"])
    poll(lambda: get(stack, f"/v1/responses/{o['id']}", alice).json()["status"],
         lambda s: s == "in_progress", 10, 0.05, "claimed")
    add_pieces(stack, chat_id, [("openai", False, "Hel"), ("openai", True, ""),
                                ("openai", False, "Other")])
    with get(stack, f"/v1/responses/{o['id']}", alice, params={"stream": "true"},
             stream=True) as r:
        assert r.status_code == 200, r.text
        events = stream_events(r)
    assert [e for e, _ in events][4:] == ["response.output_text.delta", "error"]
    assert events[4][1]["delta"] == "Hel"
    assert events[5][1]["code"] == "stream_reset" and events[5][1]["sequence_number"] == 5
    # The same on a resume: the numbering does not change.
    with get(stack, f"/v1/responses/{o['id']}", alice,
             params={"stream": "true", "starting_after": "4"}, stream=True) as r:
        assert stream_events(r) == events[5:]
    assert post(stack, f"/v1/responses/{o['id']}/cancel", alice, None).status_code == 200


def test_stream_is_live(stack, alice):
    o = post(stack, "/v1/responses", alice,
             {"model": "gpt-4o~hang", "input": "live", "background": True}).json()
    chat_id = chat_uuid(o["id"])
    poll(lambda: get(stack, f"/v1/responses/{o['id']}", alice).json()["status"],
         lambda s: s == "in_progress", 10, 0.05, "claimed")
    with get(stack, f"/v1/responses/{o['id']}", alice, params={"stream": "true"},
             stream=True, timeout=20) as r:
        it = sse(r)
        head = [next(it) for _ in range(4)]
        assert json.loads(head[0][1])["response"]["status"] == "queued"
        add_pieces(stack, chat_id, [("openai", False, "now")])
        ev, data = next(it)
        assert ev == "response.output_text.delta" and json.loads(data)["delta"] == "now"
        assert post(stack, f"/v1/responses/{o['id']}/cancel", alice, None).status_code == 200
        rest = list(it)
    assert rest[-1][0] == "response.failed"
    final = json.loads(rest[-1][1])["response"]
    assert final["status"] == "cancelled" and final["output_text"] == "now"


def test_size_and_method_errors_are_openai_shaped(stack, alice):
    # aigw's own bound (AIGW_MAX_BODY, 256 KiB), then nginx's (1 MiB).
    big = {"model": "gpt-4o", "input": "x" * (300 * 1024)}
    assert_oa_error(post(stack, "/v1/responses", alice, big), 413, code="body_too_large")
    huge = {"model": "gpt-4o", "input": "x" * (2 * 1024 * 1024)}
    r = post(stack, "/v1/responses", alice, huge)
    assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error", r.text
    r = get(stack, "/v1/chat/completions", alice)
    assert_oa_error(r, 405, code="method_not_allowed")
    assert r.headers["Allow"] == "POST"


def test_sync_wait_answers_the_text_so_far(stack, alice):
    r = post(stack, "/v1/responses", alice, {"model": "gpt-4o~words=100~tps=25", "input": "long"})
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] == "in_progress", o
    want = answer_text("openai", "gpt-4o", "long", False, 100)
    assert o["output_text"] and want.startswith(o["output_text"]) and o["output_text"] != want
    assert o["output"][0]["status"] == "in_progress"
    assert post(stack, f"/v1/responses/{o['id']}/cancel", alice, None).status_code == 200
