#!/usr/bin/python3
"""Local mock of the AI provider APIs used by aigw.

Standard library only.  Speaks the documented wire format of:

  POST /openai/v1/chat/completions                  (base http://H:P/openai/v1)
  POST /anthropic/v1/messages                       (base http://H:P/anthropic)
  POST /gemini/v1beta/models/{model}:generateContent (base http://H:P/gemini)
  POST /perplexity/chat/completions                 (base http://H:P/perplexity)

and, in mockbatches.py, the asynchronous batch APIs (OpenAI Files + Batch,
Anthropic Message Batches, the snapshot dataset service) on the same port.

Control endpoints: GET /_health, GET /_log, POST /_reset.

Faults on demand through directives appended to the model name, each
introduced by "~":  gpt-4o~delay=300, claude-3-5-haiku-latest~status=529~retry_after=1,
gemini-2.5-flash~fail=2~status=429 ...  See README.md next to this file.

Usage: mockproviders.py --host 127.0.0.1 --port N [--log FILE]
"""

import argparse
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockbatches  # noqa: E402  (bound to this module at the end of the file)

HANG_MAX_S = 600.0
MAX_DELAY_MS = 600000
MAX_BODY = 64 * 1024 * 1024
MAX_WORDS = 1000000
MAX_TPS = 1000000.0
# A line past aigw's SSE bound (256 KiB), with room to spare.
LONGLINE_BYTES = 300 * 1024 + 1024

# --------------------------------------------------------------------------
# shared state


class State:
    def __init__(self, log_path=None):
        self.lock = threading.Lock()
        self.entries = []
        self.seq = 0
        self.counters = {}
        self.batches = {}  # id -> mockbatches.Batch
        self.files = {}    # OpenAI file id -> dict (see mockbatches)
        self.log_path = log_path
        self.file_lock = threading.Lock()

    def reset(self):
        with self.lock:
            self.entries = []
            self.seq = 0
            self.counters = {}
            self.batches = {}
            self.files = {}

    def new_entry(self, path, method=None):
        with self.lock:
            self.seq += 1
            entry = {
                "seq": self.seq,
                "time": time.time(),
                "sent": None,
                "provider": None,
                "model": None,
                "path": path,
                "method": method,
                "message": None,
                "status": None,
                "websearch": False,
                "location": None,
                "json": False,
                "body": None,
                # the conversation the request carried (see wire_turns)
                "turns": None,
                # the Authorization header as sent (test keys only)
                "authorization": None,
                # streamed answers only
                "stream": False,
                "done": None,
                "tokens_at": None,
                # batch routes only (see mockbatches.py)
                "action": None,
                "batch_id": None,
                "file_id": None,
                "state": None,
                "items": None,
                "custom_ids": None,
            }
            self.entries.append(entry)
            return entry

    def finish(self, entry, status):
        """Records the answer just before it is written to the client."""
        with self.lock:
            entry["status"] = status
            entry["sent"] = time.time() if status is not None else None
        self.write_line(entry)

    def stream_started(self, entry, status):
        """Records a streamed answer as its first byte is about to be written;
        the log file gets its line when the stream ends (stream_ended)."""
        with self.lock:
            entry["status"] = status
            entry["stream"] = True
            entry["tokens_at"] = []
            entry["sent"] = time.time()

    def token_written(self, entry, when):
        with self.lock:
            entry["tokens_at"].append(when)

    def stream_ended(self, entry, when):
        with self.lock:
            entry["done"] = when
        self.write_line(entry)

    def write_line(self, entry):
        with self.lock:
            line = json.dumps(entry, ensure_ascii=False)
        if self.log_path:
            with self.file_lock:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")

    def snapshot(self):
        with self.lock:
            return json.dumps(self.entries, ensure_ascii=False)

    def count(self, key):
        """Increment and return the number of requests seen for key."""
        with self.lock:
            n = self.counters.get(key, 0) + 1
            self.counters[key] = n
            return n


# --------------------------------------------------------------------------
# helpers


def words(text):
    return max(1, len((text or "").split()))


def new_id(prefix, n=24):
    return prefix + uuid.uuid4().hex[:n]


class BadRequest(Exception):
    """A 400 in the provider's own format."""

    def __init__(self, message, param=None):
        super().__init__(message)
        self.message = message
        self.param = param


_gates = {}
_gates_lock = threading.Lock()


def capacity_gate(provider, base, capacity):
    """The semaphore of ~capacity=N for one provider and base model: at most
    N such requests are served at once, the others wait in line for their
    turn, as an overloaded provider's queue does (the client's timeout runs
    meanwhile)."""
    key = (provider, base, capacity)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = threading.Semaphore(capacity)
        return gate


# Faults of a streamed answer, each "after K tokens" (stall is "K:S"). A whole
# (non-streamed) answer ignores them; fail=N counts them as it counts the others.
STREAM_FAULTS = ("cut", "stream_error", "stall", "stream_garbage", "longline",
                 "unknown_event", "midevent")


