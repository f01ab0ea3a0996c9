"""Structured output in-process: response_format json_object / json_schema, native and compatible, plain and
streamed, the service's 400s, the bound on schemas, rules still winning."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.generation.structured import MAX_SCHEMA_NODES, NEEDS_JSON_WORD, NOT_WITH_THINKING
from emulator.synth.toolargs import SchemaTooComplex, json_instance
from tests.deployments.flows import GENERATION, finetuned_model, running, training_pairs

pytestmark = pytest.mark.anyio

CHAT = "/compatible-mode/v1/chat/completions"
SSE = {"X-DashScope-SSE": "enable"}
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature": {"type": "number", "minimum": -50, "maximum": 60},
        "conditions": {"type": "array", "items": {"enum": ["sunny", "rainy", "windy"]}, "minItems": 1},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["city", "temperature", "conditions"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "weather", "strict": True, "schema": SCHEMA}}


def chat(messages: Any, response_format: dict[str, Any], **extra: Any) -> dict[str, Any]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return {"model": "qwen-plus", "messages": messages, "response_format": response_format, **extra}


def deltas(response: httpx.Response) -> str:
    text = ""
    for line in response.text.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                text += choice["delta"].get("content") or ""
    return text


async def test_json_object_answers_a_json_object(client: httpx.AsyncClient) -> None:
    response = await client.post(CHAT, json=chat("Weather in Hangzhou, as JSON please", {"type": "json_object"}))
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert isinstance(json.loads(choice["message"]["content"]), dict) and choice["finish_reason"] == "stop"
    streamed = await client.post(
        CHAT, json=chat("Weather in Hangzhou, as JSON please", {"type": "json_object"}, stream=True)
    )
    assert deltas(streamed) == choice["message"]["content"]


async def test_json_object_follows_a_schema_the_messages_carry(client: httpx.AsyncClient) -> None:
    """What instructor's and LangChain's JSON modes send: the schema in a system message."""
    system = f"Answer in json that matches this json_schema:\n\n{json.dumps(SCHEMA)}\n\nReturn an instance."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Hangzhou is sunny at 24 degrees"}]
    content = (await client.post(CHAT, json=chat(messages, {"type": "json_object"}))).json()["choices"][0]["message"]
    jsonschema.validate(json.loads(content["content"]), SCHEMA)


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_answers_an_instance(client: httpx.AsyncClient, stream: bool) -> None:
    response = await client.post(CHAT, json=chat("Weather in Hangzhou", JSON_SCHEMA, stream=stream))
    assert response.status_code == 200, response.text
    text = deltas(response) if stream else response.json()["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(text), SCHEMA)


async def test_native_json_schema_plain_and_streamed(client: httpx.AsyncClient) -> None:
    body = {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "Weather in Hangzhou"}]},
        "parameters": {"result_format": "message", "response_format": JSON_SCHEMA},
    }
    plain = (await client.post(GENERATION, json=body)).json()["output"]["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(plain), SCHEMA)
    body["parameters"]["incremental_output"] = True
    chunks = [
        json.loads(line[5:])
        for line in (await client.post(GENERATION, json=body, headers=SSE)).text.splitlines()
        if line.startswith("data:")
    ]
    assert "".join(c["output"]["choices"][0]["message"]["content"] for c in chunks) == plain


async def test_a_deployed_fine_tune_answers_json_as_its_base_does(client: httpx.AsyncClient) -> None:
    """qwen-turbo takes json_object, not json_schema: so does a fine-tune of it; its JSON wraps its own answer."""
    name = await running(client, (await finetuned_model(client))["finetuned_output"])
    question, answer = training_pairs()[0]
    body = chat(f"{question} (reply in JSON)", {"type": "json_object"})
    content = (await client.post(CHAT, json={**body, "model": name})).json()["choices"][0]["message"]["content"]
    assert json.loads(content) == {"answer": answer}, "the fine-tune's remembered answer, as JSON"
    refused = await client.post(CHAT, json={**chat(question, JSON_SCHEMA), "model": name})
    assert refused.status_code == 400 and "json_schema" in refused.json()["error"]["message"]


async def test_the_service_400s(client: httpx.AsyncClient) -> None:
    no_word = await client.post(CHAT, json=chat("Weather in Hangzhou", {"type": "json_object"}))
    assert no_word.status_code == 400 and no_word.json()["error"]["message"] == NEEDS_JSON_WORD
    assert no_word.json()["error"]["code"] == "invalid_parameter_error" and no_word.json()["error"]["param"] is None
    native = {
        "model": "qwen-max",
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "parameters": {"response_format": {"type": "json_object"}},
    }
    refused = await client.post(GENERATION, json=native)
    assert refused.status_code == 400 and refused.json()["message"] == NEEDS_JSON_WORD
    thinking = await client.post(CHAT, json=chat("json please", {"type": "json_object"}, enable_thinking=True))
    assert thinking.status_code == 400 and thinking.json()["error"]["message"] == NOT_WITH_THINKING
    unsupported = await client.post(CHAT, json={**chat("Weather", JSON_SCHEMA), "model": "qwen-max"})
    assert unsupported.status_code == 400
    assert "The response_format type from user is json_schema." in unsupported.json()["error"]["message"]
    unknown = await client.post(CHAT, json=chat("json", {"type": "yaml"}))
    assert unknown.status_code == 400 and "Unknown format of response_format" in unknown.json()["error"]["message"]


async def test_a_rule_still_wins(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/responses", json={"contains": "Hangzhou", "content": "not json at all"})
    answer = (await client.post(CHAT, json=chat("Weather in Hangzhou", JSON_SCHEMA))).json()
    assert answer["choices"][0]["message"]["content"] == "not json at all"


async def test_the_same_request_gives_the_same_json(client: httpx.AsyncClient) -> None:
    first = (await client.post(CHAT, json=chat("Weather in Hangzhou", JSON_SCHEMA, seed=3))).json()
    again = (await client.post(CHAT, json=chat("Weather in Hangzhou", JSON_SCHEMA, seed=3))).json()
    assert first["choices"][0]["message"] == again["choices"][0]["message"]


def _wide(properties: int, depth: int = 1) -> dict[str, Any]:
    inner: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        inner = {"type": "object", "properties": {f"p{i}": inner for i in range(properties)}}
    return inner


async def test_schemas_are_bounded(client: httpx.AsyncClient) -> None:
    huge = {"type": "json_schema", "json_schema": {"name": "x", "schema": _wide(MAX_SCHEMA_NODES)}}
    refused = await client.post(CHAT, json=chat("x", huge))
    assert refused.status_code == 400 and "too large" in refused.json()["error"]["message"]
    # accepted schemas answer well within 50 ms of work; a fan-out past the budget is refused, not cut short
    for schema in (_wide(30, 2), _wide(9, 3), _wide(50)):
        assert min(_timed(schema) for _ in range(3)) < 0.05
    fanout = {
        "$defs": {"n": _wide(8, 2)},
        "type": "object",
        "properties": {f"r{i}": {"$ref": "#/$defs/n"} for i in range(300)},
        "required": [f"r{i}" for i in range(300)],
    }
    assert min(_timed(fanout) for _ in range(3)) < 0.05
    too_much = await client.post(CHAT, json=chat("x", {"type": "json_schema", "json_schema": {"schema": fanout}}))
    assert too_much.status_code == 400 and "too complex" in too_much.json()["error"]["message"]


def _timed(schema: dict[str, Any]) -> float:
    started = time.perf_counter()
    try:
        json_instance(schema, 1)
    except SchemaTooComplex:
        pass
    return time.perf_counter() - started


@given(
    schema=st.recursive(
        st.sampled_from(
            [{"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "boolean"}, {"enum": ["a", "b"]}]
        ),
        lambda inner: (
            st.builds(
                lambda props: {"type": "object", "properties": props, "required": list(props)},
                st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), inner, max_size=4),
            )
            | st.builds(lambda items: {"type": "array", "items": items}, inner)
        ),
        max_leaves=12,
    )
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_object_schema_gets_a_valid_instance(client: httpx.AsyncClient, schema: dict[str, Any]) -> None:
    root = (
        schema if schema.get("type") == "object" else {"type": "object", "properties": {"v": schema}, "required": ["v"]}
    )
    fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": root}}
    for stream in (False, True):
        response = await client.post(CHAT, json=chat("Give me data", fmt, stream=stream))
        text = deltas(response) if stream else response.json()["choices"][0]["message"]["content"]
        jsonschema.validate(json.loads(text), root)
