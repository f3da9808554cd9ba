"""The asynchronous batch APIs of the mock providers.

Owns the routes, the state machines and the stored batches and files of:

  OpenAI Files + Batch   /openai/v1/files, /openai/v1/batches          (openai-batch)
  Anthropic Batches      /anthropic/v1/messages/batches                (anthropic-batch)
  snapshot datasets      /snapshot/trigger, progress, snapshot, snapshot/{id}/cancel (snapshot)

A batch's state is computed from the time elapsed since its creation whenever a
request asks, so nothing runs in the background.  The stores live in
State.batches and State.files and every read or change holds State.lock, so
this module is thread-safe.  It reuses the sync layer (mockproviders.py:
validation, answers, error bodies, directives), which bind() hands in, because
the server usually runs as __main__ and cannot be imported under its own name.
Every function that answers a request finishes the request's log entry.
"""

import email.parser
import email.policy
import json
import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs

mp = None  # the sync layer, set by bind()


def bind(module):
    """Give this module the sync layer (the mockproviders module). Cannot fail."""
    global mp
    mp = module


# --------------------------------------------------------------------------
# directives

DAY_S = 86400
MAX_PHASE_S = 3600.0
DEFAULT_TIMES = {"validate_s": 0.3, "batch_s": 1.0, "finalize_s": 0.3, "cancel_s": 0.3}

BATCH_DEFAULTS = {
    **DEFAULT_TIMES,
    "expire": None,        # None: no expiry; -1: half the items finish; K: K items finish
    "batch_fail": False,
    "fail_line": frozenset(),
    "line_error": None,    # HTTP status of this item's error
    "poll_status": None,
    "poll_fail": None,
    "pad": 0,              # bytes of filler in each answer (large result files)
    "accept_then": None,   # "500" / "hang": the first submission is created, then fails
}
# Directives that belong to the batch as a whole (the first item that sets one wins).
BATCH_LEVEL = ("validate_s", "batch_s", "finalize_s", "cancel_s", "expire", "poll_status",
               "poll_fail", "status", "fail", "retry_after", "delay", "accept_then")
BATCH_FLAGS = ("batch_fail", "garbage", "hang")

# "~line_error" or "~line_error=CODE" at the end of an item's message or prompt.
LINE_ERROR_MSG = re.compile(r"~line_error(?:=(\d{3}))?\s*$")


def parse_directives(full):
    """(base, directives) of a batch item's model name: the sync directives and
    the batch ones.  Raises mp.BadRequest on an unknown or malformed one."""
    parts = full.split("~")
    sync_parts = [parts[0]]
    b = dict(BATCH_DEFAULTS)
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        k = k.strip().lower()
        if k not in BATCH_DEFAULTS:
            sync_parts.append(p)
            continue
        try:
            if k in DEFAULT_TIMES:
                x = float(v) if eq else -1.0
                if not 0.0 <= x <= MAX_PHASE_S:
                    raise ValueError
                b[k] = x
            elif k == "expire":
                n = int(v) if eq else -1
                if eq and n < 0:
                    raise ValueError
                b[k] = n
            elif k == "batch_fail":
                if eq:
                    raise ValueError
                b[k] = True
            elif k == "fail_line":
                lines = frozenset(int(x) for x in v.split(",")) if eq else frozenset()
                if not lines or min(lines) < 1:
                    raise ValueError
                b[k] = lines
            elif k in ("line_error", "poll_status"):
                n = int(v) if eq else (500 if k == "line_error" else -1)
                if not 400 <= n <= 599:
                    raise ValueError
                b[k] = n
            elif k == "accept_then":
                if v != "hang" and not (v.isdigit() and 500 <= int(v) <= 599):
                    raise ValueError
                b[k] = v
            elif k == "pad":
                n = int(v) if eq else -1
                if not 0 <= n <= 16 << 20:
                    raise ValueError
                b[k] = n
            elif k == "poll_fail":
                n = int(v) if eq else -1
                if n < 0:
                    raise ValueError
                b[k] = n
        except ValueError:
            raise mp.BadRequest("mockproviders: bad model directive '~%s'" % p, "model")
    base, d = mp.parse_model("~".join(sync_parts))
    d.update(b)
    return base, d


def merge_directives(ds):
    """The batch-level directives of a batch from its items' directives."""
    sync_defaults = {"delay": 0, "status": None, "fail": None, "retry_after": None}
    m = {}
    for k in BATCH_LEVEL:
        dflt = BATCH_DEFAULTS.get(k, sync_defaults.get(k))
        m[k] = next((d[k] for d in ds if d[k] != dflt), dflt)
    for k in BATCH_FLAGS:
        m[k] = any(d[k] for d in ds)
    m["fail_line"] = frozenset().union(*(d["fail_line"] for d in ds))
    return m


# --------------------------------------------------------------------------
# batches


