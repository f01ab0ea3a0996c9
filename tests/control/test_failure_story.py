"""A failed test tells its story: the plugin's report section, ``assert_all_rules_used`` and the typed journal,
through pytester (one inner session, one real server) running deliberately failing user tests."""

from __future__ import annotations

import json
import re

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.live

USER_TESTS = """
import os

import httpx
import openai
import pytest


def ask(text, model="qwen-plus"):
    with openai.OpenAI(base_url=os.environ["DASHSCOPE_COMPATIBLE_BASE_URL"],
                       api_key=os.environ["DASHSCOPE_API_KEY"], max_retries=0) as client:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])


def summarize_weather():
    # the app under test: asks twice, keeps the second answer
    ask("hello")
    return ask("the weather in Hangzhou?").choices[0].message.content


def test_the_app_reads_the_forecast(dashscope_emulator):
    dashscope_emulator.respond(contains="forecast", content="Sunny, 25 C.")  # the test's mistake: the app says weather
    assert summarize_weather() == "Sunny, 25 C."


def test_the_third_call_is_throttled(dashscope_emulator):
    dashscope_emulator.fault("/compatible-mode/v1/chat/completions", status=429, code="Throttling", after=2, times=1)
    ask("one")
    ask("two")
    ask("three")  # raises openai.RateLimitError: the report shows the 429 and the fault that answered


def test_a_passing_test_has_no_section(dashscope_emulator):
    ask("fine")


def test_helpers(dashscope_emulator):
    files_rule = dashscope_emulator.respond(path="/api/v1/files", method="GET", body={"data": {"files": []}})
    idle = dashscope_emulator.respond(model="qwen-max", content="never asked")
    ask("one", model="qwen-plus")
    httpx.get(dashscope_emulator.api_base + "/files",
              headers={"Authorization": "Bearer " + dashscope_emulator.api_key})
    [chat] = dashscope_emulator.journal(path="/compatible-mode/v1/*", method="POST", status=200, model="qwen-*")
    assert chat.model == "qwen-plus" and chat.answered_by == "emulator"
    assert [(m["rule"], m["failed"]) for m in chat.near_misses] == [(idle, "model")]
    assert chat.answer["choices"][0]["message"]["content"]
    files = dashscope_emulator.last_request(path="/api/v1/files")
    assert files.answer == {"data": {"files": []}} and files.answered_by == f"rule {files_rule}"
    assert dashscope_emulator.journal(model="qwen-max") == []
    with pytest.raises(AssertionError, match=f"{idle} .*model 'qwen-max'"):
        dashscope_emulator.assert_all_rules_used()
    dashscope_emulator.clear_responses(idle)
    dashscope_emulator.assert_all_rules_used()
"""


def test_a_failing_test_shows_what_the_app_sent_and_got(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "--dashscope-emulator-story", "5")
    result.assert_outcomes(failed=2, passed=2)
    out = result.stdout.str()
    sections = out.split("dashscope emulator: what the app sent and got")
    assert len(sections) == 3, out  # one per failed test, none for the passing ones
    forecast, throttled = sections[1], sections[2]
    # the first failure: the rule never matched, and the journal says why, request by request
    assert "last 2 of 2 requests to the emulator" in forecast
    assert re.search(r"#1 POST /compatible-mode/v1/chat/completions -> 200  model=qwen-plus  tenant=sk… #", forecast)
    assert re.search(r"near miss: response-\d+, contains 'forecast': not in the last user message 'hello'", forecast)
    assert re.search(r"near miss: response-\d+, contains 'forecast': not in the last user message 'the weat", forecast)
    assert 'sent: {"model":"qwen-plus","messages":[{"role":"user","content":"the weather in Hangzhou?"}]}' in forecast
    assert 'got: {"id":"chatcmpl-' in forecast  # the answer the app got, on one line, cut
    assert re.search(r"rules never used: response-\d+ \(contains 'forecast'; matched 0\)", forecast)
    # the second: the 429 and the fault that answered it, the envelope the app got
    assert "#3 POST /compatible-mode/v1/chat/completions -> 429" in throttled
    assert re.search(r"answered by fault fault-\d+", throttled) and "rules: 1, each used" in throttled
    assert 'got: {"error":{"message":"Requests throttling triggered."' in throttled
    assert re.search(r"near miss: fault-\d+, after: matching call 2 of the 2 let through first", throttled)
    assert "sk-emulator-test" not in out  # the key never appears, only its label


def test_the_story_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-q", "--dashscope-emulator-story", "0", "-k", "throttled"
    )
    result.assert_outcomes(failed=1)
    assert "what the app sent and got" not in result.stdout.str()


def test_the_story_reads_what_the_model_said() -> None:
    from emulator.testing import JournalRequest

    base = {"seq": 1, "method": "POST", "path": "/x", "status": 200, "duration_ms": 1.0}
    native = JournalRequest.of({**base, "answer_body": {"output": {"text": "你好"}}})
    assert native.said == "你好"
    chat = JournalRequest.of({**base, "answer_body": {"choices": [{"message": {"content": "hi"}}]}})
    assert chat.said == "hi" and "the model said: 'hi'" in "\n".join(chat.story_lines(1))
    cumulative = [{"data": json.dumps({"output": {"text": t}})} for t in ("a", "ab", "abc")]
    assert JournalRequest.of({**base, "frames": cumulative}).said == "abc"
    deltas = [{"data": json.dumps({"choices": [{"delta": {"content": t}}]})} for t in ("a", "b", "a")]
    deltas.append({"data": "[DONE]"})
    assert JournalRequest.of({**base, "frames": deltas}).said == "aba"
    assert JournalRequest.of({**base, "answer_body": {"data": []}}).said is None