def parse_model(full):
    """Split 'base~k=v~flag' into (base, directives dict). Raises BadRequest."""
    parts = full.split("~")
    base = parts[0]
    d = {"delay": 0, "status": None, "fail": None, "retry_after": None,
         "garbage": False, "hang": False, "json": False, "capacity": None,
         "words": None, "tps": None, "chunk": None}
    d.update({k: None for k in STREAM_FAULTS})
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        k = k.strip().lower()
        try:
            if k in STREAM_FAULTS and k != "stall" or k in ("words", "chunk"):
                if not eq:
                    raise ValueError
                n = int(v)
                if n < 0 or (k == "chunk" and n < 1) or (k == "words" and n > MAX_WORDS):
                    raise ValueError
                d[k] = n
            elif k == "tps":
                x = float(v) if eq else -1.0
                if not 0.0 < x <= MAX_TPS:  # also refuses nan
                    raise ValueError
                d[k] = x
            elif k == "stall":
                at, colon, secs = v.partition(":")
                if not eq or not colon:
                    raise ValueError
                k_at, x = int(at), float(secs)
                if k_at < 0 or not 0.0 <= x <= HANG_MAX_S:
                    raise ValueError
                d[k] = (k_at, x)
            elif k in ("delay", "status", "fail", "capacity"):
                if not eq:
                    raise ValueError
                n = int(v)
                if n < 0 or (k == "capacity" and n < 1):
                    raise ValueError
                if k == "delay":
                    n = min(n, MAX_DELAY_MS)
                if k == "status" and not (100 <= n <= 599):
                    raise ValueError
                d[k] = n
            elif k == "retry_after":
                if not eq or not v.strip():
                    raise ValueError
                d[k] = v.strip()
            elif k in ("garbage", "hang", "json"):
                if eq:
                    raise ValueError
                d[k] = True
            else:
                raise BadRequest("mockproviders: unknown model directive '~%s'" % p, "model")
        except ValueError:
            raise BadRequest("mockproviders: bad model directive '~%s'" % p, "model")
    return base, d


def message_directives(provider, message, d):
    """Directives for one provider carried by the message itself, so that a
    caller whose model names are fixed can still fault one request:
    'some prompt ~~gemini~status=400' gives gemini a 400 and the others
    nothing. Returns d with them merged in (d may be None). Raises BadRequest."""
    if not message or "~~" not in message:
        return d
    target, _, spec = message.rpartition("~~")[2].partition("~")
    if target.strip().lower() != provider:
        return d
    _, extra = parse_model("m~" + spec)
    merged = dict(d) if d else parse_model("m")[1]
    defaults = parse_model("m")[1]
    merged.update({k: v for k, v in extra.items() if v != defaults[k]})
    return merged


def content_texts(content):
    """The texts of an OpenAI/Anthropic message content (string or list of parts)."""
    if isinstance(content, str):
        return [content]
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
    return out


def content_text(content):
    """Text of an OpenAI/Anthropic message content (string or list of parts)."""
    return "".join(content_texts(content))


def wire_turns(provider, req):
    """The conversation a chat request carried, read the same whatever its
    wire format: [{"role": "system" | "user" | "assistant", "text"}] in
    order, the system prompt first (Anthropic's "system", Gemini's
    "systemInstruction", OpenAI's "developer" read as "system"; Gemini's
    "model" as "assistant"). Tests compare it with what they sent."""
    out = []
    if provider == "gemini":
        si = req.get("systemInstruction")
        if isinstance(si, dict) and isinstance(si.get("parts"), list):
            out.append({"role": "system", "text": "".join(
                p.get("text", "") for p in si["parts"]
                if isinstance(p, dict) and isinstance(p.get("text"), str))})
        for c in req.get("contents") or []:
            if isinstance(c, dict):
                role = c.get("role", "user")
                out.append({"role": "assistant" if role == "model" else role,
                            "text": "".join(p.get("text", "") for p in c.get("parts") or []
                                            if isinstance(p, dict)
                                            and isinstance(p.get("text"), str))})
        return out
    if provider == "anthropic" and req.get("system") is not None:
        out.append({"role": "system", "text": content_text(req.get("system"))})
    for m in req.get("messages") or []:
        if isinstance(m, dict):
            role = m.get("role")
            out.append({"role": "system" if role == "developer" else role,
                        "text": content_text(m.get("content"))})
    return out


# "JSON" as a word, in any case (OpenAI's JSON mode looks for it so too).
JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)


def mentions_json(content):
    """True when an instruction (a string, or a list of parts or text blocks,
    each looked at on its own) says JSON: a real model follows it."""
    return any(JSON_WORD.search(t) for t in content_texts(content))


def json_answer_text(provider, base, message, more=""):
    ws = (message or "").split()[:10] or ["none"]
    return json.dumps({"summary": "[%s/%s] %s%s" % (provider, base, message, more),
                       "items": ws}, ensure_ascii=False)


FILLER = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima "
          "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
          "xray yankee zulu amber basalt cobalt dune ember fjord granite harbor iris "
          "jade kelp lagoon meadow nectar orchid pebble quartz river sable tundra "
          "umber valley willow xenon yarrow zephyr").split()


def filler_words(message, n):
    """N words for ~words=N: the list cycled from a place the message picks,
    so an answer is the same for the same request."""
    start = zlib.crc32((message or "").encode("utf-8")) % len(FILLER)
    return " ".join(FILLER[(start + i) % len(FILLER)] for i in range(n))


def answer_text(provider, base, message, as_json, nwords):
    """The answer's text: "[provider/base] message", then ~words=N's words;
    as a JSON object (see json_answer_text) when the request asks for JSON."""
    more = " " + filler_words(message, nwords) if nwords else ""
    if as_json:
        return json_answer_text(provider, base, message, more)
    return "[%s/%s] %s%s" % (provider, base, message, more)


def tokens_of(text):
    """The streamed tokens of a text: each word with the spaces after it (the
    first also with any before it); joined they are the text exactly."""
    toks = re.findall(r"\s*\S+\s*", text)
    if "".join(toks) != text:  # only spaces
        toks = [text] if text else []
    return toks


def sse_event(obj, name=None):
    """One SSE event, as the providers write them: compact JSON, UTF-8."""
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    head = "event: %s\n" % name if name else ""
    return (head + "data: " + data + "\n\n").encode("utf-8")


