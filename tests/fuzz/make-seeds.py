#!/usr/bin/python3
"""make-seeds.py: writes the named seed inputs of each fuzz target's corpus.

Run from anywhere: python3 tests/fuzz/make-seeds.py. It (re)writes
tests/fuzz/corpus/<target>/seed-* from the shipped job types, the provider
response fixtures and a few hand-made requests, in each target's input
format (see the comment at the top of each tests/fuzz/fuzz_*.c). What the
fuzzer adds next to them is its own; "make fuzz" minimises the whole.
"""
import glob
import json
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
UUID = "123e4567-e89b-12d3-a456-426614174000"
# The parse-op order of prov_all(): fuzz_provider_response's byte 0.
PROVIDERS = ["openai", "anthropic", "gemini", "perplexity"]
# The async providers in prov_all() order: fuzz_batch_response's byte 0.
ASYNC_PROVIDERS = ["openai-batch", "anthropic-batch", "snapshot"]
# fuzz_request's parameters, in its param_names order.
PARAMS = ["REQUEST_METHOD", "REQUEST_URI", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
          "CONTENT_LENGTH", "HTTP_X_REQUEST_ID", "HTTP_IDEMPOTENCY_KEY", "DOCUMENT_URI"]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def jobtypes():
    for path in sorted(glob.glob(os.path.join(ROOT, "jobtypes", "*.json"))):
        with open(path, "rb") as f:
            raw = f.read()
        yield os.path.basename(path)[:-5], raw, json.loads(raw)


def sample_input(decl):
    values = {"string": "solar panels", "integer": 3, "number": 1.5, "boolean": True,
              "array": ["a", "b"], "object": {"k": "v"}}
    return {name: values[spec["type"]] for name, spec in decl.get("input", {}).items()}


CHATS = {
    "minimal": {"message": "hi", "models": {"openai": "gpt-4o"}},
    "all-fields": {"message": "Compare Rust and Go \u00e9", "system": "be brief", "max_tokens": 50,
                   "websearch": True, "location": "de",
                   "models": {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
                              "gemini": "models/gemini-2.5-flash", "perplexity": "sonar",
                              "mock": "m"}},
    "nulls": {"message": "x", "system": None, "max_tokens": None, "websearch": None,
              "location": None, "models": {"mock": "mock-1"}},
}


def chat_seeds():
    for name, body in CHATS.items():
        write("fuzz_chat_request", name, compact(body))
    write("fuzz_chat_request", "bad-provider", '{"message":"a","models":{"nope":"m"}}')


