#!/usr/bin/python3
"""aigw's streaming benchmark: one command, one table. Asserts nothing.

A fan-out of chats to three providers (OpenAI, Anthropic and Gemini
formats), each answering a deterministic text token by token from a mock
(streammock.c, or nginx's echo module), watched by event-stream clients
(`GET /api/ai/chat/events`, raw HTTP on asyncio, SSE parsed here), some
of which reconnect mid-stream with Last-Event-ID. Run with AIGW_STREAM=on and =off beside it:

  piece latency   mock writing token k -> a client holding the delta with it
  database        the workers' statements per second, WAL bytes per token
  CPU             the workers', aigw-fcgi's and PostgreSQL's per 1,000 tokens
  correctness     every watched text against the mock's, across reconnects

Everything runs on 127.0.0.1 and is stopped by PID at the end (also on
Ctrl-C). See README.md beside this file.

    AIGW_BUILDDIR=build /usr/bin/python3 tests/bench/stream.py [--chats N] [--json FILE]
"""

import argparse
import asyncio
import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench  # noqa: E402
import echomock  # noqa: E402
from bench import log, percentile, fmt, loadavg, proc_cpu_s, max_in_flight, stk  # noqa: E402

PROVIDERS = bench.PROVIDERS
# Each provider's tokens start with its own letter, so that text landing
# under the wrong provider shows as a mismatch.
LETTER = {"openai": "o", "anthropic": "a", "gemini": "g"}
MESSAGE = "bench-stream c{} : one answer of numbered words"
MESSAGE_RE = re.compile(r"bench-stream c(\d+) ")
WORKER_ROLE = "aigw_worker"  # the workers' own PostgreSQL role: their statements alone
# Every word the mock writes carries the time it was written: "o17@703605"
# is token 17 of an OpenAI answer written at 703.605 s past a multiple of
# 1,000 s (the clock's last digits). The client reads the write time of
# each token it receives from the token itself, exact however late the
# mock writes under load; the text without the stamps is the same for
# every call ("o1 o2 ... o200").
# The answers are templates: @_ is a space but before the first word, @K
# the token's number, @S its stamp, @W the whole stamped text.
STAMP_RE = re.compile(r"@(\d+)")
WORD_RE = re.compile(r"(\d+)@(\d+)")
STAMP_MAP = ('map $msec $stamp { volatile; "~(?<s>\\d{3})\\.(?<ms>\\d{3})$" $s$ms; '
             'default 0; }')


def mock_text(provider, tokens):
    """The text of every answer, without the stamps."""
    return " ".join(f"{LETTER[provider]}{k}" for k in range(1, tokens + 1))


def unstamped(text):
    return STAMP_RE.sub("", text)


def written_at(stamp, near):
    """The time a stamp stands for: the one at or before `near` (a time
    shortly after the write), as stamps repeat every 1,000 s."""
    ago = (near - int(stamp) / 1000) % 1000
    return near - (ago - 1000 if ago > 900 else ago)


def compact(obj):
    text = json.dumps(obj, separators=(",", ":"))
    # echo takes a single-quoted nginx string: no quote, no $ (a variable),
    # no backslash (nginx would read it as an escape); streammock.c's
    # templates are lines with \n for a newline.
    if any(c in text for c in "'$\\\n"):
        raise RuntimeError(f"cannot echo {text[:200]}")
    return text


# ---------------------------------------------------------------- the mock

def sse(obj, event=None):
    """One SSE event as a template ('\\n' is nginx's escape and streammock.c's)."""
    return (f"event: {event}\\n" if event else "") + f"data: {compact(obj)}\\n\\n"