SSE_GARBAGE = b"data: <html>oops: mockproviders garbage</html>\n\n"
SSE_UNKNOWN = b'event: surprise\ndata: {"type":"surprise"}\n\n'


def padding():
    return "x" * LONGLINE_BYTES


def mock_sources(provider, n=2):
    return [{"url": "https://example.com/%s/source-%d" % (provider, i),
             "title": "Mock source %d (%s)" % (i, provider),
             "date": "2025-01-0%d" % i}
            for i in range(1, n + 1)]


def check_stream(req, allow_stream, param=None):
    """"stream": a boolean; true only where a streamed answer can be given
    (the sync routes, not a batch's lines). Raises BadRequest."""
    v = req.get("stream")
    if v is None or v is False:
        return
    if v is not True:
        raise BadRequest("Invalid type for 'stream': expected a boolean.", param)
    if not allow_stream:
        raise BadRequest("mockproviders: streaming is not supported here", param)


# --------------------------------------------------------------------------
# provider definitions: each has auth(), validate(), success(), error(), and
# stream_items() / stream_error() / stream_pad() for streamed answers

OPENAI_ERR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", None),
}

ANTHROPIC_ERR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def default_message(status):
    return {
        400: "Bad request",
        401: "Invalid authentication",
        403: "Permission denied",
        404: "Not found",
        429: "Rate limit exceeded, please retry later",
        500: "Internal server error",
        502: "Bad gateway",
        503: "Service unavailable",
        504: "Gateway timeout",
        529: "Overloaded",
    }.get(status, "Mock error %d" % status)


def bearer_ok(headers):
    h = headers.get("Authorization", "")
    scheme, _, token = h.strip().partition(" ")
    return scheme.lower() == "bearer" and token.strip() != ""