OPENAI = {
    "response-string": (0, {"model": "gpt-4o", "input": "hi"}),
    "response-items": (0, {"model": "anthropic/claude-3-5-haiku-latest", "instructions": "Be brief.",
                           "input": [{"role": "developer", "content": "No lists."},
                                     {"role": "user", "content": "one"},
                                     {"type": "message", "role": "assistant",
                                      "content": [{"type": "output_text", "text": "ok"}]},
                                     {"role": "user", "content": [{"type": "input_text", "text": "two"}]}],
                           "max_output_tokens": 50, "metadata": {"k": "v"}, "background": True,
                           "stream": False, "temperature": 0.5}),
    "response-image": (0, {"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "x"}]}]}),
    "completion": (1, {"model": "gemini/gemini-2.5-flash", "max_tokens": 9, "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "system", "content": "S"},
                                    {"role": "user", "content": [{"type": "text", "text": "q"}]}]}),
    "completion-tool": (1, {"model": "mock/m", "messages": [{"role": "tool", "content": "x"}]}),
}


def openai_seeds():
    for name, (which, body) in OPENAI.items():
        write("fuzz_openai_request", name, bytes([which]) + compact(body).encode())


def job_seeds():
    for name, _, decl in jobtypes():
        body = {"type": name, "decision_id": UUID, "input": sample_input(decl)}
        write("fuzz_job_request", name, compact(body))
        write("fuzz_job_request", name + "-key", "key-" + name + "\n" + json.dumps(body, indent=1))
    write("fuzz_job_request", "inline-type",
          compact({"type": "fuzz_type", "input": {"topic": "t", "count": 2, "ratio": 0.5,
                                                  "flag": False, "items": ["x"], "extra": {}}}))
    write("fuzz_job_request", "unknown-type", '{"type":"nope","input":{}}')


def template_seeds():
    ctx = compact({"input": {"topic": "cats", "items": [1, "two"], "obj": {"a": {"b": "c"}}},
                   "steps": {"first": {"text": "done", "json": {"k": True}}}})
    for name, text in {
        "plain": "no placeholders at all",
        "inputs": "About {{input.topic}} and {{ input.items }}.",
        "deep": "{{input.obj.a.b}} then {{steps.first.json}}",
        "missing": "{{steps.second.text}}",
        "unclosed": "text {{input.topic",
    }.items():
        write("fuzz_template", name, text.encode() + b"\0" + ctx.encode())
    write("fuzz_template", "default-context", "{{input.topic}} {{steps.first.text}}")


def jobtype_seeds():
    for name, raw, _ in jobtypes():
        write("fuzz_jobtype", name, raw)


def provider_seeds():
    for i, prov in enumerate(PROVIDERS):
        d = os.path.join(ROOT, "tests", "fixtures", "providers", prov)
        for body_path in sorted(glob.glob(os.path.join(d, "*.body"))):
            case = os.path.basename(body_path)[:-5]
            with open(os.path.join(d, case + ".expect.json")) as f:
                status = json.load(f)["status"]
            with open(body_path, "rb") as f:
                body = f.read()
            write("fuzz_provider_response", prov + "-" + case,
                  bytes([i]) + struct.pack(">H", status) + body)


def request(params, body=b"", mode=0):
    """fuzz_request's format: presence mask, transport mode, values, body."""
    mask = 0
    values = []
    for i, name in enumerate(PARAMS):
        if name in params:
            mask |= 1 << i
        values.append(params.get(name, ""))
    if isinstance(body, str):
        body = body.encode()
    if "CONTENT_LENGTH" in params and params["CONTENT_LENGTH"] == "auto":
        values[PARAMS.index("CONTENT_LENGTH")] = str(len(body))
    head = struct.pack("<HB", mask, mode)
    return head + "".join(v + "\n" for v in values).encode() + body


def request_seeds():
    chat = compact(CHATS["minimal"])
    job = compact({"type": "market_research", "input": {"market": "tea"}})
    post = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "auto"}
    seeds = {
        "chat-submit": (dict(post, REQUEST_URI="/api/ai/chat"), chat, 0),
        "chat-submit-path-info": (dict(post, PATH_INFO="/api/ai/chat",
                                       REQUEST_URI="/cgi-bin/aigw/api/ai/chat",
                                       HTTP_X_REQUEST_ID="req-1"), chat, 3),
        "chat-submit-lying-length": (dict(post, REQUEST_URI="/api/ai/chat", CONTENT_LENGTH="999"),
                                     chat, 16),
        "chat-status": ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/ai/chat/status?id=" + UUID,
                         "QUERY_STRING": "id=" + UUID}, "", 0),
        "jobs-submit": (dict(post, REQUEST_URI="/api/jobs", HTTP_IDEMPOTENCY_KEY="order 42"), job, 64),
        "jobs-list": ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/jobs",
                       "QUERY_STRING": "status=running&type=market_research&limit=10&cursor=1700000000000000." + UUID},
                      "", 0),
        "jobs-list-bad-escape": ({"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/jobs",
                                  "QUERY_STRING": "type=a%2&limit"}, "", 0),
        "job-result": ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/jobs/" + UUID + "/result"}, "", 0),
        "job-cancel": ({"REQUEST_METHOD": "DELETE", "REQUEST_URI": "/api/jobs/" + UUID}, "", 0),
        "wrong-method": ({"REQUEST_METHOD": "PUT", "REQUEST_URI": "/api/jobs/x"}, "", 0),
        "health": ({"REQUEST_METHOD": "GET", "REQUEST_URI": "/api/health#frag"}, "", 32),
        "too-big": (dict(post, REQUEST_URI="/api/jobs", CONTENT_LENGTH="100000"), job, 0),
        "wrong-type": (dict(post, REQUEST_URI="/api/ai/chat", CONTENT_TYPE="text/plain"), chat, 0),
    }
    for name, (params, body, mode) in seeds.items():
        write("fuzz_request", name, request(params, body, mode))


def db_array_seeds():
    """fuzz_db_array: items separated by NUL, b"\\xff" an SQL NULL."""
    seeds = {
        "plain": [b"a", b"b", b"c"],
        "quotes": [b'say "hi"', b"back\\slash", b"\\\""],
        "null-and-empty": [b"\xff", b"", b"NULL"],
        "braces-commas": [b"{a,b}", b",", b"}{"],
        "utf8": ["caf\u00e9 \u2014 \U0001f600".encode(), b"x"],
        "json": [b'{"text":"a\\nb","ok":true}', b"\xff"],
    }
    for name, items in seeds.items():
        write("fuzz_db_array", name, b"\0".join(items))


def batch_response_seeds():
    """fuzz_batch_response: provider, state (the index of the fixture's
    .expect.json in name order), status, then the recorded answer."""
    for p, name in enumerate(ASYNC_PROVIDERS):
        d = os.path.join(ROOT, "tests", "fixtures", "providers", name)
        cases = sorted(f for f in os.listdir(d) if f.endswith(".expect.json"))
        for k, case in enumerate(cases):
            body = os.path.join(d, case[:-len(".expect.json")] + ".body")
            if not os.path.exists(body):
                continue
            with open(os.path.join(d, case)) as f:
                status = json.load(f).get("status", 200)
            with open(body, "rb") as f:
                data = f.read()
            write("fuzz_batch_response", f"{name}-{case[:-len('.expect.json')]}",
                  bytes([p, k]) + struct.pack(">H", status) + data)


def main():
    chat_seeds()
    openai_seeds()
    job_seeds()
    template_seeds()
    jobtype_seeds()
    provider_seeds()
    request_seeds()
    db_array_seeds()
    batch_response_seeds()


if __name__ == "__main__":
    main()
