"""The OpenAI-compatible chat endpoint and model list in-process: shapes, chunks, errors in OpenAI's shape."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import client_for
from tests.deployments.flows import finetuned_model, generate, running, training_pairs

pytestmark = pytest.mark.anyio

CHAT = "/compatible-mode/v1/chat/completions"
PROMPT = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Explain ocean tides."}]


async def chat(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("model", "qwen-plus")
    body.setdefault("messages", PROMPT)
    return await client.post(CHAT, json=body)


def data_lines(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.split("\n\n")
    assert blocks[-1] == "" and all(b.startswith("data: ") for b in blocks[:-1])
    assert blocks[-2] == "data: [DONE]"
    return [json.loads(b[len("data: ") :]) for b in blocks[:-2]]


def openai_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["request_id"] == response.headers["x-request-id"]
    assert body["error"]["code"] == code and body["error"]["type"] == "invalid_request_error"
    return body["error"]  # type: ignore[no-any-return]


async def test_completion_shape(client: httpx.AsyncClient) -> None:
    response = await chat(client, seed=4)
    body = response.json()
    assert body["id"] == f"chatcmpl-{response.headers['x-request-id']}"
    assert body["object"] == "chat.completion" and body["model"] == "qwen-plus" and isinstance(body["created"], int)
    assert body["system_fingerprint"] is None
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop" and choice["logprobs"] is None
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_same_text_as_the_native_endpoint(client: httpx.AsyncClient) -> None:
    compat = (await chat(client, messages=[{"role": "user", "content": "你好"}], seed=9)).json()
    native = (await generate(client, "qwen-plus", "你好", seed=9)).json()
    assert compat["choices"][0]["message"]["content"] == native["output"]["text"]
    assert compat["usage"]["prompt_tokens"] == native["usage"]["input_tokens"]


async def test_stream_chunks_then_done(client: httpx.AsyncClient) -> None:
    whole = (await chat(client)).json()
    chunks = data_lines(await chat(client, stream=True))
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and all(
        c["object"] == "chat.completion.chunk" for c in chunks
    )
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert "".join(d.get("content", "") for d in deltas) == whole["choices"][0]["message"]["content"]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes == [None] * (len(chunks) - 1) + ["stop"]
    assert all("usage" not in c for c in chunks)


async def test_stream_usage_chunk_on_request(client: httpx.AsyncClient) -> None:
    whole = (await chat(client)).json()
    chunks = data_lines(await chat(client, stream=True, stream_options={"include_usage": True}))
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]


async def test_n_choices_stream_in_turns(client: httpx.AsyncClient) -> None:
    whole = (await chat(client, n=2)).json()
    assert [c["index"] for c in whole["choices"]] == [0, 1]
    text: dict[int, str] = {0: "", 1: ""}
    for chunk in data_lines(await chat(client, n=2, stream=True)):
        [choice] = chunk["choices"]
        text[choice["index"]] += choice["delta"].get("content", "")
    assert text == {c["index"]: c["message"]["content"] for c in whole["choices"]}


async def test_max_tokens_and_max_completion_tokens(client: httpx.AsyncClient) -> None:
    for key in ("max_tokens", "max_completion_tokens"):
        body = (await chat(client, **{key: 2})).json()
        assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] <= 2


async def test_unknown_model_is_404_model_not_found(client: httpx.AsyncClient) -> None:
    error = openai_error(await chat(client, model="gpt-4o"), 404, "model_not_found")
    assert error["message"] == "The model `gpt-4o` does not exist or you do not have access to it."
    assert error["param"] == "model"


@pytest.mark.parametrize(
    "body,param",
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 9}, "n"),
        ({"frequency_penalty": 3}, "frequency_penalty"),
        ({"stream": "yes"}, "stream"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": "hi"}, "messages"),
        ({"model": None}, "model"),
    ],
)
async def test_bad_requests_in_openai_shape(client: httpx.AsyncClient, body: dict[str, Any], param: str) -> None:
    error = openai_error(await chat(client, **body), 400, "invalid_parameter_error")
    assert error["param"] == param


async def test_a_deployed_fine_tune_through_the_compatible_mode(client: httpx.AsyncClient) -> None:
    name = await running(client, (await finetuned_model(client))["finetuned_output"])
    prompt, answer = training_pairs()[1]
    body = (await chat(client, model=name, messages=[{"role": "user", "content": prompt}])).json()
    assert body["choices"][0]["message"]["content"] == answer


async def test_models_lists_the_catalog_and_this_tenants_running_deployments(app: Starlette) -> None:
    async with client_for(app) as owner, client_for(app, "sk-other") as other:
        name = await running(owner, "qwen-turbo")
        mine = (await owner.get("/compatible-mode/v1/models")).json()
        theirs = (await other.get("/compatible-mode/v1/models")).json()
        assert mine["object"] == "list"
        ids = [m["id"] for m in mine["data"]]
        assert "qwen-turbo" in ids and "qwen-max" in ids and name in ids
        assert name not in [m["id"] for m in theirs["data"]]
        card = (await owner.get(f"/compatible-mode/v1/models/{name}")).json()
        assert card == {"id": name, "object": "model", "created": card["created"], "owned_by": "user"}
        openai_error(await other.get(f"/compatible-mode/v1/models/{name}"), 404, "model_not_found")