class OpenAI:
    name = "openai"

    @staticmethod
    def error_body(status, message=None, param=None, code=None):
        etype, ecode = OPENAI_ERR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None))
        return {"error": {"message": message or default_message(status),
                          "type": etype, "param": param,
                          "code": code if code is not None else ecode}}

    @classmethod
    def auth(cls, headers):
        if not bearer_ok(headers):
            return (401, cls.error_body(
                401, "You didn't provide an API key. You need to provide your API key "
                     "in an Authorization header using Bearer auth "
                     "(i.e. Authorization: Bearer YOUR_KEY).", code=None))
        return None

    @staticmethod
    def validate(req, allow_stream=False):
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("you must provide a model parameter", "model")
        msgs = req.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("Missing required parameter: 'messages'.", "messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in (
                    "system", "developer", "user", "assistant", "tool", "function"):
                raise BadRequest("Invalid value for 'messages[%d].role'." % i,
                                 "messages[%d].role" % i)
            if "content" not in m and m.get("role") != "assistant":
                raise BadRequest("Missing required parameter: 'messages[%d].content'." % i,
                                 "messages[%d].content" % i)
        check_stream(req, allow_stream, "stream")
        last = ""
        for m in msgs:
            if m.get("role") == "user":
                last = content_text(m.get("content"))
        return model, last

    @staticmethod
    def websearch(req):
        return isinstance(req.get("web_search_options"), dict)

    @staticmethod
    def wants_json(req):
        """JSON mode (response_format json_object or json_schema; Perplexity
        inherits this) or a system/developer message asking for JSON."""
        rf = req.get("response_format")
        if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
            return True
        return any(isinstance(m, dict) and m.get("role") in ("system", "developer")
                   and mentions_json(m.get("content"))
                   for m in req.get("messages") or ())

    @staticmethod
    def location(req):
        try:
            loc = req["web_search_options"]["user_location"]
            return loc.get("approximate", {}).get("country") or loc.get("country")
        except (KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def success(cls, req, base, message, text, websearch, created=None):
        annotations = []
        if websearch:
            # Cite spans of the answer text itself so the text stays exact.
            srcs = mock_sources(cls.name)
            split = text.find("] ")
            spans = [(0, split + 1 if split >= 0 else len(text)),
                     (split + 2 if split >= 0 else 0, len(text))]
            for (s, e), src in zip(spans, srcs):
                annotations.append({"type": "url_citation",
                                    "url_citation": {"start_index": s, "end_index": e,
                                                     "title": src["title"],
                                                     "url": src["url"]}})
        pt, ct = words(message), words(text)
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(created or time.time()),
            "model": base,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None,
                            "annotations": annotations},
                "logprobs": None,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default",
            "system_fingerprint": "fp_mockproviders",
        }

    # Streamed answers are built from the whole one, so the two always agree.

    @staticmethod
    def _chunker(req, body):
        head = {k: body[k] for k in ("id", "object", "created", "model", "service_tier",
                                     "system_fingerprint") if k in body}
        head["object"] = "chat.completion.chunk"
        so = req.get("stream_options")
        usage = isinstance(so, dict) and so.get("include_usage") is True

        def chunk(delta, finish=None, **extra):
            c = dict(head)
            c["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]
            if usage:
                c["usage"] = None
            c.update(extra)
            return c
        return head, usage, chunk

    @classmethod
    def stream_items(cls, req, body, text):
        """[(SSE bytes, is a token)]: a role chunk, one content chunk per token,
        the annotations (web search) in a delta of their own, the finish chunk,
        with stream_options.include_usage a usage chunk with no choices, and
        [DONE]."""
        head, usage, chunk = cls._chunker(req, body)
        msg = body["choices"][0]["message"]
        items = [(sse_event(chunk({"role": "assistant", "content": "", "refusal": None})),
                  False)]
        items += [(sse_event(chunk({"content": t})), True) for t in tokens_of(text)]
        if msg.get("annotations"):
            items.append((sse_event(chunk({"annotations": msg["annotations"]})), False))
        items.append((sse_event(chunk({}, body["choices"][0]["finish_reason"])), False))
        if usage:
            items.append((sse_event(dict(head, choices=[], usage=body["usage"])), False))
        items.append((b"data: [DONE]\n\n", False))
        return items

    @classmethod
    def stream_error(cls):
        return sse_event({"error": {"message": "The server had an error while processing "
                                               "your request. Sorry about that!",
                                    "type": "server_error", "param": None, "code": None}})

    @classmethod
    def stream_pad(cls, req, body):
        _, _, chunk = cls._chunker(req, body)
        return sse_event(chunk({}, mock_padding=padding()))


class Perplexity(OpenAI):
    name = "perplexity"

    @classmethod
    def error_body(cls, status, message=None, param=None, code=None):
        body = OpenAI.error_body(status, message, param, code)
        if code is None:
            body["error"]["code"] = status
        return body

    @classmethod
    def auth(cls, headers):
        if not bearer_ok(headers):
            return (401, cls.error_body(401, "Missing or invalid Authorization header "
                                             "(expected: Bearer <API key>)"))
        return None

    @staticmethod
    def validate(req, allow_stream=False):
        model, last = OpenAI.validate(req, allow_stream)
        msgs = req["messages"]
        if msgs[-1].get("role") != "user":
            raise BadRequest("Last message must have role `user`.", "messages")
        # Sonar's rule: after the optional system messages, user and
        # assistant turns alternate, the user's first.
        turns = [m.get("role") for m in msgs]
        while turns and turns[0] == "system":
            turns.pop(0)
        for i, role in enumerate(turns):
            if role != ("user" if i % 2 == 0 else "assistant"):
                raise BadRequest("After the (optional) system message(s), user and "
                                 "assistant roles should be alternating.", "messages")
        return model, last

    @staticmethod
    def websearch(req):
        # Perplexity always searches unless explicitly told not to.
        return not req.get("disable_search", False)

    @classmethod
    def success(cls, req, base, message, text, websearch, created=None):
        body = super(Perplexity, cls).success(req, base, message, text, False, created)
        body["choices"][0]["message"] = {"role": "assistant", "content": text}
        body["usage"] = {"prompt_tokens": body["usage"]["prompt_tokens"],
                         "completion_tokens": body["usage"]["completion_tokens"],
                         "total_tokens": body["usage"]["total_tokens"],
                         "search_context_size": "low"}
        del body["service_tier"]
        del body["system_fingerprint"]
        srcs = mock_sources(cls.name) if websearch else []
        body["citations"] = [s["url"] for s in srcs]
        body["search_results"] = [{"title": s["title"], "url": s["url"], "date": s["date"],
                                   "last_updated": s["date"],
                                   "snippet": "Mock snippet about: " + message[:80]}
                                  for s in srcs]
        return body

    @staticmethod
    def _chunker(req, body):
        head = {"id": body["id"], "model": body["model"], "created": body["created"],
                "object": "chat.completion.chunk"}
        extra = {"citations": body["citations"], "search_results": body["search_results"]}
        u = body["usage"]

        def chunk(delta, finish=None, done=None):
            c = dict(head)
            c["choices"] = [{"index": 0, "finish_reason": finish, "delta": delta}]
            c.update(extra)
            n = u["completion_tokens"] if done is None else done
            c["usage"] = dict(u, completion_tokens=n, total_tokens=u["prompt_tokens"] + n)
            return c
        return chunk

    @classmethod
    def stream_items(cls, req, body, text):
        """Sonar's stream: OpenAI-style chunks, each with the role, the
        citations and search results, and the usage so far; the last one has
        the finish reason and an empty content, and no [DONE] follows."""
        chunk = cls._chunker(req, body)
        items = [(sse_event(chunk({"role": "assistant", "content": t}, done=i + 1)), True)
                 for i, t in enumerate(tokens_of(text))]
        items.append((sse_event(chunk({"role": "assistant", "content": ""},
                                      body["choices"][0]["finish_reason"])), False))
        return items

    @classmethod
    def stream_error(cls):
        return sse_event({"error": {"message": "Internal server error",
                                    "type": "server_error", "code": 500}})

    @classmethod
    def stream_pad(cls, req, body):
        chunk = cls._chunker(req, body)
        c = chunk({"role": "assistant", "content": ""}, done=0)
        c["mock_padding"] = padding()
        return sse_event(c)


class Anthropic:
    name = "anthropic"

    @staticmethod
    def error_body(status, message=None, param=None, code=None):
        etype = ANTHROPIC_ERR_TYPES.get(status, "api_error")
        return {"type": "error",
                "error": {"type": etype, "message": message or default_message(status)},
                "request_id": new_id("req_mock")}

    @classmethod
    def auth(cls, headers):
        if not headers.get("x-api-key", "").strip():
            return (401, cls.error_body(401, "x-api-key header is required"))
        if not headers.get("anthropic-version", "").strip():
            return (400, cls.error_body(400, "anthropic-version: header is required"))
        return None

    @staticmethod
    def validate(req, allow_stream=False):
        model = req.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Field required")
        mt = req.get("max_tokens")
        if mt is None:
            raise BadRequest("max_tokens: Field required")
        if isinstance(mt, bool) or not isinstance(mt, int) or mt < 1:
            raise BadRequest("max_tokens: Input should be a valid integer greater than 0")
        msgs = req.get("messages")
        if msgs is None:
            raise BadRequest("messages: Field required")
        if not isinstance(msgs, list) or not msgs:
            raise BadRequest("messages: at least one message is required")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
                raise BadRequest("messages.%d.role: Input should be 'user' or 'assistant'" % i)
            if "content" not in m:
                raise BadRequest("messages.%d.content: Field required" % i)
        sysp = req.get("system")
        if sysp is not None and not isinstance(sysp, (str, list)):
            raise BadRequest("system: Input should be a valid string or list")
        check_stream(req, allow_stream)
        last = ""
        for m in msgs:
            if m.get("role") == "user":
                last = content_text(m.get("content"))
        return model, last

    @staticmethod
    def _ws_tool(req):
        tools = req.get("tools")
        if isinstance(tools, list):
            for t in tools:
                if isinstance(t, dict) and (str(t.get("type", "")).startswith("web_search")
                                            or t.get("name") == "web_search"):
                    return t
        return None

    @classmethod
    def websearch(cls, req):
        return cls._ws_tool(req) is not None

    @classmethod
    def location(cls, req):
        t = cls._ws_tool(req)
        try:
            return t["user_location"].get("country")
        except (KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def wants_json(req):
        """The Messages API has no schemaless JSON mode: only a top-level
        system prompt (a string or a list of text blocks) can ask for JSON."""
        return mentions_json(req.get("system"))

    @classmethod
    def success(cls, req, base, message, text, websearch, created=None):
        ws_requests = 0
        if websearch:
            ws_requests = 1
            srcs = mock_sources(cls.name)
            tool_id = new_id("srvtoolu_")
            split = text.find("] ")
            head, tail = (text[:split + 2], text[split + 2:]) if split >= 0 else ("", text)
            content = [
                {"type": "server_tool_use", "id": tool_id, "name": "web_search",
                 "input": {"query": message}},
                {"type": "web_search_tool_result", "tool_use_id": tool_id,
                 "content": [{"type": "web_search_result", "url": s["url"],
                              "title": s["title"],
                              "encrypted_content": "bW9jay1lbmNyeXB0ZWQtY29udGVudA==",
                              "page_age": s["date"]} for s in srcs]},
            ]
            # The answer is split over text blocks (as the real API does);
            # their concatenation is exactly the answer text.
            if head:
                content.append({"type": "text", "text": head})
            content.append({"type": "text", "text": tail,
                            "citations": [{"type": "web_search_result_location",
                                           "url": s["url"], "title": s["title"],
                                           "encrypted_index": "bW9jay1pbmRleA==",
                                           "cited_text": "Mock cited text %d: %s"
                                                         % (i + 1, message[:100])}
                                          for i, s in enumerate(srcs)]})
        else:
            content = [{"type": "text", "text": text}]
        usage = {"input_tokens": words(message), "output_tokens": words(text),
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                 "service_tier": "standard"}
        if websearch:
            usage["server_tool_use"] = {"web_search_requests": ws_requests}
        return {"id": new_id("msg_mock"), "type": "message", "role": "assistant",
                "model": base, "content": content, "stop_reason": "end_turn",
                "stop_sequence": None, "usage": usage}

    @staticmethod
    def _event(obj):
        return sse_event(obj, obj["type"])

    @classmethod
    def stream_items(cls, req, body, text):
        """message_start (input usage), a ping, each content block as
        content_block_start / _delta / _stop (a tool's input as
        input_json_delta, a text block's citations as citations_delta, then
        its text, one text_delta per token), message_delta (stop reason and
        the cumulative usage), message_stop."""
        ev = cls._event
        usage = body["usage"]
        start_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                             "cache_read_input_tokens", "service_tier")}
        start_usage["output_tokens"] = 1
        msg = {k: body[k] for k in ("id", "type", "role", "model")}
        msg.update(content=[], stop_reason=None, stop_sequence=None, usage=start_usage)
        items = [(ev({"type": "message_start", "message": msg}), False),
                 (ev({"type": "ping"}), False)]
        for i, block in enumerate(body["content"]):
            start = {"type": "content_block_start", "index": i}
            deltas = []
            if block["type"] == "text":
                start["content_block"] = {"type": "text", "text": ""}
                deltas = [({"type": "citations_delta", "citation": c}, False)
                          for c in block.get("citations", ())]
                deltas += [({"type": "text_delta", "text": t}, True)
                           for t in tokens_of(block["text"])]
            elif block["type"] == "server_tool_use":
                start["content_block"] = dict(block, input={})
                deltas = [({"type": "input_json_delta",
                            "partial_json": json.dumps(block["input"], ensure_ascii=False)},
                           False)]
            else:
                start["content_block"] = block
            items.append((ev(start), False))
            items += [(ev({"type": "content_block_delta", "index": i, "delta": d}), tok)
                      for d, tok in deltas]
            items.append((ev({"type": "content_block_stop", "index": i}), False))
        end_usage = {k: v for k, v in usage.items() if k != "service_tier"}
        items.append((ev({"type": "message_delta",
                          "delta": {"stop_reason": body["stop_reason"],
                                    "stop_sequence": body["stop_sequence"]},
                          "usage": end_usage}), False))
        items.append((ev({"type": "message_stop"}), False))
        return items

    @classmethod
    def stream_error(cls):
        return cls._event({"type": "error",
                           "error": {"type": "overloaded_error", "message": "Overloaded"}})

    @classmethod
    def stream_pad(cls, req, body):
        return cls._event({"type": "ping", "mock_padding": padding()})


