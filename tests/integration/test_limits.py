"""Active-work limits (docs/architecture.md): per user 3, per organisation 5, per decision
2, checked atomically at submit; and nginx's per-address submit limit."""

import concurrent.futures
import subprocess
import uuid

import requests

import stack as stk
from conftest import HTTP_TIMEOUT, assert_error

# No worker: submitted work stays active until a test ends it by SQL.
EXTRA_ENV = {"AIGW_AUTH": "keys", "AIGW_SPAWN": "off"}


def new_key(stack, user, org):
    r = subprocess.run([stk.program("aigw"), "keys", "create", "--user", user, "--org", org],
                       env=stack.env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()[0]


def chat(stack, key):
    return requests.post(stack.url("/api/ai/chat"), headers={"Authorization": f"Bearer {key}"},
                         json={"message": "limits", "models": {"mock": "m"}}, timeout=HTTP_TIMEOUT)


def job(stack, key, decision=None, idem=None):
    headers = {"Authorization": f"Bearer {key}"}
    if idem:
        headers["Idempotency-Key"] = idem
    body = {"type": "brief_generation", "input": {"topic": "limits"}}
    if decision:
        body["decision_id"] = decision
    return requests.post(stack.url("/api/jobs"), headers=headers, json=body, timeout=HTTP_TIMEOUT)


def finish_all(stack):
    stack.pg.psql("UPDATE chat_results SET status = 'completed' WHERE status = 'pending';"
                  " UPDATE jobs SET status = 'cancelled' WHERE status = 'pending'")


def test_20_parallel_submits_by_one_user_admit_exactly_3(stack):
    finish_all(stack)
    key = new_key(stack, f"u-{uuid.uuid4().hex[:6]}", "org-parallel")
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda i: chat(stack, key) if i % 2 else job(stack, key),
                                range(20)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [202] * 3 + [429] * 17, codes
    for r in replies:
        if r.status_code == 429:
            body = assert_error(r, 429, "too_many_active_jobs")
            assert r.headers["Retry-After"] == "5"
            assert "the limit is 3" in body["error"] and "user" in body["error"], body


def test_one_more_is_admitted_after_one_finishes(stack):
    finish_all(stack)
    key = new_key(stack, f"u-{uuid.uuid4().hex[:6]}", "org-after")
    ids = [chat(stack, key).json()["chatId"] for _ in range(3)]
    assert_error(chat(stack, key), 429, "too_many_active_jobs")
    stack.pg.psql(f"UPDATE chat_results SET status = 'completed' WHERE chat_id = '{ids[0]}'")
    assert chat(stack, key).status_code == 202
    assert_error(chat(stack, key), 429, "too_many_active_jobs")


def test_the_organisation_limit_spans_its_users(stack):
    finish_all(stack)
    org = f"org-{uuid.uuid4().hex[:6]}"
    a, b, c = (new_key(stack, f"{n}-{org}", org) for n in "abc")
    assert [chat(stack, a).status_code for _ in range(3)] == [202] * 3
    assert [job(stack, b).status_code for _ in range(2)] == [202] * 2
    r = chat(stack, b)
    body = assert_error(r, 429, "too_many_active_jobs")
    assert "organisation" in body["error"] and "the limit is 5" in body["error"], body
    assert_error(job(stack, c), 429, "too_many_active_jobs")
    # Another organisation is not affected.
    other = new_key(stack, f"d-{org}", f"other-{org}")
    assert chat(stack, other).status_code == 202


def test_the_decision_limit(stack):
    finish_all(stack)
    org = f"org-{uuid.uuid4().hex[:6]}"
    a, b = new_key(stack, f"a-{org}", org), new_key(stack, f"b-{org}", org)
    decision = str(uuid.uuid4())
    assert job(stack, a, decision).status_code == 202
    assert job(stack, b, decision).status_code == 202
    body = assert_error(job(stack, a, decision), 429, "too_many_active_jobs")
    assert "decision" in body["error"] and "the limit is 2" in body["error"], body
    # Without the decision, or with another, the user may go on.
    assert job(stack, a).status_code == 202
    assert job(stack, a, str(uuid.uuid4())).status_code == 202


def test_a_decision_is_limited_within_its_organisation_only(stack):
    """Another organisation that learns a decision's UUID neither fills its
    limit nor is blocked by it."""
    finish_all(stack)
    tag = uuid.uuid4().hex[:6]
    a = new_key(stack, f"a-{tag}", f"org-a-{tag}")
    b = new_key(stack, f"b-{tag}", f"org-b-{tag}")
    a2 = new_key(stack, f"a2-{tag}", f"org-a-{tag}")
    decision = str(uuid.uuid4())
    assert job(stack, b, decision).status_code == 202
    assert job(stack, b, decision).status_code == 202
    # org-b is at the decision's limit; org-a is not touched by it
    assert job(stack, a, decision).status_code == 202
    assert job(stack, a2, decision).status_code == 202
    # and each organisation is still held to it
    assert_error(job(stack, a, decision), 429, "too_many_active_jobs")
    assert_error(job(stack, a2, decision), 429, "too_many_active_jobs")
    assert_error(job(stack, b, decision), 429, "too_many_active_jobs")


def test_a_decision_of_users_without_an_organisation_is_each_users_own(stack):
    finish_all(stack)
    tag = uuid.uuid4().hex[:6]
    a, b = new_key(stack, f"a-{tag}", ""), new_key(stack, f"b-{tag}", "")
    decision = str(uuid.uuid4())
    assert job(stack, a, decision).status_code == 202
    assert job(stack, a, decision).status_code == 202
    assert_error(job(stack, a, decision), 429, "too_many_active_jobs")
    assert job(stack, b, decision).status_code == 202


def test_a_replay_is_answered_even_at_the_limit(stack):
    finish_all(stack)
    key = new_key(stack, f"u-{uuid.uuid4().hex[:6]}", "org-replay")
    first = job(stack, key, idem="replay-1")
    assert first.status_code == 202
    assert job(stack, key).status_code == 202 and job(stack, key).status_code == 202
    assert_error(job(stack, key), 429, "too_many_active_jobs")
    again = job(stack, key, idem="replay-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    stored = stack.pg.psql("SELECT count(*) FROM jobs j JOIN api_keys k ON k.owner_user ="
                           f" j.owner_user WHERE k.key_id = '{key.split('_')[1]}'")
    assert stored == "3"


def test_nothing_is_stored_for_a_429(stack):
    finish_all(stack)
    key = new_key(stack, f"u-{uuid.uuid4().hex[:6]}", "org-nothing")
    for _ in range(3):
        chat(stack, key)
    before = stack.count_rows("chat_results"), stack.count_rows("jobs")
    assert_error(chat(stack, key), 429, "too_many_active_jobs")
    assert_error(job(stack, key), 429, "too_many_active_jobs")
    assert (stack.count_rows("chat_results"), stack.count_rows("jobs")) == before


def test_nginx_limits_submits_per_address():
    with stk.Stack(submit_rate="2r/s") as s:
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            replies = list(pool.map(lambda i: requests.post(
                s.url("/api/ai/chat"), json={"message": "flood", "models": {"mock": "m"}},
                timeout=HTTP_TIMEOUT), range(120)))
        limited = [r for r in replies if r.status_code == 429]
        assert limited and len(limited) < 120
        for r in limited[:3]:
            assert_error(r, 429, "rate_limited", from_aigw=False)
            assert r.headers["Retry-After"] == "1"
        # Reads are not limited.
        gets = [requests.get(s.url("/api/health"), timeout=HTTP_TIMEOUT).status_code
                for _ in range(30)]
        assert gets == [200] * 30
