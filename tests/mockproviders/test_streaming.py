"""Tests for the streamed answers of mockproviders.py (formats, pacing,
writes, stream faults, log fields).
Run: /usr/bin/python3 -m pytest tests/mockproviders -q -p no:cacheprovider"""

import json
import socket
import time
from urllib.parse import quote, urlsplit

import pytest
import requests

from test_mockproviders import AN_H, GE_H, OA_H, start_server, stop_server


@pytest.fixture(scope="module")
def server():
    proc, base = start_server()
    yield base
    assert stop_server(proc) == 0


@pytest.fixture
def base(server):
    assert requests.post(server + "/_reset", timeout=5).status_code == 200
    return server


# ---- requests: each format's streaming call and its whole twin

def request(provider, model, msg, stream, websearch=False, usage=True):
    """(path, headers, body) of a call as aigw makes it."""
    if provider in ("openai", "perplexity"):
        body = {"model": model, "messages": [{"role": "user", "content": msg}]}
        if stream:
            body["stream"] = True
            if provider == "openai" and usage:
                body["stream_options"] = {"include_usage": True}
        if websearch and provider == "openai":
            body["web_search_options"] = {}
        if not websearch and provider == "perplexity":
            body["disable_search"] = True
        path = "/openai/v1/chat/completions" if provider == "openai" \
            else "/perplexity/chat/completions"
        return path, OA_H, body
    if provider == "anthropic":
        body = {"model": model, "max_tokens": 200, "messages": [{"role": "user", "content": msg}]}
        if stream:
            body["stream"] = True
        if websearch:
            body["tools"] = [{"type": "web_search_20250305", "name": "web_search"}]
        return "/anthropic/v1/messages", AN_H, body
    body = {"contents": [{"role": "user", "parts": [{"text": msg}]}]}
    if websearch:
        body["tools"] = [{"google_search": {}}]
    verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return "/gemini/v1beta/models/%s:%s" % (quote(model, safe=""), verb), GE_H, body


def raw_post(base, path, headers, body, timeout=15):
    """POSTs over a plain socket and reads until the server closes, so the
    HTTP chunks and an abrupt end can be seen. Returns (status, headers,
    [chunk bytes], whether the body ended with its zero chunk)."""
    u = urlsplit(base)
    data = json.dumps(body).encode("utf-8")
    head = ["POST %s HTTP/1.1" % path, "Host: %s" % u.netloc,
            "Content-Type: application/json", "Content-Length: %d" % len(data),
            "Connection: close"] + ["%s: %s" % kv for kv in headers.items()]
    got = bytearray()
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    top, _, rest = bytes(got).partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if "chunked" not in hdrs.get("transfer-encoding", ""):
        return status, hdrs, [rest], True
    chunks, complete = [], False
    while True:
        size, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        n = int(size, 16)
        if n == 0:
            complete = True
            break
        chunks.append(rest[:n])
        if len(rest) < n + 2:
            break
        rest = rest[n + 2:]
    return status, hdrs, chunks, complete


