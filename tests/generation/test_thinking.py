"""Thinking models (reference §5): who thinks, reasoning_content where the real service puts it, and the 400s."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emulator.catalog import thinking_mode
from emulator.errors import InvalidParameter
from emulator.generation.thinking import FORCED_TOOL_WHILE_THINKING, MAX_THINKING_BUDGET, decide_thinking
from tests.control.test_responses import native_events

TEXT = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
SSE = {"X-DashScope-SSE": "enable"}
QUESTION = [{"role": "user", "content": "为什么天空是蓝色的？"}]


def text_body(model: str = "qwen-plus", **parameters: Any) -> dict[str, Any]:
    return {"model": model, "input": {"messages": QUESTION}, "parameters": {"result_format": "message", **parameters}}


def events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]


def test_modes_by_model_name() -> None:
    assert [
        thinking_mode(m) for m in ("qwen-plus", "qwen-plus-latest", "qwen-turbo", "qwen-max", "qwen-plus-0723")
    ] == ["hybrid", "hybrid", "hybrid", "none", "none"]
    assert [thinking_mode(m) for m in ("qwq-plus", "qwen3-235b-a22b-thinking-2507", "deepseek-r1")] == ["always"] * 3
    assert [thinking_mode(m) for m in ("qwen3-32b", "qwen3-8b", "qwen3.5-plus", "qwen3-32b-instruct")] == [
        "hybrid-on",
        "hybrid-on",
        "on",
        "none",
    ]


@pytest.mark.parametrize(
    ("mode", "enable", "stream", "thinks"),
    [
        ("hybrid", None, False, False),
        ("hybrid", True, False, True),
        ("hybrid-on", None, True, True),
        ("hybrid-on", False, False, False),
        ("on", None, False, True),
        ("always", False, True, True),
        ("none", False, False, False),
    ],
)
def test_who_thinks(mode: str, enable: bool | None, stream: bool, thinks: bool) -> None:
    assert decide_thinking(mode, enable, None, stream=stream).enabled is thinks


@pytest.mark.parametrize(
    ("mode", "enable", "budget", "stream", "message"),
    [
        ("none", True, None, True, "The model does not support enable_thinking"),
        ("hybrid-on", None, None, False, "parameter.enable_thinking must be set to false for non-streaming calls"),
        ("always", None, None, False, "This model only support stream mode, please enable the stream parameter."),
        ("hybrid", True, MAX_THINKING_BUDGET + 1, True, "not greater than"),
    ],
)
def test_refusals(mode: str, enable: bool | None, budget: int | None, stream: bool, message: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        decide_thinking(mode, enable, budget, stream=stream)
    assert message in refused.value.message


@pytest.mark.anyio
async def test_native_text_reasoning_is_absent_when_off_and_in_every_chunk_when_on(client: httpx.AsyncClient) -> None:
    off = (await client.post(TEXT, json=text_body())).json()
    assert "reasoning_content" not in off["output"]["choices"][0]["message"]
    assert "output_tokens_details" not in off["usage"]
    on = (await client.post(TEXT, json=text_body(enable_thinking=True))).json()
    message = on["output"]["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"]
    assert on["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    chunks = events(await client.post(TEXT, json=text_body(enable_thinking=True, incremental_output=True), headers=SSE))
    messages = [c["output"]["choices"][0]["message"] for c in chunks]
    assert all("reasoning_content" in m for m in messages)
    first = next(i for i, m in enumerate(messages) if m["content"])
    assert "".join(m["reasoning_content"] for m in messages[:first]) == message["reasoning_content"]
    assert all(m["reasoning_content"] == "" for m in messages[first:])
    assert "".join(m["content"] for m in messages) == message["content"]
    assert messages[-1] == {"role": "assistant", "content": "", "reasoning_content": ""}


@pytest.mark.anyio
async def test_budget_and_max_tokens(client: httpx.AsyncClient) -> None:
    capped = (await client.post(TEXT, json=text_body(enable_thinking=True, thinking_budget=5))).json()
    assert capped["usage"]["output_tokens_details"]["reasoning_tokens"] <= 5
    assert capped["output"]["choices"][0]["message"]["content"]
    short = (await client.post(TEXT, json=text_body(enable_thinking=True, max_tokens=3))).json()
    choice = short["output"]["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["content"] == ""
    assert short["usage"]["output_tokens"] == short["usage"]["output_tokens_details"]["reasoning_tokens"] <= 3


@pytest.mark.anyio
async def test_native_refusals(client: httpx.AsyncClient) -> None:
    cumulative = await client.post(TEXT, json=text_body(enable_thinking=True), headers=SSE)
    # a streaming request's 400 is an SSE error frame (recorded: cnblogs parameter-error-sse)
    assert cumulative.status_code == 200 and cumulative.headers["content-type"].startswith("text/event-stream")
    assert "event:error" in cumulative.text and ":HTTP_STATUS/400" in cumulative.text
    assert "incremental_output" in cumulative.text
    unsupported = await client.post(TEXT, json=text_body("qwen-max", enable_thinking=True))
    assert unsupported.json()["code"] == "InvalidParameter.NotSupportEnableThinking"


@pytest.mark.anyio
async def test_multimodal_reasoning_streams_first_then_disappears(client: httpx.AsyncClient) -> None:
    content = [{"image": "https://cdn.example.com/a.jpg"}, {"text": "这是什么？"}]
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    plain = (await client.post(MULTIMODAL, json=payload)).json()
    assert "reasoning_content" not in plain["output"]["choices"][0]["message"]
    unsupported = await client.post(MULTIMODAL, json={**payload, "parameters": {"enable_thinking": True}})
    assert unsupported.json()["code"] == "InvalidParameter.NotSupportEnableThinking"


@pytest.mark.anyio
async def test_compatible_reasoning(client: httpx.AsyncClient) -> None:
    off = (await client.post(CHAT, json={"model": "qwen-plus", "messages": QUESTION})).json()
    assert "reasoning_content" not in off["choices"][0]["message"]
    on = (await client.post(CHAT, json={"model": "qwen-plus", "messages": QUESTION, "enable_thinking": True})).json()
    assert on["choices"][0]["message"]["reasoning_content"]
    assert on["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    stream = await client.post(
        CHAT, json={"model": "qwen-plus", "messages": QUESTION, "stream": True, "enable_thinking": True}
    )
    deltas = [
        json.loads(line[6:])["choices"][0]["delta"] for line in stream.text.splitlines() if line.startswith("data: {")
    ]
    assert deltas[0] == {"content": None, "role": "assistant", "reasoning_content": ""}
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == on["choices"][0]["message"]["reasoning_content"]
    plain_stream = await client.post(CHAT, json={"model": "qwen-plus", "messages": QUESTION, "stream": True})
    assert "reasoning_content" not in plain_stream.text


@pytest.mark.anyio
async def test_a_thinking_vision_model_streams_reasoning_then_drops_the_key(app: Any) -> None:
    """Qwen3.6 (thinks by default, served by the multimodal endpoint): reference §5.2's recorded stream."""
    from tests.conftest import client_for

    content = [{"image": "https://cdn.example.com/a.jpg"}, {"text": "这是什么？"}]
    payload = {"model": "qwen3.6-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    async with client_for(app) as client:
        plain = (await client.post(MULTIMODAL, json=payload)).json()
        message = plain["output"]["choices"][0]["message"]
        assert message["reasoning_content"] and message["content"][0]["text"]
        assert plain["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
        chunks = events(await client.post(MULTIMODAL, json=payload, headers=SSE))
        messages = [c["output"]["choices"][0]["message"] for c in chunks]
        first = next(i for i, m in enumerate(messages) if m["content"])
        assert all(m["content"] == [] and m["reasoning_content"] for m in messages[:first])
        assert all("reasoning_content" not in m for m in messages[first:])
        assert "".join(m["reasoning_content"] for m in messages[:first]) == message["reasoning_content"]
        assert (
            "".join(m["content"][0]["text"] for m in messages[first:] if m["content"]) == message["content"][0]["text"]
        )
        off = (await client.post(MULTIMODAL, json={**payload, "parameters": {"enable_thinking": False}})).json()
        assert "reasoning_content" not in off["output"]["choices"][0]["message"]
        cumulative = await client.post(
            MULTIMODAL, json={**payload, "parameters": {"incremental_output": False}}, headers=SSE
        )
        # a streaming request's 400 is an SSE error frame (recorded: cnblogs parameter-error-sse)
    assert cumulative.status_code == 200 and cumulative.headers["content-type"].startswith("text/event-stream")
    assert "event:error" in cumulative.text and ":HTTP_STATUS/400" in cumulative.text
    assert "incremental_output" in cumulative.text


TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
FORCING = ["required", {"type": "function", "function": {"name": "get_weather"}}]


@pytest.mark.anyio
@pytest.mark.parametrize("choice", FORCING)
async def test_a_thinking_call_cannot_force_a_tool(client: httpx.AsyncClient, choice: Any) -> None:
    """2026 docs: with thinking on, ``tool_choice`` "required" or a function object is a 400 (reference 2026-apps
    decision 5); the same call without thinking calls the tool, and ``auto`` with thinking answers."""
    native = text_body(enable_thinking=True, tools=[TOOL], tool_choice=choice)
    refused = await client.post(TEXT, json=native)
    assert refused.status_code == 400, refused.text
    assert refused.json() == {
        "request_id": refused.headers["x-request-id"],
        "code": "InvalidParameter",
        "message": FORCED_TOOL_WHILE_THINKING,
    }
    streamed = await client.post(
        TEXT, json={**native, "parameters": {**native["parameters"], "incremental_output": True}}, headers=SSE
    )
    assert streamed.status_code == 200 and "event:error" in streamed.text and ":HTTP_STATUS/400" in streamed.text
    assert events(streamed) == [{**refused.json(), "request_id": streamed.headers["x-request-id"]}]
    chat = {"model": "qwen-plus", "messages": QUESTION, "tools": [TOOL], "tool_choice": choice, "enable_thinking": True}
    for stream in (False, True):
        openai = await client.post(CHAT, json={**chat, "stream": stream})
        assert openai.status_code == 400, openai.text
        assert openai.json()["error"]["message"] == FORCED_TOOL_WHILE_THINKING
        assert openai.json()["error"]["code"] == "invalid_parameter_error"
    always = await client.post(CHAT, json={**chat, "model": "qwq-plus", "enable_thinking": None, "stream": True})
    assert always.status_code == 400, "a model that always thinks refuses it whatever enable_thinking says"
    flat_tool = {"type": "function", "name": "get_weather", "parameters": TOOL["function"]["parameters"]}
    flat_choice = choice if choice == "required" else {"type": "function", "name": "get_weather"}
    responses = {"model": "qwen-plus", "input": "天气", "tools": [flat_tool], "tool_choice": flat_choice}
    refused_response = await client.post("/compatible-mode/v1/responses", json={**responses, "enable_thinking": True})
    assert refused_response.status_code == 400 and refused_response.json()["message"] == FORCED_TOOL_WHILE_THINKING
    streamed_response = await client.post(
        "/compatible-mode/v1/responses", json={**responses, "enable_thinking": True, "stream": True}
    )
    [(kind, data)] = native_events(streamed_response)
    assert kind == "response.failed" and data["response"]["error"]["message"] == FORCED_TOOL_WHILE_THINKING
    # without thinking the tool is called; with thinking and tool_choice auto the call answers
    called = (await client.post(CHAT, json={**chat, "enable_thinking": False})).json()
    assert called["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    auto = await client.post(CHAT, json={**chat, "tool_choice": "auto"})
    assert auto.status_code == 200, auto.text
    assert (await client.post("/compatible-mode/v1/responses", json=responses)).status_code == 200
