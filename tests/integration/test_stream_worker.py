"""The worker streams: each provider's answer is stored piece by piece as it
arrives (chat_pieces, job_pieces), coalesced into few statements, and the
pieces after a provider's last reset always add up to its final text, through
retries, a worker killed mid-stream and a cancel.

The providers here are the built-in mock (AIGW_MOCK: the keys are left
out), which streams its deterministic answer at AIGW_MOCK_TOKENS_PER_S."""

import json
import os
import signal
import time
import uuid

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, fail_on_sanitizer_reports, poll, status, submit, wait_final

# No key: every provider is answered by the built-in mock. A short lease so
# that a killed worker's chat is taken again soon.
KEYLESS = {f"{p}API_KEY": "" for p in stk.PROVIDER_VARS}
EXTRA_ENV = dict(KEYLESS, AIGW_MOCK="on", AIGW_STREAM="on", AIGW_MOCK_TOKENS_PER_S="40",
                 AIGW_STREAM_FLUSH_MS="200", AIGW_MOCK_DELAY_MS="100", AIGW_LEASE_S="5")

# 60 one-letter words: with the mock's preamble an answer of 64 words, 1.6 s
# at 40 words a second.
LONG = " ".join("abcdefghij"[i % 10] for i in range(60))


def pieces(s, chat_id):
    """The chat's pieces in seq order: (seq, provider, reset, text)."""
    rows = s.pg.psql(f"SELECT coalesce(json_agg(json_build_array(seq, provider, reset, text)"
                     f" ORDER BY seq), '[]') FROM chat_pieces WHERE chat_id = '{chat_id}'")
    return [tuple(r) for r in json.loads(rows)]


def text_so_far(rows, provider):
    """The provider's text: its pieces after its last reset, in order."""
    text = ""
    for _, p, reset, t in rows:
        if p == provider:
            text = "" if reset else text + t
    return text


def chat_version(s, chat_id):
    return int(s.pg.psql(f"SELECT version FROM chat_results WHERE chat_id = '{chat_id}'"))


def test_pieces_add_up_to_the_final_text_in_few_statements(stack):
    models = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest", "mock": "m"}
    chat_id = submit(stack.url(), models, message=LONG).json()["chatId"]
    # Text shows before the answers are complete.
    poll(lambda: (status(stack.url(), chat_id).json()["status"], len(pieces(stack, chat_id))),
         lambda v: v[1] > 0, 10, 0.05, "first pieces")
    assert status(stack.url(), chat_id).json()["status"] == "processing"
    body = wait_final(stack.url(), chat_id, timeout=30)
    assert body["status"] == "completed", body
    rows = pieces(stack, chat_id)
    for provider in models:
        final = body["results"][provider]["text"]
        assert len(final.split()) == 64, final
        assert text_so_far(rows, provider) == final, (provider, rows)
        mine = [r for r in rows if r[1] == provider]
        # Streamed in several pieces, far fewer than its 64 words (a flush
        # every 200 ms over 1.6 s), and never reset: nothing failed.
        assert 3 <= len(mine) <= 16, mine
        assert not any(r[2] for r in mine), mine
    # One sequence for the pieces and the state changes: distinct, rising,
    # within the row's version; a flush writes every stream's pieces at once.
    seqs = [r[0] for r in rows]
    assert seqs == sorted(set(seqs)) and seqs[-1] < chat_version(stack, chat_id), seqs
    flushes = stack.pg.psql(f"SELECT count(DISTINCT seq - rn) FROM (SELECT seq, row_number()"
                            f" OVER (ORDER BY seq) AS rn FROM chat_pieces"
                            f" WHERE chat_id = '{chat_id}') x")
    assert int(flushes) <= 16, flushes


