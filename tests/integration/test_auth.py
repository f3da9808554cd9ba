"""AIGW_AUTH=keys and server: who may ask, what they may see, and that no
secret ever shows in a log or a response."""

import glob
import os
import re
import tempfile
import uuid

import pytest
import requests

import stack as stk
from conftest import HTTP_TIMEOUT, assert_error, fail_on_sanitizer_reports, poll
from conftest import run_aigw as aigw

# Provider keys unique to this run, so that a grep for them means something.
PROVIDER_KEYS = {f"{p}_API_KEY": f"prov-{p.lower()}-{uuid.uuid4().hex}"
                 for p in ("OPENAI", "ANTHROPIC", "GEMINI", "PERPLEXITY")}
# Limits are tested elsewhere; here they must not get in the way.
EXTRA_ENV = dict(PROVIDER_KEYS, AIGW_AUTH="keys", AIGW_LIMIT_USER="0", AIGW_LIMIT_ORG="0",
                 AIGW_LIMIT_DECISION="0")


def new_key(stack, user, org="acme"):
    out = aigw(stack, "keys", "create", "--user", user, "--org", org, "--name", "test").stdout
    key = out.splitlines()[0]
    assert re.fullmatch(r"aigw_[0-9a-f]{16}_[0-9a-f]{64}", key), out
    return key


@pytest.fixture(scope="module")
def keys(stack):
    return {"alice": new_key(stack, "alice"), "alice2": new_key(stack, "alice"),
            "bob": new_key(stack, "bob")}


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def post_chat(stack, key, **extra):
    return requests.post(stack.url("/api/ai/chat"), headers={**auth(key), **extra},
                         json={"message": "who am I", "models": {"mock": "m"}},
                         timeout=HTTP_TIMEOUT)


def post_job(stack, key):
    return requests.post(stack.url("/api/jobs"), headers=auth(key),
                         json={"type": "competitor_analysis", "input": {"company_name": "Acme"}},
                         timeout=HTTP_TIMEOUT)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic YWxpY2U6cHc=",
                                    "Bearer not-a-key",
                                    "Bearer aigw_0123456789abcdef_" + "0" * 64])
