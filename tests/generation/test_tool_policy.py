"""The tool policy in-process: auto calls what the message relates to, with arguments from the message; after tool
results the answer quotes them; required, none, parallel calls; the switch that turns it off."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AppFactory, client_for
from tests.deployments.flows import GENERATION

pytestmark = pytest.mark.anyio

CHAT = "/compatible-mode/v1/chat/completions"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Current weather conditions in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
STOCK = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "description": "Latest share price of a company",
        "parameters": {
            "type": "object",
            "properties": {"ticker": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 30}},
            "required": ["ticker"],
        },
    },
}


def chat(text: str, tools: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": text}], "tools": tools, **extra}


def calls(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    return [
        {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
        for c in message.get("tool_calls") or []
    ]


async def test_auto_calls_the_related_tool_with_arguments_from_the_message(client: httpx.AsyncClient) -> None:
    answer = await client.post(CHAT, json=chat("What's the weather in Hangzhou, in fahrenheit?", [STOCK, WEATHER]))
    assert calls(answer) == [
        {"name": "get_current_weather", "arguments": {"location": "Hangzhou", "unit": "fahrenheit"}}
    ]
    assert answer.json()["choices"][0]["finish_reason"] == "tool_calls"
    stock = calls(await client.post(CHAT, json=chat("Share price of 'BABA' over 7 days", [WEATHER, STOCK])))
    assert stock == [{"name": "get_stock_price", "arguments": {"ticker": "BABA", "days": 7}}]


async def test_auto_answers_prose_when_nothing_relates(client: httpx.AsyncClient) -> None:
    answer = await client.post(CHAT, json=chat("Write a haiku about autumn leaves", [WEATHER, STOCK]))
    assert calls(answer) == [] and answer.json()["choices"][0]["message"]["content"]


async def test_parallel_calls_when_allowed(client: httpx.AsyncClient) -> None:
    text = "Weather in Hangzhou and the share price of 'BABA'"
    one = calls(await client.post(CHAT, json=chat(text, [WEATHER, STOCK])))
    assert [c["name"] for c in one] == ["get_stock_price"]  # "share price": 3 points, "weather": 2
    both = calls(await client.post(CHAT, json=chat(text, [WEATHER, STOCK], parallel_tool_calls=True)))
    assert sorted(c["name"] for c in both) == ["get_current_weather", "get_stock_price"]


async def test_required_and_none(client: httpx.AsyncClient) -> None:
    required = calls(await client.post(CHAT, json=chat("share price please", [WEATHER, STOCK], tool_choice="required")))
    assert [c["name"] for c in required] == ["get_stock_price"]
    unrelated = calls(await client.post(CHAT, json=chat("hello there", [WEATHER, STOCK], tool_choice="required")))
    assert [c["name"] for c in unrelated] == ["get_current_weather"]
    assert calls(await client.post(CHAT, json=chat("Weather in Hangzhou", [WEATHER], tool_choice="none"))) == []


async def test_after_tool_results_the_answer_uses_them(client: httpx.AsyncClient) -> None:
    first = (await client.post(CHAT, json=chat("Weather in Hangzhou?", [WEATHER]))).json()["choices"][0]["message"]
    messages = [
        {"role": "user", "content": "Weather in Hangzhou?"},
        first,
        {"role": "tool", "tool_call_id": first["tool_calls"][0]["id"], "content": "24 degrees and sunny"},
    ]
    for stream in (False, True):
        body = {"model": "qwen-plus", "messages": messages, "tools": [WEATHER], "stream": stream}
        response = await client.post(CHAT, json=body)
        if stream:
            text = "".join(
                json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
                for line in response.text.splitlines()
                if line.startswith("data: {") and json.loads(line[6:])["choices"]
            )
        else:
            text = response.json()["choices"][0]["message"]["content"]
        assert "24 degrees and sunny" in text and "get_current_weather" in text


async def test_native_protocol_too(client: httpx.AsyncClient) -> None:
    body = {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "What is the weather in Beijing?"}]},
        "parameters": {"result_format": "message", "tools": [WEATHER]},
    }
    message = (await client.post(GENERATION, json=body)).json()["output"]["choices"][0]["message"]
    assert message["tool_calls"][0]["function"]["name"] == "get_current_weather"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"])["location"] == "Beijing"


async def test_the_switch_turns_the_policy_off(app_factory: AppFactory) -> None:
    app = await app_factory(tool_policy=False)
    async with client_for(app) as client:
        assert calls(await client.post(CHAT, json=chat("Weather in Hangzhou", [WEATHER]))) == []
        forced = chat("hello", [STOCK, WEATHER], tool_choice="required")
        assert [c["name"] for c in calls(await client.post(CHAT, json=forced))] == ["get_stock_price"]


@given(text=st.text(max_size=200), choice=st.sampled_from(["auto", "required", None]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_message_gets_valid_arguments(client: httpx.AsyncClient, text: str, choice: str | None) -> None:
    body = chat(text or "x", [WEATHER, STOCK], parallel_tool_calls=True)
    if choice is not None:
        body["tool_choice"] = choice
    for call in calls(await client.post(CHAT, json=body)):
        schema = (WEATHER if call["name"] == "get_current_weather" else STOCK)["function"]["parameters"]
        jsonschema.validate(call["arguments"], schema)
