"""Batches are bought once and kept whole: a result file far larger than one
answer reaches every call, a create whose answer was lost is looked up at
the provider before anything is sent again, and a large batch neither
forms from dead work nor stalls the worker's other work."""

import concurrent.futures
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, submit

EXTRA_ENV = {"AIGW_BATCH_WINDOW_MS": "1000", "AIGW_LEASE_S": "5",
             "AIGW_PROVIDER_TIMEOUT_S": "3"}


def chats(stack, models, messages, threads=16):
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        replies = list(pool.map(lambda m: submit(stack.url(), models, message=m), messages))
    assert [r.status_code for r in replies] == [202] * len(messages)
    return [r.json()["chatId"] for r in replies]


def count_final(stack, tag):
    """(completed, failed) chats whose message carries tag."""
    row = stack.pg.psql("SELECT count(*) FILTER (WHERE status = 'completed') || ' ' ||"
                        " count(*) FILTER (WHERE status = 'failed') FROM chat_results"
                        f" WHERE message LIKE '% {tag} %'")
    done, failed = row.split()
    return int(done), int(failed)


def wait_all_final(stack, tag, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, failed = count_final(stack, tag)
        if done + failed == n:
            return done, failed
        time.sleep(0.5)
    raise AssertionError(f"not final after {timeout} s: {count_final(stack, tag)} of {n}")


def mock_batches(stack, provider, action="create"):
    """Batches the mock accepted (it logs a batch id only for those)."""
    return [e for e in stack.mock.requests_log() if e.get("provider") == provider
            and e.get("action") == action and e.get("batch_id")]


def test_a_50_mib_result_file_reaches_every_call(stack):
    tag = uuid.uuid4().hex[:8]
    n = 1000
    # ~53 kB an answer: the output file is about 50 MiB, six times the
    # ceiling of one answer.
    model = {"openai-batch": "gpt-4o-mini~batch_s=1~pad=53000"}
    messages = [f"big {tag} {i}" for i in range(n)]
    start = time.monotonic()
    chats(stack, model, messages)
    done, failed = wait_all_final(stack, tag, n, 240)
    assert (done, failed) == (n, 0)
    size = stack.pg.psql("SELECT sum(octet_length(results->'openai-batch'->>'text'))"
                         f" FROM chat_results WHERE message LIKE '% {tag} %'")
    assert int(size) > 50 * 1000 * 1000, size
    # each answer is its own call's
    bad = stack.pg.psql("SELECT count(*) FROM chat_results WHERE message LIKE"
                        f" '% {tag} %' AND results->'openai-batch'->>'text' NOT LIKE '%' || message")
    assert bad == "0"
    assert len(mock_batches(stack, "openai-batch")) >= 1
    print(f"\n{n} calls with a {int(size) / 2**20:.0f} MiB result file:"
          f" {time.monotonic() - start:.1f} s")


def test_anthropic_results_and_snapshots_past_8_mib_reach_every_call(stack):
    tag = uuid.uuid4().hex[:8]
    n = 120
    # ~90 kB an answer: about 10 MiB a download for each provider
    models = {"anthropic-batch": "claude-3-5-haiku-latest~batch_s=1~pad=90000",
              "snapshot": "gd_chatgpt~batch_s=1~pad=90000"}
    chats(stack, models, [f"both {tag} {i}" for i in range(n)])
    done, failed = wait_all_final(stack, tag, n, 180)
    assert (done, failed) == (n, 0)
    ok = stack.pg.psql("SELECT count(*) FROM chat_results WHERE message LIKE"
                       f" '% {tag} %' AND (results->'anthropic-batch'->>'ok')::bool"
                       " AND (results->'snapshot'->>'ok')::bool"
                       " AND octet_length(results->'snapshot'->>'text') > 90000")
    assert ok == str(n)


MODELS = {"openai-batch": "gpt-4o-mini~batch_s=1", "anthropic-batch":
          "claude-3-5-haiku-latest~batch_s=1", "snapshot": "gd_chatgpt~batch_s=1"}


def created(stack, provider, tag):
    """The batches the mock created for the calls of the chats tagged tag,
    whatever it answered to their create."""
    ids = set(stack.pg.psql("SELECT coalesce(string_agg(item_id::text, ' '), '') FROM batch_items"
                            f" JOIN chat_results c USING (chat_id) WHERE c.message LIKE '% {tag} %'")
              .split())
    return [e for e in mock_batches(stack, provider) if ids & set(e.get("custom_ids") or [])]


def assert_bought_once(stack, provider, tag):
    """Each call of the chats tagged tag went out in exactly one batch the
    provider made, and aigw holds each such batch as one of its own (the
    window may split the calls into more than one batch)."""
    made = created(stack, provider, tag)
    ids = [cid for e in made for cid in e["custom_ids"]]
    assert len(ids) == len(set(ids)), made
    ours = stack.pg.psql("SELECT coalesce(string_agg(DISTINCT b.external_id, ' '), '') FROM batches b"
                         " JOIN batch_items i USING (batch_id) JOIN chat_results c USING (chat_id)"
                         f" WHERE c.message LIKE '% {tag} %'").split()
    assert sorted(ours) == sorted(e["batch_id"] for e in made), (ours, made)
    return made


def lookups(stack, provider):
    return [e for e in stack.mock.requests_log() if e.get("provider") == provider
            and e.get("action") == "list"]


@pytest.mark.parametrize("provider", sorted(MODELS))
@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_create_whose_answer_is_lost_is_looked_up_not_sent_again(stack, provider, fault):
    tag = uuid.uuid4().hex[:8]
    n = 3
    before = len(lookups(stack, provider))
    chats(stack, {provider: MODELS[provider] + "~accept_then=" + fault},
          [f"lost {tag} {i}" for i in range(n)])
    # a hung create times out after AIGW_PROVIDER_TIMEOUT_S (3 s)
    assert wait_all_final(stack, tag, n, 90) == (n, 0)
    assert_bought_once(stack, provider, tag)
    assert len(lookups(stack, provider)) > before


@pytest.mark.parametrize("provider", ["openai-batch", "anthropic-batch"])
def test_a_worker_that_dies_during_a_create_leaves_it_looked_up_not_sent_again(stack, provider):
    tag = uuid.uuid4().hex[:8]
    n = 3
    chats(stack, {provider: MODELS[provider] + "~accept_then=hang"},
          [f"died {tag} {i}" for i in range(n)])
    # the create is out (recorded, and accepted by the provider, whose
    # answer never comes): the worker dies before its 3 s timeout
    sending = ("SELECT b.worker FROM batches b WHERE b.submit_sent_at IS NOT NULL"
               " AND b.external_id IS NULL AND EXISTS (SELECT 1 FROM batch_items i"
               " JOIN chat_results c USING (chat_id) WHERE i.batch_id = b.batch_id"
               f" AND c.message LIKE '% {tag} %')")
    deadline = time.monotonic() + 30
    while not (created(stack, provider, tag) and stack.pg.psql(sending)):
        assert time.monotonic() < deadline, "no create went out"
        time.sleep(0.05)
    os.kill(int(stack.pg.psql(sending).split()[0].rsplit(":", 1)[1]), signal.SIGKILL)
    # the next worker takes the batch over once its lease (5 s) is out
    assert wait_all_final(stack, tag, n, 90) == (n, 0)
    assert_bought_once(stack, provider, tag)
    assert "2" in stack.pg.psql("SELECT string_agg(attempts::text, ' ') FROM batches b WHERE"
                                " EXISTS (SELECT 1 FROM batch_items i JOIN chat_results c"
                                " USING (chat_id) WHERE i.batch_id = b.batch_id"
                                f" AND c.message LIKE '% {tag} %')").split()


def aigw_log(stack):
    with open(os.path.join(stack.base, "aigw.log"), encoding="utf-8", errors="replace") as f:
        return f.read()


def test_calls_of_finished_chats_and_cancelled_jobs_never_go_out_and_batches_are_reaped(stack):
    tag = uuid.uuid4().hex[:8]
    # a chat already over, and a job cancelled, each with a call waiting
    done = submit(stack.url(), {"openai": "gpt-4o"}, message=f"over {tag} 0").json()["chatId"]
    assert wait_all_final(stack, tag, 1, 30) == (1, 0)
    r = requests.post(stack.url("/api/jobs"), json={"type": "competitor_analysis",
                      "input": {"company_name": f"Acme {tag}"}}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    stack.pg.psql(f"UPDATE jobs SET status = 'cancelled', progress = 0, completed_at = now()"
                  f" WHERE job_id = '{job_id}'")
    model = MODELS["openai-batch"]
    stack.pg.psql("INSERT INTO batch_items (item_id, provider, model, chat_id, job_id, step_index,"
                  " message, max_tokens, queued_at) VALUES"
                  f" (gen_random_uuid(), 'openai-batch', '{model}', '{done}', NULL, NULL,"
                  f"  'dead chat {tag}', 64, now() - interval '1 hour'),"
                  f" (gen_random_uuid(), 'openai-batch', '{model}', NULL, '{job_id}', 0,"
                  f"  'dead job {tag}', 64, now() - interval '1 hour')")
    # a live call of the same provider and model goes out in the meantime
    chats(stack, {"openai-batch": model}, [f"live {tag} 1"])
    assert wait_all_final(stack, tag, 2, 60) == (2, 0)
    time.sleep(2)  # two more looks for waiting calls
    dead = f"message LIKE 'dead % {tag}'"
    assert stack.pg.psql(f"SELECT count(*) FROM batch_items WHERE {dead} AND batch_id IS NULL") \
        == "2"
    sent = json.dumps([e.get("body") for e in stack.mock.requests_log()
                       if e.get("provider") == "openai-batch"])
    assert f"dead chat {tag}" not in sent and f"dead job {tag}" not in sent
    assert f"live {tag} 1" in sent

    # finished batches are kept AIGW_KEEP_DONE_DAYS (30), then deleted
    live = stack.pg.psql("SELECT batch_id FROM batch_items i JOIN chat_results c USING (chat_id)"
                         f" WHERE c.message = 'live {tag} 1'")
    out = subprocess.run([stk.program("aigw"), "reap"], env=stack.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert stack.pg.psql(f"SELECT count(*) FROM batches WHERE batch_id = '{live}'") == "1"
    stack.pg.psql("UPDATE batches SET completed_at = now() - interval '31 days'"
                  f" WHERE batch_id = '{live}'")
    out = subprocess.run([stk.program("aigw"), "reap"], env=stack.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "batches: 1 finished past keeping deleted" in out.stdout, out.stdout
    assert stack.pg.psql(f"SELECT count(*) FROM batches WHERE batch_id = '{live}'") == "0"
    assert stack.pg.psql(f"SELECT count(*) FROM batch_items WHERE batch_id = '{live}'") == "0"
    # the chat keeps its answer
    assert stack.pg.psql("SELECT results->'openai-batch'->>'ok' FROM chat_results"
                         f" WHERE message = 'live {tag} 1'") == "true"

