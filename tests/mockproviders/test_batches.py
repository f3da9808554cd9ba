"""Tests for the batch APIs of the mock (mockbatches.py): every state machine walked
with real HTTP calls and compressed timings.

Run: /usr/bin/python3 -m pytest tests/mockproviders -q"""

import json
import time
from datetime import datetime

import pytest
import requests

from test_mockproviders import AN_H, OA_H, start_server, stop_server

SN_H = {"Authorization": "Bearer test-key"}
OA = "/openai/v1"
AN = "/anthropic/v1/messages/batches"
FAST = "~validate_s=0.1~batch_s=0.25~finalize_s=0.1"


@pytest.fixture(scope="module")
def server():
    proc, base = start_server()
    yield base
    assert stop_server(proc) == 0


@pytest.fixture
def base(server):
    assert requests.post(server + "/_reset", timeout=5).status_code == 200
    return server


def get_log(base):
    return requests.get(base + "/_log", timeout=5).json()


def walk(fetch, key, terminal, timeout=5.0):
    """Poll until fetch()[key] is terminal; return (distinct states in order, last body)."""
    states, deadline = [], time.monotonic() + timeout
    while True:
        j = fetch()
        if not states or states[-1] != j[key]:
            states.append(j[key])
        if j[key] in terminal:
            return states, j
        assert time.monotonic() < deadline, states
        time.sleep(0.02)


# ---- OpenAI Files + Batch

def oa_line(cid, model, msg, **body):
    b = {"model": model, "messages": [{"role": "user", "content": msg}]}
    b.update(body)
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": b}


def oa_upload(base, lines, purpose="batch", headers=OA_H):
    data = lines if isinstance(lines, bytes) else \
        "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines).encode("utf-8")
    return requests.post(base + OA + "/files", headers=headers, timeout=5,
                         files={"file": ("in.jsonl", data, "application/jsonl")},
                         data={"purpose": purpose} if purpose else None)


def oa_create(base, file_id, headers=OA_H, **kw):
    body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions",
            "completion_window": "24h"}
    body.update(kw)
    return requests.post(base + OA + "/batches", json=body, headers=headers, timeout=5)


def oa_submit(base, lines):
    r = oa_upload(base, lines)
    assert r.status_code == 200, r.text
    r = oa_create(base, r.json()["id"])
    assert r.status_code == 200, r.text
    return r.json()