def test_a_job_step_streams_into_job_pieces(stack):
    r = requests.post(stack.url("/api/jobs"), json={"type": "competitor_analysis",
                      "input": {"company_name": "Acme"}}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    poll(lambda: requests.get(stack.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT).json(),
         lambda b: b["status"] in ("completed", "failed"), 30, 0.2, "job final")
    for step, provider in ((0, "perplexity"), (1, "openai")):
        rows = json.loads(stack.pg.psql(
            f"SELECT coalesce(json_agg(json_build_array(reset, text) ORDER BY seq), '[]')"
            f" FROM job_pieces WHERE job_id = '{job_id}' AND step_index = {step}"
            f" AND provider = '{provider}'"))
        text = ""
        for reset, t in rows:
            text = "" if reset else text + t
        assert rows, (step, provider)
        result = json.loads(stack.pg.psql(
            f"SELECT results -> '{provider}' FROM job_steps WHERE job_id = '{job_id}'"
            f" AND step_index = {step}"))
        assert result["ok"] is True, result
        assert text == result["text"], (step, rows, result)


def slow_stack():
    """A stack whose mock streams 10 words a second: an answer takes 6 s."""
    return stk.Stack(extra_env=dict(EXTRA_ENV, AIGW_MOCK_TOKENS_PER_S="10"))


def test_a_worker_killed_mid_stream_resets_then_streams_the_whole_text():
    with slow_stack() as s:
        chat_id = submit(s.url(), {"mock": "slow"}, message=LONG).json()["chatId"]
        poll(lambda: len(pieces(s, chat_id)), lambda n: n >= 2, 15, 0.05, "pieces")
        worker = s.pg.psql(f"SELECT worker FROM chat_results WHERE chat_id = '{chat_id}'")
        os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
        body = wait_final(s.url(), chat_id, timeout=40)
        assert body["status"] == "completed", body
        rows = pieces(s, chat_id)
        resets = [i for i, r in enumerate(rows) if r[2]]
        # The dead worker's text, one reset, then the new attempt's whole text.
        assert len(resets) == 1 and 0 < resets[0] < len(rows) - 1, rows
        assert text_so_far(rows, "mock") == body["results"]["mock"]["text"]
        assert s.pg.psql(f"SELECT attempts FROM chat_results WHERE chat_id = '{chat_id}'") == "2"
    fail_on_sanitizer_reports(s)


def test_a_cancelled_chat_stops_streaming_at_once():
    with slow_stack() as s:
        chat_id = submit(s.url(), {"mock": "m", "openai": "gpt-4o"}, message=LONG).json()["chatId"]
        poll(lambda: len(pieces(s, chat_id)), lambda n: n >= 2, 15, 0.05, "pieces")
        # What the cancel endpoint's statement does: the chat ends, the
        # worker hears the chat's id on aigw_cancel.
        s.pg.psql(f"WITH u AS (UPDATE chat_results SET status = 'cancelled',"
                  f" version = version + 1, lease_until = NULL WHERE chat_id = '{chat_id}'"
                  f" RETURNING chat_id) SELECT pg_notify('aigw_cancel', chat_id::text) FROM u")
        poll(lambda: s.logs(400), lambda t: "cancelled; its calls are abandoned" in t, 5, 0.1,
             "the worker hears the cancel")
        count = len(pieces(s, chat_id))
        # Words kept coming for 4 s more: none is written.
        time.sleep(2)
        assert len(pieces(s, chat_id)) == count
    fail_on_sanitizer_reports(s)


def test_stream_off_stores_whole_answers_only():
    with stk.Stack(extra_env=dict(EXTRA_ENV, AIGW_STREAM="off")) as s:
        chat_id = submit(s.url(), {"mock": "m", "openai": "gpt-4o"}, message=LONG).json()["chatId"]
        body = wait_final(s.url(), chat_id, timeout=30)
        assert body["status"] == "completed", body
        assert pieces(s, chat_id) == []
    fail_on_sanitizer_reports(s)


def test_flush_interval_bounds_the_pieces_of_many_streams():
    # 20 chats of 3 streams each: a flush every 300 ms writes all their
    # pieces in one statement.
    with stk.Stack(extra_env=dict(EXTRA_ENV, AIGW_STREAM_FLUSH_MS="300")) as s:
        tag = uuid.uuid4().hex[:8]
        ids = [submit(s.url(), {"mock": "m", "openai": "gpt-4o", "gemini": "gemini-2.5-flash"},
                      message=f"{tag} {i} {LONG}").json()["chatId"] for i in range(20)]
        finals = [wait_final(s.url(), c, timeout=60) for c in ids]
        assert all(b["status"] == "completed" for b in finals)
        for chat_id, body in zip(ids, finals):
            rows = pieces(s, chat_id)
            for provider, result in body["results"].items():
                assert text_so_far(rows, provider) == result["text"]
        per_chat = max(len(pieces(s, c)) for c in ids)
        # 1.6 s of words, a flush every 300 ms: a handful a stream.
        assert per_chat <= 3 * 9, per_chat
    fail_on_sanitizer_reports(s)


# ---------------------------------------------------------------- each format

@pytest.fixture(scope="module")
def real():
    """The test mock providers, streaming in each provider's own format; a
    stream silent for 1 s is a timeout."""
    s = stk.Stack(extra_env={"AIGW_STREAM_IDLE_S": "1", "AIGW_STREAM_FLUSH_MS": "50",
                             "AIGW_LEASE_S": "5", "AIGW_MOCK": "off"})
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


FORMATS = {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest",
           "gemini": "gemini-2.5-flash", "perplexity": "sonar"}


def test_each_format_streams_end_to_end(real):
    models = {p: f"{m}~words=40~tps=40" for p, m in FORMATS.items()}
    chat_id = submit(real.url(), models, message=f"formats {uuid.uuid4()}",
                     websearch=True).json()["chatId"]
    body = wait_final(real.url(), chat_id, timeout=30)
    assert body["status"] == "completed", body
    rows = pieces(real, chat_id)
    for provider in FORMATS:
        result = body["results"][provider]
        assert result["ok"] is True and result["attempts"] == 1, result
        assert len(result["text"].split()) > 40, result
        # Usage and citations come from the stream as from a whole answer.
        assert result["usage"]["outputTokens"] > 40, result
        assert result["citations"], result
        mine = [r for r in rows if r[1] == provider]
        assert len(mine) >= 3 and not any(r[2] for r in mine), mine
        assert text_so_far(rows, provider) == result["text"], provider


def test_a_cut_stream_resets_then_streams_the_retry_whole(real):
    chat_id = submit(real.url(), {"openai": "gpt-4o~words=20~tps=40~cut=10~fail=1"},
                     message=f"cut {uuid.uuid4()}").json()["chatId"]
    body = wait_final(real.url(), chat_id, timeout=30)
    result = body["results"]["openai"]
    assert result["ok"] is True and result["attempts"] == 2, result
    rows = pieces(real, chat_id)
    resets = [i for i, r in enumerate(rows) if r[2]]
    # The first attempt's text, a reset, the retry's whole text.
    assert len(resets) == 1 and 0 < resets[0] < len(rows) - 1, rows
    assert text_so_far(rows, "openai") == result["text"]


def test_an_in_stream_error_fails_the_attempt_and_is_retried(real):
    msg = f"stream error {uuid.uuid4()}"
    chat_id = submit(real.url(), {"anthropic": "claude-3-5-haiku-latest~words=20~tps=40"
                                               "~stream_error=5~fail=1",
                                  "gemini": "gemini-2.5-flash~words=20~tps=40"},
                     message=msg).json()["chatId"]
    body = wait_final(real.url(), chat_id, timeout=30)
    assert body["results"]["anthropic"]["ok"] is True, body
    assert body["results"]["anthropic"]["attempts"] == 2, body
    # The other provider went on undisturbed.
    assert body["results"]["gemini"]["attempts"] == 1, body
    rows = pieces(real, chat_id)
    for provider in ("anthropic", "gemini"):
        assert text_so_far(rows, provider) == body["results"][provider]["text"]


def test_bad_streams_fail_only_their_call(real):
    chat_id = submit(real.url(), {"openai": "gpt-4o~words=10~stream_garbage=3",
                                  "perplexity": "sonar~words=10~longline=2",
                                  "gemini": "gemini-2.5-flash~words=10~midevent=4",
                                  "anthropic": "claude-3-5-haiku-latest~words=10"},
                     message=f"bad {uuid.uuid4()}").json()["chatId"]
    body = wait_final(real.url(), chat_id, timeout=30)
    results = body["results"]
    for provider in ("openai", "perplexity", "gemini"):
        r = results[provider]
        # Not the format: retried once as a bad body, then failed.
        assert r["ok"] is False and r["attempts"] == 2, r
        assert r["errorClass"] == "bad_body", r
        assert "stream" in r["error"], r
    assert results["anthropic"]["ok"] is True, results
    assert body["status"] == "completed"


def test_a_stalled_stream_is_a_timeout(real):
    msg = f"stall {uuid.uuid4()}"
    start = time.monotonic()
    chat_id = submit(real.url(), {"gemini": "gemini-2.5-flash~words=10~tps=40~stall=3:20~fail=1"},
                     message=msg).json()["chatId"]
    body = wait_final(real.url(), chat_id, timeout=30)
    result = body["results"]["gemini"]
    # Cut after 1 s of silence, not after the 20 s stall: retried whole.
    assert result["ok"] is True and result["attempts"] == 2, result
    assert time.monotonic() - start < 15
    assert text_so_far(pieces(real, chat_id), "gemini") == result["text"]


def test_a_worker_killed_mid_stream_of_a_provider_completes(real):
    msg = f"kill {uuid.uuid4()}"
    chat_id = submit(real.url(), {"openai": "gpt-4o~words=200~tps=40"},
                     message=msg).json()["chatId"]
    poll(lambda: len(pieces(real, chat_id)), lambda n: n >= 3, 15, 0.05, "pieces")
    worker = real.pg.psql(f"SELECT worker FROM chat_results WHERE chat_id = '{chat_id}'")
    os.kill(int(worker.rsplit(":", 1)[1]), signal.SIGKILL)
    body = wait_final(real.url(), chat_id, timeout=60)
    assert body["status"] == "completed", body
    rows = pieces(real, chat_id)
    resets = [i for i, r in enumerate(rows) if r[2]]
    assert len(resets) == 1 and 0 < resets[0] < len(rows) - 1, rows
    assert text_so_far(rows, "openai") == body["results"]["openai"]["text"]


# ---------------------------------------------------------------- database away

def test_pieces_survive_a_database_partition_mid_stream(frozen_stack):
    """Piece writes that time out (stored or not, the worker cannot tell)
    are written again as a reset and the whole text so far: the pieces still
    add up to the final text, never a word twice."""
    s = frozen_stack
    chat_id = submit(s.url(), {"openai": "gpt-4o~words=120~tps=20"},
                     message=f"partition {uuid.uuid4()}").json()["chatId"]
    poll(lambda: len(pieces(s, chat_id)), lambda n: n >= 3, 15, 0.05, "pieces")
    s.proxy.freeze()
    time.sleep(4)
    s.proxy.thaw()
    body = wait_final(s.url(), chat_id, timeout=60)
    result = body["results"]["openai"]
    assert result["ok"] is True and result["attempts"] == 1, result
    rows = pieces(s, chat_id)
    assert text_so_far(rows, "openai") == result["text"], rows
    # Text was written after the partition too: the stream went on.
    assert len(rows) > 3
