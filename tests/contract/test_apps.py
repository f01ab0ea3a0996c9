"""The applications around a model with the real SDKs (1.20.11 and 2.0.2, module API, v2 ``Client``, 2.x CLI):
models, text/multimodal embeddings, rerank, batch embedding tasks; and a small RAG flow whose order is asserted."""

from __future__ import annotations

import json

import httpx

from emulator.embeddings.service import relevance
from emulator.synth import vectors
from emulator.testing import EmulatorServer
from tests.contract.conftest import Sdk

DOCS = [
    "Hangzhou is famous for the West Lake and Longjing tea.",
    "A rerank model scores documents by their relevance to a query.",
    "Bananas are rich in potassium.",
    "Text embedding models turn text into vectors; similar texts get close vectors.",
]


RERANK_QUERY = "what is a rerank model"
BEST = sorted(range(len(DOCS)), key=lambda i: -relevance(RERANK_QUERY, DOCS[i]))
"""The emulator's own order (scores rise with shared words): the rerank model's document first."""


def _upload_lines(server: EmulatorServer, key: str, lines: list[str]) -> str:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        files = {"files": ("texts.txt", "\n".join(lines).encode())}
        answer = http.post("/api/v1/files", files=files, data={"purpose": "file-extract"}).json()
    file_id = answer["data"]["uploaded_files"][0]["file_id"]
    return f"{server.url}/api/v1/files/{file_id}/content"


def test_models_list_and_get(sdk: Sdk) -> None:
    result = sdk.python("""
        from dashscope import Models
        listed = Models.list(page=1, page_size=3)
        got = Models.get('qwen-plus')
        missing = Models.get('no-such-model')
        print(json.dumps({"list": [listed.status_code, listed.output], "got": [got.status_code, got.output],
                          "missing": missing.status_code}))
    """)
    status, output = result["list"]
    assert status == 200 and len(output["models"]) == 3 and output["total"] > 40 and output["page_size"] == 3
    assert result["got"][0] == 200 and result["got"][1]["model"] == "qwen-plus"
    assert result["missing"] == 404


def test_v2_client_models(sdk2: Sdk) -> None:
    result = sdk2.python("""
        from dashscope import Client
        client = Client()
        page = client.models.list(page_no=1, page_size=5)
        one = client.models.get('text-embedding-v4')
        try:
            client.models.get('no-such-model')
            missing = None
        except Exception as exc:
            missing = type(exc).__name__
        print(json.dumps({"page": [page.total_count, [m.model for m in page.models]],
                          "one": [one.model, one.source, one.open_source], "missing": missing}))
    """)
    assert result["page"][0] > 40 and len(result["page"][1]) == 5
    assert result["one"] == ["text-embedding-v4", "dashscope", False]
    assert result["missing"] is not None


def test_cli_whoami_models_embeddings_rerank(sdk2: Sdk) -> None:
    whoami = sdk2.cli("auth", "whoami")
    assert "Authenticated" in whoami.stdout
    refused = sdk2.cli("auth", "whoami", check=False, DASHSCOPE_API_KEY="")
    assert refused.returncode == 2 and "code=InvalidApiKey" in refused.stderr
    listed = sdk2.cli("models", "list", "-s", "2")
    assert json.loads(listed.stdout)["page_size"] == 2
    got = sdk2.cli("models", "get", "gte-rerank-v2")
    assert json.loads(got.stdout)["capabilities"] == ["text-rerank"]
    embedded = sdk2.cli(
        "embeddings", "create", "-m", "text-embedding-v4", "-i", "hello", "-i", "world", "--dimension", "64"
    )
    decoder = json.JSONDecoder()
    output, end = decoder.raw_decode(embedded.stdout)
    assert [len(e["embedding"]) for e in output["embeddings"]] == [64, 64]
    assert "total_tokens" in embedded.stdout[end:]
    ranked = sdk2.cli(
        "rerank",
        "create",
        "-m",
        "gte-rerank-v2",
        "-q",
        "what is a rerank model",
        *sum((["-d", d] for d in DOCS), []),
        "-n",
        "2",
        "--return-documents",
    )
    output, _ = decoder.raw_decode(ranked.stdout)
    assert (
        [r["index"] for r in output["results"]] == BEST[:2]
        and BEST[0] == 1
        and output["results"][0]["document"]["text"] == DOCS[1]
    )


def test_text_and_multimodal_embedding_and_rerank(sdk: Sdk) -> None:
    result = sdk.python(f"""
        from dashscope import TextEmbedding, TextReRank, MultiModalEmbedding
        e = TextEmbedding.call(model='text-embedding-v4', input=['the cat', 'the cat', 'a dog'], dimension=256,
                               text_type='document')
        bad = TextEmbedding.call(model='text-embedding-v4', input=['x'] * 11)
        m = MultiModalEmbedding.call(model='multimodal-embedding-v1', input=[{{'text': 'cat'}}, {{'image': 'https://e.com/cat.png'}}])
        r = TextReRank.call(model='qwen3-rerank', query='what is a rerank model', documents={DOCS!r}, top_n=2,
                            return_documents=True)
        vecs = [x['embedding'] for x in e.output['embeddings']]
        print(json.dumps({{"e": [e.status_code, [len(v) for v in vecs], vecs[0] == vecs[1], e.usage['total_tokens']],
                           "bad": [bad.status_code, bad.code, bad.message],
                           "m": [m.status_code, [x['type'] for x in m.output['embeddings']]],
                           "r": [r.status_code, [(x['index'], x['document']['text']) for x in r.output['results']]]}}))
    """)
    assert result["e"][:3] == [200, [256, 256, 256], True] and result["e"][3] > 0
    assert result["bad"][0] == 400 and result["bad"][1] == "InvalidParameter" and "larger than 10" in result["bad"][2]
    assert result["m"] == [200, ["text", "image"]]
    assert result["r"][0] == 200 and [i for i, _ in result["r"][1]] == BEST[:2]