def test_no_or_bad_key_is_401(stack, header):
    headers = {} if header is None else {"Authorization": header}
    for method, path in (("POST", "/api/ai/chat"), ("GET", "/api/jobs"),
                         ("GET", f"/api/ai/chat/status?id={uuid.uuid4()}")):
        r = requests.request(method, stack.url(path), headers=headers, timeout=HTTP_TIMEOUT,
                             json={"message": "x", "models": {"mock": "m"}})
        body = assert_error(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "aigw_" not in body["error"]


def test_health_needs_no_key(stack):
    assert requests.get(stack.url("/api/health"), timeout=HTTP_TIMEOUT).status_code == 200


def test_a_key_with_a_wrong_secret_is_401(stack, keys):
    key = keys["alice"]
    wrong = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert_error(post_chat(stack, wrong), 401, "unauthorized")
    assert post_chat(stack, key).status_code == 202


def test_another_users_chat_is_404(stack, keys):
    chat_id = post_chat(stack, keys["alice"]).json()["chatId"]
    url = stack.url(f"/api/ai/chat/status?id={chat_id}")
    assert requests.get(url, headers=auth(keys["alice"]), timeout=HTTP_TIMEOUT).status_code == 200
    # Another key of the same user is the same user.
    assert requests.get(url, headers=auth(keys["alice2"]), timeout=HTTP_TIMEOUT).status_code == 200
    assert_error(requests.get(url, headers=auth(keys["bob"]), timeout=HTTP_TIMEOUT), 404,
                 "not_found")


def test_another_users_job_is_404_for_every_verb(stack, keys):
    job_id = post_job(stack, keys["alice"]).json()["id"]
    for method, path in (("GET", ""), ("GET", "/status"), ("GET", "/result"),
                         ("POST", "/cancel"), ("DELETE", "")):
        r = requests.request(method, stack.url(f"/api/jobs/{job_id}{path}"),
                             headers=auth(keys["bob"]), timeout=HTTP_TIMEOUT)
        assert_error(r, 404, "not_found")
    # Bob's cancel did nothing.
    r = requests.get(stack.url(f"/api/jobs/{job_id}"), headers=auth(keys["alice"]),
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["status"] != "cancelled", r.text
    listed = requests.get(stack.url("/api/jobs?limit=100"), headers=auth(keys["bob"]),
                          timeout=HTTP_TIMEOUT).json()["jobs"]
    assert job_id not in {j["id"] for j in listed}
    listed = requests.get(stack.url("/api/jobs?limit=100"), headers=auth(keys["alice"]),
                          timeout=HTTP_TIMEOUT).json()["jobs"]
    assert job_id in {j["id"] for j in listed}


def test_rows_belong_to_the_keys_user_and_org(stack, keys):
    chat_id = post_chat(stack, keys["bob"]).json()["chatId"]
    row = stack.pg.psql(f"SELECT owner_user || '/' || owner_org FROM chat_results"
                        f" WHERE chat_id = '{chat_id}'")
    assert row == "bob/acme"


def test_x_remote_user_header_is_never_trusted(stack, keys):
    chat_id = post_chat(stack, keys["alice"]).json()["chatId"]
    url = stack.url(f"/api/ai/chat/status?id={chat_id}")
    # Bob claiming to be alice by header stays bob.
    r = requests.get(url, headers={**auth(keys["bob"]), "X-Remote-User": "alice"},
                     timeout=HTTP_TIMEOUT)
    assert_error(r, 404, "not_found")
    # No key, a claimed identity: still no one.
    r = requests.get(url, headers={"X-Remote-User": "alice", "Remote-User": "alice"},
                     timeout=HTTP_TIMEOUT)
    assert_error(r, 401, "unauthorized")
    mine = post_chat(stack, keys["alice"], **{"X-Remote-User": "bob"}).json()["chatId"]
    assert stack.pg.psql(f"SELECT owner_user FROM chat_results WHERE chat_id = '{mine}'") == "alice"


def test_a_revoked_key_is_401(stack):
    key = new_key(stack, "carol")
    assert post_chat(stack, key).status_code == 202
    key_id = key.split("_")[1]
    listing = aigw(stack, "keys", "list").stdout
    assert key_id in listing and key.split("_")[2] not in listing
    assert "revoked " + key_id in aigw(stack, "keys", "revoke", key_id).stdout
    assert_error(post_chat(stack, key), 401, "unauthorized")
    # Revoking twice, or a key that never was: an error, not a crash.
    assert aigw(stack, "keys", "revoke", key_id, check=False).returncode == 1
    assert aigw(stack, "keys", "revoke", "0" * 16, check=False).returncode == 1


def test_keys_create_needs_a_user(stack):
    assert aigw(stack, "keys", "create", "--org", "x", check=False).returncode == 2
    assert aigw(stack, "keys", "create", "--user", "a\tb", check=False).returncode == 2
    assert aigw(stack, "keys", "frobnicate", check=False).returncode == 2


def test_only_hashes_are_stored(stack, keys):
    stored = stack.pg.psql("SELECT string_agg(key_id || ' ' || key_hash, ' ') FROM api_keys")
    for key in keys.values():
        assert key not in stored and key.split("_")[2] not in stored


def test_no_secret_in_any_log_or_response(stack, keys):
    # Work that reaches the providers, so their keys are used.
    r = requests.post(stack.url("/api/ai/chat"), headers=auth(keys["alice"]), timeout=HTTP_TIMEOUT,
                      json={"message": "secrets", "models": {"openai": "gpt-4o",
                            "anthropic": "claude-3-5-haiku-latest~status=401",
                            "gemini": "gemini-2.5-flash", "perplexity": "sonar"}})
    chat_id = r.json()["chatId"]
    body = poll(lambda: requests.get(stack.url(f"/api/ai/chat/status?id={chat_id}"),
                                     headers=auth(keys["alice"]), timeout=HTTP_TIMEOUT).text,
                lambda t: '"status":"completed"' in t, 20, 0.1, "chat done")
    assert_error(post_chat(stack, keys["alice"][:-1] + "x"), 401, "unauthorized")
    secrets = list(PROVIDER_KEYS.values()) + list(keys.values()) + \
        [k.split("_")[2] for k in keys.values()]
    texts = {"status response": body}
    logs = [stack.env["AIGW_LOG_FILE"], stack.pg.log] + glob.glob(os.path.join(stack.base, "*.err")) + \
        glob.glob(os.path.join(stack.base, "nginx-*", "*.log"))
    for path in logs:
        with open(path, errors="replace") as f:
            texts[path] = f.read()
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in {name}"


# ---------------------------------------------------------------- server mode

def test_server_mode_takes_identity_from_the_web_server_only():
    pw = tempfile.NamedTemporaryFile("w", prefix="aigw-htpasswd-", dir="/tmp", delete=False)
    pw.write("alice:{PLAIN}pw-alice\nbob:{PLAIN}pw-bob\n")
    pw.close()
    os.chmod(pw.name, 0o644)
    extra = (f'auth_basic "aigw"; auth_basic_user_file {pw.name};'
             ' set $aigw_remote_user $remote_user;'
             ' if ($remote_user = "alice") { set $aigw_remote_org "acme"; }')
    try:
        with stk.Stack(extra_env={"AIGW_AUTH": "server"}, nginx_server_extra=extra) as s:
            url = s.url("/api/ai/chat")
            body = {"message": "hi", "models": {"mock": "m"}}
            # nginx refuses without credentials; a header claiming a user
            # does not help.
            r = requests.post(url, json=body, headers={"X-Remote-User": "alice"},
                              timeout=HTTP_TIMEOUT)
            assert r.status_code == 401
            r = requests.post(url, json=body, auth=("alice", "pw-alice"), timeout=HTTP_TIMEOUT)
            assert r.status_code == 202, r.text
            chat_id = r.json()["chatId"]
            row = s.pg.psql(f"SELECT owner_user || '/' || owner_org FROM chat_results"
                            f" WHERE chat_id = '{chat_id}'")
            assert row == "alice/acme"
            status = s.url(f"/api/ai/chat/status?id={chat_id}")
            assert requests.get(status, auth=("alice", "pw-alice"),
                                timeout=HTTP_TIMEOUT).status_code == 200
            r = requests.get(status, auth=("bob", "pw-bob"), headers={"X-Remote-User": "alice"},
                             timeout=HTTP_TIMEOUT)
            assert_error(r, 404, "not_found")
        fail_on_sanitizer_reports(s)
    finally:
        os.unlink(pw.name)


def test_server_mode_ignores_a_basic_header_nginx_did_not_check():
    """With the shipped snippet and no auth module, a client's own
    "Authorization: Basic" (which nginx parses into $remote_user anyway) is
    nobody."""
    with stk.Stack(extra_env={"AIGW_AUTH": "server"}) as s:
        body = {"message": "hi", "models": {"mock": "m"}}
        r = requests.post(s.url("/api/ai/chat"), json=body, auth=("alice", "x"),
                          timeout=HTTP_TIMEOUT)
        assert_error(r, 401, "unauthorized")
        r = requests.get(s.url("/api/jobs"), auth=("alice", "x"), timeout=HTTP_TIMEOUT)
        assert_error(r, 401, "unauthorized")
        assert s.pg.psql("SELECT count(*) FROM chat_results") == "0"
    fail_on_sanitizer_reports(s)


def test_server_mode_takes_identity_from_auth_request():
    """The other documented wiring: an auth service says who asks (here a
    location of the same nginx standing in for it), auth_request_set passes
    it on; what the client claims does not count."""
    extra = ("auth_request /_aigw_auth;"
             " auth_request_set $aigw_remote_user $upstream_http_x_aigw_user;"
             " auth_request_set $aigw_remote_org $upstream_http_x_aigw_org;"
             " location = /_aigw_auth { internal;"
             " proxy_pass_request_body off; proxy_set_header Content-Length \"\";"
             " proxy_pass http://127.0.0.1:$server_port/_aigw_who; }"
             " location = /_aigw_who { auth_request off; allow 127.0.0.1; deny all;"
             ' if ($http_x_token = "t-carol") {'
             " add_header X-Aigw-User carol always; add_header X-Aigw-Org acme always;"
             " return 204; }"
             " return 401; }")
    with stk.Stack(extra_env={"AIGW_AUTH": "server"}, nginx_server_extra=extra) as s:
        body = {"message": "hi", "models": {"mock": "m"}}
        r = requests.post(s.url("/api/ai/chat"), json=body, auth=("carol", "x"),
                          headers={"X-Remote-User": "carol"}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 401
        r = requests.post(s.url("/api/ai/chat"), json=body, headers={"X-Token": "t-carol"},
                          timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        row = s.pg.psql("SELECT owner_user || '/' || owner_org FROM chat_results"
                        f" WHERE chat_id = '{r.json()['chatId']}'")
        assert row == "carol/acme"
    fail_on_sanitizer_reports(s)


def test_server_mode_without_remote_user_is_401():
    # No authentication configured in nginx: REMOTE_USER is empty.
    with stk.Stack(extra_env={"AIGW_AUTH": "server"}) as s:
        r = requests.post(s.url("/api/ai/chat"), json={"message": "hi", "models": {"mock": "m"}},
                          headers={"X-Remote-User": "alice"}, timeout=HTTP_TIMEOUT)
        assert_error(r, 401, "unauthorized")
    fail_on_sanitizer_reports(s)
