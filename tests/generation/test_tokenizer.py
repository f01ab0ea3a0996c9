"""``POST /api/v1/tokenizer``: the same counts as generation usage and the dataset checks."""

from __future__ import annotations

import time

import httpx
import pytest
from hypothesis import given, settings
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


@settings(max_examples=10, deadline=None)
@given(unit=st.text(alphabet=st.sampled_from("ab c,.中文世界😀\n"), min_size=2, max_size=6))
def test_mixed_scripts_tokenize_in_linear_time(unit: str) -> None:
    """Issue 24: merging short tails deleted from the middle of the list, one at a time: 300,000 mixed characters
    took ~4 s (quadratic); one pass now."""
    text = unit * (200_000 // len(unit))
    started = time.perf_counter()
    pieces = tokenize(text)
    assert time.perf_counter() - started < 2.0
    assert len(pieces) == count_tokens(text) and sum(map(len, pieces)) == len(text)


@pytest.mark.anyio
async def test_tokenizer_input_is_bounded_in_bytes_before_tokenizing(client: httpx.AsyncClient) -> None:
    """qwen-long's 10M-token window let a whole 16 MiB body in; the input is capped in UTF-8 bytes first."""
    from emulator.generation.tokenizer import MAX_INPUT_BYTES

    over = "中" * (MAX_INPUT_BYTES // 3 + 1)
    started = time.perf_counter()
    refused = await client.post(PATH, json={"model": "qwen-long", "input": {"prompt": over}})
    assert refused.status_code == 400 and "bytes" in refused.json()["message"], refused.text
    assert time.perf_counter() - started < 2.0
    fits = await client.post(PATH, json={"model": "qwen-long", "input": {"prompt": "a中" * 100_000}})
    assert fits.status_code == 200 and fits.json()["usage"]["input_tokens"] == count_tokens("a中" * 100_000)
