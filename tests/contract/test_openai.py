"""The ``openai`` package, unmodified, against ``/compatible-mode/v1`` of a live server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from emulator.testing import EmulatorServer

KEY = "sk-contract-openai"
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "你好，请介绍一下杭州。"},
]


@pytest.fixture
def client(live_server: EmulatorServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=KEY, base_url=f"{live_server.url}/compatible-mode/v1", max_retries=0) as c:
        yield c


def test_chat_plain_and_streaming(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="qwen-plus", messages=MESSAGES, seed=5)
    content = plain.choices[0].message.content
    assert content and plain.choices[0].finish_reason == "stop" and plain.object == "chat.completion"
    assert (
        plain.usage is not None
        and plain.usage.total_tokens == plain.usage.prompt_tokens + plain.usage.completion_tokens
    )
    stream = client.chat.completions.create(
        model="qwen-plus", messages=MESSAGES, seed=5, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert len(chunks) > 3 and {c.id for c in chunks} == {chunks[0].id}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == content
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens


def test_errors_become_the_openai_exceptions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="qwen-plus", messages=MESSAGES, temperature=5)
    assert bad.value.code == "invalid_parameter_error" and "temperature" in bad.value.message
    with (
        openai.OpenAI(api_key="bad key", base_url=str(client.base_url), max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.models.list()


@pytest.mark.usefixtures("slow_clock")  # at the session's fast clock PENDING may be over before the control call
def test_a_deployment_is_listed_and_callable(client: openai.OpenAI, live_server: EmulatorServer) -> None:
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {KEY}"}) as native:
        created = native.post("/api/v1/deployments", json={"model_name": "qwen-turbo", "suffix": "oa"})
        name = created.json()["output"]["deployed_model"]
        for status in ("DEPLOYING", "RUNNING"):
            live_server.control("POST", f"/_emulator/deployments/{name}/status", {"status": status})
    assert name in [m.id for m in client.models.list()]
    assert client.models.retrieve(name).owned_by == "user"
    answer = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "你是谁?"}])
    assert name in (answer.choices[0].message.content or "")
