"""Logprobs in both protocols, plain and streamed: one entry per token of the answer (the tokenizer's pieces, as
many as the usage counts), the real top_logprobs range, and the usage fields real answers carry."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emulator.synth.tokens import count_tokens
from tests.deployments.flows import GENERATION

pytestmark = pytest.mark.anyio

CHAT = "/compatible-mode/v1/chat/completions"
SSE = {"X-DashScope-SSE": "enable"}


def check_entries(entries: list[dict[str, Any]], text: str, top: int) -> None:
    assert "".join(e["token"] for e in entries) == text and len(entries) == count_tokens(text)
    for e in entries:
        assert e["bytes"] == list(e["token"].encode()) and e["logprob"] <= 0
        assert len(e["top_logprobs"]) <= top and (not top or e["top_logprobs"][0]["token"] == e["token"])
        ranked = [t["logprob"] for t in e["top_logprobs"]]
        assert ranked == sorted(ranked, reverse=True)


@pytest.mark.parametrize("top", [0, 3, 5])
async def test_compatible_plain_and_streamed(client: httpx.AsyncClient, top: int) -> None:
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "Tell me about tides"}], "logprobs": True}
    body["top_logprobs"] = top
    choice = (await client.post(CHAT, json=body)).json()["choices"][0]
    text = choice["message"]["content"]
    check_entries(choice["logprobs"]["content"], text, top)
    streamed = await client.post(CHAT, json={**body, "stream": True})
    entries: list[dict[str, Any]] = []
    for line in streamed.text.splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line[6:])["choices"][0]
            if chunk.get("logprobs"):
                entries += chunk["logprobs"]["content"]
    assert entries == choice["logprobs"]["content"]


async def test_native_plain_and_streamed(client: httpx.AsyncClient) -> None:
    parameters = {"result_format": "message", "logprobs": True, "top_logprobs": 2}
    body = {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "你好"}]},
        "parameters": parameters,
    }
    choice = (await client.post(GENERATION, json=body)).json()["output"]["choices"][0]
    check_entries(choice["logprobs"]["content"], choice["message"]["content"], 2)
    body["parameters"] = {**parameters, "incremental_output": True}
    chunks = [
        json.loads(line[5:])
        for line in (await client.post(GENERATION, json=body, headers=SSE)).text.splitlines()
        if line.startswith("data:")
    ]
    streamed = [e for c in chunks for e in c["output"]["choices"][0]["logprobs"]["content"]]
    assert streamed == choice["logprobs"]["content"]


async def test_the_top_logprobs_range(client: httpx.AsyncClient) -> None:
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "logprobs": True, "top_logprobs": 6}
    refused = await client.post(CHAT, json=body)
    assert refused.status_code == 400 and "Range of top_logprobs should be [0, 5]" in refused.json()["error"]["message"]
    plain = (await client.post(CHAT, json={**body, "logprobs": False, "top_logprobs": 1})).json()
    assert plain["choices"][0]["logprobs"] is None


async def test_usage_carries_cached_tokens_and_tool_streams_their_index(client: httpx.AsyncClient) -> None:
    chat = (
        await client.post(CHAT, json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]})
    ).json()
    assert chat["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    native = {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "What is the weather in Paris?"}]},
    }
    assert (await client.post(GENERATION, json=native)).json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 0}
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    native["parameters"] = {"tools": [weather], "result_format": "message", "incremental_output": True}
    lines = (await client.post(GENERATION, json=native, headers=SSE)).text.splitlines()
    chunks = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert chunks and all(c["output"]["choices"][0]["index"] == 0 for c in chunks)
