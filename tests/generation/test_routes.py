"""Native text generation in-process: shapes, SSE content, parameters, which models answer, determinism."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from emulator.synth.tokens import count_tokens, is_chinese
from tests.conftest import assert_error
from tests.deployments.flows import GENERATION, advance, deploy, finetuned_model, generate, running, training_pairs

pytestmark = pytest.mark.anyio

SSE = {"X-DashScope-SSE": "enable"}
EN = "How do I learn Python programming quickly?"


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """Each SSE block checked for the service's exact framing; answers the data payloads."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    blocks = response.text.split("\n\n")
    assert blocks[-1] == ""
    out = []
    for number, block in enumerate(blocks[:-1], 1):
        lines = block.split("\n")
        assert lines[:3] == [f"id:{number}", "event:result", ":HTTP_STATUS/200"] and len(lines) == 4, block
        assert lines[3].startswith("data:{")
        out.append(json.loads(lines[3][len("data:") :]))
    return out


async def test_text_format_is_the_default(client: httpx.AsyncClient) -> None:
    response = await generate(client, "qwen-turbo", EN)
    body = response.json()
    assert set(body) == {"request_id", "output", "usage"} and body["request_id"] == response.headers["x-request-id"]
    assert set(body["output"]) == {"finish_reason", "text"} and body["output"]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["output_tokens"] == count_tokens(body["output"]["text"]) > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] and usage["input_tokens"] > 0


async def test_message_format(client: httpx.AsyncClient) -> None:
    output = (await generate(client, "qwen-plus", EN, result_format="message")).json()["output"]
    assert list(output) == ["choices"] and len(output["choices"]) == 1
    choice = output["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    plain = (await generate(client, "qwen-plus", EN)).json()["output"]["text"]
    assert choice["message"]["content"] == plain


async def test_the_legacy_prompt_the_clis_send(client: httpx.AsyncClient) -> None:
    body = {"model": "qwen-turbo", "input": {"prompt": "你是谁?"}, "parameters": {}}
    response = await client.post(GENERATION, json=body)
    text = response.json()["output"]["text"]
    assert is_chinese(text) and "qwen-turbo" in text
    with_history = {
        "model": "qwen-turbo",
        "parameters": {},
        "input": {"prompt": "你是谁?", "history": [{"user": "你好", "bot": "你好！"}]},
    }
    assert (await client.post(GENERATION, json=with_history)).status_code == 200


async def test_same_request_same_text_and_the_seed_matters(client: httpx.AsyncClient) -> None:
    first = (await generate(client, "qwen-turbo", EN, seed=1)).json()["output"]["text"]
    assert (await generate(client, "qwen-turbo", EN, seed=1)).json()["output"]["text"] == first
    others = {(await generate(client, "qwen-turbo", EN, seed=s)).json()["output"]["text"] for s in range(2, 8)}
    assert len(others - {first}) >= 3
    assert (await generate(client, "qwen-max", EN, seed=1)).json()["output"]["text"] != first


async def test_the_reply_speaks_the_prompts_language(client: httpx.AsyncClient) -> None:
    assert is_chinese((await generate(client, "qwen-turbo", "请介绍一下杭州西湖的历史")).json()["output"]["text"])
    assert not is_chinese((await generate(client, "qwen-turbo", EN)).json()["output"]["text"])


async def test_max_tokens_cuts_with_length_and_stop_cuts_with_stop(client: httpx.AsyncClient) -> None:
    full = (await generate(client, "qwen-turbo", EN)).json()
    cut = (await generate(client, "qwen-turbo", EN, max_tokens=3)).json()
    assert cut["output"]["finish_reason"] == "length" and cut["usage"]["output_tokens"] <= 3
    assert full["output"]["text"].startswith(cut["output"]["text"])
    word = full["output"]["text"].split()[3]
    stopped = (await generate(client, "qwen-turbo", EN, stop=[word])).json()["output"]
    assert stopped["finish_reason"] == "stop" and word not in stopped["text"]
    assert full["output"]["text"].startswith(stopped["text"])


async def test_sse_cumulative_by_default(client: httpx.AsyncClient) -> None:
    whole = (await generate(client, "qwen-turbo", EN)).json()
    response = await generate(client, "qwen-turbo", EN, headers=SSE)
    chunks = events(response)
    assert len(chunks) > 2
    texts = [c["output"]["text"] for c in chunks]
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:], strict=False))
    assert texts[-1] == whole["output"]["text"]
    assert [c["output"]["finish_reason"] for c in chunks] == ["null"] * (len(chunks) - 1) + ["stop"]
    outputs = [c["usage"]["output_tokens"] for c in chunks]
    assert outputs == sorted(outputs) and chunks[-1]["usage"] == whole["usage"]
    assert {c["request_id"] for c in chunks} == {response.headers["x-request-id"]}


