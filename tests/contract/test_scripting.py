"""Response rules and stream faults through the real clients: both dashscope SDKs and the openai package,
plain and streaming, with a tool-call round trip (the application sends the tool's result back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import Sdk

NATIVE = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "City"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location", "unit"],
}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": PARAMETERS}}
CALL = {"name": "get_weather", "arguments": {"location": "杭州", "unit": "celsius"}}
ANSWER = "杭州今天晴，气温二十二度。"


class Script:
    """Rules and faults for one caller (the rules of the shared server are scoped to this test's key)."""

    def __init__(self, server: EmulatorServer, api_key: str) -> None:
        self.server = server
        self.api_key = api_key
        self.ids: list[str] = []
        self.faults: list[str] = []

    def respond(self, **rule: Any) -> str:
        rule_id = self.server.respond(tenant=self.api_key, **rule)
        self.ids.append(rule_id)
        return rule_id

    def fault(self, path: str, **rule: Any) -> str:
        fault_id = self.server.fault(path, tenant=self.api_key, **rule)
        self.faults.append(fault_id)
        return fault_id

    def close(self) -> None:
        listed = {r["id"] for r in self.server.responses()}
        for rule_id in self.ids:
            if rule_id in listed:
                self.server.clear_responses(rule_id)
        remaining = {f["id"] for f in self.server.faults()}
        for fault_id in self.faults:
            if fault_id in remaining:
                self.server.clear_faults(fault_id)


@pytest.fixture
def script(sdk: Sdk) -> Iterator[Script]:
    s = Script(sdk.server, sdk.api_key)
    yield s
    s.close()


# --------------------------------------------------------------------------------------------- dashscope SDKs

SDK_CALL = """
from dashscope import Generation
MESSAGES = [{"role": "user", "content": "杭州天气怎么样？"}]
def call(**kw):
    return Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message", **kw)
"""


def test_sdk_scripted_text_plain_and_streaming(sdk: Sdk, script: Script) -> None:
    rule = script.respond(contains="天气", content=ANSWER)
    out = sdk.python(
        SDK_CALL
        + """
plain = call()
deltas = [c.output.choices[0].message.content for c in call(stream=True, incremental_output=True)]
text = Generation.call(model="qwen-plus", prompt="杭州天气？")
print(json.dumps({"plain": plain.output.choices[0].message.content, "status": plain.status_code,
                  "deltas": deltas, "text": text.output.text, "usage": plain.usage.output_tokens}))
"""
    )
    assert out["plain"] == ANSWER == "".join(out["deltas"]) == out["text"] and out["status"] == 200
    assert len(out["deltas"]) > 2 and out["usage"] > 0
    assert [r["hits"] for r in sdk.server.responses() if r["id"] == rule] == [3]


def test_sdk_scripted_errors_and_sequences(sdk: Sdk, script: Script) -> None:
    script.respond(
        replies=[
            {
                "error": {
                    "status": 400,
                    "code": "DataInspectionFailed",
                    "message": "Input data may contain inappropriate content.",
                }
            },
            {"error": {"status": 429, "code": "Throttling", "message": "Requests rate limit exceeded."}},
            {"content": "finally"},
        ]
    )
    out = sdk.python(
        SDK_CALL
        + """
seen = [call() for _ in range(4)]
print(json.dumps([[r.status_code, r.code, r.message if r.status_code != 200 else r.output.choices[0].message.content]
                  for r in seen]))
"""
    )
    assert out == [
        [400, "DataInspectionFailed", "Input data may contain inappropriate content."],
        [429, "Throttling", "Requests rate limit exceeded."],
        [200, "", "finally"],
        [200, "", "finally"],
    ]


def test_sdk_tool_call_round_trip(sdk: Sdk, script: Script) -> None:
    script.respond(after_tool_result=True, content=ANSWER)
    script.respond(tools="get_weather", tool_calls=[CALL])
    out = sdk.python(
        SDK_CALL
        + f"""
TOOLS = [{WEATHER!r}]
first = call(tools=TOOLS)
message = first.output.choices[0].message
streamed = list(call(tools=TOOLS, stream=True))
last = streamed[-1].output.choices[0]
call_ = dict(message.tool_calls[0])
follow = MESSAGES + [{{"role": "assistant", "content": "", "tool_calls": [call_]}},
                     {{"role": "tool", "content": "sunny, 22", "tool_call_id": call_["id"]}}]
final = Generation.call(model="qwen-plus", messages=follow, tools=TOOLS, result_format="message")
print(json.dumps({{"finish": first.output.choices[0].finish_reason, "call": call_,
                  "streamed_finish": last.finish_reason, "streamed_calls": last.message.get("tool_calls"),
                  "final": final.output.choices[0].message.content}}))
"""
    )
    assert out["finish"] == "tool_calls" == out["streamed_finish"]
    assert out["call"]["function"]["name"] == "get_weather" and out["call"]["id"].startswith("call_")
    assert json.loads(out["call"]["function"]["arguments"]) == CALL["arguments"]
    # 1.x gets the cumulative stream (the call so far in each chunk); 2.0.2 asks for deltas and merges them itself
    [streamed] = out["streamed_calls"]
    assert streamed["function"]["name"] == "get_weather" and streamed["id"].startswith("call_")
    assert json.loads(streamed["function"]["arguments"]) == CALL["arguments"]
    assert out["final"] == ANSWER


def test_sdk_stream_error_after_chunks_and_drop(sdk: Sdk, script: Script) -> None:
    script.fault(NATIVE, after_chunks=2, status=429, code="Throttling", message="Slow down.", count=1)
    script.fault(NATIVE, drop_after_chunks=1, count=1)
    out = sdk.python(
        SDK_CALL
        + """
seen = [[r.status_code, r.code] for r in call(stream=True, incremental_output=True)]
try:
    dropped = [r.status_code for r in call(stream=True, incremental_output=True)]
    error = None
except Exception as exc:
    dropped, error = None, type(exc).__name__
print(json.dumps({"seen": seen, "dropped": dropped, "error": error}))
"""
    )
    # the SDKs ignore the :HTTP_STATUS comment of an error event: they report 400 with the service's code
    assert out["seen"] == [[200, ""], [200, ""], [400, "Throttling"]]
    assert out["dropped"] is None and out["error"] == "ChunkedEncodingError", out  # requests' cut-stream error


# --------------------------------------------------------------------------------------------- openai


@pytest.fixture
def oa(live_server: EmulatorServer, request: pytest.FixtureRequest) -> Iterator[tuple[openai.OpenAI, Script]]:
    key = f"sk-contract-{request.node.name}"
    s = Script(live_server, key)
    with openai.OpenAI(api_key=key, base_url=f"{live_server.url}/compatible-mode/v1", max_retries=0) as client:
        yield client, s
    s.close()


def test_openai_scripted_text_and_error(oa: tuple[openai.OpenAI, Script]) -> None:
    client, s = oa
    s.respond(contains="filter me", error={"status": 400, "code": "DataInspectionFailed", "message": "Inappropriate."})
    s.respond(content=ANSWER, reasoning_content="先查天气。")
    plain = client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "天气？"}])
    assert plain.choices[0].message.content == ANSWER and plain.choices[0].finish_reason == "stop"
    assert plain.choices[0].message.model_extra == {"reasoning_content": "先查天气。"}
    stream = client.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "天气？"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "please filter me"}])
    assert refused.value.code == "DataInspectionFailed" and "Inappropriate." in refused.value.message