class Gemini:
    name = "gemini"

    @staticmethod
    def error_body(status, message=None, param=None, code=None):
        st = GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return {"error": {"code": status, "message": message or default_message(status),
                          "status": st}}

    @classmethod
    def auth(cls, headers):
        if not headers.get("x-goog-api-key", "").strip():
            return (401, cls.error_body(401, "Method doesn't allow unregistered callers "
                                             "(callers without established identity). "
                                             "Please use API Key or other form of API "
                                             "consumer identity to call this API."))
        return None

    @staticmethod
    def validate(req, allow_stream=False):
        contents = req.get("contents")
        if contents is None:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        last = ""
        for i, c in enumerate(contents):
            if not isinstance(c, dict) or not isinstance(c.get("parts"), list) \
                    or not c["parts"]:
                raise BadRequest("* GenerateContentRequest.contents[%d].parts: "
                                 "contents.parts must not be empty." % i)
            role = c.get("role", "user")
            if role not in ("user", "model", "function", "tool"):
                raise BadRequest("Please use a valid role: user, model.")
            if role == "user":
                last = "".join(p.get("text", "") for p in c["parts"]
                               if isinstance(p, dict) and isinstance(p.get("text"), str))
        return None, last

    @staticmethod
    def websearch(req):
        tools = req.get("tools")
        if isinstance(tools, list):
            for t in tools:
                if isinstance(t, dict) and any(k in t for k in (
                        "google_search", "googleSearch",
                        "google_search_retrieval", "googleSearchRetrieval")):
                    return True
        return False

    @staticmethod
    def location(req):
        return None

    @staticmethod
    def wants_json(req):
        """generationConfig.responseMimeType "application/json" (JSON mode) or
        a systemInstruction part asking for JSON. The REST API takes the
        proto's snake_case field names too, so they count as well."""
        gc = req.get("generationConfig", req.get("generation_config"))
        if isinstance(gc, dict):
            mime = gc.get("responseMimeType", gc.get("response_mime_type"))
            if isinstance(mime, str) and mime.strip().lower() == "application/json":
                return True
        si = req.get("systemInstruction", req.get("system_instruction"))
        parts = si.get("parts") if isinstance(si, dict) else None
        return mentions_json(parts)

    @classmethod
    def success(cls, req, base, message, text, websearch, created=None):
        cand = {"content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP", "index": 0}
        if websearch:
            srcs = mock_sources(cls.name)
            cand["groundingMetadata"] = {
                "webSearchQueries": [message],
                "searchEntryPoint": {"renderedContent": "<div>mock search entry point</div>"},
                "groundingChunks": [{"web": {"uri": s["url"], "title": s["title"]}}
                                    for s in srcs],
                "groundingSupports": [{
                    "segment": {"startIndex": 0, "endIndex": len(text.encode("utf-8")),
                                "text": text},
                    "groundingChunkIndices": list(range(len(srcs))),
                }],
            }
        pt, ct = words(message), words(text)
        return {"candidates": [cand],
                "usageMetadata": {"promptTokenCount": pt, "candidatesTokenCount": ct,
                                  "totalTokenCount": pt + ct,
                                  "promptTokensDetails": [{"modality": "TEXT",
                                                           "tokenCount": pt}]},
                "modelVersion": base,
                "responseId": new_id("mock", 22)}

    @classmethod
    def stream_items(cls, req, body, text):
        """One GenerateContentResponse per token with the usage so far, then
        a last one with an empty text part, the finish reason, the grounding
        (web search) and the whole usage."""
        cand = body["candidates"][0]
        um = body["usageMetadata"]
        pt = um["promptTokenCount"]
        head = {"modelVersion": body["modelVersion"], "responseId": body["responseId"]}

        def chunk(t, n, **more):
            c = {"content": {"parts": [{"text": t}], "role": "model"}, "index": 0}
            c.update(more)
            usage = dict(um, candidatesTokenCount=n, totalTokenCount=pt + n)
            return sse_event(dict({"candidates": [c], "usageMetadata": usage}, **head))
        items = [(chunk(t, i + 1), True) for i, t in enumerate(tokens_of(text))]
        last = {"finishReason": cand["finishReason"]}
        if "groundingMetadata" in cand:
            last["groundingMetadata"] = cand["groundingMetadata"]
        items.append((chunk("", um["candidatesTokenCount"], **last), False))
        return items

    @classmethod
    def stream_error(cls):
        return sse_event({"error": {"code": 503, "message": "The model is overloaded. "
                                                            "Please try again later.",
                                    "status": "UNAVAILABLE"}})

    @classmethod
    def stream_pad(cls, req, body):
        return sse_event({"modelVersion": body["modelVersion"], "mock_padding": padding()})


