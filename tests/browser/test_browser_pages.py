"""The web pages in headless chromium against a real stack: the chat page
(cards arriving one by one, a failing provider; answers streaming into
three cards at once, a reload mid-stream, Stop; a conversation of two
turns), the jobs page (progress,
steps, the running step's streamed text, output, Cancel, a notice for a
job finished in the background) and
the aigw.js client library (errors, retries, transports). Each test runs
one node scenario (tests/browser/<name>.mjs) and asserts on its checks;
screenshots go to tests/browser/artifacts/."""

from browser_harness import assert_scenario, run_scenario


def test_chat_cards_arrive_one_by_one(stack):
    sc = run_scenario("chat_order", stack)
    assert_scenario(sc)
    times = sc.result["data"]["doneAtMs"]
    assert times["openai"] < times["anthropic"] < times["gemini"], times


def test_chat_failing_provider_shows_its_error(stack):
    assert_scenario(run_scenario("chat_failure", stack))


def test_jobs_page_runs_competitor_analysis(stack):
    sc = run_scenario("jobs_run", stack)
    assert_scenario(sc)
    assert sc.result["data"]["progressSeen"] == [0, 40, 100]


def test_jobs_page_cancel_and_background_notice(stack):
    assert_scenario(run_scenario("jobs_cancel", stack))


def test_client_library(stack):
    assert_scenario(run_scenario("library", stack))


def test_chat_streams_resumes_and_stops(stack):
    assert_scenario(run_scenario("chat_stream", stack))


def test_jobs_page_streams_the_running_step(stack):
    assert_scenario(run_scenario("jobs_stream", stack))


def test_chat_holds_a_conversation(stack):
    stack.mock.reset()
    sc = run_scenario("chat_conversation", stack)
    assert_scenario(sc)
    # the providers got the whole conversation of the second chat
    seconds = [e for e in stack.mock.requests_log()
               if e["provider"] in ("openai", "anthropic") and e["message"] == "Why that one"]
    assert sorted(e["provider"] for e in seconds) == ["anthropic", "openai"], seconds
    for e in seconds:
        assert [t["role"] for t in e["turns"]] == ["user", "assistant", "user"], e["turns"]
        assert e["turns"][0]["text"] == "Name a language for command line tools"
        assert e["turns"][1]["text"].startswith(
            "[openai/gpt-4o] Name a language for command line tools"), e["turns"]


def test_client_as_a_module_two_backends_and_cors(stack):
    """aigw.mjs imported by aigw's page and by a front end on another
    origin, whose two clients stream chats from two base URLs through CORS;
    an unlisted origin is refused by the browser."""
    assert_scenario(run_scenario("client_module", stack))