async def test_sse_incremental_message_format(client: httpx.AsyncClient) -> None:
    whole = (await generate(client, "qwen-turbo", EN, result_format="message")).json()
    response = await generate(
        client,
        "qwen-turbo",
        EN,
        headers={"Accept": "text/event-stream"},
        result_format="message",
        incremental_output=True,
    )
    chunks = events(response)
    contents = [c["output"]["choices"][0]["message"]["content"] for c in chunks]
    assert "".join(contents) == whole["output"]["choices"][0]["message"]["content"]
    assert contents[-1] == "" and all(contents[:-1])
    assert chunks[-1]["output"]["choices"][0]["finish_reason"] == "stop"
    assert all(c["output"]["choices"][0]["finish_reason"] == "null" for c in chunks[:-1])
    assert chunks[-1]["usage"] == whole["usage"]


async def test_json_unless_sse_is_asked_for(client: httpx.AsyncClient) -> None:
    response = await generate(client, "qwen-turbo", EN, headers={"X-DashScope-SSE": "disable"})
    assert response.headers["content-type"] == "application/json"


async def test_n_choices(client: httpx.AsyncClient) -> None:
    body = (await generate(client, "qwen-turbo", EN, result_format="message", n=3)).json()
    choices = body["output"]["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    single = (await generate(client, "qwen-turbo", EN, result_format="message")).json()
    assert choices[0]["message"]["content"] == single["output"]["choices"][0]["message"]["content"]
    assert len({c["message"]["content"] for c in choices}) > 1
    assert body["usage"]["output_tokens"] == sum(count_tokens(c["message"]["content"]) for c in choices)
    chunks = events(
        await generate(client, "qwen-turbo", EN, headers=SSE, result_format="message", n=2, incremental_output=True)
    )
    by_index: dict[int, str] = {}
    for chunk in chunks:
        [choice] = chunk["output"]["choices"]
        by_index[choice["index"]] = by_index.get(choice["index"], "") + choice["message"]["content"]
    assert by_index == {i: c["message"]["content"] for i, c in enumerate(choices[:2])}


async def test_unknown_parameters_are_ignored(client: httpx.AsyncClient) -> None:
    response = await generate(
        client,
        "qwen-turbo",
        EN,
        some_future_flag={"x": 1},
        enable_search=True,
        top_k=50,
        repetition_penalty=1.1,
        presence_penalty=0.5,
        tools=[{"type": "function", "function": {"name": "weather", "parameters": {}}}],
        tool_choice="none",
    )
    assert response.status_code == 200


BAD_PARAMETERS = [
    ({"temperature": 2}, "Range of temperature should be [0.0, 2.0)"),
    ({"temperature": -0.1}, "temperature"),
    ({"temperature": "0.5"}, "parameters.temperature"),
    ({"top_p": 0}, "Range of top_p should be (0.0, 1.0]"),
    ({"top_p": 1.01}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 100_000}, "Range of max_tokens should be [1, 16384]"),
    ({"max_tokens": 10.5}, "parameters.max_tokens"),
    ({"n": 5}, "Range of n should be [1, 4]"),
    ({"n": 2}, "result_format 'message'"),
    ({"seed": -1}, "Range of seed"),
    ({"seed": True}, "parameters.seed"),
    ({"top_k": -1}, "top_k"),
    ({"presence_penalty": 2.5}, "presence_penalty"),
    ({"repetition_penalty": 0}, "repetition_penalty"),
    ({"result_format": "json"}, "parameters.result_format"),
    ({"incremental_output": "yes"}, "parameters.incremental_output"),
    ({"enable_search": "true"}, "parameters.enable_search"),
    ({"stop": 5}, "parameters.stop"),
    ({"tools": [{"type": "function"}]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"response_format": {"type": "yaml"}}, "The response_format type from user is yaml."),
    ({"top_logprobs": 9}, "top_logprobs"),
]


@pytest.mark.parametrize("parameters,fragment", BAD_PARAMETERS)
async def test_parameter_validation(client: httpx.AsyncClient, parameters: dict[str, Any], fragment: str) -> None:
    error = assert_error(await generate(client, "qwen-turbo", EN, **parameters), 400, "InvalidParameter")
    assert fragment in error["message"]


