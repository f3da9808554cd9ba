"""Tests for mockproviders.py.  Run: /usr/bin/python3 -m pytest tests/mockproviders -q"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "mockproviders.py")

OA_H = {"Authorization": "Bearer test-key"}
AN_H = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
GE_H = {"x-goog-api-key": "test-key"}


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(extra=()):
    port = free_port()
    proc = subprocess.Popen([sys.executable, SERVER, "--host", "127.0.0.1",
                             "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until ready (or the process dies)
    assert line.strip() == "listening on 127.0.0.1:%d" % port, (line, proc.stderr.read())
    return proc, "http://127.0.0.1:%d" % port


def stop_server(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            return proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logfile = tmp_path_factory.mktemp("mp") / "requests.jsonl"
    proc, base = start_server(["--log", str(logfile)])
    yield base, logfile
    assert stop_server(proc) == 0


@pytest.fixture
def base(server):
    b = server[0]
    assert requests.post(b + "/_reset", timeout=5).status_code == 200
    return b


# ---- request helpers

def openai(base, model, msg="hello there", headers=OA_H, **kw):
    timeout = kw.pop("_timeout", 10)
    body = {"model": model, "messages": [{"role": "system", "content": "be brief"},
                                         {"role": "user", "content": msg}]}
    body.update(kw)
    return requests.post(base + "/openai/v1/chat/completions", json=body, headers=headers,
                         timeout=timeout)


def anthropic(base, model, msg="hello there", headers=AN_H, **kw):
    body = {"model": model, "max_tokens": 100,
            "messages": [{"role": "user", "content": msg}]}
    body.update(kw)
    return requests.post(base + "/anthropic/v1/messages", json=body, headers=headers,
                         timeout=10)


def gemini(base, model, msg="hello there", headers=GE_H, timeout=10, **kw):
    body = {"contents": [{"role": "user", "parts": [{"text": msg}]}]}
    body.update(kw)
    return requests.post(base + "/gemini/v1beta/models/%s:generateContent"
                         % quote(model, safe=""), json=body, headers=headers,
                         timeout=timeout)


def perplexity(base, model, msg="hello there", headers=OA_H, **kw):
    body = {"model": model, "messages": [{"role": "user", "content": msg}]}
    body.update(kw)
    return requests.post(base + "/perplexity/chat/completions", json=body, headers=headers,
                         timeout=10)


def get_log(base):
    r = requests.get(base + "/_log", timeout=5)
    assert r.status_code == 200
    return r.json()


# ---- control endpoints

def test_health(base):
    r = requests.get(base + "/_health", timeout=5)
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_unknown_route_404(base):
    for method, path in (("GET", "/nope"), ("POST", "/openai/v1/embeddings"),
                         ("GET", "/openai/v1/chat/completions")):
        r = requests.request(method, base + path, timeout=5)
        assert r.status_code == 404
        assert "error" in r.json()


# ---- success shapes

def test_openai_success(base):
    r = openai(base, "gpt-4o", "Compare Rust and Go for CLIs")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["object"] == "chat.completion" and j["id"].startswith("chatcmpl-")
    assert isinstance(j["created"], int) and j["model"] == "gpt-4o"
    c = j["choices"][0]
    assert c["message"]["role"] == "assistant"
    assert c["message"]["content"] == "[openai/gpt-4o] Compare Rust and Go for CLIs"
    assert c["message"]["annotations"] == []
    assert c["finish_reason"] == "stop"
    assert j["usage"] == {**j["usage"], "prompt_tokens": 6, "completion_tokens": 7,
                          "total_tokens": 13}


def test_openai_websearch(base):
    r = openai(base, "gpt-4o", "news today",
               web_search_options={"user_location": {"type": "approximate",
                                                     "approximate": {"country": "DE"}}})
    msg = r.json()["choices"][0]["message"]
    assert msg["content"] == "[openai/gpt-4o] news today"
    ann = msg["annotations"]
    assert ann and all(a["type"] == "url_citation" for a in ann)
    for a in ann:
        u = a["url_citation"]
        assert u["url"].startswith("https://") and u["title"]
        assert 0 <= u["start_index"] <= u["end_index"] <= len(msg["content"])
    e = get_log(base)[-1]
    assert e["websearch"] is True and e["location"] == "DE"


def test_anthropic_success(base):
    r = anthropic(base, "claude-3-5-haiku-latest", "hi there",
                  system="be brief")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["type"] == "message" and j["role"] == "assistant"
    assert j["model"] == "claude-3-5-haiku-latest"
    assert j["content"] == [{"type": "text", "text": "[anthropic/claude-3-5-haiku-latest] hi there"}]
    assert j["stop_reason"] == "end_turn"
    assert j["usage"]["input_tokens"] == 2 and j["usage"]["output_tokens"] == 3


def test_anthropic_websearch(base):
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
              "user_location": {"type": "approximate", "country": "FR"}}]
    j = anthropic(base, "claude-sonnet-4-0", "what happened", tools=tools).json()
    types = [b["type"] for b in j["content"]]
    assert "server_tool_use" in types and "web_search_tool_result" in types
    stu = j["content"][types.index("server_tool_use")]
    wsr = j["content"][types.index("web_search_tool_result")]
    assert stu["name"] == "web_search" and wsr["tool_use_id"] == stu["id"]
    assert all(x["type"] == "web_search_result" and x["url"] for x in wsr["content"])
    texts = [b for b in j["content"] if b["type"] == "text"]
    assert "".join(b["text"] for b in texts) == "[anthropic/claude-sonnet-4-0] what happened"
    cits = [c for b in texts for c in b.get("citations", [])]
    assert cits
    for c in cits:
        assert c["type"] == "web_search_result_location"
        assert c["url"] and c["title"] and c["cited_text"]
    e = get_log(base)[-1]
    assert e["websearch"] is True and e["location"] == "FR"


def test_gemini_success(base):
    r = gemini(base, "gemini-2.5-flash", "one two three",
               systemInstruction={"parts": [{"text": "be brief"}]})
    assert r.status_code == 200, r.text
    j = r.json()
    c = j["candidates"][0]
    assert c["content"]["parts"] == [{"text": "[gemini/gemini-2.5-flash] one two three"}]
    assert c["content"]["role"] == "model" and c["finishReason"] == "STOP"
    assert "groundingMetadata" not in c
    assert j["usageMetadata"] == {**j["usageMetadata"], "promptTokenCount": 3,
                                  "candidatesTokenCount": 4, "totalTokenCount": 7}
    assert j["modelVersion"] == "gemini-2.5-flash"


def test_gemini_websearch_and_encoded_model(base):
    # the whole model (with a directive) percent-encoded, as the client does
    j = gemini(base, "gemini-2.5-flash~delay=1", "weather",
               tools=[{"google_search": {}}]).json()
    c = j["candidates"][0]
    assert c["content"]["parts"][0]["text"] == "[gemini/gemini-2.5-flash] weather"
    gm = c["groundingMetadata"]
    assert gm["webSearchQueries"] == ["weather"]
    assert gm["groundingChunks"] and all(g["web"]["uri"].startswith("https://")
                                         and g["web"]["title"] for g in gm["groundingChunks"])
    e = get_log(base)[-1]
    assert e["model"] == "gemini-2.5-flash~delay=1" and e["websearch"] is True
    assert e["path"].endswith(":generateContent")


def test_perplexity_success(base):
    r = perplexity(base, "sonar", "who won")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["object"] == "chat.completion" and j["model"] == "sonar"
    assert j["choices"][0]["message"]["content"] == "[perplexity/sonar] who won"
    assert j["usage"]["prompt_tokens"] == 2 and j["usage"]["completion_tokens"] == 3
    assert j["citations"] and all(u.startswith("https://") for u in j["citations"])
    assert [s["url"] for s in j["search_results"]] == j["citations"]
    for s in j["search_results"]:
        assert set(s) >= {"title", "url", "date"}
    assert get_log(base)[-1]["websearch"] is True


def test_message_parts_and_last_user(base):
    body = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second part"}]}]}
    r = requests.post(base + "/openai/v1/chat/completions", json=body, headers=OA_H, timeout=5)
    assert r.json()["choices"][0]["message"]["content"] == "[openai/gpt-4o] second part"


def test_turns_logged_alike_for_every_format(base):
    """The log's turns read a conversation the same from every wire format."""
    want = [{"role": "system", "text": "be brief"}, {"role": "user", "text": "first"},
            {"role": "assistant", "text": "ok"}, {"role": "user", "text": "second"}]
    oa = [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "first"},
          {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
          {"role": "user", "content": "second"}]
    assert openai(base, "gpt-4o", messages=oa).status_code == 200
    assert perplexity(base, "sonar", messages=[{"role": "system", "content": "be brief"}]
                      + oa[1:]).status_code == 200
    assert anthropic(base, "claude-3-5-haiku-latest", system="be brief",
                     messages=oa[1:]).status_code == 200
    r = gemini(base, "gemini-2.5-flash", systemInstruction={"parts": [{"text": "be brief"}]},
               contents=[{"role": "user", "parts": [{"text": "first"}]},
                         {"role": "model", "parts": [{"text": "ok"}]},
                         {"role": "user", "parts": [{"text": "sec"}, {"text": "ond"}]}])
    assert r.json()["candidates"][0]["content"]["parts"][0]["text"] == \
        "[gemini/gemini-2.5-flash] second"
    log = get_log(base)
    assert [e["provider"] for e in log] == ["openai", "perplexity", "anthropic", "gemini"]
    for e in log:
        assert e["turns"] == want, e["provider"]
    # a request with one message has one user turn
    openai(base, "gpt-4o", "alone")
    assert get_log(base)[-1]["turns"] == [{"role": "system", "text": "be brief"},
                                          {"role": "user", "text": "alone"}]


