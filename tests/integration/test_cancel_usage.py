"""A cancelled chat keeps the usage its providers reported (docs/api.md,
Cancel a chat): the worker adds to each cancelled result the usage its
stream had told by then (Anthropic's message_start gives the input count,
Gemini's chunks the counts so far), while a provider whose stream reports
usage only at its end (OpenAI) has none; the text so far stays as the
cancel stored it."""

import time
import uuid

import requests

from conftest import HTTP_TIMEOUT, poll, status, submit

EXTRA_ENV = {"AIGW_STREAM_FLUSH_MS": "50"}

SLOW = "~words=200~tps=20"
MODELS = {"openai": "gpt-4o" + SLOW, "anthropic": "claude-3-5-haiku-latest" + SLOW,
          "gemini": "gemini-2.5-flash" + SLOW}


def chat_body(stack, chat_id):
    r = status(stack.url(), chat_id)
    assert r.status_code == 200, r.text
    return r.json()


def streamed_some(body):
    """Every provider has shown some text (its stream is under way)."""
    return all(body["results"].get(p, {}).get("text") for p in MODELS)


def test_cancel_mid_stream_records_the_usage_the_streams_reported(stack):
    message = f"usage {uuid.uuid4()}"
    words_in = len(message.split())
    chat_id = submit(stack.url(), MODELS, message=message).json()["chatId"]
    poll(lambda: chat_body(stack, chat_id), streamed_some, 20, what="text streamed")

    r = requests.post(stack.url("/api/ai/chat/cancel"), params={"id": chat_id},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "cancelled", cancelled
    for p in MODELS:
        res = cancelled["results"][p]
        assert res["ok"] is True and res["cancelled"] is True, res
        assert 0 < len(res["text"].split()) < 200, res

    body = poll(lambda: chat_body(stack, chat_id),
                lambda b: "usage" in b["results"]["anthropic"]
                and "usage" in b["results"]["gemini"], 10, what="usage recorded")
    assert body["status"] == "cancelled", body
    # (The worker may be quicker than the cancel's answer, which then holds it.)
    assert body["version"] in (cancelled["version"], cancelled["version"] + 1), body

    anthropic = body["results"]["anthropic"]
    assert anthropic["usage"]["inputTokens"] == words_in, anthropic
    assert anthropic["usage"]["outputTokens"] >= 1, anthropic
    assert "costUsd" in anthropic, anthropic
    gemini = body["results"]["gemini"]
    assert gemini["usage"]["inputTokens"] == words_in, gemini
    assert gemini["usage"]["outputTokens"] >= 1, gemini
    # OpenAI tells the usage in its last chunk only: none was known.
    openai = body["results"]["openai"]
    assert "usage" not in openai and "costUsd" not in openai, openai

    # The usage joins the cancelled results; nothing else of them changes.
    def without_usage(res):
        return {k: v for k, v in res.items() if k not in ("usage", "costUsd")}

    for p in MODELS:
        assert without_usage(body["results"][p]) == without_usage(cancelled["results"][p]), p

    # That one write is all: the chat stays as it is.
    time.sleep(1.0)
    assert chat_body(stack, chat_id) == body