def sse_parse(raw):
    """([(event name or None, data)], the bytes after the last complete event)."""
    text = raw.decode("utf-8")
    *events, tail = text.split("\n\n")
    out = []
    for ev in events:
        name, data = None, []
        for line in ev.split("\n"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        out.append((name, "\n".join(data)))
    return out, tail


def stream(base, provider, model, msg="tell me more", websearch=False, usage=True):
    path, headers, body = request(provider, model, msg, True, websearch, usage)
    status, hdrs, chunks, complete = raw_post(base, path, headers, body)
    events, tail = sse_parse(b"".join(chunks))
    return status, hdrs, chunks, complete, events, tail


def whole(base, provider, model, msg="tell me more", websearch=False):
    path, headers, body = request(provider, model, msg, False, websearch)
    r = requests.post(base + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def whole_text(provider, j):
    if provider in ("openai", "perplexity"):
        return j["choices"][0]["message"]["content"]
    if provider == "anthropic":
        return "".join(b["text"] for b in j["content"] if b["type"] == "text")
    return "".join(p["text"] for p in j["candidates"][0]["content"]["parts"])


def read_openai(events):
    """What a client reads from an OpenAI-style stream: text, annotations,
    finish reason, usage, whether [DONE] came, the extra fields of the last
    chunk (Perplexity's citations)."""
    text, ann, finish, usage, done, last = "", [], None, None, False, None
    for name, data in events:
        assert name is None
        if data == "[DONE]":
            done = True
            continue
        c = json.loads(data)
        assert c["object"] == "chat.completion.chunk"
        last = c
        if c.get("usage"):
            usage = c["usage"]
        if not c["choices"]:
            continue
        delta = c["choices"][0]["delta"]
        text += delta.get("content") or ""
        ann += delta.get("annotations") or []
        finish = c["choices"][0]["finish_reason"] or finish
    return text, ann, finish, usage, done, last


def read_anthropic(events):
    """(text, citations, message_start's message, the last usage, stop reason, types)."""
    text, cites, start, usage, stop, types = "", [], None, None, None, []
    for name, data in events:
        o = json.loads(data)
        assert o["type"] == name
        types.append(name)
        if name == "message_start":
            start = o["message"]
            usage = dict(start["usage"])
        elif name == "content_block_delta" and o["delta"]["type"] == "text_delta":
            text += o["delta"]["text"]
        elif name == "content_block_delta" and o["delta"]["type"] == "citations_delta":
            cites.append(o["delta"]["citation"])
        elif name == "message_delta":
            usage.update(o["usage"])
            stop = o["delta"]["stop_reason"]
    return text, cites, start, usage, stop, types


def read_gemini(events):
    text, last = "", None
    for name, data in events:
        assert name is None
        c = json.loads(data)
        if "candidates" not in c:  # a chunk of usage alone
            continue
        text += "".join(p["text"] for p in c["candidates"][0]["content"]["parts"])
        last = c
    return text, last


def stream_text(provider, events):
    if provider == "anthropic":
        return read_anthropic(events)[0]
    if provider == "gemini":
        return read_gemini(events)[0]
    return read_openai(events)[0]


PROVIDERS = ("openai", "anthropic", "gemini", "perplexity")
MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-0",
          "gemini": "gemini-2.5-flash", "perplexity": "sonar"}


def get_log(base):
    return requests.get(base + "/_log", timeout=5).json()


def last_ended(base, timeout=5):
    """The last log entry once its stream has ended: a client sees a cut
    connection before the mock's thread records the end."""
    deadline = time.monotonic() + timeout
    while True:
        e = get_log(base)[-1]
        if e["done"] is not None or time.monotonic() >= deadline:
            return e
        time.sleep(0.02)


# ---- each format: the stream joined is the whole answer

@pytest.mark.parametrize("websearch", [False, True], ids=["plain", "websearch"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_joins_to_the_whole_answer(base, provider, websearch):
    model = MODELS[provider] + "~words=40"
    j = whole(base, provider, model, websearch=websearch)
    status, hdrs, chunks, complete, events, tail = stream(base, provider, model,
                                                          websearch=websearch)
    assert status == 200 and complete and tail == ""
    assert hdrs["content-type"].startswith("text/event-stream")
    assert len(events) > 40
    want = whole_text(provider, j)
    assert want.startswith("[%s/%s] tell me more " % (provider, MODELS[provider]))
    if provider in ("openai", "perplexity"):
        text, ann, finish, usage, done, last = read_openai(events)
        assert text == want and finish == "stop"
        assert usage == j["usage"]
        if provider == "openai":
            assert done and events[-1] == (None, "[DONE]")
            assert ann == j["choices"][0]["message"]["annotations"]
            assert bool(ann) == websearch
            assert json.loads(events[-2][1])["choices"] == []  # the usage chunk
        else:
            assert not done
            assert last["citations"] == j["citations"]
            assert last["search_results"] == j["search_results"]
            assert bool(last["citations"]) == websearch
    elif provider == "anthropic":
        text, cites, start, usage, stop, types = read_anthropic(events)
        assert text == want and stop == "end_turn"
        assert types[0] == "message_start" and types[-1] == "message_stop"
        assert start["model"] == j["model"] and start["content"] == []
        assert usage == j["usage"]
        assert cites == [c for b in j["content"] for c in b.get("citations", [])]
        assert bool(cites) == websearch
        if websearch:
            starts = [json.loads(d)["content_block"]["type"] for n, d in events
                      if n == "content_block_start"]
            assert starts == [b["type"] for b in j["content"]]
    else:
        text, last = read_gemini(events)
        assert text == want
        cand = last["candidates"][0]
        assert cand["finishReason"] == "STOP"
        assert last["usageMetadata"] == j["usageMetadata"]
        assert cand.get("groundingMetadata") == j["candidates"][0].get("groundingMetadata")
        assert ("groundingMetadata" in cand) == websearch


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_json_answer_is_the_same_json(base, provider):
    model = MODELS[provider] + "~json~words=5"
    want = whole_text(provider, whole(base, provider, model))
    _, _, _, complete, events, _ = stream(base, provider, model)
    assert complete and stream_text(provider, events) == want
    assert json.loads(want)["summary"].startswith("[%s/" % provider)


def test_openai_stream_without_include_usage_has_no_usage(base):
    _, _, _, complete, events, _ = stream(base, "openai", "gpt-4o", usage=False)
    text, _, finish, usage, done, _ = read_openai(events)
    assert complete and done and finish == "stop" and usage is None
    assert all("usage" not in json.loads(d) for _, d in events[:-1])


def test_stream_tokens_are_words_with_their_space(base):
    _, _, _, _, events, _ = stream(base, "openai", "gpt-4o~words=3", msg="a b")
    deltas = [json.loads(d)["choices"][0]["delta"].get("content") for _, d in events[:-2]]
    deltas = [x for x in deltas if x]
    assert len(deltas) == 6 and deltas[:3] == ["[openai/gpt-4o] ", "a ", "b "]
    assert all(x.endswith(" ") and " " not in x[:-1] for x in deltas[1:-1])
    assert " " not in deltas[-1]


# ---- words=N

def test_words_appends_deterministic_words(base):
    j1 = whole(base, "openai", "gpt-4o~words=12", msg="x y")
    j2 = whole(base, "openai", "gpt-4o~words=12", msg="x y")
    t = whole_text("openai", j1)
    assert t == whole_text("openai", j2)
    assert t.startswith("[openai/gpt-4o] x y ") and len(t.split()) == 3 + 12
    assert j1["usage"]["completion_tokens"] == 15
    other = whole_text("openai", whole(base, "openai", "gpt-4o~words=12", msg="x z"))
    assert other.split()[3:] != t.split()[3:]  # another message, another start
    assert whole_text("openai", whole(base, "openai", "gpt-4o~words=0", msg="x y")) \
        == "[openai/gpt-4o] x y"


# ---- pacing and writes

def test_tps_paces_the_tokens(base):
    t0 = time.monotonic()
    _, _, _, complete, events, _ = stream(base, "anthropic", "claude-3-5-haiku~tps=20~words=10")
    took = time.monotonic() - t0
    assert complete
    e = get_log(base)[-1]
    at = e["tokens_at"]
    assert len(at) == 14  # the prefix, "tell ", "me ", "more ", 10 words
    assert at == sorted(at)
    span = at[-1] - at[0]
    assert 0.4 < span < 3.0, span  # 13 gaps of 50 ms
    assert took > 0.4


def test_no_tps_sends_at_once(base):
    _, _, _, complete, _, _ = stream(base, "openai", "gpt-4o~words=50")
    at = get_log(base)[-1]["tokens_at"]
    assert complete and len(at) == 54 and at[-1] - at[0] < 0.5


def test_chunk_splits_the_stream_in_fixed_writes(base):
    _, _, whole_chunks, _, events_one, _ = stream(base, "gemini", "gemini-2.5-flash~words=5")
    # by default one write per event
    assert all(c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in whole_chunks)
    _, _, chunks, complete, events, tail = stream(base, "gemini",
                                                  "gemini-2.5-flash~words=5~chunk=7")
    assert complete and tail == ""
    assert all(len(c) == 7 for c in chunks[:-1]) and 1 <= len(chunks[-1]) <= 7
    assert len(events) == len(events_one)
    assert stream_text("gemini", events) == stream_text("gemini", events_one)


def test_capacity_slot_is_held_while_streaming(base):
    import threading
    model = "gpt-4o~capacity=1~tps=20~words=6"
    runs = [threading.Thread(target=stream, args=(base, "openai", model, "m%d" % i))
            for i in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(10)
    a, b = sorted(get_log(base), key=lambda e: e["sent"])
    assert len(a["tokens_at"]) == len(b["tokens_at"]) == 8
    assert b["sent"] >= a["done"] - 0.01  # the second waited for the first's stream


# ---- stream faults

@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_closes_mid_stream(base, provider):
    status, _, chunks, complete, events, _ = stream(base, provider, MODELS[provider] + "~cut=2")
    assert status == 200 and not complete
    assert stream_text(provider, events) == "[%s/%s] tell " % (provider, MODELS[provider])
    names = [n for n, _ in events]
    assert "message_stop" not in names and (None, "[DONE]") not in events
    e = last_ended(base)
    assert e["stream"] is True and len(e["tokens_at"]) == 2 and e["done"] >= e["sent"]


def test_cut_with_fail_only_cuts_the_first(base):
    model = "gpt-4o~cut=1~fail=1"
    _, _, _, complete1, events1, _ = stream(base, "openai", model)
    _, _, _, complete2, events2, _ = stream(base, "openai", model)
    assert not complete1 and stream_text("openai", events1) == "[openai/gpt-4o] "
    assert complete2 and stream_text("openai", events2) == "[openai/gpt-4o] tell me more"
    # a whole answer is not cut
    assert whole_text("openai", whole(base, "openai", "gpt-4o~cut=1")) \
        == "[openai/gpt-4o] tell me more"


def test_cut_from_the_message(base):
    _, _, _, complete, events, _ = stream(base, "gemini", "gemini-2.5-flash",
                                          msg="hello ~~gemini~cut=0")
    assert not complete and stream_text("gemini", events) == ""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_error_sends_the_formats_error_event(base, provider):
    _, _, _, complete, events, tail = stream(base, provider, MODELS[provider] + "~stream_error=1")
    assert complete and tail == ""
    name, data = events[-1]
    err = json.loads(data)
    if provider == "anthropic":
        assert name == "error" and err["type"] == "error"
        assert err["error"]["type"] == "overloaded_error"
        assert read_anthropic(events[:-1])[0] == "[anthropic/claude-sonnet-4-0] "
    else:
        assert name is None and set(err) == {"error"} and err["error"]["message"]
        if provider == "gemini":
            assert err["error"]["code"] == 503 and err["error"]["status"] == "UNAVAILABLE"
        assert stream_text(provider, events[:-1]) == "[%s/%s] " % (provider, MODELS[provider])


def test_stall_pauses_then_goes_on(base):
    _, _, _, complete, events, _ = stream(base, "perplexity", "sonar~stall=2:1")
    assert complete and stream_text("perplexity", events) == "[perplexity/sonar] tell me more"
    at = get_log(base)[-1]["tokens_at"]
    assert len(at) == 4
    assert at[2] - at[1] >= 0.9 and at[1] - at[0] < 0.5


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_garbage_then_the_rest(base, provider):
    _, _, chunks, complete, events, _ = stream(base, provider,
                                               MODELS[provider] + "~stream_garbage=1")
    assert complete
    raw = b"".join(chunks)
    assert b"\ndata: <html>oops" in raw
    bad = [d for _, d in events if d.startswith("<html>")]
    assert len(bad) == 1
    good = [(n, d) for n, d in events if not d.startswith("<html>")]
    assert stream_text(provider, good) == "[%s/%s] tell me more" % (provider, MODELS[provider])
    i = [d for _, d in events].index(bad[0])
    assert stream_text(provider, events[:i]) == "[%s/%s] " % (provider, MODELS[provider])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_longline_sends_a_line_over_300_kib(base, provider):
    _, _, chunks, complete, events, _ = stream(base, provider, MODELS[provider] + "~longline=0")
    assert complete
    lines = b"".join(chunks).split(b"\n")
    long = [x for x in lines if len(x) > 300 * 1024]
    assert len(long) == 1 and long[0].startswith(b"data: {")
    assert stream_text(provider, events) == "[%s/%s] tell me more" % (provider, MODELS[provider])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_event(base, provider):
    _, _, _, complete, events, _ = stream(base, provider, MODELS[provider] + "~unknown_event=3")
    assert complete
    names = [n for n, _ in events]
    assert names.count("surprise") == 1
    i = names.index("surprise")
    assert stream_text(provider, [e for e in events if e[0] != "surprise"]) \
        == "[%s/%s] tell me more" % (provider, MODELS[provider])
    assert stream_text(provider, events[:i]) == "[%s/%s] tell me " % (
        provider, MODELS[provider])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_midevent_ends_inside_an_event(base, provider):
    _, _, chunks, complete, events, tail = stream(base, provider, MODELS[provider] + "~midevent=2")
    assert complete  # the HTTP body ends properly: only the event is cut
    assert tail and "\n" not in tail.split("data: ", 1)[1]
    assert "data: " in tail
    assert stream_text(provider, events) == "[%s/%s] tell " % (provider, MODELS[provider])


# ---- errors before the stream, directives

@pytest.mark.parametrize("provider", PROVIDERS)
def test_errors_before_the_stream_are_plain_json(base, provider):
    path, headers, body = request(provider, MODELS[provider] + "~status=429~cut=1", "x", True)
    status, hdrs, chunks, complete, = raw_post(base, path, headers, body)
    assert status == 429 and hdrs["content-type"] == "application/json"
    assert "error" in json.loads(b"".join(chunks))
    status, hdrs, chunks, _ = raw_post(base, path, {}, body)
    assert status == 401 and hdrs["content-type"] == "application/json"
    path, headers, body = request(provider, MODELS[provider] + "~garbage~fail=1", "x", True)
    status, hdrs, chunks, _ = raw_post(base, path, headers, body)
    assert status == 200 and hdrs["content-type"] == "text/html"
    status, hdrs, chunks, _ = raw_post(base, path, headers, body)
    assert status == 200 and hdrs["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("directive", ["tps=0", "tps=x", "chunk=0", "cut", "cut=-1",
                                       "stall=3", "stall=1:x", "stall=-1:1", "words=x",
                                       "stream_error", "midevent=y", "longline=",
                                       "words=2000000"])
def test_bad_stream_directives_are_400(base, directive):
    path, headers, body = request("openai", "gpt-4o~" + directive, "x", True)
    status, hdrs, chunks, _ = raw_post(base, path, headers, body)
    assert status == 400 and "directive" in json.loads(b"".join(chunks))["error"]["message"]


def test_bad_stream_requests_are_400(base):
    path, headers, body = request("openai", "gpt-4o", "x", True)
    body["stream"] = "yes"
    assert raw_post(base, path, headers, body)[0] == 400
    path, headers, body = request("gemini", "gemini-2.5-flash", "x", True)
    assert raw_post(base, path.replace("?alt=sse", ""), headers, body)[0] == 400
    assert raw_post(base, path.replace("alt=sse", "alt=json"), headers, body)[0] == 400


# ---- the log

def test_log_of_streamed_and_whole_answers(base):
    whole(base, "anthropic", "claude-3-5-haiku")
    t0 = time.time()
    stream(base, "anthropic", "claude-3-5-haiku~words=4")
    w, s = get_log(base)
    assert w["stream"] is False and w["done"] is None and w["tokens_at"] is None
    assert s["stream"] is True and s["status"] == 200 and s["body"]["stream"] is True
    assert t0 <= s["time"] <= s["sent"] <= s["tokens_at"][0]
    assert s["tokens_at"][-1] <= s["done"] <= time.time()
    assert len(s["tokens_at"]) == 4 + 4  # the prefix, "tell ", "me ", "more ", 4 words