ROUTES = {
    "/openai/v1/chat/completions": OpenAI,
    "/anthropic/v1/messages": Anthropic,
    "/perplexity/chat/completions": Perplexity,
}
GEMINI_PREFIX = "/gemini/v1beta/models/"
GEMINI_SUFFIX = ":generateContent"
GEMINI_STREAM_SUFFIX = ":streamGenerateContent"


# --------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mockproviders/1"
    timeout = 660  # idle keep-alive connections eventually go away
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- low level

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body, content_type="application/json", headers=None):
        if isinstance(body, (dict, list)):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True

    def hang(self):
        """Never answer: wait until the client goes away or HANG_MAX_S passes."""
        deadline = time.monotonic() + HANG_MAX_S
        sock = self.connection
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.25)
                if r:
                    if not sock.recv(1, socket.MSG_PEEK):
                        break  # client closed
                    time.sleep(0.25)  # client sent more (pipelining): keep hanging
            except (OSError, ValueError):
                break
        self.close_connection = True

    # ---- streamed answers

    def stream(self, items, status, headers, entry, d, faults):
        """Writes a streamed answer: items [(SSE bytes, is a token)] paced
        by ~tps, in writes of ~chunk bytes, with faults [(K, action)]
        (see stream_faults) done after K tokens."""
        st = self.server.state
        firing = fault_points(items, faults)
        out = SSEWriter(self, entry, d["chunk"])
        gap = 1.0 / d["tps"] if d["tps"] else 0.0
        due = time.monotonic()
        st.stream_started(entry, status)
        keep = False
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            for i in range(len(items) + 1):
                for action in firing.get(i, ()):
                    how = action(self, out, items[i:])
                    if how == "stalled":
                        due = max(due, time.monotonic())
                    elif how is not None:
                        keep = how == "ended"
                        return
                if i == len(items):
                    break
                data, tok = items[i]
                if tok and gap:
                    if not self.sleep_until(due):
                        return
                    due += gap
                out.add(data, tok)
            out.end()
            keep = True
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            pass
        finally:
            if not keep:
                self.close_connection = True
            st.stream_ended(entry, out.last or time.time())

    def sleep_until(self, when):
        """Sleeps until time.monotonic() reaches when; False if the server
        is stopping meanwhile."""
        while True:
            left = when - time.monotonic()
            if left <= 0:
                return True
            if self.server.stopping.wait(min(left, 0.25)):
                return False

    # ---- dispatch

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def dispatch(self, method):
        st = self.server.state
        url = urlsplit(self.path)
        path = url.path
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send(400, {"error": {"message": "bad request body", "type": "bad_request",
                                      "code": 400}})
            return

        # control endpoints (not logged)
        if path == "/_health" and method == "GET":
            return self.send(200, {"ok": True})
        if path == "/_log" and method == "GET":
            return self.send(200, st.snapshot())
        if path == "/_reset" and method == "POST":
            st.reset()
            return self.send(200, {"ok": True})

        entry = st.new_entry(path, method)
        if mockbatches.route(self, method, path, url.query, raw, entry):
            return
        provider, gemini_model, gemini_stream = None, None, None
        if method == "POST" and path in ROUTES:
            provider = ROUTES[path]
        elif method == "POST" and path.startswith(GEMINI_PREFIX):
            for suffix in (GEMINI_SUFFIX, GEMINI_STREAM_SUFFIX):
                if path.endswith(suffix) and len(path) > len(GEMINI_PREFIX) + len(suffix):
                    provider = Gemini
                    gemini_model = unquote(path[len(GEMINI_PREFIX):-len(suffix)])
                    gemini_stream = suffix == GEMINI_STREAM_SUFFIX
        if provider is None:
            st.finish(entry, 404)
            return self.send(404, {"error": {
                "message": "mockproviders: no route for %s %s" % (method, path),
                "type": "not_found", "code": 404}})
        self.handle_provider(provider, gemini_model, raw, entry,
                             parse_qs(url.query).get("alt", []) if gemini_stream else None)

    def handle_provider(self, P, gemini_model, raw, entry, gemini_alt=None):
        """gemini_alt: for Gemini's streamGenerateContent, the alt= values
        (a list, maybe empty); None for every other route."""
        st = self.server.state
        entry["provider"] = P.name
        entry["authorization"] = self.headers.get("Authorization")

        req = None
        try:
            req = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            req = None
        if isinstance(req, dict):
            entry["body"] = req

        model = gemini_model if P is Gemini else (
            req.get("model") if isinstance(req, dict) and isinstance(req.get("model"), str)
            else None)
        entry["model"] = model

        # Directives are read as early as possible so delay applies to every answer.
        base, d, directive_error = model, None, None
        if model:
            try:
                base, d = parse_model(model)
            except BadRequest as e:
                directive_error = e
        delay_ms = d["delay"] if d else 0

        def wait_turn(serve=None):
            """The delay, in line for a ~capacity slot; serve() (a stream,
            which takes time as a model generating does) runs in the slot."""
            if d and d["capacity"]:
                with capacity_gate(P.name, base, d["capacity"]):
                    if delay_ms:
                        time.sleep(delay_ms / 1000.0)
                    if serve:
                        serve()
                return
            if delay_ms:
                time.sleep(delay_ms / 1000.0)
            if serve:
                serve()

        def answer(status, body, ctype="application/json", headers=None):
            wait_turn()
            st.finish(entry, status)
            self.send(status, body, ctype, headers)

        # 1. auth
        bad = P.auth(self.headers)
        if bad:
            return answer(bad[0], bad[1])
        # 2. body
        if not isinstance(req, dict):
            msg = ("We could not parse the JSON body of your request." if P in (OpenAI, Perplexity)
                   else "Invalid JSON payload received." if P is Gemini
                   else "There was an error parsing the body of your request as JSON")
            return answer(400, P.error_body(400, msg))
        try:
            _, message = P.validate(req, allow_stream=True)
            if gemini_alt is not None and gemini_alt != ["sse"]:
                raise BadRequest("mockproviders: streamGenerateContent is served "
                                 "as server-sent events only (alt=sse)")
        except BadRequest as e:
            return answer(400, P.error_body(400, e.message, e.param))
        streamed = gemini_alt is not None or req.get("stream") is True
        entry["message"] = message
        entry["turns"] = wire_turns(P.name, req)
        entry["websearch"] = bool(P.websearch(req))
        entry["location"] = P.location(req) if hasattr(P, "location") else None
        # A JSON answer when the model name says ~json, or when the request asks
        # for JSON as a client would (JSON mode or a system prompt saying so).
        entry["json"] = bool((d and d["json"]) or P.wants_json(req))
        if directive_error:
            return answer(400, P.error_body(400, directive_error.message, "model"))
        try:
            d = message_directives(P.name, message, d)
        except BadRequest as e:
            return answer(400, P.error_body(400, e.message, "messages"))
        delay_ms = d["delay"] if d else 0

        # 3. faults
        stream_fault = any(d[k] is not None for k in STREAM_FAULTS)
        faulty = d["status"] is not None or d["garbage"] or d["hang"] \
            or d["fail"] is not None or stream_fault
        if faulty and d["fail"] is not None:
            n = st.count((P.name, model, message))
            faulty = n <= d["fail"]
        if faulty:
            if d["hang"]:
                st.finish(entry, None)
                return self.hang()
            if d["garbage"]:
                return answer(200, "<html>oops: mockproviders garbage", "text/html")
            # fail=N alone means status=500; the stream faults come later
            status = d["status"] if d["status"] is not None else \
                None if stream_fault else 500
            if status is not None and status >= 400:
                headers = {"Retry-After": d["retry_after"]} if d["retry_after"] else None
                return answer(status, P.error_body(status), headers=headers)
            # status=2xx/3xx: fall through to a normal answer with that status
        ok_status = d["status"] if (faulty and d["status"] is not None) else 200

        text = answer_text(P.name, base, message, entry["json"], d["words"])
        body = P.success(req, base, message, text, entry["websearch"])
        extra = {"x-request-id": new_id("req_")} if P is OpenAI else \
            {"request-id": new_id("req_")} if P is Anthropic else None
        if not streamed:
            return answer(ok_status, body, headers=extra)
        faults = stream_faults(P, req, body, d) if faulty and stream_fault else []
        wait_turn(lambda: self.stream(P.stream_items(req, body, text), ok_status, extra,
                                      entry, d, faults))