def stream_events(provider, tokens):
    """(preamble, a token's event, ending) in the provider's documented
    streaming format, as tests/fixtures/streams/ has them (Gemini's usage
    only in the last chunk, which the parser reads)."""
    model = PROVIDERS[provider]
    word = f"@_{LETTER[provider]}@K@@S"
    if provider == "openai":
        def chunk(delta, finish=None, **extra):
            return sse({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
                        "created": 1733580000, "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                        **extra})
        pre = chunk({"role": "assistant", "content": ""})
        each = chunk({"content": word})
        end = (chunk({}, "stop") +
               sse({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
                    "created": 1733580000, "model": model, "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": tokens,
                              "total_tokens": 12 + tokens}}) +
               "data: [DONE]\\n\\n")
    elif provider == "anthropic":
        pre = (sse({"type": "message_start", "message": {
                    "id": "msg_bench", "type": "message", "role": "assistant", "model": model,
                    "content": [], "stop_reason": None, "stop_sequence": None,
                    "usage": {"input_tokens": 12, "output_tokens": 1}}}, "message_start") +
               sse({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}, "content_block_start"))
        each = sse({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": word}}, "content_block_delta")
        end = (sse({"type": "content_block_stop", "index": 0}, "content_block_stop") +
               sse({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"input_tokens": 12, "output_tokens": tokens}}, "message_delta") +
               sse({"type": "message_stop"}, "message_stop"))
    else:
        def chunk(text, usage=None, finish=None):
            cand = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if finish:
                cand["finishReason"] = finish
            extra = {"usageMetadata": usage} if usage else {}
            return sse({"candidates": [cand], **extra, "modelVersion": model,
                        "responseId": "bench"})
        pre = ""
        each = chunk(word)
        end = chunk("", {"promptTokenCount": 8, "candidatesTokenCount": tokens,
                         "totalTokenCount": 8 + tokens}, "STOP")
    return pre, each, end


def token_event(template, k, stamp):
    """Token k's event from its template, stamped with `stamp`."""
    return (template.replace("@_", " " if k > 1 else "").replace("@K", str(k))
            .replace("@S", stamp))


def whole_answer(provider, tokens):
    """The provider's whole (non-stream) answer, its text @W."""
    model, text = PROVIDERS[provider], "@W"
    if provider == "openai":
        return {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1733580000,
                "model": model, "choices": [{"index": 0, "message": {
                    "role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 12, "completion_tokens": tokens,
                          "total_tokens": 12 + tokens}}
    if provider == "anthropic":
        return {"id": "msg_bench", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": tokens}}
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": tokens,
                              "totalTokenCount": 8 + tokens}, "modelVersion": model}


class MockCalls:
    """What both mocks share: the environment that points aigw at them
    and their access log (end, duration, status, bytes, uri, then the
    body or the chat's mark), at self.access_log."""

    def base_urls(self):
        base = self.url()
        env = {"OPENAI_BASE_URL": base + "/openai/v1", "ANTHROPIC_BASE_URL": base + "/anthropic",
               "GEMINI_BASE_URL": base + "/gemini"}
        for p in ("OPENAI", "ANTHROPIC", "GEMINI", "PERPLEXITY", "SNAPSHOT"):
            env[f"{p}_API_KEY"] = "bench-key"
        return env

    def calls(self):
        """Every call in the log: provider, chat index, start, end, status."""
        out = []
        with open(self.access_log) as f:
            for line in f:
                msec, took, status, sent, uri, body = line.rstrip("\n").split(" ", 5)
                provider = uri.split("/")[1]
                m = MESSAGE_RE.search(body)
                out.append({"provider": provider, "chat": int(m.group(1)) if m else None,
                            "time": float(msec) - float(took), "sent": float(msec),
                            "status": int(status), "bytes": int(sent)})
        return out


class StreamMock(MockCalls, echomock.EchoServer):
    """nginx's echo module answering every call with the same text, in the
    provider's streaming format (mode "on": token k written and flushed
    1 / rate s after token k-1) or whole after tokens / rate s (mode
    "off"). Stamps are $msec's last digits (a volatile map). Each sleep
    starts when the one before ended: on a loaded machine the lateness of
    every wake-up adds up over an answer."""

    PATHS = {"openai": "= /openai/v1/chat/completions",
             "anthropic": "= /anthropic/v1/messages",
             "gemini": "~ ^/gemini/v1beta/models/[^/]+:(stream)?[gG]enerateContent$"}

    def __init__(self, base, mode, tokens, rate, nice=0):
        self.mode, self.tokens, self.rate = mode, tokens, rate
        step = 1.0 / rate
        locations = []
        for provider, match in self.PATHS.items():
            if mode == "on":
                pre, tok, end = stream_events(provider, tokens)
                body = [f"echo -n '{pre}'; echo_flush;"] if pre else []
                body += [f"echo_sleep {step:.3f}; echo -n '{token_event(tok, k, '${stamp}')}';"
                         " echo_flush;" for k in range(1, tokens + 1)]
                body.append(f"echo -n '{end}';")
                ctype = "text/event-stream"
            else:
                text = " ".join(f"{LETTER[provider]}{k}@${{stamp}}" for k in range(1, tokens + 1))
                body = [f"echo_sleep {tokens * step:.3f};",
                        f"echo -n '{compact(whole_answer(provider, tokens)).replace('@W', text)}';"]
                ctype = "application/json"
            locations.append(f"location {match} {{ default_type {ctype}; "
                             f"echo_read_request_body; {' '.join(body)} }}")
        super().__init__(base, locations, "escape=json '$msec $request_time $status "
                         "$bytes_sent $uri $request_body'", http_extra=STAMP_MAP, nice=nice)


class CStreamMock(MockCalls):
    """streammock.c (built here with cc): the same answers on an absolute
    schedule, token k at the call's start + k / rate s however late the
    one before was written, so that a loaded machine delays words without
    slowing the rate. Stamps from the wall clock when a word is written."""

    def __init__(self, base, mode, tokens, rate, nice=0):
        self.mode, self.tokens, self.rate = mode, tokens, rate
        self.port = stk.free_port()
        self.dir = stk.world_readable_dir(base, f"streammock-{self.port}")
        self.bin = os.path.join(base, "streammock")
        if not os.path.exists(self.bin):
            bench.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", self.bin,
                       os.path.join(HERE, "streammock.c")], timeout=120)
        templates = os.path.join(self.dir, "templates")
        with open(templates, "w") as f:
            for provider, prefix in (("openai", "/openai/"), ("anthropic", "/anthropic/"),
                                     ("gemini", "/gemini/")):
                pre, tok, end = stream_events(provider, tokens)
                f.write(f"P {provider} {prefix}\npre {pre}\ntok {tok}\nend {end}\n"
                        f"whole {compact(whole_answer(provider, tokens))}\n")
        self.access_log = os.path.join(self.dir, "access.log")
        self.errlog = os.path.join(self.dir, "stderr")
        prefix = ["nice", "-n", str(nice)] if nice else []
        with open(self.errlog, "w") as err:
            self.proc = subprocess.Popen(
                prefix + [self.bin, "--port", str(self.port), "--tokens", str(tokens),
                          "--rate", str(rate), "--templates", templates,
                          "--log", self.access_log, "--whole", "1" if mode == "off" else "0"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=self.dir)
        stk._track(self)

        def listening():
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        stk.wait_for(listening, 15, "streammock", proc=self.proc, log=self.errlog)

    def __repr__(self):
        return f"<CStreamMock 127.0.0.1:{self.port}>"

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        stk._untrack(self)
        stk.stop_process(self.proc)


# ---------------------------------------------------------------- the clients
# They run in --client-procs processes (this file with --client), each an
# asyncio loop: one coroutine per event-stream client, a few submitting the
# chats. One Python process parsing 300 streams would add its own delay.

class Dechunker:
    """HTTP/1.1 chunked transfer coding, decoded as bytes arrive."""

    def __init__(self):
        self.buf, self.need, self.done = b"", None, False

    def feed(self, data):
        self.buf += data
        out = []
        while not self.done:
            if self.need is None:
                nl = self.buf.find(b"\r\n")
                if nl < 0:
                    break
                size = int(self.buf[:nl].split(b";")[0], 16)
                self.buf = self.buf[nl + 2:]
                if size == 0:
                    self.done = True
                    break
                self.need = size
            elif self.need > 0:
                if not self.buf:
                    break
                part = self.buf[:self.need]
                out.append(part)
                self.buf = self.buf[len(part):]
                self.need -= len(part)
            else:
                if len(self.buf) < 2:
                    break
                self.buf, self.need = self.buf[2:], None
        return b"".join(out)


class SSEParser:
    """Server-Sent Events: feed bytes, get the complete events (type, id, data)."""

    def __init__(self):
        self.buf = b""
        self.event, self.id, self.data = None, None, []

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return out
            line = self.buf[:nl].rstrip(b"\r").decode()
            self.buf = self.buf[nl + 1:]
            if not line:
                if self.data:
                    out.append((self.event or "message", self.id, "\n".join(self.data)))
                self.event, self.id, self.data = None, None, []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self.event = value
            elif name == "data":
                self.data.append(value)
            elif name == "id":
                self.id = value


async def read_head(reader):
    """Status code and lower-cased headers of a response."""
    status = await reader.readline()
    if not status:
        raise ConnectionError("closed before the status line")
    code = int(status.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            return code, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def watch(host, port, w, mode, deadline):
    """One event-stream client on chat w["chat_id"], reconnecting once after
    w["reconnect"] s (from the first delta with streaming, from the first
    connection without) when asked. Records the latency of every token a
    delta brings (receive time less the write time in its stamp) when it
    was written while this connection was open (else it is replayed), the
    final results and the text each provider's deltas had made by then."""
    texts = {}
    w.update(conns=[], deltas=0, lat_ms=[], replayed=0, resets=0, final_t={}, answer_ms={},
             before_final={}, busy=0, end=False, reconnected=False, drops=0, error=None,
             first_text=None, texts=texts, last_written={})
    last_id = None
    cut_at = None
    while not w["end"] and time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            w["error"] = f"connect: {e!r}"
            return
        try:
            head = (f"GET /api/ai/chat/events?id={w['chat_id']} HTTP/1.1\r\nHost: localhost\r\n"
                    "Accept: text/event-stream\r\n")
            if last_id is not None:
                head += f"Last-Event-ID: {last_id}\r\n"
            writer.write(head.encode() + b"\r\n")
            await writer.drain()
            code, headers = await read_head(reader)
            if code == 503:
                w["busy"] += 1
                await asyncio.sleep(0.05)
                continue
            if code == 204:  # the final state was seen already
                w["end"] = True
                break
            if code != 200:
                w["error"] = f"events {code}: {(await reader.read(300))[:300]!r}"
                return
            opened = time.time()
            w["conns"].append(opened)
            if w["reconnect"] is not None and not w["reconnected"] and mode == "off":
                cut_at = time.monotonic() + w["reconnect"]
            chunked = "chunked" in headers.get("transfer-encoding", "")
            dechunk, parser = Dechunker(), SSEParser()
            while not w["end"]:
                wait = deadline - time.monotonic()
                if cut_at is not None:
                    wait = min(wait, cut_at - time.monotonic())
                if wait <= 0:
                    break
                try:
                    data = await asyncio.wait_for(reader.read(65536), wait)
                except asyncio.TimeoutError:
                    break
                now = time.time()
                if not data:
                    w["drops"] += 1  # closed without an end: resume
                    break
                if chunked:
                    data = dechunk.feed(data)
                for event, eid, payload in parser.feed(data):
                    if eid is not None:
                        last_id = eid
                    if event == "delta":
                        d = json.loads(payload)
                        p = d["provider"]
                        texts[p] = texts.get(p, "") + d["text"]
                        w["deltas"] += 1
                        for _, stamp in WORD_RE.findall(d["text"]):
                            at = written_at(stamp, now)
                            if at >= opened:
                                w["lat_ms"].append(round((now - at) * 1000, 2))
                            else:
                                w["replayed"] += 1
                        if w["first_text"] is None and d["text"]:
                            w["first_text"] = now
                        if w["reconnect"] is not None and cut_at is None \
                                and not w["reconnected"]:
                            cut_at = time.monotonic() + w["reconnect"]
                    elif event == "reset":
                        p = json.loads(payload)["provider"]
                        texts[p] = ""
                        w["resets"] += 1
                    elif event == "progress":
                        st = json.loads(payload)
                        w["status"] = st.get("status")
                        for p, r in (st.get("results") or {}).items():
                            if r.get("ok") in (True, False) and p not in w["final_t"]:
                                w["final_t"][p] = now
                                w["before_final"][p] = texts.get(p, "")
                                texts[p] = r.get("text") or ""
                                if w["first_text"] is None and texts[p]:
                                    w["first_text"] = now
                                words = WORD_RE.findall(texts[p])
                                if words:
                                    at = written_at(words[-1][1], now)
                                    w["answer_ms"][p] = (now - at) * 1000
                                    w["last_written"][p] = at
                    elif event == "end":
                        w["end"] = True
            if not w["end"] and cut_at is not None and time.monotonic() >= cut_at:
                w["reconnected"] = True
                cut_at = None
        except (OSError, ConnectionError, ValueError) as e:
            w["error"] = f"{e!r}"
            return
        finally:
            writer.close()


async def run_clients(plan):
    host, port = plan["host"], plan["port"]
    delay = plan["start_at"] - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    deadline = time.monotonic() + plan["timeout"]
    todo = list(plan["chats"])
    submits, watchers, tasks = [], [], []

    async def submitter():
        reader = writer = None
        while todo:
            c = todo.pop(0)
            body = {"message": MESSAGE.format(c["i"]), "models": PROVIDERS}
            for _ in range(20):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    code, reply = await bench.http_call(reader, writer, "POST", "/api/ai/chat",
                                                        body)
                except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                    writer, code, reply = None, None, "connection lost"
                if code in (429, 503, None):
                    await asyncio.sleep(0.1)
                    continue
                break
            t = time.time()
            if code != 202:
                submits.append({"i": c["i"], "chat_id": None, "t": t, "error": f"{code} {reply[:200]}"})
                continue
            chat_id = json.loads(reply)["chatId"]
            submits.append({"i": c["i"], "chat_id": chat_id, "t": t})
            if c["watch"]:
                w = {"i": c["i"], "chat_id": chat_id, "submitted": t, "reconnect": c["reconnect"]}
                watchers.append(w)
                tasks.append(asyncio.ensure_future(
                    watch(host, port, w, plan["mode"], deadline)))
        if writer is not None:
            writer.close()

    await asyncio.gather(*(submitter() for _ in range(plan["submitters"])))
    if tasks:
        await asyncio.wait(tasks, timeout=max(1, deadline - time.monotonic() + 5))
    return {"submits": submits, "watchers": watchers}


def client_main():
    plan = json.load(sys.stdin)
    out = asyncio.run(run_clients(plan))
    json.dump(out, sys.stdout)


# ---------------------------------------------------------------- the stack

class StreamStack:
    """A private PostgreSQL with pg_stat_statements and a role of the
    workers' own, so that their statements are counted alone: aigw-fcgi
    starts a wrapper that points DATABASE_URL at that role. aigw-fcgi
    (--fcgi-procs processes, enough threads for every event stream) and
    nginx are started per mode by start()."""

    def __init__(self, args):
        self.args = args
        self.base = stk.make_base("aigw-bench-stream-")
        self._tmp = stk._track(stk._TempDir(self.base))
        self.workers = stk._track(stk._Workers(self.base))
        self.parts = []
        per_proc = min(256, math.ceil(args.watchers / args.fcgi_procs) + 60)
        self.threads = per_proc
        self.pg = stk.Postgres(self.base, max_connections=per_proc * args.fcgi_procs + 100,
                               durable=True)
        self.stats = "pg_stat_statements"
        with open(os.path.join(self.pg.data, "postgresql.conf"), "a") as f:
            f.write("shared_preload_libraries = 'pg_stat_statements'\n")
        self.pg.stop()
        self.pg.start()
        try:
            self.pg.psql("CREATE EXTENSION pg_stat_statements")
        except RuntimeError:
            self.stats = "xact_commit"  # every client's commits, not the workers' alone
        self.pg.psql(f"CREATE ROLE {WORKER_ROLE} LOGIN SUPERUSER")
        self.wrapper = os.path.join(self.base, "aigw-worker-as-role")
        worker_url = f"postgresql://{WORKER_ROLE}@127.0.0.1:{self.pg.port}/aigw"
        with open(self.wrapper, "w") as f:
            f.write(f"#!/bin/sh\nDATABASE_URL='{worker_url}'\nexport DATABASE_URL\n"
                    f"exec '{stk.program('aigw-worker')}' \"$@\"\n")
        os.chmod(self.wrapper, 0o755)
        stk.migrate(stk.aigw_env(self.base, self.pg, None, {"AIGW_MOCK": "off"}))

    def start(self, mode, mock):
        a = self.args
        env = {"AIGW_STREAM": mode, "AIGW_SPAWN": "on", "AIGW_AUTH": "none",
               "AIGW_MOCK": "off", "AIGW_LOG_LEVEL": a.log_level,
               "AIGW_WAIT_MAX_PER_OWNER": "0", "AIGW_WORKER_BIN": self.wrapper,
               **mock.base_urls()}
        if a.flush_ms is not None:
            env["AIGW_STREAM_FLUSH_MS"] = str(a.flush_ms)
        if a.workers_max is not None:
            env["AIGW_WORKERS_MAX"] = str(a.workers_max)
        self.env = stk.aigw_env(self.base, self.pg, None, env)
        self.fcgis = [stk.Fcgi(self.base, self.env, self.threads) for _ in range(a.fcgi_procs)]
        self.nginx = stk.Nginx(self.base, [f"127.0.0.1:{f.port}" for f in self.fcgis],
                               a.nginx_workers)
        self.parts = [self.nginx] + self.fcgis

    def stop_aigw(self):
        for part in self.parts:
            part.stop()
        self.parts = []
        self.workers.stop()
        self.workers = stk._track(stk._Workers(self.base))

    def close(self):
        self.stop_aigw()
        self.workers.stop()
        self.pg.close()
        self._tmp.stop()

    def logs(self):
        parts = [("aigw log", os.path.join(self.base, "aigw.log")),
                 ("postgresql log", self.pg.log)]
        parts += [(f"aigw-fcgi {f.port} stderr", f.errlog) for f in getattr(self, "fcgis", [])]
        if getattr(self, "nginx", None):
            parts.append(("nginx error.log", self.nginx.error_log))
        return "".join(f"\n---- {name} ({path})\n{stk.tail(path)}" for name, path in parts)

    def statements(self):
        """The workers' statements so far (or every commit, see stats)."""
        if self.stats == "pg_stat_statements":
            sql = ("SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s"
                   f" JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '{WORKER_ROLE}'")
        else:
            sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'aigw'"
        return int(self.pg.psql(sql))

    def top_statements(self, n=6, workers=True):
        """The workers' statements by calls, or everyone's by time."""
        if self.stats != "pg_stat_statements":
            return []
        where, order = ((f"WHERE r.rolname = '{WORKER_ROLE}'", "s.calls") if workers
                        else ("", "s.total_exec_time"))
        out = self.pg.psql(
            "SELECT s.calls, s.rows, round(s.total_exec_time), r.rolname,"
            " regexp_replace(left(s.query, 200), '\\s+', ' ', 'g')"
            " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            f" {where} ORDER BY {order} DESC LIMIT {n}")
        rows = []
        for line in out.splitlines():
            calls, nrows, ms, role, query = line.split("|", 4)
            rows.append({"calls": int(calls), "rows": int(nrows), "ms": float(ms),
                         "role": role, "query": query})
        return rows


class Sampler(threading.Thread):
    """CPU seconds of the workers, the aigw-fcgi processes, PostgreSQL's
    processes and the mock's from /proc, and the workers' statements once a
    second."""

    def __init__(self, s, mock, interval=0.5):
        super().__init__(daemon=True)
        self.s, self.mock, self.interval = s, mock, interval
        self.stop_event = threading.Event()
        self.first, self.last = {}, {}   # (kind, pid) -> CPU s
        self.statements = []             # (time, count)
        self.workers_peak = 0

    def pids(self):
        out = [("worker", p) for p in stk.live_workers(self.s.base)]
        out += [("fcgi", f.proc.pid) for f in self.s.fcgis]
        pg = self.s.pg.pid
        out += [("postgres", pg)] + [("postgres", p) for p in stk.children(pg)]
        out += [("mock", self.mock.proc.pid)]
        out += [("mock", p) for p in stk.children(self.mock.proc.pid)]
        return out

    def sample(self):
        pids = self.pids()
        self.workers_peak = max(self.workers_peak, sum(1 for k, _ in pids if k == "worker"))
        for key in pids:
            cpu = proc_cpu_s(key[1])
            if cpu is not None:
                # A worker is new in the run: all of its CPU counts.
                self.first.setdefault(key, 0.0 if key[0] == "worker" else cpu)
                self.last[key] = cpu

    def run(self):
        next_stmt = time.monotonic() + 1.0
        while not self.stop_event.wait(self.interval):
            self.sample()
            if time.monotonic() >= next_stmt:
                next_stmt = time.monotonic() + 1.0
                try:
                    self.statements.append((time.time(), self.s.statements()))
                except RuntimeError:
                    pass

    def stop(self):
        self.stop_event.set()
        self.join(10)
        self.sample()
        self.statements.append((time.time(), self.s.statements()))

    def cpu(self, kind):
        return sum(self.last[k] - self.first[k] for k in self.last if k[0] == kind)


# ---------------------------------------------------------------- one run

def plan_chats(args):
    """Which chats are watched (evenly spread) and which of those reconnect."""
    n, rng = args.chats, random.Random(17)
    watched = sorted({min(n - 1, round(j * n / args.watchers)) for j in range(args.watchers)})
    again = set(rng.sample(watched, min(args.reconnects, len(watched))))
    return [{"i": i, "watch": i in watched,
             "reconnect": round(rng.uniform(0.2, 0.8) * args.tokens / args.rate, 3)
             if i in again else None} for i in range(n)]


def run_mode(s, args, mode):
    log(f"AIGW_STREAM={mode}: {args.chats} chats x {len(PROVIDERS)} providers, "
        f"{args.tokens} tokens at {args.rate}/s, {args.watchers} event-stream clients ...")
    kind = CStreamMock if args.mock == "c" else StreamMock
    mock = kind(s.base, mode, args.tokens, args.rate, args.nice)
    s.start(mode, mock)
    try:
        return measure(s, args, mode, mock)
    finally:
        s.stop_aigw()
        mock.stop()


def measure(s, args, mode, mock):
    # The pieces go with their chats; a mode must not inherit the dead rows
    # and statistics of the one before.
    s.pg.psql("DELETE FROM chat_results")
    s.pg.psql("VACUUM ANALYZE")
    s.pg.psql("CHECKPOINT")
    if s.stats == "pg_stat_statements":
        s.pg.psql("SELECT pg_stat_statements_reset()")
    chats = plan_chats(args)
    host, port = "127.0.0.1", s.nginx.port
    start_at = time.time() + 1.5
    procs = []
    for k in range(args.client_procs):
        plan = {"host": host, "port": port, "mode": mode, "start_at": start_at,
                "timeout": args.timeout, "chats": chats[k::args.client_procs],
                "submitters": max(1, args.submitters // args.client_procs)}
        nice = ["nice", "-n", str(args.nice)] if args.nice else []
        p = subprocess.Popen(nice + [sys.executable, os.path.abspath(__file__), "--client"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, AIGW_BUILDDIR=stk.BUILDDIR))
        procs.append((p, json.dumps(plan)))
    lsn0 = s.pg.psql("SELECT pg_current_wal_lsn()")
    sampler = Sampler(s, mock)
    sampler.sample()
    sampler.statements.append((time.time(), s.statements()))
    sampler.start()
    results = []
    try:
        for p, plan in procs:
            p.stdin.write(plan)
            p.stdin.close()
        for p, _ in procs:
            out = p.stdout.read()
            p.wait(args.timeout + 60)
            results.append(json.loads(out) if out else {"submits": [], "watchers": []})
        # The chats nobody watched may still run.
        done_sql = ("SELECT count(*) FROM chat_results WHERE status IN ('completed', 'failed',"
                    " 'cancelled')")
        deadline = time.monotonic() + args.timeout
        accepted = sum(1 for r in results for x in r["submits"] if x["chat_id"])
        while time.monotonic() < deadline and int(s.pg.psql(done_sql)) < accepted:
            time.sleep(0.2)
    finally:
        for p, _ in procs:
            stk.stop_process(p)
        sampler.stop()
    lsn1 = s.pg.psql("SELECT pg_current_wal_lsn()")
    wal = int(s.pg.psql(f"SELECT pg_wal_lsn_diff('{lsn1}', '{lsn0}')"))
    row = s.pg.psql("SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'cancelled')),"
                    " count(*) FILTER (WHERE status = 'failed'),"
                    " extract(epoch FROM max(completed_at)) FROM chat_results").split("|")
    return analyse(args, mode, mock, results, sampler, s, wal, row)


def analyse(args, mode, mock, results, sampler, s, wal, row):
    submits = [x for r in results for x in r["submits"]]
    watchers = [w for r in results for w in r["watchers"]]
    ok_submits = [x for x in submits if x["chat_id"]]
    first_submit = min((x["t"] for x in submits), default=None)
    last_202 = max((x["t"] for x in ok_submits), default=None)
    last_stored = float(row[2]) if row[2] else None
    calls = [c for c in mock.calls() if c["chat"] is not None]
    n = args.tokens
    tokens = sum(n for c in calls if c["status"] == 200)
    piece_ms, answer_ms, first_ms, only_final = [], [], [], []
    mismatch = gaps = 0
    for w in watchers:
        piece_ms += w.get("lat_ms", [])
        answer_ms += list(w.get("answer_ms", {}).values())
        if w.get("first_text") is not None:
            first_ms.append((w["first_text"] - w["submitted"]) * 1000)
        texts = w.get("texts") or {}
        for p in PROVIDERS:
            final = texts.get(p)
            if final is None or unstamped(final) != mock_text(p, n):
                mismatch += 1
            bf = (w.get("before_final") or {}).get(p)
            if bf is not None and final is not None:
                # What the deltas had made must be the final text's start,
                # ending between words: else a piece was lost or repeated.
                if not final.startswith(bf) or (bf and len(bf) < len(final)
                                                and final[len(bf)] != " "):
                    gaps += 1
                only_final.append(len(final.split()) - len(bf.split()))
    mock_drift = [(c["sent"] - c["time"] - n / args.rate) * 1000 for c in calls]
    # The last word's stamp against the call's start: how late nginx wrote
    # it (its timers), as opposed to how late the call ended (also a reader
    # that did not keep up).
    by_call = {(c["chat"], c["provider"]): c for c in calls}
    write_late = [(at - by_call[(w["i"], p)]["time"] - n / args.rate) * 1000
                  for w in watchers for p, at in w.get("last_written", {}).items()
                  if (w["i"], p) in by_call]
    span = (last_stored - first_submit) if last_stored and first_submit else None
    st = sampler.statements
    per_s = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(st, st[1:]) if b[0] > a[0]]
    stmts = st[-1][1] - st[0][1] if st else None
    per_k = (lambda v: v / (tokens / 1000)) if tokens else (lambda v: None)
    return {
        "mode": mode, "chats": args.chats, "accepted": len(ok_submits),
        "submit_failed": len(submits) - len(ok_submits),
        "first_submit_error": next((x["error"] for x in submits if not x["chat_id"]), None),
        "finished": int(row[0]), "failed_chats": int(row[1] or 0),
        "submit_s": (last_202 - first_submit) if last_202 else None,
        "last_stored_after_last_202_s": (last_stored - last_202)
        if last_stored and last_202 else None,
        "provider_calls": len(calls), "calls_not_200": sum(1 for c in calls if c["status"] != 200),
        "calls_in_flight_max": max_in_flight(calls, 0),
        "mock_drift_ms_p50": percentile(mock_drift, 50),
        "mock_drift_ms_max": max(mock_drift) if mock_drift else None,
        "mock_write_late_ms_p50": percentile(write_late, 50),
        "mock_write_late_ms_max": max(write_late) if write_late else None,
        "tokens": tokens,
        "piece_ms_p50": percentile(piece_ms, 50), "piece_ms_p99": percentile(piece_ms, 99),
        "piece_ms_max": max(piece_ms) if piece_ms else None,
        "piece_ms_min": min(piece_ms) if piece_ms else None, "pieces_timed": len(piece_ms),
        "tokens_replayed": sum(w.get("replayed", 0) for w in watchers),
        "answer_ms_p50": percentile(answer_ms, 50), "answer_ms_p99": percentile(answer_ms, 99),
        "first_text_ms_p50": percentile(first_ms, 50),
        "first_text_ms_p99": percentile(first_ms, 99),
        "run_s": span,
        "statements_counted_by": s.stats,
        "statements": stmts,
        "statements_per_s": stmts / span if stmts is not None and span else None,
        "statements_per_s_max": max(per_s) if per_s else None,
        "top_statements": s.top_statements(),
        "top_statements_by_time": s.top_statements(8, workers=False),
        "wal_bytes": wal, "wal_bytes_per_token": wal / tokens if tokens else None,
        "workers_peak": sampler.workers_peak,
        "worker_cpu_s": sampler.cpu("worker"), "fcgi_cpu_s": sampler.cpu("fcgi"),
        "postgres_cpu_s": sampler.cpu("postgres"), "mock_cpu_s": sampler.cpu("mock"),
        "worker_cpu_per_1k": per_k(sampler.cpu("worker")),
        "fcgi_cpu_per_1k": per_k(sampler.cpu("fcgi")),
        "postgres_cpu_per_1k": per_k(sampler.cpu("postgres")),
        "watchers": len(watchers),
        "reconnected": sum(1 for w in watchers if w.get("reconnected")),
        "drops": sum(w.get("drops", 0) for w in watchers),
        "busy_503": sum(w.get("busy", 0) for w in watchers),
        "client_errors": sum(1 for w in watchers if w.get("error")),
        "first_client_error": next((w["error"] for w in watchers if w.get("error")), None),
        "unfinished_watchers": sum(1 for w in watchers if not w.get("end")),
        "text_mismatches": mismatch, "delta_gaps_or_repeats": gaps,
        "resets": sum(w.get("resets", 0) for w in watchers),
        "deltas": sum(w.get("deltas", 0) for w in watchers),
        "tokens_only_in_final_mean": sum(only_final) / len(only_final) if only_final else None,
    }


# ---------------------------------------------------------------- the table

def report(res, args):
    runs = res["runs"]
    modes = list(runs)
    L = ["", f"aigw streaming benchmark, {res['started']}; {os.cpu_count()} CPUs; load average "
         f"{res['load_before']} before, {res['load_after']} after",
         f"{args.chats} chats x {len(PROVIDERS)} providers ({', '.join(PROVIDERS)}), "
         f"{args.tokens} tokens each at {args.rate:g} tokens/s from "
         f"{'streammock.c' if args.mock == 'c' else 'the echo mock'}; "
         f"{args.watchers} event-stream clients, {args.reconnects} of them reconnecting "
         f"mid-stream; AIGW_STREAM_FLUSH_MS "
         f"{args.flush_ms if args.flush_ms is not None else 'default'}; "
         f"{args.fcgi_procs} aigw-fcgi x {res['fcgi_threads']} threads; mock and clients at "
         f"nice {args.nice}; PostgreSQL "
         f"{res['durability']}; statements counted with {res['statements_counted_by']}", ""]
    width = 16
    L.append(f"{'':52}" + "".join(f"{'AIGW_STREAM=' + m:>{width}}" for m in modes))

    def row(label, key, spec=".0f", scale=1):
        cells = []
        for m in modes:
            v = runs[m].get(key)
            if v is not None and scale != 1:
                v *= scale
            cells.append(fmt(v, spec, width))
        L.append(f"{label:52}" + "".join(cells))

    def prow(label, a, b, spec=".0f"):
        cells = []
        for m in modes:
            x, y = runs[m].get(a), runs[m].get(b)
            cells.append("-" if x is None or y is None else f"{x:{spec}} / {y:{spec}}")
        L.append(f"{label:52}" + "".join(f"{c:>{width}}" for c in cells))

    prow("chats accepted / finished", "accepted", "finished", "d")
    row("  chats failed", "failed_chats", "d")
    row("  last result stored after the last 202 (s)", "last_stored_after_last_202_s", ".2f")
    prow("  provider calls / in flight at most", "provider_calls", "calls_in_flight_max", "d")
    prow("  mock call longer than asked p50 / max (ms)", "mock_drift_ms_p50", "mock_drift_ms_max")
    prow("    its last word written late p50 / max (ms)", "mock_write_late_ms_p50",
         "mock_write_late_ms_max")
    row("  tokens written by the mock", "tokens", "d")
    prow("piece latency p50 / p99 (ms)", "piece_ms_p50", "piece_ms_p99", ".1f")
    prow("  max (ms) / pieces timed", "piece_ms_max", "pieces_timed", ".0f")
    prow("final result latency p50 / p99 (ms)", "answer_ms_p50", "answer_ms_p99", ".1f")
    prow("first text after the 202 p50 / p99 (ms)", "first_text_ms_p50", "first_text_ms_p99")
    prow("workers' statements/s mean / max 1 s", "statements_per_s", "statements_per_s_max", ".1f")
    row("  workers' statements in all", "statements", "d")
    row("WAL bytes per token", "wal_bytes_per_token", ".0f")
    row("  WAL in all (MiB)", "wal_bytes", ".1f", 1 / 1048576)
    row("workers' CPU s per 1,000 tokens", "worker_cpu_per_1k", ".3f")
    row("  aigw-fcgi's CPU s per 1,000 tokens", "fcgi_cpu_per_1k", ".3f")
    row("  PostgreSQL's CPU s per 1,000 tokens", "postgres_cpu_per_1k", ".3f")
    prow("  workers' / aigw-fcgi's CPU s in all", "worker_cpu_s", "fcgi_cpu_s", ".1f")
    prow("  PostgreSQL's / the mock's CPU s in all", "postgres_cpu_s", "mock_cpu_s", ".1f")
    row("  workers alive at most", "workers_peak", "d")
    prow("clients watching / reconnected mid-stream", "watchers", "reconnected", "d")
    row("  streams the server closed without an end", "drops", "d")
    prow("  503 busy / errors", "busy_503", "client_errors", "d")
    row("  clients without their end", "unfinished_watchers", "d")
    row("texts unequal to the mock's (of clients x 3)", "text_mismatches", "d")
    row("  deltas with a gap or a repeat", "delta_gaps_or_repeats", "d")
    prow("  resets seen / deltas received", "resets", "deltas", "d")
    row("  tokens only in the final result (mean)", "tokens_only_in_final_mean", ".1f")
    for m in modes:
        r = runs[m]
        for key in ("first_submit_error", "first_client_error"):
            if r.get(key):
                L.append(f"{m}: {key.replace('_', ' ')}: {r[key]}")
    for m in modes:
        if runs[m]["top_statements"]:
            L.append("")
            L.append(f"the workers' statements with AIGW_STREAM={m} (calls, rows, ms in all, start):")
            for t in runs[m]["top_statements"]:
                L.append(f"  {t['calls']:>8d} {t['rows']:>9d} {t['ms']:>8.0f}  {t['query'][:80]}")
            L.append(f"everyone's statements by time with AIGW_STREAM={m} (calls, rows, ms, role, start):")
            for t in runs[m]["top_statements_by_time"][:5]:
                L.append(f"  {t['calls']:>8d} {t['rows']:>9d} {t['ms']:>8.0f}  {t['role'][:8]:8} "
                         f"{t['query'][:70]}")
    L.append("")
    goals = [("piece latency p50 <= 30 ms", "piece_ms_p50", lambda v: v <= 30),
             ("piece latency p99 <= 150 ms", "piece_ms_p99", lambda v: v <= 150),
             ("workers' statements/s <= 100 (mean)", "statements_per_s", lambda v: v <= 100),
             ("every watched text equals the mock's (mismatches)", "text_mismatches",
              lambda v: v == 0)]
    if "on" in runs:
        L.append(f"{'issue 17 goal (AIGW_STREAM=on)':56}{'figure':>12}  met")
        for label, key, ok in goals:
            v = runs["on"].get(key)
            L.append(f"{label:56}{fmt(v, '.1f', 12)}  {'-' if v is None else ('yes' if ok(v) else 'NO')}")
    print("\n".join(L), flush=True)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chats", type=int, default=1000, help="chats, each to 3 providers (1000)")
    ap.add_argument("--tokens", type=int, default=200, help="tokens of each answer (200)")
    ap.add_argument("--rate", type=float, default=40, help="tokens per second of the mock (40)")
    ap.add_argument("--watchers", type=int, default=300, help="event-stream clients (300)")
    ap.add_argument("--reconnects", type=int, default=100,
                    help="of those, how many reconnect once mid-stream (100)")
    ap.add_argument("--modes", default="on,off", help="AIGW_STREAM values to run (on,off)")
    ap.add_argument("--flush-ms", type=int, default=None,
                    help="AIGW_STREAM_FLUSH_MS (aigw's default unless given)")
    ap.add_argument("--workers-max", type=int, default=None,
                    help="AIGW_WORKERS_MAX (aigw's default unless given)")
    ap.add_argument("--fcgi-procs", type=int, default=2,
                    help="aigw-fcgi processes behind nginx (2: each has at most 256 threads, "
                    "and every event stream holds one)")
    ap.add_argument("--nginx-workers", default="auto")
    ap.add_argument("--client-procs", type=int, default=2,
                    help="Python processes running the clients (2)")
    ap.add_argument("--submitters", type=int, default=32,
                    help="coroutines submitting the chats, over all client processes (32)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds a run may take (300)")
    ap.add_argument("--mock", choices=("c", "echo"), default="c",
                    help="the providers: streammock.c on an absolute schedule (c, the "
                    "default) or nginx's echo module, one sleep after the other (echo)")
    ap.add_argument("--nice", type=int, default=None,
                    help="niceness of the mock and the clients, which stand for other "
                    "machines (-10 as root: they get the CPU first; 0: equal to aigw)")
    ap.add_argument("--log-level", default="warn", help="AIGW_LOG_LEVEL (warn)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main()
        return
    if not os.access(stk.program("aigw-fcgi"), os.X_OK):
        sys.exit(f"stream: no {stk.program('aigw-fcgi')}: build first, or set AIGW_BUILDDIR")
    if args.nice is None:
        args.nice = -10 if os.geteuid() == 0 else 0
    args.watchers = min(args.watchers, args.chats)
    args.reconnects = min(args.reconnects, args.watchers)
    res = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_before": loadavg(),
           "cpus": os.cpu_count(), "args": vars(args), "runs": {}}
    log("starting PostgreSQL ...")
    s = StreamStack(args)
    try:
        res["durability"] = "fsync " + s.pg.psql("SHOW fsync") + ", synchronous_commit " + \
            s.pg.psql("SHOW synchronous_commit")
        res["statements_counted_by"] = s.stats
        res["fcgi_threads"] = s.threads
        for mode in [m for m in args.modes.split(",") if m]:
            res["runs"][mode] = run_mode(s, args, mode)
        res["load_after"] = loadavg()
        report(res, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(res, f, indent=2)
            log(f"figures written to {args.json}")
    except BaseException:
        sys.stderr.write(s.logs())
        raise
    finally:
        s.close()


if __name__ == "__main__":
    main()
