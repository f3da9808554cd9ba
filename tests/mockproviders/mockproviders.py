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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mockbatches  # noqa: E402  (bound to this module at the end of the file)

HANG_MAX_S = 600.0
MAX_DELAY_MS = 600000
MAX_BODY = 64 * 1024 * 1024

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


def parse_model(full):
    """Split 'base~k=v~flag' into (base, directives dict). Raises BadRequest."""
    parts = full.split("~")
    base = parts[0]
    d = {"delay": 0, "status": None, "fail": None, "retry_after": None,
         "garbage": False, "hang": False, "json": False, "capacity": None}
    for p in parts[1:]:
        if not p:
            continue
        k, eq, v = p.partition("=")
        k = k.strip().lower()
        try:
            if k in ("delay", "status", "fail", "capacity"):
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


# "JSON" as a word, in any case (OpenAI's JSON mode looks for it so too).
JSON_WORD = re.compile(r"\bjson\b", re.IGNORECASE)


def mentions_json(content):
    """True when an instruction (a string, or a list of parts or text blocks,
    each looked at on its own) says JSON: a real model follows it."""
    return any(JSON_WORD.search(t) for t in content_texts(content))


def json_answer_text(provider, base, message):
    ws = (message or "").split()[:10] or ["none"]
    return json.dumps({"summary": "[%s/%s] %s" % (provider, base, message),
                       "items": ws}, ensure_ascii=False)


def mock_sources(provider, n=2):
    return [{"url": "https://example.com/%s/source-%d" % (provider, i),
             "title": "Mock source %d (%s)" % (i, provider),
             "date": "2025-01-0%d" % i}
            for i in range(1, n + 1)]


# --------------------------------------------------------------------------
# provider definitions: each has auth(), validate(), success(), error()

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
    def validate(req):
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
        if req.get("stream"):
            raise BadRequest("mockproviders: streaming is not supported", "stream")
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
    def validate(req):
        model, last = OpenAI.validate(req)
        msgs = req["messages"]
        if msgs[-1].get("role") != "user":
            raise BadRequest("Last message must have role `user`.", "messages")
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
    def validate(req):
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
        if req.get("stream"):
            raise BadRequest("mockproviders: streaming is not supported")
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
    def validate(req):
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


ROUTES = {
    "/openai/v1/chat/completions": OpenAI,
    "/anthropic/v1/messages": Anthropic,
    "/perplexity/chat/completions": Perplexity,
}
GEMINI_PREFIX = "/gemini/v1beta/models/"
GEMINI_SUFFIX = ":generateContent"


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
        provider, gemini_model = None, None
        if method == "POST" and path in ROUTES:
            provider = ROUTES[path]
        elif method == "POST" and path.startswith(GEMINI_PREFIX) \
                and path.endswith(GEMINI_SUFFIX) \
                and len(path) > len(GEMINI_PREFIX) + len(GEMINI_SUFFIX):
            provider = Gemini
            gemini_model = unquote(path[len(GEMINI_PREFIX):-len(GEMINI_SUFFIX)])
        if provider is None:
            st.finish(entry, 404)
            return self.send(404, {"error": {
                "message": "mockproviders: no route for %s %s" % (method, path),
                "type": "not_found", "code": 404}})
        self.handle_provider(provider, gemini_model, raw, entry)

    def handle_provider(self, P, gemini_model, raw, entry):
        st = self.server.state
        entry["provider"] = P.name

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

        def answer(status, body, ctype="application/json", headers=None):
            if d and d["capacity"]:
                with capacity_gate(P.name, base, d["capacity"]):
                    if delay_ms:
                        time.sleep(delay_ms / 1000.0)
            elif delay_ms:
                time.sleep(delay_ms / 1000.0)
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
            _, message = P.validate(req)
        except BadRequest as e:
            return answer(400, P.error_body(400, e.message, e.param))
        entry["message"] = message
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
        faulty = d["status"] is not None or d["garbage"] or d["hang"] or d["fail"] is not None
        if faulty and d["fail"] is not None:
            n = st.count((P.name, model, message))
            faulty = n <= d["fail"]
        if faulty:
            if d["hang"]:
                st.finish(entry, None)
                return self.hang()
            if d["garbage"]:
                return answer(200, "<html>oops: mockproviders garbage", "text/html")
            status = d["status"] if d["status"] is not None else 500
            if status >= 400:
                headers = {"Retry-After": d["retry_after"]} if d["retry_after"] else None
                return answer(status, P.error_body(status), headers=headers)
            # status=2xx/3xx: fall through to a normal answer with that status
        ok_status = d["status"] if (faulty and d["status"] is not None) else 200

        text = json_answer_text(P.name, base, message) if entry["json"] \
            else "[%s/%s] %s" % (P.name, base, message)
        body = P.success(req, base, message, text, entry["websearch"])
        extra = {"x-request-id": new_id("req_")} if P is OpenAI else \
            {"request-id": new_id("req_")} if P is Anthropic else None
        return answer(ok_status, body, headers=extra)


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
