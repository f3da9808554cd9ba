"""Chats through nginx: results arrive one by one, failures stay local."""

import time

from conftest import status, submit, wait_final

MODELS_STAGGERED = {
    "openai": "gpt-4o~delay=300",
    "anthropic": "claude-3-5-haiku-latest~delay=900",
    "gemini": "gemini-2.5-flash~delay=1500",
}


def test_chat_partial_results_arrive_one_by_one(stack):
    t0 = time.monotonic()
    r = submit(stack.url(), MODELS_STAGGERED, message="partial results please")
    accepted_after = time.monotonic() - t0
    assert r.status_code == 202, r.text
    assert accepted_after < 0.25  # long before the first provider answers
    body = r.json()
    assert body["success"] is True and body["status"] == "pending"
    chat_id = body["chatId"]
    assert r.headers["Location"] == f"/api/ai/chat/status?id={chat_id}"
    assert r.headers["Retry-After"] == "1"

    seen_counts, versions, pendings = [], [], []
    deadline = time.monotonic() + 15
    final = None
    while time.monotonic() < deadline:
        s = status(stack.url(), chat_id).json()
        n = len(s["results"])
        if not seen_counts or seen_counts[-1] != n:
            seen_counts.append(n)
        versions.append(s["version"])
        pendings.append(len(s["pending"]))
        assert len(s["results"]) + len(s["pending"]) == 3 or s["status"] == "pending"
        if s["status"] in ("completed", "failed"):
            final = s
            break
        time.sleep(0.1)
    assert final is not None, "chat did not finish"
    assert seen_counts[-3:] == [1, 2, 3] or seen_counts == [0, 1, 2, 3], seen_counts
    assert versions == sorted(versions), "version must never fall"
    assert pendings == sorted(pendings, reverse=True), "pending must only shrink"
    assert final["status"] == "completed"
    assert final["pending"] == []
    assert final["completedAt"] is not None
    delays = {"openai": 300, "anthropic": 900, "gemini": 1500}
    for provider, result in final["results"].items():
        assert result["ok"] is True, result
        assert result["text"].endswith("partial results please")
        assert result["latencyMs"] >= delays[provider] - 50
        assert result["usage"]["inputTokens"] >= 1
        assert result["usage"]["outputTokens"] >= 1
        assert isinstance(result["costUsd"], float)
        assert result["attempts"] == 1
    assert final["results"]["openai"]["model"] == "gpt-4o"


def test_chat_builtin_mock_completes_offline(stack):
    r = submit(stack.url(), {"mock": "anything"}, message="offline")
    assert r.status_code == 202
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    result = final["results"]["mock"]
    assert result["ok"] is True and "offline" in result["text"]
    assert result["costUsd"] == 0


def test_chat_websearch_returns_citations(stack):
    r = submit(stack.url(), {"perplexity": "sonar", "gemini": "gemini-2.5-flash"},
               message="latest news", websearch=True, location="US")
    final = wait_final(stack.url(), r.json()["chatId"])
    for provider in ("perplexity", "gemini"):
        cites = final["results"][provider]["citations"]
        assert cites and all(c["url"].startswith("http") for c in cites)


def test_chat_one_provider_failing_leaves_others_ok(stack):
    r = submit(stack.url(), {"openai": "gpt-4o", "anthropic": "claude-3-5-haiku-latest~status=400"},
               message="one fails")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    assert final["results"]["openai"]["ok"] is True
    failed = final["results"]["anthropic"]
    assert failed["ok"] is False
    assert "400" in failed["error"]
    assert failed["attempts"] == 1  # a 400 is not retried
    assert "test-key" not in failed["error"]


def test_chat_all_failing_is_failed(stack):
    r = submit(stack.url(), {"openai": "gpt-4o~status=401", "gemini": "gemini-2.5-flash~status=404"},
               message="all fail")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "failed"
    assert all(not res["ok"] for res in final["results"].values())
    assert final["completedAt"] is not None


def test_chat_garbage_answer_is_an_error_not_a_crash(stack):
    r = submit(stack.url(), {"openai": "gpt-4o~garbage", "mock": "m"}, message="garbage")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["status"] == "completed"
    assert final["results"]["openai"]["ok"] is False
    assert final["results"]["mock"]["ok"] is True
    # the handler and worker are still serving
    assert status(stack.url(), r.json()["chatId"]).status_code == 200


def test_chat_retries_server_errors(stack):
    r = submit(stack.url(), {"openai": "gpt-4o~fail=1~status=503"}, message="retry me")
    final = wait_final(stack.url(), r.json()["chatId"])
    assert final["results"]["openai"]["ok"] is True
    assert final["results"]["openai"]["attempts"] == 2
