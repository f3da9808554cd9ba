"""Named OpenAI-compatible providers (AIGW_PROVIDER_<NAME>_*, docs/configuration.md):
two names, local and groq, point at the mock's OpenAI route with keys of their
own. A chat naming both and openai completes with each answer under its own
name and each key on its own requests; answers stream; a job step names one;
groq's RPM holds its requests back while local's are not; /api/health and
`aigw status` list them; and a bad name, a built-in name, a bad format or a
missing base URL stops the programs with one line naming the variable."""
import socket
import subprocess
import time
import uuid

import pytest
import requests

import stack as stk
from conftest import (SHIPPED_TYPES, assert_error, jobtypes_dir, mock_answer, poll, run_aigw,
                      submit, wait_final)

HTTP_TIMEOUT = 10
LOCAL_KEY = "sk-local-0001"
GROQ_KEY = "gsk_groq-0002"
GROQ_RPM = 3

T_NAMED = {"name": "t_named", "timeout_s": 60, "attempts": 3, "poll_interval_s": 1,
           "input": {"q": {"type": "string", "required": True, "max_length": 200}},
           "steps": [{"name": "one", "status_message": "Asking local...", "progress": 50,
                      "provider": "local", "model": "llama-step",
                      "prompt": "named one {{input.q}}"},
                     {"name": "both", "status_message": "Asking both...", "progress": 100,
                      "fanout": [{"provider": "local", "model": "llama-fan"},
                                 {"provider": "mock", "model": "m"}],
                      "prompt": "named two {{steps.one.text}}"}]}

TYPES = jobtypes_dir("aigw-named-jobtypes-", T_NAMED, shipped=SHIPPED_TYPES)


def named_env(s):
    """The named providers' variables: they name the mock's URL, known only
    once it runs (Stack's wrap_db hook is the one that sees it)."""
    base = s.mock.url("/openai/v1")
    return {"AIGW_PROVIDER_LOCAL_BASE_URL": base,
            "AIGW_PROVIDER_LOCAL_API_KEY": LOCAL_KEY,
            "AIGW_PROVIDER_GROQ_BASE_URL": base + "/",
            "AIGW_PROVIDER_GROQ_API_KEY": GROQ_KEY,
            "AIGW_PROVIDER_GROQ_FORMAT": "openai",
            "AIGW_PROVIDER_GROQ_RPM": str(GROQ_RPM),
            "AIGW_PROVIDER_LOCAL_MODELS": "llama3.1:8b,qwen2.5"}


@pytest.fixture(scope="module")
def named():
    s = stk.Stack(extra_env={"AIGW_JOBTYPES_DIR": TYPES}, wrap_db=named_env)
    try:
        yield s
    finally:
        s.close()
    if getattr(s, "sanitizer_report", ""):
        pytest.fail("sanitizer reports in aigw's logs:\n" + s.sanitizer_report, pytrace=False)


def calls(s, prefix):
    """The mock's requests whose user message starts with prefix."""
    return [e for e in s.mock.requests_log()
            if isinstance(e.get("message"), str) and e["message"].startswith(prefix)]


def test_a_chat_naming_two_named_providers_and_openai(named):
    message = f"named chat {uuid.uuid4().hex[:8]}"
    models = {"local": "llama-3.2", "groq": "llama-3.3-70b", "openai": "gpt-4o"}
    r = submit(named.url(), models, message=message)
    assert r.status_code == 202, r.text
    final = wait_final(named.url(), r.json()["chatId"], timeout=30)
    assert final["status"] == "completed", final
    assert set(final["results"]) == set(models), final
    for name, model in models.items():
        res = final["results"][name]
        assert res["ok"] is True, res
        # the mock's OpenAI route answered each, under its own name here
        assert res["text"] == mock_answer("openai", model, message), res
        assert "mock" not in res, res  # a real call, not the built-in mock
    # a named provider's models have no price
    assert final["results"]["local"]["costUsd"] is None, final["results"]["local"]
    assert final["results"]["local"]["model"], final["results"]["local"]
    seen = {e["model"]: e for e in calls(named, message)}
    assert set(seen) == set(models.values()), seen
    assert seen["llama-3.2"]["authorization"] == f"Bearer {LOCAL_KEY}"
    assert seen["llama-3.3-70b"]["authorization"] == f"Bearer {GROQ_KEY}"
    assert seen["gpt-4o"]["authorization"] == "Bearer test-key"
    assert all(e["path"] == "/openai/v1/chat/completions" for e in seen.values()), seen