def oa_get(base, bid):
    r = requests.get(base + OA + "/batches/" + bid, headers=OA_H, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def oa_walk(base, bid):
    return walk(lambda: oa_get(base, bid), "status",
                {"completed", "failed", "expired", "cancelled"})


def oa_content(base, fid):
    r = requests.get(base + OA + "/files/%s/content" % fid, headers=OA_H, timeout=5)
    assert r.status_code == 200, r.text
    return {x["custom_id"]: x for x in map(json.loads, r.text.splitlines())}


def test_openai_batch_lifecycle(base):
    m = "gpt-4o-mini" + FAST
    lines = [oa_line("chat-1", m, "Compare Rust and Go"),
             oa_line("chat-2", m + "~line_error", "this one fails"),
             oa_line("chat-3", m, "alpha beta", response_format={"type": "json_object"})]
    raw = "".join(json.dumps(x) + "\n" for x in lines).encode()
    r = oa_upload(base, raw)
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["object"] == "file" and f["id"].startswith("file-") and f["purpose"] == "batch"
    assert f["bytes"] == len(raw) and f["filename"] == "in.jsonl"
    r = oa_create(base, f["id"], metadata={"job": "42"})
    assert r.status_code == 200
    b = r.json()
    assert b["object"] == "batch" and b["id"].startswith("batch_")
    assert b["status"] == "validating" and b["input_file_id"] == f["id"]
    assert b["endpoint"] == "/v1/chat/completions" and b["completion_window"] == "24h"
    assert b["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert b["output_file_id"] is None and b["error_file_id"] is None
    assert b["metadata"] == {"job": "42"} and b["expires_at"] - b["created_at"] == 86400

    states, b = oa_walk(base, b["id"])
    assert states == ["validating", "in_progress", "finalizing", "completed"]
    assert b["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    assert b["created_at"] <= b["in_progress_at"] <= b["finalizing_at"] <= b["completed_at"]
    assert b["errors"] is None and b["failed_at"] is None and b["cancelled_at"] is None

    out = oa_content(base, b["output_file_id"])
    assert set(out) == {"chat-1", "chat-3"}
    one = out["chat-1"]
    assert one["id"].startswith("batch_req_") and one["error"] is None
    assert one["response"]["status_code"] == 200 and one["response"]["request_id"]
    body = one["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4o-mini"
    assert body["choices"][0]["message"]["content"] == \
        "[openai-batch/gpt-4o-mini] Compare Rust and Go"
    assert body["usage"]["prompt_tokens"] == 4 and body["usage"]["completion_tokens"] == 5
    # the batch's usage adds up its answered lines
    ins = sum(x["response"]["body"]["usage"]["prompt_tokens"] for x in out.values())
    outs = sum(x["response"]["body"]["usage"]["completion_tokens"] for x in out.values())
    assert (b["usage"]["input_tokens"], b["usage"]["output_tokens"]) == (ins, outs)
    assert ins == 4 + 2 and b["usage"]["total_tokens"] == ins + outs
    js = json.loads(out["chat-3"]["response"]["body"]["choices"][0]["message"]["content"])
    assert js == {"summary": "[openai-batch/gpt-4o-mini] alpha beta", "items": ["alpha", "beta"]}
    err = oa_content(base, b["error_file_id"])
    assert list(err) == ["chat-2"] and err["chat-2"]["error"] is None
    assert err["chat-2"]["response"]["status_code"] == 500
    assert err["chat-2"]["response"]["body"]["error"]["type"] == "server_error"

    # the file objects and the input file's content
    r = requests.get(base + OA + "/files/" + b["output_file_id"], headers=OA_H, timeout=5)
    assert r.json()["purpose"] == "batch_output" and r.json()["bytes"] > 0
    r = requests.get(base + OA + "/files/%s/content" % f["id"], headers=OA_H, timeout=5)
    assert r.content == raw

    log = get_log(base)
    assert all(e["provider"] == "openai-batch" for e in log)
    up, cr = log[0], log[1]
    assert (up["action"], up["method"], up["path"], up["file_id"], up["items"]) == \
        ("upload", "POST", OA + "/files", f["id"], 3)
    assert up["custom_ids"] == ["chat-1", "chat-2", "chat-3"] and up["status"] == 200
    assert (cr["action"], cr["batch_id"], cr["file_id"], cr["items"], cr["state"]) == \
        ("create", b["id"], f["id"], 3, "validating")
    assert cr["custom_ids"] == ["chat-1", "chat-2", "chat-3"]
    assert [e["action"] for e in log].count("create") == 1
    polls = [e for e in log if e["action"] == "poll"]
    assert polls and all(e["batch_id"] == b["id"] and e["method"] == "GET" for e in polls)
    assert [e["state"] for e in polls][-1] == "completed"
    res = [e for e in log if e["action"] == "results"]
    assert {e["file_id"] for e in res} >= {b["output_file_id"], b["error_file_id"]}


def test_openai_batch_fail_line_and_expire(base):
    m = "gpt-4o-mini~validate_s=0.1~batch_s=0.2~fail_line=1~expire=2"
    lines = [oa_line("c%d" % i, m, "msg %d" % i) for i in range(1, 5)]
    b = oa_submit(base, lines)
    assert b["expires_at"] < b["created_at"] + 60
    states, b = oa_walk(base, b["id"])
    assert states == ["validating", "in_progress", "expired"]
    assert b["expired_at"] is not None and b["completed_at"] is None
    assert b["request_counts"] == {"total": 4, "completed": 1, "failed": 3}
    out = oa_content(base, b["output_file_id"])
    assert list(out) == ["c2"]
    assert out["c2"]["response"]["body"]["choices"][0]["message"]["content"] == \
        "[openai-batch/gpt-4o-mini] msg 2"
    err = oa_content(base, b["error_file_id"])
    assert set(err) == {"c1", "c3", "c4"}
    assert err["c1"]["response"]["status_code"] == 500
    for c in ("c3", "c4"):
        assert err[c]["response"] is None and err[c]["error"]["code"] == "batch_expired"


def test_openai_batch_whole_failure(base):
    b = oa_submit(base, [oa_line("a", "gpt-4o-mini~validate_s=0.1~batch_fail", "x"),
                         oa_line("b", "gpt-4o-mini", "y")])
    states, b = oa_walk(base, b["id"])
    assert states == ["validating", "failed"]
    assert b["failed_at"] is not None and b["in_progress_at"] is None
    assert b["errors"]["object"] == "list" and b["errors"]["data"][0]["code"]
    assert b["output_file_id"] is None and b["error_file_id"] is None
    assert b["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    # what the real API finds while validating: duplicate custom_ids, more than one model
    b = oa_submit(base, [oa_line("a", "gpt-4o-mini~validate_s=0", "x"),
                         oa_line("a", "gpt-4o-mini", "y"),
                         oa_line("c", "gpt-4o", "z")])
    b = oa_walk(base, b["id"])[1]
    assert b["status"] == "failed"
    assert [(e["code"], e["line"]) for e in b["errors"]["data"]] == \
        [("duplicate_custom_id", 2), ("mismatched_model", 3)]


def test_openai_batch_cancel(base):
    lines = [oa_line("c%d" % i, "gpt-4o-mini~validate_s=0~batch_s=5~cancel_s=0.15", "m%d" % i)
             for i in range(1, 4)]
    b = oa_submit(base, lines)
    time.sleep(0.05)
    r = requests.post(base + OA + "/batches/%s/cancel" % b["id"], headers=OA_H, timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "cancelling"
    assert r.json()["cancelling_at"] is not None
    states, b = oa_walk(base, b["id"])
    assert states == ["cancelling", "cancelled"] and b["cancelled_at"] is not None
    assert b["output_file_id"] is None and b["request_counts"]["failed"] == 3
    err = oa_content(base, b["error_file_id"])
    assert {e["error"]["code"] for e in err.values()} == {"batch_cancelled"}
    r = requests.post(base + OA + "/batches/%s/cancel" % b["id"], headers=OA_H, timeout=5)
    assert r.status_code == 400 and "cancelled" in r.json()["error"]["message"]
    assert [e["action"] for e in get_log(base)].count("cancel") == 2


def test_openai_batch_auth_and_bad_requests(base):
    good = [oa_line("a", "gpt-4o-mini~validate_s=60", "x")]
    fid = oa_upload(base, good).json()["id"]
    bid = oa_create(base, fid).json()["id"]
    # 401 on every route without a key
    for method, path in (("POST", "/files"), ("GET", "/files/" + fid),
                         ("GET", "/files/%s/content" % fid), ("POST", "/batches"),
                         ("GET", "/batches/" + bid), ("POST", "/batches/%s/cancel" % bid)):
        r = requests.request(method, base + OA + path, timeout=5)
        assert r.status_code == 401, path
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    # 400: malformed uploads
    ok = oa_line("a", "gpt-4o-mini", "x")
    cases = (
        (oa_upload(base, good, purpose=None), "purpose"),
        (oa_upload(base, good, purpose="fine-tune"), "purpose"),
        (requests.post(base + OA + "/files", headers=OA_H, data={"purpose": "batch"},
                       files={"x": ("a", b"")}, timeout=5), "file"),
        (requests.post(base + OA + "/files", headers=OA_H, json={"purpose": "batch"},
                       timeout=5), "file"),
        (oa_upload(base, b""), "file"),
        (oa_upload(base, b"{not json\n"), "file"),
        (oa_upload(base, [ok, {**ok, "custom_id": ""}]), "custom_id"),
        (oa_upload(base, [{**ok, "method": "GET"}]), "method"),
        (oa_upload(base, [{**ok, "url": "/v1/embeddings"}]), "url"),
        (oa_upload(base, [{**ok, "body": {"model": "gpt-4o"}}]), "body.messages"),
        (oa_upload(base, [{**ok, "body": {"messages": [{"role": "user", "content": "x"}]}}]),
         "body.model"),
        (oa_upload(base, [oa_line("a", "gpt-4o-mini~batch_s=x", "x")]), "body.model"),
        (oa_upload(base, [oa_line("a", "gpt-4o-mini~bacth_s=1", "x")]), "body.model"),
        (oa_upload(base, (json.dumps(ok) + "\n\n" + json.dumps(ok)).encode()), "file"),
    )
    for r, param in cases:
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
        if param:
            assert r.json()["error"]["param"] == param, r.text
    assert "Line 2" in cases[6][0].json()["error"]["message"]
    assert "Line 2: empty line" in cases[-1][0].json()["error"]["message"]
    # 400: malformed batch creations
    for kw in ({"input_file_id": "file-nope"}, {"input_file_id": None},
               {"endpoint": "/v1/embeddings"}, {"completion_window": "1h"},
               {"metadata": "x"}):
        assert oa_create(base, fid, **kw).status_code == 400, kw
    r = requests.post(base + OA + "/batches", data=b"{", headers=OA_H, timeout=5)
    assert r.status_code == 400
    # 404: unknown ids
    for method, path in (("GET", "/batches/batch_nope"), ("POST", "/batches/batch_nope/cancel"),
                         ("GET", "/files/file-nope"), ("GET", "/files/file-nope/content")):
        r = requests.request(method, base + OA + path, headers=OA_H, timeout=5)
        assert r.status_code == 404 and "error" in r.json(), path
    with_out = [e for e in get_log(base) if e["action"] == "create" and e["status"] == 200]
    assert len(with_out) == 1
    assert oa_get(base, bid)["status"] == "validating"


def test_openai_batch_submission_and_poll_faults(base):
    m = "gpt-4o-mini~status=503~fail=1~retry_after=2~poll_status=500~poll_fail=1~validate_s=60"
    fid = oa_upload(base, [oa_line("a", m, "x")]).json()["id"]
    r = oa_create(base, fid)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    # a retry, even with a new upload of the same lines, gets through
    fid = oa_upload(base, [oa_line("a", m, "x")]).json()["id"]
    r = oa_create(base, fid)
    assert r.status_code == 200
    bid = r.json()["id"]
    r = requests.get(base + OA + "/batches/" + bid, headers=OA_H, timeout=5)
    assert r.status_code == 500 and r.headers["Retry-After"] == "2"
    assert oa_get(base, bid)["status"] == "validating"
    creates = [e for e in get_log(base) if e["action"] == "create"]
    assert [(e["status"], e["batch_id"] is None) for e in creates] == [(503, True), (200, False)]
    polls = [e["status"] for e in get_log(base) if e["action"] == "poll"]
    assert polls == [500, 200]
    # garbage and a permanent status
    fid = oa_upload(base, [oa_line("a", "gpt-4o-mini~garbage", "x")]).json()["id"]
    r = oa_create(base, fid)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    fid = oa_upload(base, [oa_line("a", "gpt-4o-mini~status=429", "x")]).json()["id"]
    assert [oa_create(base, fid).status_code for _ in range(2)] == [429, 429]


# ---- Anthropic Message Batches

def an_req(cid, model, msg, **params):
    p = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": msg}]}
    p.update(params)
    return {"custom_id": cid, "params": p}


def an_create(base, reqs, headers=AN_H):
    return requests.post(base + AN, json={"requests": reqs}, headers=headers, timeout=5)


def an_get(base, bid):
    r = requests.get(base + AN + "/" + bid, headers=AN_H, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def an_walk(base, bid):
    return walk(lambda: an_get(base, bid), "processing_status", {"ended"})


def an_results(url):
    r = requests.get(url, headers=AN_H, timeout=5)
    assert r.status_code == 200, r.text
    return {x["custom_id"]: x["result"] for x in map(json.loads, r.text.splitlines())}


def test_anthropic_batch_lifecycle(base):
    m = "claude-3-5-haiku-latest~batch_s=0.25"
    r = an_create(base, [an_req("chat-1", m, "Compare Rust and Go"),
                         an_req("chat-2", m, "this one fails~line_error=400"),
                         an_req("chat-3", m, "alpha beta", system="Answer in JSON.")])
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["type"] == "message_batch" and b["id"].startswith("msgbatch_")
    assert b["processing_status"] == "in_progress" and b["results_url"] is None
    assert b["request_counts"] == {"processing": 3, "succeeded": 0, "errored": 0,
                                   "canceled": 0, "expired": 0}
    assert b["ended_at"] is None and b["cancel_initiated_at"] is None
    assert b["created_at"].endswith("Z") and b["expires_at"] > b["created_at"]
    r = requests.get(base + AN + "/%s/results" % b["id"], headers=AN_H, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"

    states, b = an_walk(base, b["id"])
    assert states == ["in_progress", "ended"]
    assert b["request_counts"] == {"processing": 0, "succeeded": 2, "errored": 1,
                                   "canceled": 0, "expired": 0}
    assert b["ended_at"] >= b["created_at"]
    assert b["results_url"] == base + AN + "/%s/results" % b["id"]
    res = an_results(b["results_url"])
    assert res["chat-1"]["type"] == "succeeded"
    msg = res["chat-1"]["message"]
    assert msg["type"] == "message" and msg["model"] == "claude-3-5-haiku-latest"
    assert msg["content"] == [{"type": "text",
                               "text": "[anthropic-batch/claude-3-5-haiku-latest] "
                                       "Compare Rust and Go"}]
    assert msg["usage"]["input_tokens"] == 4 and msg["usage"]["output_tokens"] == 5
    assert json.loads(res["chat-3"]["message"]["content"][0]["text"])["items"] == \
        ["alpha", "beta"]
    e = res["chat-2"]
    assert e["type"] == "errored" and e["error"]["type"] == "error"
    assert e["error"]["error"]["type"] == "invalid_request_error"

    log = get_log(base)
    assert all(x["provider"] == "anthropic-batch" for x in log)
    cr = [x for x in log if x["action"] == "create"]
    assert len(cr) == 1 and cr[0]["items"] == 3 and cr[0]["batch_id"] == b["id"]
    assert cr[0]["custom_ids"] == ["chat-1", "chat-2", "chat-3"] and cr[0]["method"] == "POST"
    polls = [x for x in log if x["action"] == "poll"]
    assert polls and polls[-1]["state"] == "ended"
    assert all(x["path"] == AN + "/" + b["id"] for x in polls)
    assert [x["status"] for x in log if x["action"] == "results"] == [400, 200]


def test_anthropic_batch_expire_and_whole_failure(base):
    m = "claude-3-5-haiku-latest~batch_s=0.15"
    b = an_create(base, [an_req("c%d" % i, m + "~expire=1", "m%d" % i)
                         for i in range(1, 4)]).json()
    # expiry comes with the compressed window, not 24 h after creation
    assert (datetime.fromisoformat(b["expires_at"]) -
            datetime.fromisoformat(b["created_at"])).total_seconds() < 1
    b2 = an_create(base, [an_req("d1", m + "~batch_fail", "x"), an_req("d2", m, "y")]).json()
    b = an_walk(base, b["id"])[1]
    assert b["request_counts"] == {"processing": 0, "succeeded": 1, "errored": 0,
                                   "canceled": 0, "expired": 2}
    res = an_results(b["results_url"])
    assert res["c1"]["type"] == "succeeded"
    assert res["c2"] == {"type": "expired"} and res["c3"] == {"type": "expired"}
    b2 = an_walk(base, b2["id"])[1]
    assert b2["request_counts"]["errored"] == 2
    res = an_results(b2["results_url"])
    assert {r["error"]["error"]["type"] for r in res.values()} == {"api_error"}


def test_anthropic_batch_cancel(base):
    b = an_create(base, [an_req("c1", "claude-3-5-haiku-latest~batch_s=5~cancel_s=0.1", "m"),
                         an_req("c2", "claude-3-5-haiku-latest", "n")]).json()
    r = requests.post(base + AN + "/%s/cancel" % b["id"], headers=AN_H, timeout=5)
    assert r.status_code == 200
    assert r.json()["processing_status"] == "canceling" and r.json()["cancel_initiated_at"]
    states, b = an_walk(base, b["id"])
    assert states == ["canceling", "ended"]
    assert b["request_counts"]["canceled"] == 2 and b["ended_at"] >= b["cancel_initiated_at"]
    assert an_results(b["results_url"]) == {"c1": {"type": "canceled"},
                                            "c2": {"type": "canceled"}}
    r = requests.post(base + AN + "/%s/cancel" % b["id"], headers=AN_H, timeout=5)
    assert r.status_code == 400


def test_anthropic_batch_auth_bad_requests_and_faults(base):
    ok = an_req("a", "claude-3-5-haiku-latest", "x")
    r = an_create(base, [ok], headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    r = an_create(base, [ok], headers={"x-api-key": "k"})
    assert r.status_code == 400
    for path in ("/msgbatch_x", "/msgbatch_x/results"):
        assert requests.get(base + AN + path, timeout=5).status_code == 401
    assert requests.post(base + AN + "/msgbatch_x/cancel", timeout=5).status_code == 401
    bad = (
        [], [{"params": ok["params"]}], [{**ok, "custom_id": "has space"}], [ok, ok],
        [{"custom_id": "a"}],
        [an_req("a", "claude-3-5-haiku-latest", "x", max_tokens=0)],
        [{"custom_id": "a", "params": {"model": "m", "max_tokens": 5}}],
        [an_req("a", "claude-3-5-haiku-latest~expire=-1", "x")],
    )
    for reqs in bad:
        r = an_create(base, reqs)
        assert r.status_code == 400, reqs
        assert r.json()["type"] == "error"
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert "requests.1.custom_id" in an_create(base, [ok, ok]).json()["error"]["message"]
    r = requests.post(base + AN, json={"nope": 1}, headers=AN_H, timeout=5)
    assert r.status_code == 400
    for method, path in (("GET", "/msgbatch_nope"), ("GET", "/msgbatch_nope/results"),
                         ("POST", "/msgbatch_nope/cancel")):
        r = requests.request(method, base + AN + path, headers=AN_H, timeout=5)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    m = "claude-3-5-haiku-latest~status=529~fail=2"
    codes = [an_create(base, [an_req("a", m, "x")]).status_code for _ in range(3)]
    assert codes == [529, 529, 200]
    assert [e["status"] for e in get_log(base) if e["action"] == "create"][-3:] == \
        [529, 529, 200]


# ---- snapshot

def sn_trigger(base, dataset, inputs, headers=SN_H):
    return requests.post(base + "/snapshot/trigger", params={"dataset_id": dataset},
                         json=inputs, headers=headers, timeout=5)


def sn_progress(base, sid):
    r = requests.get(base + "/snapshot/progress/" + sid, headers=SN_H, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def sn_walk(base, sid):
    return walk(lambda: sn_progress(base, sid), "status", {"ready", "failed"})


def sn_download(base, sid):
    return requests.get(base + "/snapshot/snapshot/" + sid, params={"format": "json"},
                        headers=SN_H, timeout=5)


def test_snapshot_lifecycle(base):
    inputs = [{"custom_id": "chat-1", "prompt": "best pizza in Rome", "country": "IT"},
              {"custom_id": "chat-2", "prompt": "fails by position", "country": "US"},
              {"custom_id": "chat-3", "prompt": "fails by marker~line_error"}]
    r = sn_trigger(base, "gd_abc~batch_s=0.25~fail_line=2", inputs)
    assert r.status_code == 200, r.text
    sid = r.json()["snapshot_id"]
    assert sid.startswith("s_") and list(r.json()) == ["snapshot_id"]
    r = sn_download(base, sid)
    assert r.status_code == 202 and r.json()["status"] == "running"
    states, p = sn_walk(base, sid)
    assert states == ["running", "ready"]
    assert p == {"snapshot_id": sid, "dataset_id": "gd_abc", "status": "ready",
                 "records": 3, "errors": 2}
    r = sn_download(base, sid)
    assert r.status_code == 200
    rows = {x["custom_id"]: x for x in r.json()}
    assert [x["custom_id"] for x in r.json()] == ["chat-1", "chat-2", "chat-3"]
    one = rows["chat-1"]
    assert one["prompt"] == "best pizza in Rome" and one["country"] == "IT"
    assert one["answer_text"] == "[snapshot/gd_abc] best pizza in Rome"
    assert len(one["citations"]) == 2 and set(one["citations"][0]) == {"url", "title"}
    for c in ("chat-2", "chat-3"):
        assert isinstance(rows[c]["error"], str) and "answer_text" not in rows[c]
    # without ?format the answer is JSON too
    r = requests.get(base + "/snapshot/snapshot/" + sid, headers=SN_H, timeout=5)
    assert r.status_code == 200 and len(r.json()) == 3
    assert requests.get(base + "/snapshot/snapshot/" + sid, params={"format": "csv"},
                        headers=SN_H, timeout=5).status_code == 400

    log = get_log(base)
    assert all(e["provider"] == "snapshot" for e in log)
    cr = [e for e in log if e["action"] == "create"]
    assert len(cr) == 1 and cr[0]["batch_id"] == sid and cr[0]["items"] == 3
    assert cr[0]["custom_ids"] == ["chat-1", "chat-2", "chat-3"]
    assert cr[0]["model"] == "gd_abc~batch_s=0.25~fail_line=2"
    assert cr[0]["path"] == "/snapshot/trigger" and cr[0]["body"] == inputs
    polls = [e for e in log if e["action"] == "poll"]
    assert len(polls) == len([e for e in log if e["path"].startswith("/snapshot/progress/")])
    assert polls[-1]["state"] == "ready"
    assert [e["status"] for e in log if e["action"] == "results"] == [202, 200, 200, 400]


def test_snapshot_failure_expiry_and_cancel(base):
    one = [{"custom_id": "a", "prompt": "p"}]
    s1 = sn_trigger(base, "gd_abc~batch_s=0.1~batch_fail", one).json()["snapshot_id"]
    s2 = sn_trigger(base, "gd_abc~batch_s=0.1~expire=1",
                    one + [{"custom_id": "b", "prompt": "q"}]).json()["snapshot_id"]
    s3 = sn_trigger(base, "gd_abc~batch_s=5", one).json()["snapshot_id"]
    states, p = sn_walk(base, s1)
    assert states == ["running", "failed"] and "fail" in p["error"]
    assert sn_download(base, s1).status_code == 400
    p = sn_walk(base, s2)[1]
    assert p["status"] == "ready" and p["errors"] == 1
    rows = sn_download(base, s2).json()
    assert rows[0]["answer_text"] == "[snapshot/gd_abc] p" and "expired" in rows[1]["error"]
    assert sn_progress(base, s3)["status"] == "running"
    r = requests.post(base + "/snapshot/snapshot/%s/cancel" % s3, headers=SN_H, timeout=5)
    assert r.status_code == 200
    p = sn_progress(base, s3)
    assert p["status"] == "failed" and "cancel" in p["error"]
    r = requests.post(base + "/snapshot/snapshot/%s/cancel" % s3, headers=SN_H, timeout=5)
    assert r.status_code == 400


def test_snapshot_auth_bad_requests_and_faults(base):
    one = [{"custom_id": "a", "prompt": "p"}]
    assert sn_trigger(base, "gd_abc", one, headers={}).status_code == 401
    for path in ("/snapshot/progress/s_x", "/snapshot/snapshot/s_x"):
        assert requests.get(base + path, timeout=5).status_code == 401
    r = requests.post(base + "/snapshot/snapshot/s_x/cancel", timeout=5)
    assert r.status_code == 401 and "error" in r.json()
    for dataset, body in (("", one), ("gd_abc", {"custom_id": "a"}), ("gd_abc", []),
                          ("gd_abc", [{"custom_id": "a"}]), ("gd_abc", [{"prompt": "p"}]),
                          ("gd_abc", one + one), ("gd_abc~batch_s=-1", one),
                          ("gd_abc~nope", one), ("gd_abc", [{**one[0], "country": 1}])):
        r = sn_trigger(base, dataset, body)
        assert r.status_code == 400 and isinstance(r.json()["error"], str), (dataset, body)
    r = requests.post(base + "/snapshot/trigger?dataset_id=gd_abc", data=b"[", headers=SN_H,
                      timeout=5)
    assert r.status_code == 400
    for method, path in (("GET", "/snapshot/progress/s_nope"),
                         ("GET", "/snapshot/snapshot/s_nope"),
                         ("POST", "/snapshot/snapshot/s_nope/cancel")):
        r = requests.request(method, base + path, headers=SN_H, timeout=5)
        assert r.status_code == 404 and "error" in r.json(), path
    m = "gd_abc~status=429~fail=1~retry_after=3"
    r = sn_trigger(base, m, one)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert sn_trigger(base, m, one).status_code == 200
    sid = sn_trigger(base, "gd_abc~poll_status=503", one).json()["snapshot_id"]
    assert [requests.get(base + "/snapshot/progress/" + sid, headers=SN_H,
                         timeout=5).status_code for _ in range(2)] == [503, 503]


# ---- common

def test_reset_clears_batches(base):
    b = oa_submit(base, [oa_line("a", "gpt-4o-mini", "x")])
    a = an_create(base, [an_req("a", "claude-3-5-haiku-latest", "x")]).json()
    s = sn_trigger(base, "gd_abc", [{"custom_id": "a", "prompt": "p"}]).json()
    requests.post(base + "/_reset", timeout=5)
    assert get_log(base) == []
    assert requests.get(base + OA + "/batches/" + b["id"], headers=OA_H,
                        timeout=5).status_code == 404
    assert requests.get(base + OA + "/files/" + b["input_file_id"], headers=OA_H,
                        timeout=5).status_code == 404
    assert requests.get(base + AN + "/" + a["id"], headers=AN_H, timeout=5).status_code == 404
    assert requests.get(base + "/snapshot/progress/" + s["snapshot_id"], headers=SN_H,
                        timeout=5).status_code == 404


def test_sync_routes_refuse_batch_directives(base):
    r = requests.post(base + "/openai/v1/chat/completions", headers=OA_H, timeout=5,
                      json={"model": "gpt-4o~batch_s=1",
                            "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "directive" in r.json()["error"]["message"]
    e = get_log(base)[0]
    assert e["provider"] == "openai" and e["method"] == "POST" and e["action"] is None


def test_batches_run_side_by_side(base):
    """Batches of all three kinds advance on their own clocks at the same time."""
    o = oa_submit(base, [oa_line("o", "gpt-4o-mini~validate_s=0.1~batch_s=0.6", "one")])
    a = an_create(base, [an_req("a", "claude-3-5-haiku-latest~batch_s=0.1", "two")]).json()
    s = sn_trigger(base, "gd_abc~batch_s=0.3", [{"custom_id": "s", "prompt": "three"}]).json()
    assert an_walk(base, a["id"])[1]["request_counts"]["succeeded"] == 1
    assert oa_get(base, o["id"])["status"] in ("validating", "in_progress")
    assert sn_walk(base, s["snapshot_id"])[1]["status"] == "ready"
    assert oa_walk(base, o["id"])[1]["status"] == "completed"
    creates = [(e["provider"], e["custom_ids"]) for e in get_log(base) if e["action"] == "create"]
    assert creates == [("openai-batch", ["o"]), ("anthropic-batch", ["a"]),
                       ("snapshot", ["s"])]


def test_accept_then_creates_once_then_fails_and_lists_find_it(base):
    lines = [oa_line("a1", "gpt-4o-mini~accept_then=503", "hi")]
    r = oa_create(base, oa_upload(base, lines).json()["id"])
    assert r.status_code == 503
    listed = requests.get(base + OA + "/batches?limit=100", headers=OA_H, timeout=5).json()
    assert listed["object"] == "list" and len(listed["data"]) == 1 and not listed["has_more"]
    # a second create of the same lines is answered
    r = oa_create(base, oa_upload(base, lines).json()["id"], metadata={"k": "v"})
    assert r.status_code == 200 and r.json()["metadata"] == {"k": "v"}
    first = requests.get(base + OA + "/batches?limit=1", headers=OA_H, timeout=5).json()
    assert first["data"][0]["id"] == r.json()["id"] and first["has_more"]
    rest = requests.get(base + OA + "/batches?limit=1&after=" + first["last_id"], headers=OA_H,
                        timeout=5).json()
    assert [b["id"] for b in rest["data"]] == [listed["data"][0]["id"]]

    reqs = [{"custom_id": "c1", "params": {"model": "claude-3-5-haiku-latest~accept_then=500",
                                           "max_tokens": 10,
                                           "messages": [{"role": "user", "content": "x"}]}}]
    assert an_create(base, reqs).status_code == 500
    listed = requests.get(base + AN + "?limit=20", headers=AN_H, timeout=5).json()
    assert len(listed["data"]) == 1 and listed["data"][0]["request_counts"]["processing"] == 1
    assert an_create(base, reqs).status_code == 200

    assert sn_trigger(base, "gd_x~accept_then=502", [{"custom_id": "s1", "prompt": "p"}]) \
        .status_code == 502
    snaps = requests.get(base + "/snapshot/snapshots?dataset_id=gd_x~accept_then=502",
                         headers=SN_H, timeout=5).json()
    assert len(snaps) == 1 and snaps[0]["dataset_size"] == 1 and snaps[0]["created"]
    assert requests.get(base + "/snapshot/snapshots", headers=SN_H, timeout=5).status_code == 400