def test_v2_client_embeddings_and_rerank(sdk2: Sdk) -> None:
    result = sdk2.python(f"""
        from dashscope import Client
        client = Client()
        e = client.embeddings.create(model='text-embedding-v3', input=['alpha beta', 'gamma'], dimension=512)
        r = client.rerank.create(model='gte-rerank-v2', query='what is a rerank model', documents={DOCS!r})
        print(json.dumps({{"e": [[x.index, len(x.embedding)] for x in e.embeddings], "tokens": e.usage.total_tokens,
                           "r": [x.index for x in r.results]}}))
    """)
    assert result["e"] == [[0, 512], [1, 512]] and result["tokens"] > 0
    assert result["r"] == BEST


def test_batch_text_embedding(sdk: Sdk) -> None:
    url = _upload_lines(sdk.server, sdk.api_key, ["the cat sat on the mat", "a cat sat on a mat", "stock markets fell"])
    result = sdk.python(f"""
        import gzip, urllib.request
        from dashscope import BatchTextEmbedding
        task = BatchTextEmbedding.async_call(model='text-embedding-async-v2', url={url!r}, text_type='document')
        fetched = BatchTextEmbedding.fetch(task)
        done = BatchTextEmbedding.wait(task)
        lines = [json.loads(l) for l in gzip.decompress(urllib.request.urlopen(done.output.url).read()).splitlines()]
        vecs = [l['output']['embedding'] for l in lines]
        dot = lambda a, b: sum(x * y for x, y in zip(a, b))
        listed = BatchTextEmbedding.list(page_size=5)
        print(json.dumps({{"created": task.output.task_status, "fetched": fetched.output.task_status,
                           "done": [done.status_code, done.output.task_status, done.usage.total_tokens],
                           "order": [dot(vecs[0], vecs[1]) > dot(vecs[0], vecs[2]), len(vecs[0])],
                           "listed": [listed.status_code, sorted(listed.output),
                                      [(t['task_id'] == task.output.task_id, t['status'])
                                       for t in listed.output['data']]]}}))
    """)
    assert result["created"] == "PENDING" and result["fetched"] in ("PENDING", "RUNNING", "SUCCEEDED")
    assert result["done"][:2] == [200, "SUCCEEDED"] and result["done"][2] > 0
    assert result["order"] == [True, 1536]
    assert result["listed"] == [200, ["data", "page_no", "page_size", "total", "total_page"], [[True, "SUCCEEDED"]]]


def test_v2_client_embedding_jobs(sdk2: Sdk) -> None:
    url = _upload_lines(sdk2.server, sdk2.api_key, ["one", "two"])
    result = sdk2.python(f"""
        from dashscope import Client
        client = Client()
        job = client.embeddings.jobs.create(model='text-embedding-async-v1', file_url={url!r})
        done = client.embeddings.jobs.wait(job.task_id)
        page = client.embeddings.jobs.list(page_size=5)
        seen = [(t.task_id == job.task_id, t.status, bool(t.finished_at)) for t in page.tasks]
        print(json.dumps([job.status, done.status, bool(done.result_url), [page.total, seen]]))
    """)
    # the v2 Client's list reads ``tasks`` (not the service's ``data``): it gets them, shaped as fetched tasks
    assert result == ["PENDING", "SUCCEEDED", True, [1, [[True, "SUCCEEDED", True]]]]


def test_rag_embed_retrieve_rerank(sdk: Sdk) -> None:
    """Embed a corpus, retrieve by cosine for a query, rerank the top 3: the order is asserted, and it is the one
    the emulator's vectors and scores give in-process."""
    query = "how does a text embedding model turn text into vectors"
    result = sdk.python(f"""
        from dashscope import TextEmbedding, TextReRank
        docs, query = {DOCS!r}, {query!r}
        answer = TextEmbedding.call(model='text-embedding-v4', input=docs)
        corpus = [x['embedding'] for x in answer.output['embeddings']]
        asked = TextEmbedding.call(model='text-embedding-v4', input=query, text_type='query')
        q = asked.output['embeddings'][0]['embedding']
        dot = lambda a, b: sum(x * y for x, y in zip(a, b))
        retrieved = sorted(range(len(docs)), key=lambda i: -dot(q, corpus[i]))[:3]
        ranked = TextReRank.call(model='gte-rerank-v2', query=query, documents=[docs[i] for i in retrieved])
        reranked = [retrieved[r['index']] for r in ranked.output['results']]
        print(json.dumps({{"retrieved": retrieved, "reranked": reranked}}))
    """)
    q = vectors.embed(query, 1024, "v4")
    expected = sorted(range(len(DOCS)), key=lambda i: -vectors.cosine(q, vectors.embed(DOCS[i], 1024, "v4")))[:3]
    assert result["retrieved"] == expected and expected[0] == 3 and 2 not in expected  # bananas are not retrieved
    assert result["reranked"] == sorted(expected, key=lambda i: -relevance(query, DOCS[i]))
    assert result["reranked"][0] == 3