# --------------------------------------------------------------------------
# streamed answers: the writer and the faults


class SSEWriter:
    """Writes a streamed answer's bytes as HTTP/1.1 chunks: one write per
    event, or with ~chunk=N writes of N bytes cut anywhere in the stream
    (a write waits until its last byte is due). Records when each token's
    last byte went out. Writes raise OSError once the client has gone."""

    def __init__(self, handler, entry, size):
        self.h = handler
        self.entry = entry
        self.size = size
        self.pending = bytearray()
        self.total = 0         # bytes given
        self.written = 0       # bytes written
        self.token_ends = []   # offsets (in bytes given) of tokens not yet written
        self.last = None       # time.time() of the last write

    def add(self, data, token=False):
        self.pending += data
        self.total += len(data)
        if token:
            self.token_ends.append(self.total)
        if self.size is None:
            self.flush()
        else:
            while len(self.pending) >= self.size:
                self._write(bytes(self.pending[:self.size]))
                del self.pending[:self.size]

    def flush(self):
        if self.pending:
            self._write(bytes(self.pending))
            self.pending.clear()

    def end(self):
        """The stream's last bytes and the body's end (the zero chunk)."""
        self.flush()
        self._raw(b"0\r\n\r\n")

    def _write(self, data):
        self._raw(b"%x\r\n%s\r\n" % (len(data), data))
        self.written += len(data)
        n = 0
        while n < len(self.token_ends) and self.token_ends[n] <= self.written:
            self.h.server.state.token_written(self.entry, self.last)
            n += 1
        del self.token_ends[:n]

    def _raw(self, data):
        self.h.wfile.write(data)
        self.h.wfile.flush()
        self.last = time.time()


