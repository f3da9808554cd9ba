"""Chats through nginx: an immediate 202, results arriving one by one,
failures staying local to their provider."""

import json
import threading
import time

import pytest
import requests

from conftest import mock_answer, poll, status, submit, wait_final

# provider -> (model as sent, base model, delay in ms)
STAGGERED = {
    "openai": ("gpt-4o~delay=300", "gpt-4o", 300),
    "anthropic": ("claude-3-5-haiku-latest~delay=900", "claude-3-5-haiku-latest", 900),
    "gemini": ("gemini-2.5-flash~delay=1500", "gemini-2.5-flash", 1500),
}
STAGGERED_MESSAGE = "partial results please"


@pytest.fixture(scope="module")
def staggered(stack):
    """One chat to three providers answering at 300, 900 and 1500 ms,
    polled every 100 ms from the submit to the end: the 202, the time it
    took, and every status body seen (in order)."""
    t0 = time.monotonic()
    accepted = submit(stack.url(), {p: m[0] for p, m in STAGGERED.items()},
                      message=STAGGERED_MESSAGE)
    accepted_after = time.monotonic() - t0
    assert accepted.status_code == 202, accepted.text
    chat_id = accepted.json()["chatId"]
    trace = []

    def fetch():
        r = status(stack.url(), chat_id)
        assert r.status_code == 200, r.text
        trace.append(r.json())
        return trace[-1]
    poll(fetch, lambda b: b["status"] in ("completed", "failed"), timeout=20, interval=0.1,
         what="staggered chat final")
    return {"response": accepted, "accepted_after": accepted_after, "chat_id": chat_id,
            "trace": trace, "final": trace[-1]}


def test_submit_answers_202_long_before_the_first_provider(staggered):
    r = staggered["response"]
    # the fastest provider takes 300 ms; the 202 must not wait for it
    assert staggered["accepted_after"] < 0.2, f"202 after {staggered['accepted_after']:.3f} s"
    body = r.json()
    assert body == {"success": True, "chatId": staggered["chat_id"], "status": "pending"}
    assert r.headers["Location"] == f"/api/ai/chat/status?id={staggered['chat_id']}"
    assert r.headers["Retry-After"] == "1"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    # and nothing had arrived yet at the first poll
    assert staggered["trace"][0]["results"] == {}


def test_results_arrive_one_then_two_then_three(staggered):
    counts = []
    for body in staggered["trace"]:
        n = len(body["results"])
        if not counts or counts[-1] != n:
            counts.append(n)
    assert counts in ([0, 1, 2, 3], [1, 2, 3]), counts
    # and in the order of the delays
    order = []
    for body in staggered["trace"]:
        order += [p for p in body["results"] if p not in order]
    assert order == ["openai", "anthropic", "gemini"]


def test_version_rises_and_pending_shrinks(staggered):
    trace = staggered["trace"]
    versions = [b["version"] for b in trace]
    assert versions == sorted(versions), versions
    assert versions[-1] > versions[0]
    for before, after in zip(trace, trace[1:]):
        if len(after["results"]) > len(before["results"]):
            assert after["version"] > before["version"]
        assert set(after["pending"]) <= set(before["pending"]) or before["status"] == "pending"
    for body in trace:
        if body["status"] == "processing":
            assert sorted(list(body["results"]) + body["pending"]) == sorted(STAGGERED)
            assert body["completedAt"] is None


def test_completed_with_completed_at(staggered):
    final = staggered["final"]
    assert final["success"] is True
    assert final["chatId"] == staggered["chat_id"]
    assert final["status"] == "completed"
    assert final["pending"] == []
    assert isinstance(final["completedAt"], str) and final["completedAt"].endswith("Z")
    assert final["createdAt"] <= final["completedAt"] < final["expiresAt"]


@pytest.mark.parametrize("provider", sorted(STAGGERED))
def test_ok_result_carries_text_model_latency_usage_cost(staggered, provider):
    sent, base, delay = STAGGERED[provider]
    result = staggered["final"]["results"][provider]
    assert result["ok"] is True, result
    assert result["text"] == mock_answer(provider, base, STAGGERED_MESSAGE)
    assert result["model"] == base
    assert isinstance(result["latencyMs"], int)
    assert delay - 20 <= result["latencyMs"] < delay + 5000, result["latencyMs"]
    # the mock counts words: the message in, its answer out
    assert result["usage"] == {"inputTokens": len(STAGGERED_MESSAGE.split()),
                               "outputTokens": len(result["text"].split())}
    cost = result["costUsd"]
    assert isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost > 0, cost


def test_providers_were_called_in_parallel(staggered, stack):
    calls = [e for e in stack.mock.requests_log() if e["message"] == STAGGERED_MESSAGE]
    assert sorted(e["provider"] for e in calls) == sorted(STAGGERED)
    # all three calls started within a short time of each other: the
    # slowest (1.5 s) finished well before 300 + 900 + 1500 ms in series
    latencies = [staggered["final"]["results"][p]["latencyMs"] for p in STAGGERED]
    assert max(latencies) < 2400, latencies


def test_builtin_mock_provider_completes_offline(stack):
    r = submit(stack.url(), {"mock": "anything"}, message="offline please")
    assert r.status_code == 202, r.text
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    result = final["results"]["mock"]
    assert result["ok"] is True
    assert "offline please" in result["text"]
    assert result["model"] == "anything"
    assert result["usage"]["inputTokens"] >= 1 and result["usage"]["outputTokens"] >= 1
    assert result["costUsd"] == 0


def _citation_url(c):
    return c if isinstance(c, str) else c["url"]