def test_a_named_providers_error_carries_its_name(named):
    message = f"named error {uuid.uuid4().hex[:8]}"
    r = submit(named.url(), {"groq": "llama~status=400", "local": "llama"}, message=message)
    assert r.status_code == 202, r.text
    final = wait_final(named.url(), r.json()["chatId"], timeout=30)
    groq = final["results"]["groq"]
    assert groq["ok"] is False and groq["errorClass"] == "client", groq
    assert groq["error"].startswith("groq returned 400"), groq
    assert final["results"]["local"]["ok"] is True, final


def test_named_answers_stream(named):
    message = f"named stream {uuid.uuid4().hex[:8]}"
    # 30 more words at 20 a second: the answer is written in pieces
    r = submit(named.url(), {"local": "llama~words=30~tps=20"}, message=message)
    assert r.status_code == 202, r.text
    chat_id = r.json()["chatId"]
    partial = poll(lambda: requests.get(named.url("/api/ai/chat/status"),
                                        params={"id": chat_id}, timeout=HTTP_TIMEOUT).json(),
                   lambda b: b.get("results", {}).get("local", {}).get("streaming"),
                   20, 0.05, "a piece of local's answer")
    final = wait_final(named.url(), chat_id, timeout=30)
    assert final["status"] == "completed", final
    text = final["results"]["local"]["text"]
    assert text.startswith(mock_answer("openai", "llama", message)), text
    piece = partial["results"]["local"]["text"]
    assert piece and len(piece) < len(text) and text.startswith(piece), (partial, text)
    (entry,) = calls(named, message)
    assert entry["stream"] is True, entry
    assert entry["body"]["stream"] is True and entry["body"]["stream_options"] == \
        {"include_usage": True}, entry["body"]
    assert final["results"]["local"]["usage"]["inputTokens"] is not None, final


