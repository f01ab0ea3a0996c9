"""Native, multimodal and compatible embeddings, and rerank, in-process: shapes, limits, meaning."""

from __future__ import annotations

import base64
import math
import struct

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.synth import vectors
from tests.conftest import assert_error

TEXT = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTI = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
COMPAT = "/compatible-mode/v1/embeddings"
RERANK = "/api/v1/services/rerank/text-rerank/text-rerank"
COMPAT_RERANK = "/compatible-api/v1/reranks"


def norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


async def embed(client: httpx.AsyncClient, texts: list[str], **params: object) -> list[list[float]]:
    body = {"model": params.pop("model", "text-embedding-v4"), "input": {"texts": texts}, "parameters": params}
    response = await client.post(TEXT, json=body)
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["output"]["embeddings"]]


@pytest.mark.anyio
async def test_native_answer_shape_and_meaning(client: httpx.AsyncClient) -> None:
    texts = [
        "the cat sat on the mat",
        "a cat sat on a mat",
        "quantum chromodynamics lecture notes",
        "the cat sat on the mat",
    ]
    response = await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": texts}})
    data = response.json()
    assert list(data) == ["output", "usage", "request_id"]
    assert data["request_id"] == response.headers["x-request-id"]
    items = data["output"]["embeddings"]
    assert [i["text_index"] for i in items] == [0, 1, 2, 3]
    vecs = [i["embedding"] for i in items]
    assert all(len(v) == 1024 and abs(norm(v) - 1) < 1e-4 for v in vecs)
    assert vecs[0] == vecs[3]
    assert cos(vecs[0], vecs[1]) > 0.5 > 0.15 > cos(vecs[0], vecs[2])
    assert data["usage"]["total_tokens"] > 0


@pytest.mark.anyio
async def test_dimensions_models_and_output_types(client: httpx.AsyncClient) -> None:
    assert len((await embed(client, ["hi"], dimension=64))[0]) == 64
    assert len((await embed(client, ["hi"], dimension=2048))[0]) == 2048
    assert len((await embed(client, ["hi"], model="text-embedding-v2", dimension=64))[0]) == 1536  # ignored
    bad = await client.post(
        TEXT, json={"model": "text-embedding-v3", "input": {"texts": ["x"]}, "parameters": {"dimension": 2048}}
    )
    assert "dimension is invalid" in assert_error(bad, 400, "InvalidParameter")["message"]
    v2, v4 = await embed(client, ["hello"], model="text-embedding-v2"), await embed(client, ["hello"], dimension=1536)
    assert v2 != v4  # another model, another space
    body = {
        "model": "text-embedding-v3",
        "input": {"texts": ["Apple apple pie"]},
        "parameters": {"output_type": "sparse"},
    }
    item = (await client.post(TEXT, json=body)).json()["output"]["embeddings"][0]
    assert "embedding" not in item and {e["token"] for e in item["sparse_embedding"]} == {"apple", "pie"}
    body["parameters"] = {"output_type": "dense&sparse", "text_type": "query"}
    item = (await client.post(TEXT, json=body)).json()["output"]["embeddings"][0]
    assert len(item["embedding"]) == 1024 and item["sparse_embedding"]


