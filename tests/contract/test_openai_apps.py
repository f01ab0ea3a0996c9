"""The ``openai`` package, unmodified: embeddings, Files and Batch end to end (the clock advanced through the
control plane), and rerank through ``client.post`` on ``/compatible-api/v1``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import openai
import pytest

from emulator.testing import EmulatorServer

KEY = "sk-contract-openai-apps"


@pytest.fixture
def client(live_server: EmulatorServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=KEY, base_url=f"{live_server.url}/compatible-mode/v1", max_retries=0) as c:
        yield c


def test_embeddings_base64_default_and_float(client: openai.OpenAI) -> None:
    default = client.embeddings.create(model="text-embedding-v4", input=["the cat sat", "the cat sat", "stocks"])
    vecs = [d.embedding for d in default.data]
    assert [len(v) for v in vecs] == [1024] * 3 and vecs[0] == vecs[1]
    assert abs(math.sqrt(sum(x * x for x in vecs[0])) - 1) < 1e-4
    floats = client.embeddings.create(
        model="text-embedding-v4", input="the cat sat", dimensions=1024, encoding_format="float"
    )
    assert max(abs(a - b) for a, b in zip(floats.data[0].embedding, vecs[0], strict=True)) < 1e-6
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 0 and floats.model == "text-embedding-v4"
    with pytest.raises(openai.BadRequestError) as many:
        client.embeddings.create(model="text-embedding-v4", input=["x"] * 11)
    assert "larger than 10" in many.value.message
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedding", input="x")


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert "qwen-plus" in ids and client.models.retrieve("qwen-plus").id == "qwen-plus"


@pytest.fixture
def frozen_clock(live_server: EmulatorServer) -> Iterator[None]:
    """The clock stands still for one test (a batch moves only when it is advanced), then runs fast again."""
    before = live_server.control("GET", "/_emulator/clock")["time_scale"]
    live_server.control("POST", "/_emulator/clock", {"time_scale": 0})
    try:
        yield
    finally:
        live_server.control("POST", "/_emulator/clock", {"time_scale": before})


@pytest.mark.usefixtures("frozen_clock")
def test_files_and_batch_end_to_end(client: openai.OpenAI, live_server: EmulatorServer) -> None:
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "qwen-plus", "messages": [{"role": "user", "content": f"Hello {i}"}]}}
        for i in range(3)
    ]  # fmt: skip
    payload = "\n".join(json.dumps(line) for line in lines).encode()
    uploaded = client.files.create(file=("input.jsonl", payload), purpose="batch")
    assert uploaded.id.startswith("file-batch-") and uploaded.bytes == len(payload)
    assert client.files.retrieve(uploaded.id).filename == "input.jsonl"
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
                                  metadata={"ds_name": "contract"})  # fmt: skip
    assert batch.status == "validating" and batch.request_counts is not None
    assert client.batches.retrieve(batch.id).status == "validating"
    live_server.control("POST", "/_emulator/clock/advance", {"seconds": 60})
    done = client.batches.retrieve(batch.id)
    assert done.status == "completed" and done.output_file_id and done.error_file_id is None
    assert done.request_counts is not None and done.request_counts.completed == 3
    output = [json.loads(line) for line in client.files.content(done.output_file_id).text.splitlines()]
    assert [o["custom_id"] for o in output] == ["r0", "r1", "r2"]
    assert all(o["response"]["body"]["object"] == "chat.completion" for o in output)
    listed = client.batches.list(limit=5)
    assert batch.id in [b.id for b in listed.data]
    assert uploaded.id in [f.id for f in client.files.list()]
    again = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelled = client.batches.cancel(again.id)
    assert cancelled.status == "cancelling"
    live_server.control("POST", "/_emulator/clock/advance", {"seconds": 60})
    assert client.batches.retrieve(again.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch.id)
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_nope")
    assert client.files.delete(uploaded.id).deleted


def test_rerank_through_client_post(live_server: EmulatorServer) -> None:
    docs = ["Bananas are yellow", "A rerank model orders documents by relevance to a query"]
    with openai.OpenAI(api_key=KEY, base_url=f"{live_server.url}/compatible-api/v1", max_retries=0) as rerank:
        body = {"model": "qwen3-rerank", "query": "what does a rerank model do", "documents": docs, "top_n": 1,
                "return_documents": True}  # fmt: skip
        answer = rerank.post("/reranks", body=body, cast_to=object)
    assert isinstance(answer, dict) and answer["results"][0]["index"] == 1
    assert answer["results"][0]["document"] == {"text": docs[1]}