def fault_points(items, faults):
    """{item index: [actions]}: a fault "after K tokens" fires before the
    token that follows the K-th, or right after the last token when the
    answer has K tokens or fewer."""
    toks = [i for i, (_, tok) in enumerate(items) if tok]
    points = {}
    for k, action in faults:
        i = toks[k] if k < len(toks) else (toks[-1] + 1 if toks else 0)
        points.setdefault(i, []).append(action)
    return points


def stream_faults(P, req, body, d):
    """[(K, action)] of a streamed answer's fault directives. An action is
    called as action(handler, writer, items still to send) and returns None
    (go on), "stalled" (go on; pacing starts again from now), "ended" (the
    body was ended properly) or "closed" (the connection must be closed).
    The order here is the order of faults at the same K."""
    faults = []

    def add(k, action):
        if d[k] is not None:
            at = d[k][0] if k == "stall" else d[k]
            faults.append((at, action))

    def stall(h, out, rest):
        out.flush()
        return "stalled" if h.sleep_until(time.monotonic() + d["stall"][1]) else "closed"

    def send(data):
        def action(h, out, rest):
            out.add(data)
        return action

    def stream_error(h, out, rest):
        out.add(P.stream_error())
        out.end()
        return "ended"

    def midevent(h, out, rest):
        # Half of the next event (or the last one), cut inside its data line;
        # the HTTP body itself ends properly, so only the SSE framing is cut.
        ev = rest[0][0] if rest else P.stream_items(req, body, "")[-1][0]
        cut = ev.index(b"data: ") + 6 + max(1, (len(ev) - ev.index(b"data: ") - 8) // 2)
        out.add(ev[:cut])
        out.end()
        return "closed"

    def cut(h, out, rest):
        out.flush()
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return "closed"

    add("stall", stall)
    add("stream_garbage", send(SSE_GARBAGE))
    add("longline", send(P.stream_pad(req, body)) if d["longline"] is not None else None)
    add("unknown_event", send(SSE_UNKNOWN))
    add("stream_error", stream_error)
    add("midevent", midevent)
    add("cut", cut)
    return faults


mockbatches.bind(sys.modules[__name__])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # a worker opens hundreds of connections at once

    def __init__(self, addr, state):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.state = state
        self.stopping = threading.Event()
        super().__init__(addr, Handler)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock AI provider APIs for aigw tests")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    args = ap.parse_args(argv)

    if args.log:
        os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    srv = Server((args.host, args.port), State(args.log))

    def stop(signum, frame):
        if not srv.stopping.is_set():
            srv.stopping.set()
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host, port = srv.server_address[:2]
    print("listening on %s:%d" % (host, port), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