@pytest.mark.anyio
async def test_native_limits(client: httpx.AsyncClient) -> None:
    many = await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": ["x"] * 11}})
    assert assert_error(many, 400, "InvalidParameter")["message"] == (
        "Value error, batch size is invalid, it should not be larger than 10.: input.contents"
    )
    v1 = await client.post(TEXT, json={"model": "text-embedding-v1", "input": {"texts": ["x"] * 26}})
    assert assert_error(v1, 400, "InvalidParameter")["message"].endswith("larger than 25.: payload.input.contents")
    assert (
        await client.post(TEXT, json={"model": "text-embedding-v1", "input": {"texts": ["x"] * 25}})
    ).status_code == 200
    empty = await client.post(TEXT, json={"model": "text-embedding-v4", "input": {"texts": []}})
    assert "smaller than 1" in assert_error(empty, 400, "InvalidParameter")["message"]
    long = await client.post(TEXT, json={"model": "text-embedding-v2", "input": {"texts": ["word " * 3000]}})
    assert assert_error(long, 400, "InvalidParameter")["message"] == "Range of input length should be [1, 2048]"
    assert_error(await client.post(TEXT, json={"model": "nope", "input": {"texts": ["x"]}}), 400, "InvalidParameter")
    assert_error(await client.post(TEXT, json={"input": {"texts": ["x"]}}), 400, "BadRequest.EmptyModel")
    assert_error(await client.post(TEXT, json={"model": "text-embedding-v4"}), 400, "BadRequest.EmptyInput")
    wrong = await client.post(TEXT, json={"model": "qwen3-vl-embedding", "input": {"texts": ["x"]}})
    assert assert_error(wrong, 400, "InvalidParameter")["message"] == "url error, please check url！"
    sync_async = await client.post(TEXT, json={"model": "text-embedding-async-v2", "input": {"texts": ["x"]}})
    assert_error(sync_async, 403, "AccessDenied")


@pytest.mark.anyio
async def test_multimodal(client: httpx.AsyncClient) -> None:
    contents = [
        {"text": "a red cat"},
        {"image": "https://example.com/red-cat.png"},
        {"image": "https://x.org/ship.jpg"},
    ]
    body = {"model": "tongyi-embedding-vision-plus", "input": {"contents": contents}}
    data = (await client.post(MULTI, json=body)).json()
    items = data["output"]["embeddings"]
    assert [(i["index"], i["type"]) for i in items] == [(0, "text"), (1, "image"), (2, "image")]
    assert all(len(i["embedding"]) == 1152 for i in items)
    assert cos(items[0]["embedding"], items[1]["embedding"]) > cos(items[0]["embedding"], items[2]["embedding"])
    assert data["usage"] == {"input_tokens": 3, "image_count": 2, "duration": 0}
    fused = (await client.post(MULTI, json={**body, "model": "multimodal-embedding-one-peace-v1"})).json()
    assert len(fused["output"]["embedding"]) == 1536
    wrong = await client.post(MULTI, json={"model": "text-embedding-v4", "input": {"contents": contents}})
    assert assert_error(wrong, 400, "InvalidParameter")["message"] == "url error, please check url！"
    local = await client.post(
        MULTI, json={"model": "multimodal-embedding-v1", "input": {"contents": [{"image": "/etc/x"}]}}
    )
    assert_error(local, 400, "InvalidParameter")


