"""Embedding integrations of third-party frameworks, unmodified, in pinned venvs: LangChain's
``DashScopeEmbeddings`` and LlamaIndex's ``DashScopeEmbedding``; what they hand back must be the emulator's vectors
(the journal's recorded requests, replayed straight over HTTP, give the same numbers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import require_venv
from tests.contract.test_other_clients import CLIENT_VENVS, Client


@pytest.fixture
def framework(request: pytest.FixtureRequest, live_server: EmulatorServer) -> Iterator[Client]:
    name = request.param
    require_venv(CLIENT_VENVS / name, "make test")
    yield Client(name, live_server, api_key=f"sk-contract-{name}-{request.node.name}")


TEXT = "/api/v1/services/embeddings/text-embedding/text-embedding"
DOCS = ["West Lake is in Hangzhou.", "Rerank models order documents.", "Embeddings turn text into vectors."]
QUERY = "what turns text into vectors"


def _same_as_replayed(client: Client, vectors: list[list[float]]) -> None:
    calls = [c for c in client.journal(TEXT) if c["status"] == 200]
    assert calls, "no embedding request reached the emulator"
    replayed: list[list[float]] = []
    for call in calls:
        output = client.server.api("POST", TEXT, call["body"], api_key=client.api_key)["output"]
        replayed += [item["embedding"] for item in output["embeddings"]]
    assert vectors == replayed


@pytest.mark.parametrize("framework", ["langchain"], indirect=True)
def test_langchain_dashscope_embeddings(framework: Client) -> None:
    result = framework.run(f"""
        import json
        from langchain_community.embeddings import DashScopeEmbeddings
        emb = DashScopeEmbeddings(model="text-embedding-v4")
        docs = emb.embed_documents({DOCS!r})
        query = emb.embed_query({QUERY!r})
        dot = lambda a, b: sum(x * y for x, y in zip(a, b))
        print(json.dumps({{"vectors": docs + [query], "best": max(range(3), key=lambda i: dot(query, docs[i]))}}))
    """)
    assert [len(v) for v in result["vectors"]] == [1024] * 4
    assert result["best"] == 2
    _same_as_replayed(framework, result["vectors"])


@pytest.mark.parametrize("framework", ["llamaindex"], indirect=True)
def test_llamaindex_dashscope_embedding(framework: Client) -> None:
    result = framework.run(f"""
        import json
        from llama_index.embeddings.dashscope import DashScopeEmbedding
        emb = DashScopeEmbedding(model_name="text-embedding-v2")
        docs = emb.get_text_embedding_batch({DOCS!r})
        query = emb.get_query_embedding({QUERY!r})
        dot = lambda a, b: sum(x * y for x, y in zip(a, b))
        print(json.dumps({{"vectors": docs + [query], "best": max(range(3), key=lambda i: dot(query, docs[i]))}}))
    """)
    assert [len(v) for v in result["vectors"]] == [1536] * 4
    assert result["best"] == 2
    _same_as_replayed(framework, result["vectors"])