def test_perplexity_websearch_returns_citations(stack):
    r = submit(stack.url(), {"perplexity": "sonar"}, message="latest news on CLIs",
               websearch=True)
    assert r.status_code == 202, r.text
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    result = final["results"]["perplexity"]
    assert result["ok"] is True
    cites = result["citations"]
    assert cites and all(_citation_url(c).startswith("http") for c in cites), cites


@pytest.mark.parametrize("provider,model", [("openai", "gpt-4o"),
                                            ("anthropic", "claude-3-5-haiku-latest"),
                                            ("gemini", "gemini-2.5-flash")])
def test_websearch_returns_citations_from_every_provider(stack, provider, model):
    r = submit(stack.url(), {provider: model}, message=f"search with {provider}",
               websearch=True)
    final = wait_final(stack.url(), r.json()["chatId"])
    result = final["results"][provider]
    assert result["ok"] is True, result
    assert result["text"].endswith(f"search with {provider}")
    cites = result["citations"]
    assert cites and all(_citation_url(c).startswith("http") for c in cites), cites


def test_websearch_location_reaches_the_provider(stack):
    message = "weather where I am"
    r = submit(stack.url(), {"openai": "gpt-4o", "perplexity": "sonar"}, message=message,
               websearch=True, location="DE")
    wait_final(stack.url(), r.json()["chatId"])
    calls = {e["provider"]: e for e in stack.mock.requests_log() if e["message"] == message}
    assert calls["openai"]["websearch"] is True
    assert calls["openai"]["location"] == "DE"
    assert calls["perplexity"]["location"] == "DE"


def test_one_provider_failing_leaves_the_others_ok(stack):
    r = submit(stack.url(), {"openai": "gpt-4o",
                             "anthropic": "claude-3-5-haiku-latest~status=400"},
               message="one fails")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    assert final["results"]["openai"]["ok"] is True
    failed = final["results"]["anthropic"]
    assert failed["ok"] is False
    assert isinstance(failed["error"], str) and "400" in failed["error"]
    assert failed["attempts"] == 1  # a 400 is not retried
    assert "test-key" not in failed["error"]  # secrets never leak


def test_all_providers_failing_is_failed(stack):
    r = submit(stack.url(), {"openai": "gpt-4o~status=401",
                             "gemini": "gemini-2.5-flash~status=404"}, message="all fail")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "failed"
    assert final["pending"] == []
    assert final["completedAt"] is not None
    for result in final["results"].values():
        assert result["ok"] is False
        assert isinstance(result["error"], str) and result["error"]
        assert result["attempts"] == 1


def test_garbage_answer_is_an_error_not_a_crash(stack):
    r = submit(stack.url(), {"openai": "gpt-4o~garbage", "mock": "m"}, message="garbage")
    chat_id = r.json()["chatId"]
    final = wait_final(stack.url(), chat_id)
    assert final["status"] == "completed"
    bad = final["results"]["openai"]
    assert bad["ok"] is False and isinstance(bad["error"], str) and bad["error"]
    assert bad["attempts"] >= 1
    assert final["results"]["mock"]["ok"] is True
    assert stack.fcgi.proc.poll() is None
    # the worker is still serving: the next chat completes too
    r = submit(stack.url(), {"openai": "gpt-4o"}, message="after garbage")
    assert wait_final(stack.url(), r.json()["chatId"])["status"] == "completed"


def test_server_errors_are_retried(stack):
    message = "retry me"
    r = submit(stack.url(), {"openai": "gpt-4o~fail=1~status=503"}, message=message)
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["results"]["openai"]["ok"] is True
    calls = [e for e in stack.mock.requests_log() if e["message"] == message]
    assert [e["status"] for e in calls] == [503, 200]


def test_concurrent_submits_share_commits_and_keep_every_field(stack):
    """Submits arriving together are inserted together (rows of one
    transaction share its xmin), and every field of every chat survives
    the trip through the array parameters: quotes, backslashes, braces,
    commas, the word NULL, non-ASCII, absent system prompt and location."""
    n = 48
    tricky = 'say "hi" \\ {a,b} NULL, ünï 日本'
    bodies = []
    for i in range(n):
        body = {"message": f"group {i} {tricky}", "models": {"mock": "m"}}
        if i % 2:
            body["system"] = f"sys {i} {tricky}"
        if i % 3 == 0:
            body["websearch"] = True
            body["location"] = "CH"
        bodies.append(body)
    barrier = threading.Barrier(n)
    responses = [None] * n

    def send(i):
        barrier.wait(10)
        responses[i] = requests.post(stack.url("/api/ai/chat"), json=bodies[i], timeout=30)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r.status_code == 202 for r in responses), \
        [r.text for r in responses if r is not None and r.status_code != 202][:3]
    ids = [r.json()["chatId"] for r in responses]
    rows = stack.pg.psql(
        "SELECT chat_id, json_build_array(message, system_prompt, websearch, location)::text"
        " FROM chat_results WHERE chat_id IN (" + ",".join(f"'{i}'" for i in ids) + ")")
    stored = dict(line.split("|", 1) for line in rows.splitlines())
    assert len(stored) == n
    for i, chat_id in enumerate(ids):
        body = bodies[i]
        assert json.loads(stored[chat_id]) == [body["message"], body.get("system"),
                                               body.get("websearch", False),
                                               body.get("location")], chat_id
    transactions = int(stack.pg.psql(
        "SELECT count(DISTINCT xmin::text) FROM chat_results WHERE chat_id IN ("
        + ",".join(f"'{i}'" for i in ids) + ")"))
    assert transactions < n, "every submit committed alone"
    for chat_id in ids:
        assert wait_final(stack.url(), chat_id)["status"] == "completed"