@pytest.mark.anyio
async def test_compatible(client: httpx.AsyncClient) -> None:
    response = await client.post(
        COMPAT,
        json={
            "model": "text-embedding-v4",
            "input": ["hello world", "hi"],
            "dimensions": 256,
            "encoding_format": "float",
        },
    )
    data = response.json()
    assert list(data) == ["data", "model", "object", "usage", "id"] and data["id"] == response.headers["x-request-id"]
    assert [d["index"] for d in data["data"]] == [0, 1] and len(data["data"][0]["embedding"]) == 256
    assert data["usage"]["prompt_tokens"] == data["usage"]["total_tokens"] > 0
    b64 = (
        await client.post(
            COMPAT,
            json={"model": "text-embedding-v4", "input": "hello world", "dimensions": 256, "encoding_format": "base64"},
        )
    ).json()
    raw = base64.b64decode(b64["data"][0]["embedding"])
    decoded = list(struct.unpack("<256f", raw))
    assert max(abs(a - b) for a, b in zip(decoded, data["data"][0]["embedding"], strict=True)) < 1e-6
    many = await client.post(COMPAT, json={"model": "text-embedding-v4", "input": ["x"] * 11})
    assert many.status_code == 400
    assert many.json() == {
        "error": {
            "message": "<400> InternalError.Algo.InvalidParameter: Value error, batch size is invalid, it should not "
            "be larger than 10.: input.contents",
            "type": "InvalidParameter",
            "param": None,
            "code": "InvalidParameter",
        },
        "id": many.headers["x-request-id"],
        "request_id": many.headers["x-request-id"],
    }
    unknown = await client.post(COMPAT, json={"model": "nope", "input": "x"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"


@pytest.mark.anyio
async def test_rerank_native_and_compatible(client: httpx.AsyncClient) -> None:
    docs = [
        "Paris is the capital of France",
        "A rerank model sorts documents by relevance to a query",
        "Bananas are yellow",
        "What is a rerank model? It scores documents",
    ]
    body = {
        "model": "gte-rerank-v2",
        "input": {"query": "what is a rerank model", "documents": docs},
        "parameters": {"top_n": 3, "return_documents": True},
    }
    data = (await client.post(RERANK, json=body)).json()
    results = data["output"]["results"]
    assert [r["index"] for r in results] == [3, 1, 0]  # shared words: 4, 3, then "is" alone
    assert len(results) == 3 and results[0]["document"] == {"text": docs[3]}
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert data["usage"]["total_tokens"] > 0
    plain = (await client.post(RERANK, json={**body, "parameters": {}})).json()["output"]["results"]
    assert len(plain) == 4 and "document" not in plain[0]
    compat = await client.post(
        COMPAT_RERANK, json={"model": "qwen3-rerank", "query": "what is a rerank model", "documents": docs, "top_n": 2}
    )
    answer = compat.json()
    assert answer["object"] == "list" and answer["id"] == compat.headers["x-request-id"] and len(answer["results"]) == 2
    assert [r["index"] for r in answer["results"]] == [r["index"] for r in results[:2]]
    other = await client.post(COMPAT_RERANK, json={"model": "gte-rerank-v2", "query": "q", "documents": ["d"]})
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    zero = await client.post(RERANK, json={**body, "parameters": {"top_n": 0}})
    assert (
        assert_error(zero, 400, "InvalidParameter")["message"] == "Value error, top_n should be >= 1.: parameters.top_n"
    )
    too_many = await client.post(
        RERANK, json={"model": "gte-rerank-v2", "input": {"query": "q", "documents": ["d"] * 501}}
    )
    assert "not be larger than 500" in assert_error(too_many, 400, "InvalidParameter")["message"]
    empty = await client.post(RERANK, json={"model": "gte-rerank-v2", "input": {"query": "q", "documents": []}})
    assert_error(empty, 400, "BadRequest.EmptyInput")
    no_key = await httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)).post(
        COMPAT_RERANK, json={}
    )
    assert no_key.status_code == 401 and "error" in no_key.json()


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.sampled_from([64, 256, 1024, 1536]))
def test_vectors_are_unit_and_stable(text: str, dim: int) -> None:
    vec = vectors.embed(text, dim, "v4")
    assert len(vec) == dim and abs(math.sqrt(sum(q * q for q in vec)) / 1e5 - 1) < 1e-4
    assert vectors.embed_json(text, dim, "v4") == vectors.render(vec)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["model", "input", "parameters"]),
        st.none()
        | st.integers()
        | st.text(max_size=5)
        | st.lists(st.text(max_size=3), max_size=12)
        | st.dictionaries(
            st.sampled_from(["texts", "dimension", "output_type", "text_type", "contents"]),
            st.none() | st.integers() | st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=12),
            max_size=3,
        ),
        max_size=3,
    )
)
def test_bad_bodies_are_4xx(body: dict[str, object]) -> None:
    from emulator.embeddings import service
    from emulator.errors import ApiError

    for check in (service.text_job, service.multimodal_job, lambda b: service.compatible_job(b)):
        try:
            check(body)
        except ApiError as exc:
            assert 400 <= exc.status < 500