def test_a_job_step_names_a_named_provider(named):
    marker = uuid.uuid4().hex[:8]
    r = requests.post(named.url("/api/jobs"), json={"type": "t_named", "input": {"q": marker}},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    job = poll(lambda: requests.get(named.url(f"/api/jobs/{job_id}"),
                                    timeout=HTTP_TIMEOUT).json(),
               lambda j: j["status"] in ("completed", "failed", "cancelled"), 40, 0.1,
               "job final")
    assert job["status"] == "completed", job
    one = calls(named, f"named one {marker}")
    assert [(e["model"], e["authorization"]) for e in one] == \
        [("llama-step", f"Bearer {LOCAL_KEY}")]
    assert job["output"]["results"]["local"]["ok"] is True, job["output"]
    assert set(job["output"]["results"]) == {"local", "mock"}, job["output"]


def test_the_openai_api_routes_to_named_providers(named):
    """/v1/ takes <name>/<model> and lists the models _MODELS names."""
    s = named
    s.mock.reset()
    r = requests.post(s.url("/v1/chat/completions"), timeout=HTTP_TIMEOUT, json={
        "model": "local/llama3.1:8b", "messages": [{"role": "user", "content": "hi there"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].startswith(
        "[openai/llama3.1:8b] hi there"), r.text
    [req] = [e for e in s.mock.requests_log() if e["model"] == "llama3.1:8b"]
    assert req["authorization"] == "Bearer " + LOCAL_KEY, req
    r = requests.post(s.url("/v1/responses"), timeout=HTTP_TIMEOUT,
                      json={"model": "nosuch/x", "input": "hi"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_provider", r.text
    ids = [m["id"] for m in requests.get(s.url("/v1/models"), timeout=HTTP_TIMEOUT).json()["data"]]
    assert "local/llama3.1:8b" in ids and "local/qwen2.5" in ids, ids
    assert not [i for i in ids if i.startswith("groq/")], ids


def test_unknown_names_are_refused_as_before(named):
    for name in ("groq2", "GROQ", "my-groq", "local-batch"):
        r = submit(named.url(), {name: "m"})
        assert_error(r, 400, "unknown_provider", f"models.{name}")


def test_health_and_status_list_them(named):
    r = requests.get(named.url("/api/health"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    providers = r.json()["providers"]
    assert providers["local"] == "configured" and providers["groq"] == "configured", providers
    assert providers["openai"] == "configured", providers
    out = run_aigw(named, "status").stdout
    assert " groq configured," in out and " local configured" in out, out
    shown = run_aigw(named, "config").stdout
    assert "AIGW_PROVIDER_GROQ_API_KEY=(set)" in shown, shown
    assert "AIGW_PROVIDER_GROQ_RPM=3" in shown, shown
    assert GROQ_KEY not in shown and LOCAL_KEY not in shown, shown


def test_groq_rpm_holds_its_requests_and_not_locals(named):
    """Runs last of the chats: groq's held ones wait for the next minute,
    past the test. Earlier tests' groq requests may still fill the window."""
    in_window = ("SELECT count(*) FROM rate_reservations WHERE provider = 'groq'"
                 " AND reserved_at > statement_timestamp() - interval '60 s'")
    room = GROQ_RPM - int(named.pg.psql(in_window))
    assert room >= 1, room
    prefix = f"named rpm {uuid.uuid4().hex[:8]} "
    groq_ids = [submit(named.url(), {"groq": "llama-rpm"},
                       message=f"{prefix}g{i}").json()["chatId"] for i in range(GROQ_RPM + 2)]
    local_ids = [submit(named.url(), {"local": "llama-rpm"},
                        message=f"{prefix}l{i}").json()["chatId"] for i in range(GROQ_RPM + 2)]
    # local has no limit: all of its chats complete at once
    for chat_id in local_ids:
        assert wait_final(named.url(), chat_id, timeout=30)["status"] == "completed"

    def groq_sent():
        return [e for e in calls(named, prefix) if e["authorization"] == f"Bearer {GROQ_KEY}"]
    poll(lambda: len(groq_sent()), lambda n: n >= room, 20, 0.1, "groq's first requests")
    # a few seconds more: the rest stay held, in the database's window for groq
    time.sleep(3)
    assert len(groq_sent()) == room, groq_sent()
    states = [requests.get(named.url("/api/ai/chat/status"), params={"id": i},
                           timeout=HTTP_TIMEOUT).json()["status"] for i in groq_ids]
    assert states.count("completed") == room, states
    assert int(named.pg.psql(in_window)) == GROQ_RPM
    assert named.pg.psql("SELECT count(*) FROM rate_reservations WHERE provider = 'local'") == "0"


# ---------------------------------------------------------------- config errors

BAD = [
    ({"AIGW_PROVIDER_local_BASE_URL": "http://127.0.0.1:9/v1"},
     "AIGW_PROVIDER_local_BASE_URL: the provider's NAME in AIGW_PROVIDER_<NAME>_BASE_URL must be"
     " 1 to 40 upper-case letters and digits, with single _ inside"),
    ({"AIGW_PROVIDER_OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
     "AIGW_PROVIDER_OPENAI_BASE_URL: openai is a built-in provider; a named provider needs"
     " another NAME"),
    ({"AIGW_PROVIDER_X_BASE_URL": "http://127.0.0.1:9/v1", "AIGW_PROVIDER_X_FORMAT": "anthropic"},
     "AIGW_PROVIDER_X_FORMAT: expected openai (the only format of a named provider yet)"),
    ({"AIGW_PROVIDER_X_API_KEY": "sk-never-shown"},
     "AIGW_PROVIDER_X_BASE_URL: not set, and the named provider x needs it"),
    ({"AIGW_PROVIDER_X_BASE_URL": "ftp://u:never-shown@h/v1"},
     "AIGW_PROVIDER_X_BASE_URL: expected an http:// or https:// URL with a host and without"
     " blanks"),
]


@pytest.mark.parametrize("env,line", BAD, ids=["name", "builtin", "format", "no-url", "scheme"])
def test_a_config_error_stops_the_programs_with_one_line(named, env, line):
    bad = dict(named.env, **env)
    r = subprocess.run([stk.program("aigw"), "config"], env=bad, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == f"aigw: {line}\n", r.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = subprocess.run([stk.program("aigw-fcgi"), "--listen", f"127.0.0.1:{port}"], env=bad,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr == f"aigw-fcgi: {line}\n", r.stderr
    assert "never-shown" not in r.stderr
