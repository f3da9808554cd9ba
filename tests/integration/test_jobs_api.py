"""The jobs API through nginx (docs/api.md, all but /events): submit with and
without Idempotency-Key, the job's views, cancel, the list, and every error
with its field, storing nothing.

No worker runs here (AIGW_SPAWN off), so every job stays pending unless a
test cancels it: these tests are about the HTTP side only.
"""

import json
import threading
import uuid

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, assert_error, fail_on_sanitizer_reports

EXTRA_ENV = {"AIGW_SPAWN": "off"}

ACME = {"company_name": "Acme Corp", "company_url": "https://acme.com"}
ACCEPTED_KEYS = {"id", "job_id", "type", "status", "progress", "created_at"}
STATUS_KEYS = {"id", "type", "status", "progress", "status_message", "steps", "error",
               "attempts", "decision_id", "version", "created_at", "started_at",
               "completed_at"}


def post_job(stack, body, key=None, headers=None):
    h = dict(headers or {})
    if key is not None:
        h["Idempotency-Key"] = key
    return requests.post(stack.url("/api/jobs"), json=body, headers=h, timeout=HTTP_TIMEOUT)


def submit_job(stack, type_="competitor_analysis", input_=None, key=None, **extra):
    body = {"type": type_, "input": ACME if input_ is None else input_}
    body.update(extra)
    return post_job(stack, body, key)


def new_job(stack, type_="competitor_analysis", input_=None, **extra):
    r = submit_job(stack, type_, input_, **extra)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def get(stack, path, **params):
    return requests.get(stack.url(path), params=params, timeout=HTTP_TIMEOUT)


def job(stack, job_id, view=""):
    r = get(stack, f"/api/jobs/{job_id}{view}")
    assert r.status_code == 200, r.text
    return r.json()


def rows(stack):
    return stack.count_rows("jobs"), stack.count_rows("job_steps")