def test_openai_tool_call_round_trip_streamed(oa: tuple[openai.OpenAI, Script]) -> None:
    client, s = oa
    s.respond(after_tool_result=True, content=ANSWER)
    s.respond(tools=True, tool_calls=[CALL])
    messages: list[Any] = [{"role": "user", "content": "杭州天气怎么样？"}]
    stream = client.chat.completions.create(model="qwen-plus", messages=messages, tools=[WEATHER], stream=True)
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                slot = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = delta.id or slot["id"]
                if delta.function is not None:
                    slot["name"] += delta.function.name or ""
                    slot["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls" and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == CALL["arguments"]
    tool_call = {
        "id": calls[0]["id"],
        "type": "function",
        "function": {"name": "get_weather", "arguments": calls[0]["arguments"]},
    }
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny, 22"},
    ]
    final = client.chat.completions.create(model="qwen-plus", messages=messages, tools=[WEATHER])
    assert final.choices[0].message.content == ANSWER


def test_openai_forced_tool_choice_without_a_rule(oa: tuple[openai.OpenAI, Script]) -> None:
    client, _ = oa
    answer = client.chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls" and call
    arguments = json.loads(call[0].function.arguments)  # type: ignore[union-attr]
    jsonschema.validate(arguments, PARAMETERS)


def test_openai_stream_faults(oa: tuple[openai.OpenAI, Script]) -> None:
    client, s = oa
    s.fault(CHAT, after_chunks=2, status=429, code="Throttling", message="Slow down.", count=1)
    s.fault(CHAT, drop_after_chunks=2, count=1)
    s.fault(CHAT, first_chunk_delay_ms=300, count=1)
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    received = []
    with pytest.raises(openai.APIError) as broken:
        for chunk in client.chat.completions.create(model="qwen-plus", messages=messages, stream=True):
            received.append(chunk)
    assert len(received) == 2 and "Slow down." in broken.value.message
    received = []
    with pytest.raises((httpx.HTTPError, openai.APIError)):  # openai on httpx2 wraps it: APIConnectionError
        for chunk in client.chat.completions.create(model="qwen-plus", messages=messages, stream=True):
            received.append(chunk)
    assert len(received) == 2
    with (
        openai.OpenAI(
            api_key=client.api_key, base_url=str(client.base_url), max_retries=0, timeout=openai.Timeout(5, read=0.1)
        ) as impatient,
        pytest.raises(openai.APITimeoutError),
    ):
        list(impatient.chat.completions.create(model="qwen-plus", messages=messages, stream=True))
