"""Job steps with web search, a location and a per-job subset of their
fan-out (the step keys websearch, location and platforms): the providers
chosen by the input are the only ones called, each request carries that
provider's web-search and location fields, a provider left out is neither a
result nor a failure, and bad values are refused at submit with the field."""

import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT, SHIPPED_TYPES, assert_error, jobtypes_dir, poll

ALL_PLATFORMS = ["openai", "gemini", "anthropic", "perplexity"]

# A fan-out whose openai call always fails (400 is not retried), to see a
# provider left out next to one that failed.
T_SEARCH_FAIL = {
    "name": "t_search_fail", "timeout_s": 60, "attempts": 1, "poll_interval_s": 1,
    "input": {"q": {"type": "string", "required": True},
              "only": {"type": "array"}},
    "steps": [{"name": "all", "status_message": "Asking...", "progress": 100,
               "fanout": [{"provider": "openai", "model": "gpt-4o~status=400"},
                          {"provider": "gemini", "model": "gemini-2.5-flash"}],
               "websearch": True, "location": "it",
               "platforms": "{{input.only}}",
               "prompt": "{{input.q}}"}],
}


EXTRA_ENV = {"AIGW_JOBTYPES_DIR": jobtypes_dir("aigw-jobtypes-", T_SEARCH_FAIL,
                                              shipped=SHIPPED_TYPES)}


def post_job(stack, type_name, input_):
    return requests.post(stack.url("/api/jobs"), json={"type": type_name, "input": input_},
                         timeout=HTTP_TIMEOUT)


def run_job(stack, type_name, input_, timeout=40):
    r = post_job(stack, type_name, input_)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    def fetch():
        g = requests.get(stack.url(f"/api/jobs/{job_id}"), timeout=HTTP_TIMEOUT)
        assert g.status_code == 200, g.text
        return g.json()
    return poll(fetch, lambda j: j["status"] in ("completed", "failed", "cancelled"), timeout,
                0.1, f"job {job_id} final")


def calls_for(stack, message):
    """The provider requests that carried exactly this user message, by provider."""
    calls = {}
    for e in stack.mock.requests_log():
        if e.get("message") == message:
            assert e["provider"] not in calls, f"{e['provider']} called twice"
            calls[e["provider"]] = e
    return calls


def unique(what):
    return f"{what} {uuid.uuid4().hex[:12]}"


def test_only_the_chosen_platforms_run_with_search_and_location(stack):
    prompt = unique("best CRM for small teams")
    job = run_job(stack, "prompt_analysis", {"prompt": prompt, "platforms": ["openai", "perplexity"],
                                             "websearch": True, "location": "de"})
    assert job["status"] == "completed", job
    assert job["progress"] == 100
    assert [s["status"] for s in job["steps"]] == ["completed"]

    calls = calls_for(stack, prompt)
    assert sorted(calls) == ["openai", "perplexity"]
    openai, perplexity = calls["openai"], calls["perplexity"]
    # Each provider's own wire fields, the location upper-cased.
    assert openai["websearch"] is True and openai["location"] == "DE"
    assert openai["body"]["web_search_options"]["user_location"] == {
        "type": "approximate", "approximate": {"country": "DE"}}
    assert perplexity["location"] == "DE"
    assert perplexity["body"]["web_search_options"]["user_location"] == {"country": "DE"}

    results = job["output"]["results"]
    assert sorted(results) == ["openai", "perplexity"]
    assert all(r["ok"] for r in results.values()), results
    assert results["openai"]["citations"], results["openai"]
    text = job["output"]["text"]
    assert "## openai (gpt-4o)" in text and "## perplexity (sonar)" in text
    assert "gemini" not in text and "anthropic" not in text


def test_search_reaches_anthropic_and_gemini(stack):
    prompt = unique("news on electric bikes")
    job = run_job(stack, "prompt_analysis", {"prompt": prompt, "platforms": ["gemini", "anthropic"],
                                             "websearch": True, "location": "FR"})
    assert job["status"] == "completed", job
    calls = calls_for(stack, prompt)
    assert sorted(calls) == ["anthropic", "gemini"]
    assert calls["anthropic"]["websearch"] is True
    assert calls["anthropic"]["location"] == "FR"
    assert calls["gemini"]["websearch"] is True
    assert sorted(job["output"]["results"]) == ["anthropic", "gemini"]