def rfc3339(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Item:
    """One request of a batch, with the answer it gets if it runs."""

    def __init__(self, index, custom_id, model, base, d, message, req=None, country=None):
        self.index = index          # 1-based position in the submission
        self.custom_id = custom_id
        self.model = model          # full model string, directives included
        self.base = base
        self.d = d
        self.message = message
        self.req = req
        self.country = country
        self.error = None           # HTTP status when this item errors
        self.answer = None          # success body (provider's shape)
        self.line_id = mp.new_id("batch_req_")
        self.request_id = mp.new_id("req_")

    def plan(self, provider, P, fail_lines, created):
        """Decide the item's fate and build its answer. Cannot fail."""
        m = LINE_ERROR_MSG.search(self.message or "")
        if self.d["line_error"]:
            self.error = self.d["line_error"]
        elif m:
            code = int(m.group(1) or 500)
            self.error = code if 400 <= code <= 599 else 500
        elif self.index in fail_lines:
            self.error = 500
        pad = "~" * self.d["pad"] + " " if self.d["pad"] else ""
        if P is None:  # snapshot: text only
            self.answer = "[%s/%s] %s%s" % (provider, self.base, pad, self.message)
            return
        want_json = self.d["json"] or P.wants_json(self.req)
        text = mp.json_answer_text(provider, self.base, self.message) if want_json \
            else "[%s/%s] %s%s" % (provider, self.base, pad, self.message)
        self.answer = P.success(self.req, self.base, self.message, text,
                                P.websearch(self.req), created)


class Batch:
    """A submission and its clock. kind is the provider name."""

    def __init__(self, kind, bid, items, m):
        self.kind = kind
        self.id = bid
        self.items = items
        self.m = m
        self.t0 = time.monotonic()
        self.w0 = time.time()
        self.V = m["validate_s"] if kind == "openai-batch" else 0.0
        self.B = m["batch_s"]
        self.F = m["finalize_s"] if kind == "openai-batch" else 0.0
        self.C = m["cancel_s"] if kind != "snapshot" else 0.0
        n = len(items)
        self.expire_k = None if m["expire"] is None else (
            n // 2 if m["expire"] < 0 else min(m["expire"], n))
        self.fail_all = m["batch_fail"]
        self.invalid = None         # OpenAI: errors found while validating
        self.cancel_at = None       # seconds after creation
        self.polls = 0
        self.dataset = None
        self.input_file_id = self.output_file_id = self.error_file_id = None
        self.endpoint = self.completion_window = self.metadata = None

    def now(self):
        return time.monotonic() - self.t0

    def timeline(self):
        """[(state, seconds after creation)] in order; the state at t is the
        last one that started at or before t."""
        V, B, F, C = self.V, self.B, self.F, self.C
        if self.kind == "openai-batch":
            if self.invalid or self.fail_all:
                ev = [("validating", 0.0), ("failed", V)]
            elif self.expire_k is not None:
                ev = [("validating", 0.0), ("in_progress", V), ("expired", V + B)]
            else:
                ev = [("validating", 0.0), ("in_progress", V), ("finalizing", V + B),
                      ("completed", V + B + F)]
            stop = [("cancelling", self.cancel_at), ("cancelled", (self.cancel_at or 0) + C)]
        elif self.kind == "anthropic-batch":
            ev = [("in_progress", 0.0), ("ended", B)]
            stop = [("canceling", self.cancel_at), ("ended", (self.cancel_at or 0) + C)]
        else:
            ev = [("running", 0.0), ("failed" if self.fail_all else "ready", B)]
            stop = [("failed", self.cancel_at)]
        if self.cancel_at is not None:
            ev = ev[:1] + [e for e in ev[1:] if e[1] < self.cancel_at] + stop
        return ev

    def state(self, t):
        st = None
        for name, at in self.timeline():
            if at <= t or st is None:
                st = name
        return st

    def started(self, t):
        """{state: seconds after creation} of the states reached by t."""
        out = {}
        for name, at in self.timeline():
            if at <= t:
                out[name] = at
        return out

    TERMINAL = {"failed", "completed", "expired", "cancelled", "ended", "ready"}

    def terminal(self, t):
        return self.state(t) in self.TERMINAL

    def cancellable(self, t):
        return self.cancel_at is None and not self.terminal(t)

    def never_runs(self):
        """True when the batch fails as a whole before any item runs."""
        return bool(self.invalid or (self.fail_all and self.kind != "anthropic-batch"))

    def processed(self, t):
        """How many items (in order) have run by t."""
        if self.never_runs():
            return 0
        if self.cancel_at is not None:
            t = min(t, self.cancel_at)
        total = len(self.items) if self.expire_k is None else self.expire_k
        if t >= self.V + self.B:
            return total
        if t <= self.V:
            return 0
        return min(total, int(total * (t - self.V) / self.B))

    def outcomes(self, t):
        """[(item, "ok" | "error" | "expired" | "canceled" | "pending")]."""
        k = self.processed(t)
        end = self.terminal(t) and not (self.never_runs() and self.cancel_at is None)
        out = []
        for i, it in enumerate(self.items):
            if i < k:
                bad = it.error or (self.fail_all and self.kind == "anthropic-batch")
                out.append((it, "error" if bad else "ok"))
            elif end:
                out.append((it, "canceled" if self.cancel_at is not None else "expired"))
            else:
                out.append((it, "pending"))
        return out


def newest_first(st, kind):
    """The batches of one kind, newest first (as the list endpoints give them)."""
    with st.lock:
        bs = [b for b in st.batches.values() if b.kind == kind]
    return sorted(bs, key=lambda b: b.t0, reverse=True)


def page(r, kind, cursor_arg):
    """(batches on this page, has_more) for a list request: ?limit (1-100,
    default 20) and a cursor naming the last batch of the page before."""
    try:
        limit = int(r.arg("limit") or 20)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        return None, False
    bs = newest_first(r.st, kind)
    after = r.arg(cursor_arg)
    if after:
        ids = [b.id for b in bs]
        bs = bs[ids.index(after) + 1:] if after in ids else []
    return bs[:limit], len(bs) > limit


def register(st, batch):
    with st.lock:
        st.batches[batch.id] = batch


def find(st, bid, kind):
    with st.lock:
        b = st.batches.get(bid)
    return b if b is not None and b.kind == kind else None


# --------------------------------------------------------------------------
# request plumbing


class Req:
    """One request to a batch route and its log entry."""

    def __init__(self, h, entry, raw, query, provider):
        self.h = h
        self.st = h.server.state
        self.entry = entry
        self.raw = raw
        self.query = parse_qs(query, keep_blank_values=True)
        self.provider = provider
        entry["provider"] = provider

    def arg(self, name):
        v = self.query.get(name)
        return v[0] if v else None

    def json(self):
        try:
            return json.loads(self.raw.decode("utf-8")) if self.raw else None
        except (UnicodeDecodeError, ValueError):
            return None

    def note(self, action, batch=None, **kw):
        e = self.entry
        e["action"] = action
        if batch is not None:
            e["batch_id"] = batch.id
            e["model"] = batch.items[0].model if batch.items else None
            e["file_id"] = batch.input_file_id
        e.update(kw)

    def answer(self, status, body, ctype="application/json", headers=None, delay_ms=0):
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        self.st.finish(self.entry, status)
        self.h.send(status, body, ctype, headers)
        return True

    def faults(self, m, key, err):
        """Apply a submission's fault directives (delay, status, fail, garbage,
        hang, retry_after). Returns (answered, status to answer success with)."""
        delay = m["delay"]
        faulty = m["status"] is not None or m["garbage"] or m["hang"] or m["fail"] is not None
        if faulty and m["fail"] is not None:
            faulty = self.st.count(key) <= m["fail"]
        if not faulty:
            return False, 200
        if m["hang"]:
            self.st.finish(self.entry, None)
            self.h.hang()
            return True, None
        if m["garbage"]:
            return self.answer(200, "<html>oops: mockproviders garbage", "text/html",
                               delay_ms=delay), None
        status = m["status"] if m["status"] is not None else 500
        if status >= 400:
            hdr = {"Retry-After": m["retry_after"]} if m["retry_after"] else None
            return self.answer(status, err(status), headers=hdr, delay_ms=delay), None
        return False, status

    def accepted_then(self, m, key, err):
        """After a batch was created: the first submission of key with
        ~accept_then fails anyway (a 5xx, or no answer at all), as when a
        provider's answer is lost after it accepted. True when answered."""
        if m["accept_then"] is None or self.st.count(("accept_then",) + key) > 1:
            return False
        if m["accept_then"] == "hang":
            self.st.finish(self.entry, None)
            self.h.hang()
            return True
        status = int(m["accept_then"])
        return self.answer(status, err(status))

    def poll_fault(self, batch, err):
        """Count a status poll and answer poll_status when the batch asks for it."""
        m = batch.m
        with self.st.lock:
            batch.polls += 1
            n = batch.polls
        if m["poll_status"] is None or (m["poll_fail"] is not None and n > m["poll_fail"]):
            return False
        hdr = {"Retry-After": m["retry_after"]} if m["retry_after"] else None
        return self.answer(m["poll_status"], err(m["poll_status"]), headers=hdr)


def submission_key(provider, items, extra=""):
    return (provider, extra, tuple((it.custom_id, it.model, it.message) for it in items))


# --------------------------------------------------------------------------
# OpenAI Files + Batch


def oa_err(status, message, param=None, code=None):
    body = mp.OpenAI.error_body(status, message, param)
    body["error"]["code"] = code
    return body


def oa_item(no, line):
    """An Item from one line of a batch input file; raises mp.BadRequest."""
    where = "Line %d: " % no
    try:
        obj = json.loads(line)
    except ValueError:
        raise mp.BadRequest(where + "invalid JSON", "file")
    if not isinstance(obj, dict):
        raise mp.BadRequest(where + "each line must be a JSON object", "file")
    cid = obj.get("custom_id")
    if not isinstance(cid, str) or not cid:
        raise mp.BadRequest(where + "missing required parameter 'custom_id'", "custom_id")
    if obj.get("method") != "POST":
        raise mp.BadRequest(where + "'method' must be 'POST'", "method")
    if obj.get("url") != "/v1/chat/completions":
        raise mp.BadRequest(where + "'url' must be '/v1/chat/completions'", "url")
    body = obj.get("body")
    if not isinstance(body, dict):
        raise mp.BadRequest(where + "missing required parameter 'body'", "body")
    try:
        model, message = mp.OpenAI.validate(body)
        base, d = parse_directives(model)
    except mp.BadRequest as e:
        raise mp.BadRequest(where + e.message, "body." + (e.param or "model"))
    return Item(no, cid, model, base, d, message, body)


def oa_parse_file(data):
    """The items of a JSONL batch input file; raises mp.BadRequest."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise mp.BadRequest("The file is not valid UTF-8 JSONL.", "file")
    lines = text.split("\n")
    if lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise mp.BadRequest("The batch input file is empty.", "file")
    items = []
    for no, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line.strip():
            raise mp.BadRequest("Line %d: empty line" % no, "file")
        items.append(oa_item(no, line))
    return items


def multipart(content_type, data):
    """{name: (filename, bytes)} of a multipart/form-data body; raises ValueError."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("Content-Type must be multipart/form-data")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + data)
    if not msg.is_multipart():
        raise ValueError("bad multipart body")
    parts = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return parts


def oa_file_object(f, size=None):
    return {"id": f["id"], "object": "file",
            "bytes": size if size is not None else len(f.get("raw", b"")),
            "created_at": int(f["created_at"]), "filename": f["filename"],
            "purpose": f["purpose"], "status": "processed", "status_details": None,
            "expires_at": None}


def oa_lines(batch, which, t):
    """The JSONL text of a batch's output or error file (reverse input order)."""
    out = []
    for it, fate in reversed(batch.outcomes(t)):
        if fate == "ok" and which == "output":
            out.append({"id": it.line_id, "custom_id": it.custom_id,
                        "response": {"status_code": 200, "request_id": it.request_id,
                                     "body": it.answer}, "error": None})
        elif fate == "error" and which == "error":
            out.append({"id": it.line_id, "custom_id": it.custom_id,
                        "response": {"status_code": it.error, "request_id": it.request_id,
                                     "body": mp.OpenAI.error_body(
                                         it.error, "mockproviders: this request failed "
                                                   "(line %d)" % it.index)},
                        "error": None})
        elif fate in ("expired", "canceled") and which == "error":
            code, msg = (("batch_expired", "This request could not be executed before the "
                                           "completion window expired.")
                         if fate == "expired" else
                         ("batch_cancelled", "This request was not executed because the "
                                             "batch was cancelled."))
            out.append({"id": it.line_id, "custom_id": it.custom_id, "response": None,
                        "error": {"code": code, "message": msg}})
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in out)


def oa_batch_object(batch, t):
    state = batch.state(t)
    started = batch.started(t)
    w = batch.w0
    at = {k: int(w + v) for k, v in started.items()}
    n = len(batch.items)
    ok = err = 0
    usage_in = usage_out = 0
    for it, fate in batch.outcomes(t):
        if fate == "ok":
            ok += 1
            usage_in += it.answer["usage"]["prompt_tokens"]
            usage_out += it.answer["usage"]["completion_tokens"]
        elif fate != "pending":
            err += 1
    done = state in batch.TERMINAL and state != "failed"
    errors = None
    if state == "failed":
        errors = {"object": "list", "data": batch.invalid or [{
            "code": "token_limit_exceeded",
            "message": "mockproviders ~batch_fail: Enqueued token limit reached for %s."
                       % batch.items[0].base, "param": None, "line": None}]}
    expires = w + (batch.V + batch.B if batch.expire_k is not None else DAY_S)
    return {
        "id": batch.id, "object": "batch", "endpoint": batch.endpoint,
        "model": batch.items[0].base, "errors": errors,
        "input_file_id": batch.input_file_id, "completion_window": batch.completion_window,
        "status": state,
        "output_file_id": batch.output_file_id if done and ok else None,
        "error_file_id": batch.error_file_id if done and err else None,
        "created_at": int(w), "in_progress_at": at.get("in_progress"),
        "expires_at": int(expires), "finalizing_at": at.get("finalizing"),
        "completed_at": at.get("completed"), "failed_at": at.get("failed"),
        "expired_at": at.get("expired"), "cancelling_at": at.get("cancelling"),
        "cancelled_at": at.get("cancelled"),
        "request_counts": {"total": 0 if state in ("validating", "failed") else n,
                           "completed": ok, "failed": err},
        "usage": {"input_tokens": usage_in, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": usage_out,
                  "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": usage_in + usage_out},
        "metadata": batch.metadata,
    }


def oa_validate_batch(items):
    """Errors the real API finds while validating a file: duplicate custom_ids
    and more than one model. None when the file is fine."""
    errs, seen = [], {}
    for it in items:
        if it.custom_id in seen:
            errs.append({"code": "duplicate_custom_id",
                         "message": "The custom_id '%s' is used on lines %d and %d; "
                                    "custom_id must be unique." % (it.custom_id,
                                                                    seen[it.custom_id], it.index),
                         "param": "custom_id", "line": it.index})
        seen.setdefault(it.custom_id, it.index)
        if it.base != items[0].base:
            errs.append({"code": "mismatched_model",
                         "message": "Line %d uses model '%s' but line 1 uses '%s'; a batch "
                                    "takes one model." % (it.index, it.base, items[0].base),
                         "param": "body.model", "line": it.index})
    return errs or None


def oa_upload(r):
    st = r.st
    r.note("upload")
    ctype = r.h.headers.get("Content-Type", "")
    try:
        parts = multipart(ctype, r.raw)
    except (ValueError, TypeError, LookupError) as e:
        return r.answer(400, oa_err(400, "mockproviders: %s" % e, "file"))
    purpose = parts.get("purpose", (None, b""))[1].decode("utf-8", "replace").strip()
    if purpose != "batch":
        return r.answer(400, oa_err(400, "Invalid value for 'purpose': mockproviders only "
                                         "takes 'batch'." if purpose else
                                         "Missing required parameter: 'purpose'.", "purpose"))
    if "file" not in parts:
        return r.answer(400, oa_err(400, "Missing required parameter: 'file'.", "file"))
    filename, data = parts["file"]
    try:
        items = oa_parse_file(data)
    except mp.BadRequest as e:
        return r.answer(400, oa_err(400, e.message, e.param))
    f = {"id": mp.new_id("file-", 22), "created_at": time.time(), "purpose": "batch",
         "filename": filename or "upload.jsonl", "raw": data, "items": items, "batch": None}
    with st.lock:
        st.files[f["id"]] = f
    r.note("upload", file_id=f["id"], items=len(items), model=items[0].model,
           custom_ids=[it.custom_id for it in items],
           body=[it.req for it in items])
    return r.answer(200, oa_file_object(f))


def oa_visible_file(r, fid, action):
    """(file, bytes) when the file exists and can be read, else None. An output
    or error file exists once its batch has ended with lines for it."""
    with r.st.lock:
        f = r.st.files.get(fid)
    if f is None:
        return None
    if f["batch"] is None:
        return f, f["raw"]
    b = find(r.st, f["batch"], "openai-batch")
    if b is None:
        return None
    t = b.now()
    obj = oa_batch_object(b, t)
    r.note(action, b, file_id=fid, state=obj["status"])
    if fid not in (obj["output_file_id"], obj["error_file_id"]):
        return None
    return f, oa_lines(b, f["which"], t).encode("utf-8")


def oa_file(r, fid, content):
    action = "results" if content else "file"
    r.note(action, file_id=fid)
    got = oa_visible_file(r, fid, action)
    if got is None:
        return r.answer(404, oa_err(404, "No such File object: %s" % fid, "id"))
    f, data = got
    if content:
        return r.answer(200, data, "application/octet-stream")
    return r.answer(200, oa_file_object(f, len(data)))


def oa_create(r):
    st = r.st
    r.note("create")
    req = r.json()
    if not isinstance(req, dict):
        return r.answer(400, oa_err(400, "We could not parse the JSON body of your request."))
    fid = req.get("input_file_id")
    if not isinstance(fid, str) or not fid:
        return r.answer(400, oa_err(400, "Missing required parameter: 'input_file_id'.",
                                    "input_file_id"))
    r.note("create", file_id=fid, body=req)
    if req.get("endpoint") != "/v1/chat/completions":
        return r.answer(400, oa_err(400, "Invalid value for 'endpoint': mockproviders only "
                                         "takes '/v1/chat/completions'.", "endpoint"))
    if req.get("completion_window") != "24h":
        return r.answer(400, oa_err(400, "Invalid value for 'completion_window': only '24h' "
                                         "is supported.", "completion_window"))
    meta = req.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        return r.answer(400, oa_err(400, "Invalid type for 'metadata'.", "metadata"))
    with st.lock:
        f = st.files.get(fid)
    if f is None or f["purpose"] != "batch":
        return r.answer(400, oa_err(400, "Invalid 'input_file_id': '%s'. No such file with "
                                         "purpose 'batch'." % fid, "input_file_id"))
    spec = f["items"]
    r.note("create", items=len(spec), custom_ids=[it.custom_id for it in spec],
           model=spec[0].model)
    m = merge_directives([it.d for it in spec])
    answered, ok_status = r.faults(m, submission_key("openai-batch", spec),
                                   lambda s: mp.OpenAI.error_body(s))
    if answered:
        return True
    items = [Item(it.index, it.custom_id, it.model, it.base, it.d, it.message, it.req)
             for it in spec]
    b = Batch("openai-batch", mp.new_id("batch_"), items, m)
    for it in items:
        it.plan("openai-batch", mp.OpenAI, m["fail_line"], b.w0 + b.V + b.B)
    b.invalid = oa_validate_batch(items)
    b.input_file_id, b.endpoint, b.completion_window, b.metadata = \
        fid, req["endpoint"], req["completion_window"], meta
    b.output_file_id, b.error_file_id = mp.new_id("file-", 22), mp.new_id("file-", 22)
    with st.lock:
        for fid2, which in ((b.output_file_id, "output"), (b.error_file_id, "error")):
            st.files[fid2] = {"id": fid2, "created_at": b.w0, "purpose": "batch_output",
                              "filename": "%s_%s.jsonl" % (b.id, which),
                              "batch": b.id, "which": which}
    register(st, b)
    obj = oa_batch_object(b, 0.0)
    r.note("create", b, state=obj["status"])
    if r.accepted_then(m, submission_key("openai-batch", spec), lambda s: mp.OpenAI.error_body(s)):
        return True
    return r.answer(ok_status, obj, delay_ms=m["delay"])


def oa_list(r):
    r.note("list")
    bs, more = page(r, "openai-batch", "after")
    if bs is None:
        return r.answer(400, oa_err(400, "Invalid 'limit': must be between 1 and 100.", "limit"))
    data = [oa_batch_object(b, b.now()) for b in bs]
    return r.answer(200, {"object": "list", "data": data,
                          "first_id": data[0]["id"] if data else None,
                          "last_id": data[-1]["id"] if data else None, "has_more": more})


def oa_poll(r, bid):
    r.note("poll", batch_id=bid)
    b = find(r.st, bid, "openai-batch")
    if b is None:
        return r.answer(404, oa_err(404, "No batch found with id '%s'." % bid))
    r.note("poll", b)
    if r.poll_fault(b, lambda s: mp.OpenAI.error_body(s)):
        return True
    obj = oa_batch_object(b, b.now())
    r.note("poll", b, state=obj["status"])
    return r.answer(200, obj)


def oa_cancel(r, bid):
    r.note("cancel", batch_id=bid)
    b = find(r.st, bid, "openai-batch")
    if b is None:
        return r.answer(404, oa_err(404, "No batch found with id '%s'." % bid))
    r.note("cancel", b)
    with r.st.lock:
        t = b.now()
        ok = b.cancellable(t)
        if ok:
            b.cancel_at = t
    if not ok:
        return r.answer(400, oa_err(400, "Cannot cancel a batch with status '%s'."
                                    % b.state(t)))
    obj = oa_batch_object(b, t)
    r.note("cancel", b, state=obj["status"])
    return r.answer(200, obj)


def oa_auth(r):
    bad = mp.OpenAI.auth(r.h.headers)
    return r.answer(*bad) if bad else False


OPENAI_ROUTES = (
    ("POST", re.compile(r"/openai/v1/files"), lambda r: oa_upload(r)),
    ("GET", re.compile(r"/openai/v1/files/([^/]+)"), lambda r, i: oa_file(r, i, False)),
    ("GET", re.compile(r"/openai/v1/files/([^/]+)/content"), lambda r, i: oa_file(r, i, True)),
    ("POST", re.compile(r"/openai/v1/batches"), lambda r: oa_create(r)),
    ("GET", re.compile(r"/openai/v1/batches"), lambda r: oa_list(r)),
    ("GET", re.compile(r"/openai/v1/batches/([^/]+)"), oa_poll),
    ("POST", re.compile(r"/openai/v1/batches/([^/]+)/cancel"), oa_cancel),
)


# --------------------------------------------------------------------------
# Anthropic Message Batches

CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def an_batch_object(r, batch, t):
    state = batch.state(t)
    started = batch.started(t)
    w = batch.w0
    counts = {"processing": len(batch.items), "succeeded": 0, "errored": 0,
              "canceled": 0, "expired": 0}
    if state == "ended":
        counts["processing"] = 0
        names = {"ok": "succeeded", "error": "errored", "canceled": "canceled",
                 "expired": "expired"}
        for _, fate in batch.outcomes(t):
            counts[names[fate]] += 1
    host = r.h.headers.get("Host") or "%s:%d" % r.h.server.server_address[:2]
    expires = w + (batch.B if batch.expire_k is not None else DAY_S)
    return {
        "id": batch.id, "type": "message_batch", "processing_status": state,
        "request_counts": counts,
        "ended_at": rfc3339(w + started["ended"]) if "ended" in started else None,
        "created_at": rfc3339(w), "expires_at": rfc3339(expires), "archived_at": None,
        "cancel_initiated_at": rfc3339(w + started["canceling"])
        if "canceling" in started else None,
        "results_url": "http://%s/anthropic/v1/messages/batches/%s/results" % (host, batch.id)
        if state == "ended" else None,
    }


def an_create(r):
    st = r.st
    r.note("create")
    req = r.json()
    if not isinstance(req, dict):
        return r.answer(400, mp.Anthropic.error_body(
            400, "There was an error parsing the body of your request as JSON"))
    r.note("create", body=req)
    reqs = req.get("requests")
    if not isinstance(reqs, list) or not reqs:
        return r.answer(400, mp.Anthropic.error_body(
            400, "requests: Field required" if reqs is None
            else "requests: List should have at least 1 item"))
    items, seen = [], set()
    for i, x in enumerate(reqs):
        try:
            if not isinstance(x, dict):
                raise mp.BadRequest("Input should be a valid dictionary")
            cid = x.get("custom_id")
            if not isinstance(cid, str) or not CUSTOM_ID_RE.match(cid):
                raise mp.BadRequest("custom_id: String should match pattern "
                                    "'^[a-zA-Z0-9_-]{1,64}$'")
            if cid in seen:
                raise mp.BadRequest("custom_id: duplicate custom_id '%s'; custom_id must be "
                                    "unique within a Message Batch" % cid)
            seen.add(cid)
            p = x.get("params")
            if not isinstance(p, dict):
                raise mp.BadRequest("params: Field required")
            try:
                model, message = mp.Anthropic.validate(p)
                base, d = parse_directives(model)
            except mp.BadRequest as e:
                raise mp.BadRequest("params." + e.message)
        except mp.BadRequest as e:
            return r.answer(400, mp.Anthropic.error_body(400, "requests.%d.%s" % (i, e.message)))
        items.append(Item(i + 1, cid, model, base, d, message, p))
    r.note("create", items=len(items), custom_ids=[it.custom_id for it in items],
           model=items[0].model)
    m = merge_directives([it.d for it in items])
    answered, ok_status = r.faults(m, submission_key("anthropic-batch", items),
                                   lambda s: mp.Anthropic.error_body(s))
    if answered:
        return True
    b = Batch("anthropic-batch", mp.new_id("msgbatch_"), items, m)
    for it in items:
        it.plan("anthropic-batch", mp.Anthropic, m["fail_line"], b.w0 + b.B)
    register(st, b)
    obj = an_batch_object(r, b, 0.0)
    r.note("create", b, state=obj["processing_status"])
    if r.accepted_then(m, submission_key("anthropic-batch", items),
                       lambda s: mp.Anthropic.error_body(s)):
        return True
    return r.answer(ok_status, obj, delay_ms=m["delay"])


def an_list(r):
    r.note("list")
    bs, more = page(r, "anthropic-batch", "after_id")
    if bs is None:
        return r.answer(400, mp.Anthropic.error_body(400, "limit: must be between 1 and 100"))
    data = [an_batch_object(r, b, b.now()) for b in bs]
    return r.answer(200, {"data": data, "has_more": more,
                          "first_id": data[0]["id"] if data else None,
                          "last_id": data[-1]["id"] if data else None})


def an_find(r, bid, action):
    r.note(action, batch_id=bid)
    b = find(r.st, bid, "anthropic-batch")
    if b is None:
        r.answer(404, mp.Anthropic.error_body(404, "message_batch_id: no Message Batch "
                                                   "'%s'" % bid))
        return None
    r.note(action, b)
    return b


def an_poll(r, bid):
    b = an_find(r, bid, "poll")
    if b is None:
        return True
    if r.poll_fault(b, lambda s: mp.Anthropic.error_body(s)):
        return True
    obj = an_batch_object(r, b, b.now())
    r.note("poll", b, state=obj["processing_status"])
    return r.answer(200, obj)


def an_cancel(r, bid):
    b = an_find(r, bid, "cancel")
    if b is None:
        return True
    with r.st.lock:
        t = b.now()
        ok = b.cancellable(t)
        if ok:
            b.cancel_at = t
    if not ok:
        return r.answer(400, mp.Anthropic.error_body(
            400, "Message Batch %s cannot be canceled: its processing_status is '%s'"
            % (bid, b.state(t))))
    obj = an_batch_object(r, b, t)
    r.note("cancel", b, state=obj["processing_status"])
    return r.answer(200, obj)


def an_results(r, bid):
    b = an_find(r, bid, "results")
    if b is None:
        return True
    t = b.now()
    state = b.state(t)
    r.note("results", b, state=state)
    if state != "ended":
        return r.answer(400, mp.Anthropic.error_body(
            400, "Message Batch %s has not ended (processing_status '%s'); results are "
                 "available once it has" % (bid, state)))
    lines = []
    for it, fate in reversed(b.outcomes(t)):
        if fate == "ok":
            res = {"type": "succeeded", "message": it.answer}
        elif fate == "error":
            code = it.error or 500
            res = {"type": "errored", "error": mp.Anthropic.error_body(
                code, "mockproviders: this request failed (request %d%s)"
                % (it.index, ", ~batch_fail" if b.fail_all else ""))}
        else:
            res = {"type": fate}
        lines.append(json.dumps({"custom_id": it.custom_id, "result": res},
                                ensure_ascii=False) + "\n")
    return r.answer(200, "".join(lines), "application/x-jsonl")


def an_auth(r):
    bad = mp.Anthropic.auth(r.h.headers)
    return r.answer(*bad) if bad else False


ANTHROPIC_ROUTES = (
    ("POST", re.compile(r"/anthropic/v1/messages/batches"), lambda r: an_create(r)),
    ("GET", re.compile(r"/anthropic/v1/messages/batches"), lambda r: an_list(r)),
    ("GET", re.compile(r"/anthropic/v1/messages/batches/([^/]+)"), an_poll),
    ("POST", re.compile(r"/anthropic/v1/messages/batches/([^/]+)/cancel"), an_cancel),
    ("GET", re.compile(r"/anthropic/v1/messages/batches/([^/]+)/results"), an_results),
)


# --------------------------------------------------------------------------
# snapshot (a scraping-style dataset service)


def sn_err(status, message=None):
    return {"error": message or mp.default_message(status)}


def sn_create(r):
    st = r.st
    r.note("create")
    dataset = r.arg("dataset_id")
    if not dataset:
        return r.answer(400, sn_err(400, "dataset_id is required"))
    r.entry["model"] = dataset
    req = r.json()
    r.note("create", body=req)
    if not isinstance(req, list) or not req:
        return r.answer(400, sn_err(400, "the body must be a non-empty JSON array of inputs"))
    try:
        base, d = parse_directives(dataset)
    except mp.BadRequest as e:
        return r.answer(400, sn_err(400, e.message))
    items, seen = [], set()
    for i, x in enumerate(req):
        if not isinstance(x, dict):
            return r.answer(400, sn_err(400, "input %d: must be an object" % i))
        cid, prompt, country = x.get("custom_id"), x.get("prompt"), x.get("country")
        if not isinstance(cid, str) or not cid:
            return r.answer(400, sn_err(400, "input %d: custom_id is required" % i))
        if cid in seen:
            return r.answer(400, sn_err(400, "input %d: duplicate custom_id '%s'" % (i, cid)))
        seen.add(cid)
        if not isinstance(prompt, str) or not prompt.strip():
            return r.answer(400, sn_err(400, "input %d: prompt is required" % i))
        if country is not None and not isinstance(country, str):
            return r.answer(400, sn_err(400, "input %d: country must be a string" % i))
        items.append(Item(i + 1, cid, dataset, base, d, prompt, country=country))
    r.note("create", items=len(items), custom_ids=[it.custom_id for it in items])
    answered, ok_status = r.faults(d, submission_key("snapshot", items, dataset), sn_err)
    if answered:
        return True
    b = Batch("snapshot", mp.new_id("s_", 20), items, d)
    for it in items:
        it.plan("snapshot", None, d["fail_line"], None)
    register(st, b)
    r.note("create", b, state=b.state(0.0))
    if r.accepted_then(d, submission_key("snapshot", items, dataset), sn_err):
        return True
    return r.answer(ok_status, {"snapshot_id": b.id}, delay_ms=d["delay"])


def sn_list(r):
    r.note("list")
    dataset = r.arg("dataset_id")
    if not dataset:
        return r.answer(400, sn_err(400, "dataset_id is required"))
    out = [{"id": b.id, "dataset_id": b.items[0].model, "status": b.state(b.now()),
            "created": rfc3339(b.w0), "dataset_size": len(b.items)}
           for b in newest_first(r.st, "snapshot") if b.items[0].model == dataset]
    return r.answer(200, out)


def sn_find(r, bid, action):
    r.note(action, batch_id=bid)
    b = find(r.st, bid, "snapshot")
    if b is None:
        r.answer(404, sn_err(404, "snapshot '%s' not found" % bid))
        return None
    r.note(action, b)
    return b


def sn_error(b):
    if b.cancel_at is not None:
        return "cancelled by request"
    return "mockproviders ~batch_fail: the collection failed" if b.fail_all else None


def sn_progress(r, bid):
    b = sn_find(r, bid, "poll")
    if b is None:
        return True
    if r.poll_fault(b, sn_err):
        return True
    t = b.now()
    state = b.state(t)
    r.note("poll", b, state=state)
    body = {"snapshot_id": b.id, "dataset_id": b.items[0].base, "status": state}
    if state == "ready":
        body["records"] = len(b.items)
        body["errors"] = sum(1 for _, f in b.outcomes(t) if f != "ok")
    elif state == "failed":
        body["error"] = sn_error(b)
    return r.answer(200, body)


def sn_download(r, bid):
    b = sn_find(r, bid, "results")
    if b is None:
        return True
    fmt = r.arg("format") or "json"
    t = b.now()
    state = b.state(t)
    r.note("results", b, state=state)
    if fmt != "json":
        return r.answer(400, sn_err(400, "format must be json"))
    if state == "running":
        return r.answer(202, {"status": "running",
                              "message": "Snapshot is not ready yet, try again later"})
    if state == "failed":
        return r.answer(400, sn_err(400, "snapshot %s failed: %s" % (bid, sn_error(b))))
    out = []
    srcs = [{"url": s["url"], "title": s["title"]} for s in mp.mock_sources("snapshot")]
    for it, fate in b.outcomes(t):
        row = {"custom_id": it.custom_id, "prompt": it.message, "country": it.country}
        if fate == "ok":
            row.update(answer_text=it.answer, citations=srcs)
        elif fate == "error":
            row["error"] = "mockproviders: collection failed for this input (%d)" % it.error
        else:
            row["error"] = "expired: the collection window ended before this input ran"
        out.append(row)
    return r.answer(200, out)


def sn_cancel(r, bid):
    b = sn_find(r, bid, "cancel")
    if b is None:
        return True
    with r.st.lock:
        t = b.now()
        ok = b.cancellable(t)
        if ok:
            b.cancel_at = t
    if not ok:
        return r.answer(400, sn_err(400, "snapshot %s is %s and cannot be cancelled"
                                    % (bid, b.state(t))))
    r.note("cancel", b, state=b.state(t))
    return r.answer(200, {"snapshot_id": b.id, "status": "cancelled"})


def sn_auth(r):
    if not mp.bearer_ok(r.h.headers):
        return r.answer(401, sn_err(401, "Unauthorized: an API key is required "
                                         "(Authorization: Bearer <key>)"))
    return False


SNAPSHOT_ROUTES = (
    ("POST", re.compile(r"/snapshot/trigger"), lambda r: sn_create(r)),
    ("GET", re.compile(r"/snapshot/snapshots"), lambda r: sn_list(r)),
    ("GET", re.compile(r"/snapshot/progress/([^/]+)"), sn_progress),
    ("GET", re.compile(r"/snapshot/snapshot/([^/]+)"), sn_download),
    ("POST", re.compile(r"/snapshot/snapshot/([^/]+)/cancel"), sn_cancel),
)


# --------------------------------------------------------------------------
# entry point

APIS = (
    ("openai-batch", ("/openai/v1/files", "/openai/v1/batches"), oa_auth, OPENAI_ROUTES),
    ("anthropic-batch", ("/anthropic/v1/messages/batches",), an_auth, ANTHROPIC_ROUTES),
    ("snapshot", ("/snapshot/",), sn_auth, SNAPSHOT_ROUTES),
)


def route(h, method, path, query, raw, entry):
    """Answer the request when path and method are a batch route; False (and
    nothing answered) when they are not."""
    for provider, prefixes, auth, routes in APIS:
        if not path.startswith(prefixes):
            continue
        for meth, rx, fn in routes:
            mt = rx.fullmatch(path)
            if mt and meth == method:
                r = Req(h, entry, raw, query, provider)
                if auth(r):
                    return True
                fn(r, *mt.groups())
                return True
    return False