def test_perplexity_turns_must_alternate(base):
    ok = [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
          {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]
    assert perplexity(base, "sonar", messages=ok).status_code == 200
    for bad in ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}],
                [{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                 {"role": "assistant", "content": "b"}, {"role": "assistant", "content": "c"},
                 {"role": "user", "content": "d"}]):
        r = perplexity(base, "sonar", messages=bad)
        assert r.status_code == 400, bad
        assert "alternating" in r.json()["error"]["message"]


# ---- auth and validation errors

def test_auth_errors(base):
    r = openai(base, "gpt-4o", headers={})
    assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = openai(base, "gpt-4o", headers={"Authorization": "Bearer "})
    assert r.status_code == 401
    r = perplexity(base, "sonar", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and set(r.json()["error"]) >= {"message", "type", "param", "code"}
    r = anthropic(base, "claude-3-5-haiku-latest", headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 401
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    r = anthropic(base, "claude-3-5-haiku-latest", headers={"x-api-key": "k"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = gemini(base, "gemini-2.5-flash", headers={"x-goog-api-key": ""})
    assert r.status_code == 401
    assert r.json()["error"]["status"] == "UNAUTHENTICATED" and r.json()["error"]["code"] == 401


def test_bad_requests(base):
    bad = b"{not json"
    for path, h, check in (
            ("/openai/v1/chat/completions", OA_H, lambda j: j["error"]["type"] == "invalid_request_error"),
            ("/perplexity/chat/completions", OA_H, lambda j: "message" in j["error"]),
            ("/anthropic/v1/messages", AN_H, lambda j: j["error"]["type"] == "invalid_request_error"),
            ("/gemini/v1beta/models/gemini-2.5-flash:generateContent", GE_H,
             lambda j: j["error"]["status"] == "INVALID_ARGUMENT" and j["error"]["code"] == 400)):
        r = requests.post(base + path, data=bad, headers={**h, "Content-Type": "application/json"},
                          timeout=5)
        assert r.status_code == 400 and check(r.json()), (path, r.text)
    # missing required fields
    r = requests.post(base + "/openai/v1/chat/completions", json={"model": "gpt-4o"},
                      headers=OA_H, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = requests.post(base + "/openai/v1/chat/completions", json={"messages": [
        {"role": "user", "content": "x"}]}, headers=OA_H, timeout=5)
    assert r.status_code == 400
    r = requests.post(base + "/anthropic/v1/messages", json={
        "model": "claude-3-5-haiku-latest", "messages": [{"role": "user", "content": "x"}]},
        headers=AN_H, timeout=5)
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]
    r = gemini(base, "gemini-2.5-flash", contents=[])
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    r = requests.post(base + "/perplexity/chat/completions", json={"model": "sonar"},
                      headers=OA_H, timeout=5)
    assert r.status_code == 400
    # unknown directive is a 400 too (catches typos in tests)
    r = openai(base, "gpt-4o~dealy=5")
    assert r.status_code == 400 and "directive" in r.json()["error"]["message"]
    assert [e["status"] for e in get_log(base)] == [400] * 10


# ---- directives

def test_delay(base):
    t0 = time.monotonic()
    r = openai(base, "gpt-4o~delay=400")
    dt = time.monotonic() - t0
    assert r.status_code == 200 and r.json()["model"] == "gpt-4o"
    assert 0.35 <= dt < 5.0
    t0 = time.monotonic()
    r = anthropic(base, "claude-3-5-haiku-latest~delay=300~status=500")
    assert r.status_code == 500 and time.monotonic() - t0 >= 0.25
    t0 = time.monotonic()
    r = openai(base, "gpt-4o~delay=300", headers={})
    assert r.status_code == 401 and time.monotonic() - t0 >= 0.25


def test_status_and_retry_after(base):
    r = anthropic(base, "claude-3-5-haiku-latest~status=529~retry_after=1")
    assert r.status_code == 529 and r.headers["Retry-After"] == "1"
    assert r.json() == {**r.json(), "type": "error"}
    assert r.json()["error"]["type"] == "overloaded_error"
    r = anthropic(base, "claude-3-5-haiku-latest~status=429")
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert "Retry-After" not in r.headers
    r = gemini(base, "gemini-2.5-flash~status=503~retry_after=7")
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"
    assert r.json()["error"] == {**r.json()["error"], "code": 503, "status": "UNAVAILABLE"}
    r = gemini(base, "gemini-2.5-flash~status=429")
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    r = openai(base, "gpt-4o~status=429~retry_after=2")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = perplexity(base, "sonar~status=500")
    assert r.status_code == 500 and "message" in r.json()["error"]
    # without fail= the status is permanent
    assert openai(base, "gpt-4o~status=503").status_code == 503
    assert openai(base, "gpt-4o~status=503").status_code == 503


def test_fail_n(base, server):
    m = "gemini-2.5-flash~fail=2~status=429~retry_after=1"
    codes = [gemini(base, m, "count me").status_code for _ in range(4)]
    assert codes == [429, 429, 200, 200]
    # another message text has its own counter; default status is 500
    assert gemini(base, m, "other text").status_code == 429
    assert openai(base, "gpt-4o~fail=1").status_code == 500
    assert openai(base, "gpt-4o~fail=1").status_code == 200
    # reset clears the counters
    requests.post(base + "/_reset", timeout=5)
    assert gemini(base, m, "count me").status_code == 429


def test_directives_in_the_message_fault_one_provider(base):
    msg = "rank the tools ~~gemini~status=400"
    assert gemini(base, "gemini-2.5-flash", msg).status_code == 400
    assert openai(base, "gpt-4o", msg).status_code == 200
    assert perplexity(base, "sonar", msg).status_code == 200
    msg = "once ~~openai~fail=1~status=503"
    assert [openai(base, "gpt-4o", msg).status_code for _ in range(2)] == [503, 200]
    assert openai(base, "gpt-4o", "bad ~~openai~nonsense").status_code == 400
    start = time.monotonic()
    assert openai(base, "gpt-4o", "slow ~~openai~delay=300").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_garbage(base):
    r = openai(base, "gpt-4o~garbage")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    r = anthropic(base, "claude-3-5-haiku-latest~garbage~fail=1")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    r = anthropic(base, "claude-3-5-haiku-latest~garbage~fail=1")
    assert r.json()["content"][0]["text"] == "[anthropic/claude-3-5-haiku-latest] hello there"


def test_hang_does_not_block(base):
    errors = []

    def hang():
        try:
            gemini(base, "gemini-2.5-flash~hang", "stuck", timeout=(2, 1.0))
            errors.append("no timeout")
        except requests.exceptions.ReadTimeout:
            pass
        except Exception as e:  # pragma: no cover
            errors.append(repr(e))

    t = threading.Thread(target=hang)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.2)
    r = openai(base, "gpt-4o", "still alive")
    assert r.status_code == 200 and time.monotonic() - t0 < 1.0
    t.join(5)
    assert not t.is_alive() and not errors
    hung = [e for e in get_log(base) if e["model"] == "gemini-2.5-flash~hang"]
    assert len(hung) == 1 and hung[0]["status"] is None and hung[0]["message"] == "stuck"
    # with fail=1 only the first hangs
    m = "gpt-4o~hang~fail=1"
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(base + "/openai/v1/chat/completions", headers=OA_H, timeout=(2, 0.5),
                      json={"model": m, "messages": [{"role": "user", "content": "x"}]})
    assert openai(base, m, "x").status_code == 200


def test_parallel_delays_and_keepalive(base):
    codes = []

    def one(i):
        codes.append(anthropic(base, "claude-3-5-haiku-latest~delay=500", "p%d" % i).status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert codes == [200] * 10 and time.monotonic() - t0 < 2.5
    with requests.Session() as s:
        t0 = time.monotonic()
        for _ in range(20):
            r = s.post(base + "/perplexity/chat/completions", headers=OA_H, timeout=5,
                       json={"model": "sonar", "messages": [{"role": "user", "content": "k"}]})
            assert r.status_code == 200
        assert time.monotonic() - t0 < 2.0


def test_json_directive(base):
    for resp, get in (
            (openai(base, "gpt-4o~json", "alpha beta"),
             lambda j: j["choices"][0]["message"]["content"]),
            (anthropic(base, "claude-3-5-haiku-latest~json", "alpha beta"),
             lambda j: j["content"][0]["text"]),
            (gemini(base, "gemini-2.5-flash~json", "alpha beta"),
             lambda j: j["candidates"][0]["content"]["parts"][0]["text"]),
            (perplexity(base, "sonar~json", "alpha beta"),
             lambda j: j["choices"][0]["message"]["content"])):
        assert resp.status_code == 200
        obj = json.loads(get(resp.json()))
        assert obj["summary"].endswith("] alpha beta") and obj["items"] == ["alpha", "beta"]


# ---- JSON answers asked for by the request, as a client asks

def answer_text(provider, r):
    """The answer text of a 200 from provider, joined as a client joins it."""
    assert r.status_code == 200, r.text
    j = r.json()
    if provider in ("openai", "perplexity"):
        return j["choices"][0]["message"]["content"]
    if provider == "anthropic":
        return "".join(b["text"] for b in j["content"] if b["type"] == "text")
    return "".join(p["text"] for p in j["candidates"][0]["content"]["parts"])


def assert_json_answer(provider, r, model, msg="alpha beta"):
    obj = json.loads(answer_text(provider, r))
    assert obj == {"summary": "[%s/%s] %s" % (provider, model, msg),
                   "items": msg.split()[:10] or ["none"]}


def test_json_mode_requests(base):
    # the provider's JSON mode, with no word about JSON anywhere else
    plain_msgs = [{"role": "user", "content": "alpha beta"}]
    cases = (
        ("openai", "gpt-4o", openai(base, "gpt-4o", "alpha beta", messages=plain_msgs,
                                    response_format={"type": "json_object"})),
        ("openai", "gpt-4o", openai(base, "gpt-4o", "alpha beta", messages=plain_msgs,
                                    response_format={"type": "json_schema", "json_schema": {
                                        "name": "a", "schema": {"type": "object"}}})),
        ("perplexity", "sonar", perplexity(base, "sonar", "alpha beta", response_format={
            "type": "json_schema", "json_schema": {"schema": {"type": "object"}}})),
        ("perplexity", "sonar", perplexity(base, "sonar", "alpha beta",
                                           response_format={"type": "json_object"})),
        ("gemini", "gemini-2.5-flash", gemini(base, "gemini-2.5-flash", "alpha beta",
                                              generationConfig={
                                                  "maxOutputTokens": 100,
                                                  "responseMimeType": "application/json"})),
        ("gemini", "gemini-2.5-flash", gemini(base, "gemini-2.5-flash", "alpha beta",
                                              generation_config={
                                                  "response_mime_type": "application/json"})),
    )
    for provider, model, r in cases:
        assert_json_answer(provider, r, model)
    log = get_log(base)
    assert [e["json"] for e in log] == [True] * len(cases)


def test_json_system_prompt(base):
    # a system prompt that says JSON: a real model follows it
    gpt_sys = [{"role": "system", "content": "Reply with one JSON object."},
               {"role": "user", "content": "alpha beta"}]
    gpt_dev = [{"role": "developer", "content": [{"type": "text", "text": "Be terse."},
                                                 {"type": "text", "text": "Output json"}]},
               {"role": "user", "content": "alpha beta"}]
    cases = (
        ("openai", "gpt-4o", openai(base, "gpt-4o", messages=gpt_sys)),
        ("openai", "gpt-4o", openai(base, "gpt-4o", messages=gpt_dev)),
        ("perplexity", "sonar", perplexity(base, "sonar", messages=gpt_sys)),
        ("anthropic", "claude-3-5-haiku-latest",
         anthropic(base, "claude-3-5-haiku-latest", "alpha beta",
                   system="Answer with one JSON object: {\"summary\", \"items\"}.")),
        ("anthropic", "claude-3-5-haiku-latest",
         anthropic(base, "claude-3-5-haiku-latest", "alpha beta",
                   system=[{"type": "text", "text": "Be terse."},
                           {"type": "text", "text": "Format: JSON."}])),
        ("gemini", "gemini-2.5-flash",
         gemini(base, "gemini-2.5-flash", "alpha beta",
                systemInstruction={"parts": [{"text": "Be terse."}, {"text": "Return JSON"}]})),
        ("gemini", "gemini-2.5-flash",
         gemini(base, "gemini-2.5-flash", "alpha beta",
                system_instruction={"parts": [{"text": "json only"}]})),
    )
    for provider, model, r in cases:
        assert_json_answer(provider, r, model)
    assert [e["json"] for e in get_log(base)] == [True] * len(cases)


def test_json_not_asked(base):
    # neither JSON mode nor the word JSON in a system prompt: plain text
    user_json = [{"role": "user", "content": "give me JSON"}]
    cases = (
        ("openai", "gpt-4o", "hello there", openai(base, "gpt-4o")),
        ("openai", "gpt-4o", "hello there",
         openai(base, "gpt-4o", response_format={"type": "text"})),
        # the word in the user message is the user's business, not an instruction
        ("openai", "gpt-4o", "give me JSON", openai(base, "gpt-4o", messages=user_json)),
        ("perplexity", "sonar", "hello there",
         perplexity(base, "sonar", messages=[{"role": "system", "content": "Write JSONL lines."},
                                             {"role": "user", "content": "hello there"}])),
        # each text block on its own: "Output j" + "son." is no instruction
        ("anthropic", "claude-3-5-haiku-latest", "hello there",
         anthropic(base, "claude-3-5-haiku-latest",
                   system=[{"type": "text", "text": "Output j"},
                           {"type": "text", "text": "son."}])),
        ("anthropic", "claude-3-5-haiku-latest", "hello there",
         anthropic(base, "claude-3-5-haiku-latest", system="no_json_here")),
        ("gemini", "gemini-2.5-flash", "hello there",
         gemini(base, "gemini-2.5-flash", generationConfig={"responseMimeType": "text/plain"},
                systemInstruction={"parts": [{"text": "be brief"}]})),
    )
    for provider, model, msg, r in cases:
        assert answer_text(provider, r) == "[%s/%s] %s" % (provider, model, msg)
    assert [e["json"] for e in get_log(base)] == [False] * len(cases)


def test_json_with_websearch_and_faults(base):
    # the JSON text survives being split over Anthropic's cited text blocks
    tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]
    r = anthropic(base, "claude-sonnet-4-0", "alpha beta", tools=tools, system="Answer in JSON.")
    assert len([b for b in r.json()["content"] if b["type"] == "text"]) == 2
    assert_json_answer("anthropic", r, "claude-sonnet-4-0")
    # OpenAI's citations cover parts of the JSON text
    r = openai(base, "gpt-4o", "alpha beta", web_search_options={},
               response_format={"type": "json_object"})
    assert_json_answer("openai", r, "gpt-4o")
    msg = r.json()["choices"][0]["message"]
    for a in msg["annotations"]:
        u = a["url_citation"]
        assert 0 <= u["start_index"] <= u["end_index"] <= len(msg["content"])
    # a fault directive still wins; with fail=1 the retry gets the JSON answer
    m = "gemini-2.5-flash~fail=1~status=503"
    gc = {"responseMimeType": "application/json"}
    assert gemini(base, m, "alpha beta", generationConfig=gc).status_code == 503
    assert_json_answer("gemini", gemini(base, m, "alpha beta", generationConfig=gc),
                       "gemini-2.5-flash")
    e = get_log(base)
    assert [x["status"] for x in e[-2:]] == [503, 200] and all(x["json"] for x in e)


# ---- log and reset

def test_log_and_reset(base, server):
    openai(base, "gpt-4o~status=503", "log me")
    anthropic(base, "claude-3-5-haiku-latest", "and me")
    log = get_log(base)
    assert [e["seq"] for e in log] == [1, 2]
    e1, e2 = log
    assert set(e1) >= {"seq", "time", "provider", "model", "path", "message", "status",
                       "websearch", "location", "json", "body"}
    assert e1["provider"] == "openai" and e1["model"] == "gpt-4o~status=503"
    assert e1["path"] == "/openai/v1/chat/completions" and e1["message"] == "log me"
    assert e1["status"] == 503 and e1["websearch"] is False
    assert abs(e1["time"] - time.time()) < 60 and e1["time"] <= e2["time"]
    assert e2["provider"] == "anthropic" and e2["status"] == 200
    assert e2["body"]["max_tokens"] == 100
    # the --log file has the same entries as JSON lines
    lines = [json.loads(x) for x in server[1].read_text().splitlines()]
    assert [(x["model"], x["status"]) for x in lines[-2:]] == \
        [("gpt-4o~status=503", 503), ("claude-3-5-haiku-latest", 200)]
    assert requests.post(base + "/_reset", timeout=5).json() == {"ok": True}
    assert get_log(base) == []


# ---- process behaviour

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_stop_with_hanging_request(sig):
    proc, b = start_server()
    try:
        t = threading.Thread(target=lambda: pytest.raises(
            requests.exceptions.RequestException, openai, b, "gpt-4o~hang",
            _timeout=(2, 5)))
        t.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        rc = stop_server(proc, sig)
        assert rc == 0 and time.monotonic() - t0 < 3.0
        t.join(6)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