def test_without_the_inputs_every_platform_runs_without_search(stack):
    prompt = unique("plain prompt")
    job = run_job(stack, "prompt_analysis", {"prompt": prompt})
    assert job["status"] == "completed", job
    calls = calls_for(stack, prompt)
    assert sorted(calls) == sorted(ALL_PLATFORMS)
    for provider in ("openai", "anthropic", "gemini"):
        assert calls[provider]["websearch"] is False, calls[provider]
    assert all(c["location"] is None for c in calls.values()), calls
    assert "web_search_options" not in calls["openai"]["body"]
    assert "web_search_options" not in calls["perplexity"]["body"]
    assert sorted(job["output"]["results"]) == sorted(ALL_PLATFORMS)


def test_websearch_false_sends_no_search(stack):
    prompt = unique("no search please")
    job = run_job(stack, "prompt_analysis", {"prompt": prompt, "platforms": ["openai"],
                                             "websearch": False})
    assert job["status"] == "completed", job
    calls = calls_for(stack, prompt)
    assert list(calls) == ["openai"]
    assert calls["openai"]["websearch"] is False
    assert "web_search_options" not in calls["openai"]["body"]


def test_a_left_out_provider_is_no_failure(stack):
    # gemini answers, openai fails: the step is a success with both results.
    prompt = unique("both chosen")
    job = run_job(stack, "t_search_fail", {"q": prompt, "only": ["openai", "gemini"]})
    assert job["status"] == "completed", job
    results = job["output"]["results"]
    assert results["gemini"]["ok"] is True and results["openai"]["ok"] is False
    # Only openai chosen, and it fails: the job fails naming openai alone;
    # gemini was never asked and is no part of the error.
    prompt = unique("openai only")
    job = run_job(stack, "t_search_fail", {"q": prompt, "only": ["openai"]})
    assert job["status"] == "failed", job
    assert job["error"].startswith("step all failed: openai: "), job["error"]
    assert "gemini" not in job["error"]
    calls = calls_for(stack, prompt)
    assert list(calls) == ["openai"]
    # The step's fixed websearch and location reach the provider.
    assert calls["openai"]["websearch"] is True and calls["openai"]["location"] == "IT"
    # Only gemini chosen: it alone answers and the job completes.
    prompt = unique("gemini only")
    job = run_job(stack, "t_search_fail", {"q": prompt, "only": ["gemini"]})
    assert job["status"] == "completed", job
    assert list(job["output"]["results"]) == ["gemini"]
    assert list(calls_for(stack, prompt)) == ["gemini"]


@pytest.mark.parametrize("input_,field,words", [
    ({"location": "deu"}, "input.location", "two-letter ISO country code"),
    ({"location": "d1"}, "input.location", "two-letter ISO country code"),
    ({"location": ""}, "input.location", "two-letter ISO country code"),
    ({"location": 49}, "input.location", "string"),
    ({"platforms": []}, "input.platforms", "openai, gemini, anthropic, perplexity"),
    ({"platforms": ["openai", "mock"]}, "input.platforms", "openai, gemini, anthropic, perplexity"),
    ({"platforms": ["openai", "openai"]}, "input.platforms", "twice"),
    ({"platforms": ["openai", 1]}, "input.platforms", "provider name"),
    ({"platforms": "openai"}, "input.platforms", "array"),
    ({"platforms": ALL_PLATFORMS + ["openai"]}, "input.platforms", "at most 4"),
    ({"websearch": "yes"}, "input.websearch", "boolean"),
])
def test_bad_values_are_refused_with_the_field(stack, input_, field, words):
    before = stack.count_rows("jobs")
    r = post_job(stack, "prompt_analysis", dict({"prompt": "p"}, **input_))
    body = assert_error(r, 400, "invalid_field", field)
    assert words in body["error"], body
    assert stack.count_rows("jobs") == before