def list_jobs(stack, **params):
    r = get(stack, "/api/jobs", **params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture()
def empty(stack):
    """No jobs left from earlier tests: for those that count the list."""
    stack.pg.psql("DELETE FROM jobs")
    return stack


# ---------------------------------------------------------------- submit

def test_submit_answers_202_with_location_and_retry_after(stack):
    r = submit_job(stack)
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == ACCEPTED_KEYS, body
    uuid.UUID(body["id"])
    assert body["job_id"] == body["id"]
    assert body["type"] == "competitor_analysis"
    assert body["status"] == "pending"
    assert body["progress"] == 0
    assert body["created_at"].endswith("Z") and "T" in body["created_at"]
    assert r.headers["Location"] == f"/api/jobs/{body['id']}"
    assert r.headers["Retry-After"] == "2"
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers.get("X-Request-Id")


def test_retry_after_is_the_types_poll_interval(stack):
    r = submit_job(stack, "market_research", {"market": "e-bikes"})
    assert r.status_code == 202, r.text
    assert r.headers["Retry-After"] == "3"
    r = submit_job(stack, "prompt_analysis", {"prompt": "hello"})
    assert r.status_code == 202, r.text
    assert r.headers["Retry-After"] == "5"


def test_submit_stores_one_job_and_a_pending_row_per_step(stack):
    before = rows(stack)
    job_id = new_job(stack)
    assert rows(stack) == (before[0] + 1, before[1] + 2)
    stored = stack.pg.psql(f"SELECT type, status, input::text, max_attempts, timeout_s "
                           f"FROM jobs WHERE job_id = '{job_id}'")
    type_, status, input_, attempts, timeout = stored.split("|")
    assert (type_, status, attempts, timeout) == ("competitor_analysis", "pending", "3", "600")
    assert json.loads(input_) == ACME


def test_get_shows_the_types_steps_pending_and_no_output_yet(stack):
    decision = str(uuid.uuid4())
    job_id = new_job(stack, decision_id=decision)
    body = job(stack, job_id)
    assert set(body) == STATUS_KEYS | {"output"}, body
    assert body["id"] == job_id
    assert body["type"] == "competitor_analysis"
    assert body["status"] == "pending"
    assert body["progress"] == 0
    assert body["steps"] == [{"name": "research", "status": "pending"},
                             {"name": "profile", "status": "pending"}]
    assert body["output"] is None
    assert body["error"] is None
    assert body["attempts"] == 0
    assert body["decision_id"] == decision
    assert body["started_at"] is None and body["completed_at"] is None
    assert body["created_at"].endswith("Z")


def test_decision_id_is_optional_and_may_be_null(stack):
    assert job(stack, new_job(stack))["decision_id"] is None
    assert job(stack, new_job(stack, decision_id=None))["decision_id"] is None
    upper = str(uuid.uuid4()).upper()
    assert job(stack, new_job(stack, decision_id=upper))["decision_id"] == upper.lower()


def test_unknown_top_level_keys_are_ignored(stack):
    job_id = new_job(stack, note="ignored", priority=5)
    assert job(stack, job_id)["status"] == "pending"


def test_status_is_the_job_without_output(stack):
    job_id = new_job(stack)
    full = job(stack, job_id)
    status = job(stack, job_id, "/status")
    assert "output" not in status
    assert set(status) == STATUS_KEYS
    del full["output"]
    assert status == full


def test_result_is_202_with_the_status_while_pending(stack):
    job_id = new_job(stack, "market_research", {"market": "e-bikes"})
    r = get(stack, f"/api/jobs/{job_id}/result")
    assert r.status_code == 202, r.text
    assert r.json() == job(stack, job_id, "/status")
    assert r.headers["Retry-After"] == "3"


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("data", [b"", b"not json", b"{", b"[1]", b'"competitor_analysis"',
                                  b"null", b'{"type": "competitor_analysis"} {}',
                                  b'{"type": "competitor_analysis", "input": {"company_name": "\xff"}}'])
def test_invalid_json(stack, data):
    before = rows(stack)
    r = requests.post(stack.url("/api/jobs"), data=data,
                      headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_json")
    assert rows(stack) == before


@pytest.mark.parametrize("body,field", [
    ({"input": ACME}, "type"),
    ({"type": None, "input": ACME}, "type"),
    ({"type": 5, "input": ACME}, "type"),
    ({"type": ["competitor_analysis"], "input": ACME}, "type"),
    ({"type": "competitor_analysis", "decision_id": "nope", "input": ACME}, "decision_id"),
    ({"type": "competitor_analysis", "decision_id": "", "input": ACME}, "decision_id"),
    ({"type": "competitor_analysis", "decision_id": 42, "input": ACME}, "decision_id"),
    ({"type": "competitor_analysis", "decision_id": str(uuid.uuid4()) + "0", "input": ACME},
     "decision_id"),
    ({"type": "competitor_analysis"}, "input"),
    ({"type": "competitor_analysis", "input": None}, "input"),
    ({"type": "competitor_analysis", "input": ["Acme"]}, "input"),
    ({"type": "competitor_analysis", "input": "Acme"}, "input"),
    ({"type": "competitor_analysis", "input": {}}, "input.company_name"),
    ({"type": "competitor_analysis", "input": {"company_name": ""}}, "input.company_name"),
    ({"type": "competitor_analysis", "input": {"company_name": 7}}, "input.company_name"),
    ({"type": "competitor_analysis", "input": {"company_name": "x" * 201}}, "input.company_name"),
    ({"type": "competitor_analysis", "input": {"company_name": "a\u0000b"}}, "input.company_name"),
    ({"type": "competitor_analysis", "input": {"company_name": "A", "company_url": 1}},
     "input.company_url"),
    ({"type": "competitor_analysis", "input": {"company_name": "A", "ceo": "B"}}, "input.ceo"),
    ({"type": "option_analysis", "input": {"decision": "d", "options": ["a", "\u0000"]}},
     "input.options"),
])
def test_invalid_field_names_it_and_stores_nothing(stack, body, field):
    before = rows(stack)
    assert_error(post_job(stack, body), 400, "invalid_field", field)
    assert rows(stack) == before


@pytest.mark.parametrize("type_", ["competitor_analysys", "", "COMPETITOR_ANALYSIS", "x" * 300])
def test_unknown_job_type(stack, type_):
    before = rows(stack)
    assert_error(post_job(stack, {"type": type_, "input": ACME}), 400, "unknown_job_type", "type")
    assert rows(stack) == before


@pytest.mark.parametrize("key", ["x" * 256, "caf\u00e9", "a\tb"])
def test_invalid_idempotency_key(stack, key):
    before = rows(stack)
    r = requests.post(stack.url("/api/jobs"), json={"type": "competitor_analysis", "input": ACME},
                      headers={"Idempotency-Key": key.encode("latin-1")}, timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_field", "Idempotency-Key")
    assert rows(stack) == before


def test_empty_idempotency_key_is_invalid(stack):
    before = rows(stack)
    r = post_job(stack, {"type": "competitor_analysis", "input": ACME}, key="")
    assert_error(r, 400, "invalid_field", "Idempotency-Key")
    assert rows(stack) == before


def test_not_json_media_type_is_415(stack):
    before = rows(stack)
    r = requests.post(stack.url("/api/jobs"), data=b'{"type": "competitor_analysis"}',
                      headers={"Content-Type": "text/plain"}, timeout=HTTP_TIMEOUT)
    assert_error(r, 415, "unsupported_media_type")
    assert rows(stack) == before


@pytest.mark.parametrize("method,view", [("GET", ""), ("GET", "/status"), ("GET", "/result"),
                                         ("POST", "/cancel"), ("DELETE", "")])
def test_unknown_job_is_404(stack, method, view):
    r = requests.request(method, stack.url(f"/api/jobs/{uuid.uuid4()}{view}"), timeout=HTTP_TIMEOUT)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("method,view", [("GET", ""), ("GET", "/status"), ("GET", "/result"),
                                         ("POST", "/cancel"), ("DELETE", "")])
@pytest.mark.parametrize("bad_id", ["nope", "5c1e0000-0000-4000-8000-00000000000",
                                    "5c1e0000-0000-4000-8000-00000000000g",
                                    "5c1e0000x0000-4000-8000-000000000000"])
def test_path_id_that_is_not_a_uuid_is_400(stack, method, view, bad_id):
    before = rows(stack)
    r = requests.request(method, stack.url(f"/api/jobs/{bad_id}{view}"), timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_id", "id")
    assert rows(stack) == before


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", "/api/jobs", "POST, GET"),
    ("DELETE", "/api/jobs", "POST, GET"),
    ("POST", "/api/jobs/{id}", "GET, DELETE"),
    ("PUT", "/api/jobs/{id}", "GET, DELETE"),
    ("POST", "/api/jobs/{id}/status", "GET"),
    ("DELETE", "/api/jobs/{id}/result", "GET"),
    ("GET", "/api/jobs/{id}/cancel", "POST"),
    ("DELETE", "/api/jobs/{id}/cancel", "POST"),
])
def test_wrong_method_is_405_with_allow(stack, method, path, allow):
    job_id = new_job(stack)
    before = job(stack, job_id)
    r = requests.request(method, stack.url(path.format(id=job_id)), timeout=HTTP_TIMEOUT)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allow
    assert job(stack, job_id) == before


def test_unknown_job_paths_are_404(stack):
    job_id = new_job(stack)
    for path in ("/api/jobs/", f"/api/jobs/{job_id}/", f"/api/jobs/{job_id}/nothing",
                 f"/api/jobs/{job_id}/status/x"):
        assert_error(get(stack, path), 404, "not_found")


# ---------------------------------------------------------------- cancel

@pytest.mark.parametrize("method,view", [("POST", "/cancel"), ("DELETE", "")])
def test_cancel_a_pending_job(stack, method, view):
    job_id = new_job(stack)
    r = requests.request(method, stack.url(f"/api/jobs/{job_id}{view}"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == job_id
    assert body["status"] == "cancelled"
    assert body["steps"] == [{"name": "research", "status": "cancelled"},
                             {"name": "profile", "status": "cancelled"}]
    assert body["completed_at"] is not None
    assert body["progress"] == 0
    assert "output" in body
    assert body == job(stack, job_id)

    r = get(stack, f"/api/jobs/{job_id}/result")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "cancelled", "error": "cancelled"}
    assert "Retry-After" not in r.headers

    # again: a no-op that shows the job unchanged
    again = requests.request(method, stack.url(f"/api/jobs/{job_id}{view}"), timeout=HTTP_TIMEOUT)
    assert again.status_code == 200, again.text
    assert again.json() == body


def test_cancel_by_delete_then_post_is_unchanged(stack):
    job_id = new_job(stack)
    first = requests.delete(stack.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT)
    assert first.status_code == 200, first.text
    second = requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), timeout=HTTP_TIMEOUT)
    assert second.status_code == 200, second.text
    assert second.json() == first.json()


def test_cancelling_a_finished_job_leaves_it_as_it_is(stack):
    job_id = new_job(stack)
    # finished as a worker would have finished it
    stack.pg.psql(f"UPDATE jobs SET status = 'completed', progress = 100, "
                  f"output = '{{\"summary\": \"ok\"}}', completed_at = now() "
                  f"WHERE job_id = '{job_id}'")
    stack.pg.psql(f"UPDATE job_steps SET status = 'completed' WHERE job_id = '{job_id}'")
    before = job(stack, job_id)
    r = requests.post(stack.url(f"/api/jobs/{job_id}/cancel"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == before
    assert r.json()["status"] == "completed"
    r = get(stack, f"/api/jobs/{job_id}/result")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "completed", "result": {"summary": "ok"}}


def test_result_of_a_failed_job_carries_its_error(stack):
    job_id = new_job(stack)
    stack.pg.psql(f"UPDATE jobs SET status = 'failed', error = 'provider said \"no\"', "
                  f"completed_at = now() WHERE job_id = '{job_id}'")
    r = get(stack, f"/api/jobs/{job_id}/result")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "failed", "error": 'provider said "no"'}


# ---------------------------------------------------------------- list

def test_list_is_newest_first_and_shows_the_status_view(empty):
    ids = [new_job(empty) for _ in range(4)]
    body = list_jobs(empty)
    assert set(body) == {"jobs", "next_cursor"}
    assert [j["id"] for j in body["jobs"]] == ids[::-1]
    assert body["next_cursor"] is None
    for j in body["jobs"]:
        assert set(j) == STATUS_KEYS, j
        assert j == job(empty, j["id"], "/status")


def test_list_of_nothing(empty):
    assert list_jobs(empty) == {"jobs": [], "next_cursor": None}


def test_list_filters_by_status_and_type(empty):
    a1 = new_job(empty)
    a2 = new_job(empty)
    m1 = new_job(empty, "market_research", {"market": "e-bikes"})
    m2 = new_job(empty, "market_research", {"market": "scooters"})
    for job_id in (a2, m2):
        assert requests.delete(empty.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT).ok

    def ids(**params):
        return [j["id"] for j in list_jobs(empty, **params)["jobs"]]
    assert ids(status="pending") == [m1, a1]
    assert ids(status="cancelled") == [m2, a2]
    assert ids(status="running") == []
    assert ids(type="market_research") == [m2, m1]
    assert ids(type="competitor_analysis", status="cancelled") == [a2]
    assert ids(type="no_such_type") == []
    assert ids(type="") == []


def collect(stack, limit, **params):
    """Every page of the list at limit per page: (ids in order, page sizes)."""
    seen, sizes, cursor = [], [], None
    for _ in range(100):
        query = dict(params, limit=limit)
        if cursor is not None:
            query["cursor"] = cursor
        body = list_jobs(stack, **query)
        seen += [j["id"] for j in body["jobs"]]
        sizes.append(len(body["jobs"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, sizes
    raise AssertionError("the list never ended")


def test_pages_cover_every_job_exactly_once(empty):
    ids = [new_job(empty) for _ in range(7)]
    seen, sizes = collect(empty, 3)
    assert seen == ids[::-1]
    assert sizes == [3, 3, 1]
    seen, sizes = collect(empty, 7)
    assert seen == ids[::-1] and sizes == [7]
    seen, sizes = collect(empty, 1)
    assert seen == ids[::-1] and sizes == [1] * 7


def test_pages_cover_jobs_created_at_the_same_instant(empty):
    # Keyset pagination must break ties on the id, or a page boundary
    # inside a tie loses or repeats jobs.
    ids = [new_job(empty) for _ in range(6)]
    empty.pg.psql("UPDATE jobs SET created_at = '2026-01-01T00:00:00.123456Z'")
    seen, sizes = collect(empty, 4)
    assert sorted(seen) == sorted(ids) and len(seen) == 6
    assert sizes == [4, 2]
    assert seen == sorted(ids, reverse=True)


def test_pages_follow_the_filters(empty):
    want = []
    for i in range(5):
        new_job(empty)
        want.append(new_job(empty, "market_research", {"market": f"m{i}"}))
    seen, sizes = collect(empty, 2, type="market_research", status="pending")
    assert seen == want[::-1] and sizes == [2, 2, 1]


def test_default_limit_is_50(empty):
    for i in range(52):
        new_job(empty, input_={"company_name": f"c{i}"})
    body = list_jobs(empty)
    assert len(body["jobs"]) == 50
    assert body["next_cursor"] is not None
    assert len(list_jobs(empty, limit=100)["jobs"]) == 52


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
    ("limit=", "limit"), ("limit=1.5", "limit"), ("limit=10x", "limit"), ("limit", "limit"),
    ("cursor=abc", "cursor"), ("cursor=", "cursor"), ("cursor=123.", "cursor"),
    ("cursor=123.not-a-uuid", "cursor"), (f"cursor={uuid.uuid4()}", "cursor"),
    ("cursor=%zz", "cursor"),
    ("status=done", "status"), ("status=", "status"), ("status=PENDING", "status"),
    ("status", "status"), ("status=pending%00", "status"),
    ("type=" + "x" * 65, "type"), ("type=a%00b", "type"),
])
def test_list_bad_parameters(stack, query, field):
    r = requests.get(stack.url("/api/jobs?" + query), timeout=HTTP_TIMEOUT)
    assert_error(r, 400, "invalid_field", field)


# ---------------------------------------------------------------- Idempotency-Key

def test_same_key_same_body_replays_the_first_job(stack):
    key = f"replay-{uuid.uuid4()}"
    first = submit_job(stack, key=key)
    assert first.status_code == 202, first.text
    before = rows(stack)
    again = submit_job(stack, key=key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert rows(stack) == before
    # the body's layout and ignored keys are not part of the request
    r = requests.post(stack.url("/api/jobs"),
                      data=b'{ "input": {"company_name": "Acme Corp",\n'
                           b' "company_url": "https://acme.com"}, "note": 1,'
                           b' "type": "competitor_analysis" }',
                      headers={"Content-Type": "application/json", "Idempotency-Key": key},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == first.json()["id"]


def test_same_key_different_body_is_422(stack):
    key = f"reuse-{uuid.uuid4()}"
    assert submit_job(stack, key=key).status_code == 202
    before = rows(stack)
    for body in ({"type": "competitor_analysis", "input": {"company_name": "Other Corp"}},
                 {"type": "competitor_analysis", "input": ACME, "decision_id": str(uuid.uuid4())},
                 {"type": "market_research", "input": {"market": "e-bikes"}}):
        assert_error(post_job(stack, body, key), 422, "idempotency_key_reused")
    assert rows(stack) == before


def test_keys_are_independent(stack):
    a = submit_job(stack, key=f"a-{uuid.uuid4()}")
    b = submit_job(stack, key=f"b-{uuid.uuid4()}")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]


def test_twenty_parallel_submits_with_one_key_make_one_job(stack):
    key = f"parallel-{uuid.uuid4()}"
    before = rows(stack)
    answers = [None] * 20
    go = threading.Barrier(20)

    def send(i):
        go.wait()
        answers[i] = submit_job(stack, key=key)
    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(a is not None for a in answers)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 19 + [202], [a.text for a in answers if a.status_code not in (200, 202)]
    assert len({a.json()["id"] for a in answers}) == 1
    assert int(stack.pg.psql(f"SELECT count(*) FROM jobs WHERE idempotency_key = '{key}'")) == 1
    assert rows(stack) == (before[0] + 1, before[1] + 2)


def test_a_key_older_than_24_hours_makes_a_new_job(stack):
    key = f"aged-{uuid.uuid4()}"
    first = submit_job(stack, key=key)
    assert first.status_code == 202, first.text
    old_id = first.json()["id"]
    stack.pg.psql(f"UPDATE jobs SET created_at = now() - interval '25 hours' "
                  f"WHERE job_id = '{old_id}'")
    again = submit_job(stack, key=key)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != old_id
    # and the new job now owns the key
    third = submit_job(stack, key=key)
    assert third.status_code == 200, third.text
    assert third.json()["id"] == again.json()["id"]
    assert job(stack, old_id)["status"] == "pending"


def test_a_key_of_23_hours_still_replays(stack):
    key = f"young-{uuid.uuid4()}"
    first = submit_job(stack, key=key)
    stack.pg.psql(f"UPDATE jobs SET created_at = now() - interval '23 hours' "
                  f"WHERE job_id = '{first.json()['id']}'")
    again = submit_job(stack, key=key)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]


# ---------------------------------------------------------------- database down

@pytest.fixture()
def own_quiet_stack():
    """A deployment of this test's own, without workers either."""
    s = stk.Stack(extra_env=EXTRA_ENV)
    try:
        yield s
    finally:
        s.close()
    fail_on_sanitizer_reports(s)


def test_database_down_gives_503_and_stores_nothing(own_quiet_stack):
    s = own_quiet_stack
    job_id = new_job(s)
    s.pg.stop()
    try:
        assert_error(submit_job(s), 503, "unavailable")
        assert_error(submit_job(s, key="k-down"), 503, "unavailable")
        for method, view in (("GET", ""), ("GET", "/status"), ("GET", "/result"),
                             ("POST", "/cancel"), ("DELETE", "")):
            r = requests.request(method, s.url(f"/api/jobs/{job_id}{view}"),
                                 timeout=HTTP_TIMEOUT)
            assert_error(r, 503, "unavailable")
        assert_error(get(s, "/api/jobs"), 503, "unavailable")
    finally:
        s.pg.start()
    assert s.count_rows("jobs") == 1
    assert job(s, job_id)["status"] == "pending"


# ---------------------------------------------------------------- job types

def test_jobtypes_lists_every_loaded_type_without_its_prompts(stack):
    r = requests.get(stack.url("/api/jobtypes"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    types = {t["name"]: t for t in body["jobtypes"]}
    shipped = {"competitor_analysis", "market_research", "brief_generation", "option_analysis",
               "evidence_search", "multi_agent", "prompt_analysis"}
    assert shipped <= set(types)
    ca = types["competitor_analysis"]
    declared = json.load(open(f"{stk.SRCDIR}/jobtypes/competitor_analysis.json"))
    assert ca["poll_interval_s"] == declared["poll_interval_s"]
    assert ca["timeout_s"] == declared["timeout_s"]
    assert set(ca["input"]) == set(declared["input"])
    for name, field in declared["input"].items():
        assert ca["input"][name]["type"] == field["type"]
        assert ca["input"][name]["required"] == field.get("required", False)
    assert [s["name"] for s in ca["steps"]] == [s["name"] for s in declared["steps"]]
    assert [s["progress"] for s in ca["steps"]] == [s["progress"] for s in declared["steps"]]
    assert ca["steps"][-1]["progress"] == 100
    assert all(s["calls"] and s["status_message"] for s in ca["steps"])
    # The prompts are the operator's, not the client's.
    assert "{{" not in r.text
    assert all(set(s) == {"name", "status_message", "progress", "output", "calls"}
               for t in types.values() for s in t["steps"])
    assert "max_length" not in types["prompt_analysis"]["input"]["websearch"]
    r = requests.post(stack.url("/api/jobtypes"), json={}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