@pytest.mark.parametrize(
    "body,code,fragment",
    [
        ({"input": {"prompt": "hi"}}, "BadRequest.EmptyModel", "model"),
        ({"model": "", "input": {"prompt": "hi"}}, "BadRequest.EmptyModel", "model"),
        ({"model": "qwen-turbo"}, "BadRequest.EmptyInput", "input"),
        ({"model": "qwen-turbo", "input": {}}, "BadRequest.EmptyInput", "input"),
        ({"model": "qwen-turbo", "input": {"prompt": ""}}, "BadRequest.EmptyInput", "input"),
        ({"model": "qwen-turbo", "input": {"messages": []}}, "InvalidParameter", "Content length must be"),
        ({"model": "qwen-turbo", "input": {"messages": "hi"}}, "InvalidParameter", "input.messages"),
        (
            {"model": "qwen-turbo", "input": {"messages": [{"role": "bot", "content": "x"}]}},
            "InvalidParameter",
            "input.messages[0].role must be one of",
        ),
        (
            {"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": 5}]}},
            "InvalidParameter",
            "content",
        ),
        (
            {"model": "qwen-turbo", "input": {"messages": [{"role": "user"}]}},
            "InvalidParameter",
            "input.messages[0].content is required",
        ),
        ({"model": "qwen-turbo", "input": {"prompt": "hi"}, "parameters": []}, "InvalidParameter", "parameters"),
        ({"model": 7, "input": {"prompt": "hi"}}, "InvalidParameter", "model"),
        ({"model": "gpt-4o", "input": {"prompt": "hi"}}, "InvalidParameter", "Model not exist."),
    ],
)
async def test_request_validation(client: httpx.AsyncClient, body: dict[str, Any], code: str, fragment: str) -> None:
    error = assert_error(await client.post(GENERATION, json=body), 400, code)
    assert fragment in error["message"]


async def test_input_over_the_context_window(client: httpx.AsyncClient) -> None:
    error = assert_error(await generate(client, "llama2-7b-chat-v2", "词" * 5000), 400, "InvalidParameter")
    assert error["message"] == "Range of input length should be [1, 4096]"


async def test_unknown_model_message_is_exact(client: httpx.AsyncClient) -> None:
    assert assert_error(await generate(client, "qwen-nope"), 400, "InvalidParameter")["message"] == "Model not exist."


async def test_a_fine_tuned_model_answers_only_once_its_deployment_runs(client: httpx.AsyncClient) -> None:
    model = (await finetuned_model(client))["finetuned_output"]
    assert "not deployed" in assert_error(await generate(client, model), 400, "InvalidParameter")["message"]
    await deploy(client, model)
    assert "PENDING" in assert_error(await generate(client, model), 400, "InvalidParameter")["message"]
    await advance(client, 40)
    assert "DEPLOYING" in assert_error(await generate(client, model), 400, "InvalidParameter")["message"]
    await advance(client, 60)
    assert (await generate(client, model)).status_code == 200
    await client.delete(f"/api/v1/deployments/{model}")
    assert "DELETING" in assert_error(await generate(client, model), 400, "InvalidParameter")["message"]
    await advance(client, 10)
    assert "not deployed" in assert_error(await generate(client, model), 400, "InvalidParameter")["message"]


async def test_the_fine_tuned_model_answers_in_the_style_of_its_training_data(client: httpx.AsyncClient) -> None:
    name = await running(client, (await finetuned_model(client))["finetuned_output"])
    for prompt, answer in training_pairs()[:5]:
        assert (await generate(client, name, prompt)).json()["output"]["text"] == answer
        assert (await generate(client, "qwen-turbo", prompt)).json()["output"]["text"] != answer
    streamed = events(await generate(client, name, training_pairs()[0][0], headers=SSE))
    assert streamed[-1]["output"]["text"] == training_pairs()[0][1]


async def test_a_deployed_base_model_answers_as_itself(client: httpx.AsyncClient) -> None:
    name = await running(client, "qwen-turbo", suffix="mine")
    text = (await generate(client, name, "你是谁?")).json()["output"]["text"]
    assert name in text


@pytest.mark.parametrize("model", ["qwen3.6-plus", "qwen3.5-plus", "qwen3.5-27b", "qwen-vl-max", "qwen-audio-turbo"])
async def test_models_of_other_endpoints_are_the_url_error_here(client: httpx.AsyncClient, model: str) -> None:
    """Qwen3.5/3.6, vision and audio models answer on the multimodal endpoint (and compatible mode), not here: the
    service's wrong-endpoint 400, plain and streamed (issues: qwen-vl-max via ``Generation`` 2024-2025,
    qwen3.6-plus Apr 2026; the 2026 deep-thinking page of Qwen3.5; every recording of them is multimodal)."""
    body = {"model": model, "input": {"messages": [{"role": "user", "content": EN}]}}
    refused = await client.post(GENERATION, json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["code"] == "InvalidParameter" and error["message"].startswith("url error, please check url！ ")
    assert "multimodal endpoint" in error["message"]
    streamed = await client.post(GENERATION, json=body, headers=SSE)
    assert streamed.status_code == 200 and "event:error" in streamed.text and "url error" in streamed.text
    content = [{"text": EN}]
    multimodal = {"model": model, "input": {"messages": [{"role": "user", "content": content}]}}
    if model.startswith("qwen3."):  # they think by default: streaming, or thinking off
        multimodal["parameters"] = {"enable_thinking": False}
    answered = await client.post("/api/v1/services/aigc/multimodal-generation/generation", json=multimodal)
    assert answered.status_code == 200, answered.text
    if model != "qwen-audio-turbo":  # compatible mode serves the others
        chat = {"model": model, "messages": [{"role": "user", "content": EN}], "enable_thinking": False}
        assert (await client.post("/compatible-mode/v1/chat/completions", json=chat)).status_code == 200
