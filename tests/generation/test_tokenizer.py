"""``POST /api/v1/tokenizer``: the same counts as generation usage and the dataset checks."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.generation.tokenizer import VOCABULARY, tokenize
from emulator.synth.tokens import count_tokens

PATH = "/api/v1/tokenizer"


@given(st.text(alphabet=st.sampled_from("ab c,.中文世界😀\n"), max_size=40) | st.text(max_size=40))
def test_pieces_are_the_text_and_as_many_as_counted(text: str) -> None:
    pieces = tokenize(text)
    assert "".join(pieces) == text and len(pieces) == count_tokens(text) and all(pieces)


@pytest.mark.anyio
async def test_tokenizer_answer(client: httpx.AsyncClient) -> None:
    body = {"model": "qwen-max", "input": {"messages": [{"role": "user", "content": "代码改变世界"}]}}
    data = (await client.post(PATH, json=body)).json()
    assert data["output"]["tokens"] == ["代", "码", "改", "变", "世", "界"]
    assert data["usage"] == {"input_tokens": 6}
    assert all(0 <= i < VOCABULARY for i in data["output"]["token_ids"])
    again = (await client.post(PATH, json={"model": "qwen-plus", "input": {"prompt": "代码改变世界"}})).json()
    assert again["output"] == data["output"]


@pytest.mark.anyio
async def test_tokenizer_errors(client: httpx.AsyncClient) -> None:
    unknown = await client.post(PATH, json={"model": "nope", "input": {"prompt": "hi"}})
    assert unknown.status_code == 400 and unknown.json()["message"] == "Model not exist."
    assert (await client.post(PATH, json={"model": "qwen-max", "input": {}})).json()["code"] == "BadRequest.EmptyInput"
    assert (await client.post(PATH, json={"input": {"prompt": "x"}})).json()["code"] == "BadRequest.EmptyModel"
    huge = await client.post(PATH, json={"model": "qwen-max", "input": {"prompt": "x" * 200_000}})
    assert huge.status_code == 400 and "Range of input length" in huge.json()["message"]
