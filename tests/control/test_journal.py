"""The request journal in-process: what is kept of each request, filters, the ring, clearing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator.tenants import tenant_for
from tests.conftest import API_KEY, AppFactory, client_for

pytestmark = pytest.mark.anyio

LINE = b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'


async def journal(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/_emulator/requests", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_json_request_is_kept_whole_but_the_key(client: httpx.AsyncClient) -> None:
    body = {"model": "qwen-turbo", "training_file_ids": ["f-1"], "hyper_parameters": {"n_epochs": 2}}
    response = await client.post("/api/v1/fine-tunes?x=1", json=body, headers={"X-Custom": "yes"})
    page = await journal(client)
    assert page["capacity"] == 1000 and page["total"] == 1
    entry = page["requests"][0]
    assert entry["method"] == "POST" and entry["path"] == "/api/v1/fine-tunes" and entry["query"] == "x=1"
    assert entry["body"] == body and entry["body_size"] == len(response.request.content)
    assert entry["status"] == response.status_code == 400
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["headers"]["x-custom"] == "yes"
    label = tenant_for(API_KEY, None).key_hint
    assert entry["headers"]["authorization"] == f"Bearer {label}" and entry["tenant_label"] == label
    assert API_KEY not in str(entry)
    assert API_KEY not in str(entry)
    assert entry["tenant"] and entry["duration_ms"] >= 0 and entry["form"] is None
    assert entry["time_iso"].endswith("Z") and entry["wall_time"] > 1.7e9


async def test_an_upload_keeps_fields_and_part_metadata_never_bytes(client: httpx.AsyncClient) -> None:
    await client.post(
        "/api/v1/files",
        data={"purpose": "fine-tune", "descriptions": "my set"},
        files=[("files", ("train.jsonl", LINE, "application/jsonl")), ("files", ("b.jsonl", LINE))],
    )
    entry = (await journal(client))["requests"][0]
    assert entry["body"] is None and entry["body_size"] > 2 * len(LINE)
    assert entry["form"]["fields"] == {"purpose": ["fine-tune"], "descriptions": ["my set"]}
    assert entry["form"]["files"] == [
        {"field": "files", "filename": "train.jsonl", "size": len(LINE), "content_type": "application/jsonl"},
        {"field": "files", "filename": "b.jsonl", "size": len(LINE), "content_type": "application/octet-stream"},
    ]
    assert "assistant" not in str(entry)


async def test_failures_and_other_tenants_are_journaled(app: Starlette) -> None:
    async with client_for(app, None) as anonymous, client_for(app, "key-b") as b, client_for(app) as a:
        await anonymous.get("/api/v1/files")
        await b.get("/api/v1/files/nope")
        await a.get("/api/v1/files")
        await a.get("/_emulator/health")  # never journaled
        page = await journal(a)
        assert [(e["status"], e["path"]) for e in page["requests"]] == [
            (200, "/api/v1/files"),
            (400, "/api/v1/files/nope"),
            (401, "/api/v1/files"),
        ]
        assert page["requests"][2]["tenant"] is None
        assert [e["status"] for e in (await journal(a, tenant="key-b"))["requests"]] == [400]
        tenant_b = page["requests"][1]["tenant"]
        assert (await journal(a, tenant=tenant_b))["total"] == 1
        assert (await journal(a, path="/api/v1/files/*"))["total"] == 1
        assert (await journal(a, path="/api/v1/files"))["total"] == 2
        assert (await journal(a, method="post"))["total"] == 0
        assert (await journal(a, status=401))["total"] == 1
        limited = await journal(a, limit=1)
        assert limited["total"] == 3 and len(limited["requests"]) == 1


async def test_the_ring_forgets_the_oldest(app_factory: AppFactory) -> None:
    app = await app_factory(journal_size=3)
    async with client_for(app) as client:
        for n in range(5):
            await client.get(f"/api/v1/files/f{n}")
        page = await journal(client)
    assert page["capacity"] == 3
    assert [e["path"] for e in page["requests"]] == ["/api/v1/files/f4", "/api/v1/files/f3", "/api/v1/files/f2"]
    assert [e["seq"] for e in page["requests"]] == [5, 4, 3]


async def test_size_zero_turns_it_off(app_factory: AppFactory) -> None:
    app = await app_factory(journal_size=0)
    async with client_for(app) as client:
        await client.get("/api/v1/files")
        assert (await journal(client)) == {"capacity": 0, "total": 0, "requests": []}


async def test_clear_and_reset(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/files")
    await client.get("/api/v1/files")
    assert (await client.delete("/_emulator/requests")).json() == {"removed": 2}
    assert (await journal(client))["total"] == 0
    await client.get("/api/v1/files")
    await client.post("/_emulator/reset", json={"api_key": "other"})
    assert (await journal(client))["total"] == 1  # a tenant reset keeps the journal
    await client.post("/_emulator/reset")
    assert (await journal(client))["total"] == 0


async def test_big_or_non_json_bodies_are_kept_by_size(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/fine-tunes", content=b"not json", headers={"Content-Type": "application/json"})
    await client.post("/api/v1/fine-tunes", json={"model": "m", "pad": "x" * 70_000})
    big, bad = (await journal(client))["requests"]
    assert bad["body"] is None and bad["body_size"] == 8
    assert big["body"] is None and big["body_size"] > 70_000


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "status=abc"])
async def test_bad_filters_are_400(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/_emulator/requests?{query}")
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"


async def test_times_are_on_the_emulated_clock(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/files")
    first_now = (await client.get("/_emulator/clock")).json()["now"]
    await client.post("/_emulator/clock/advance", json={"seconds": 3600})
    await client.get("/api/v1/files")
    newer, older = (await journal(client))["requests"]
    assert older["time"] == first_now and newer["time"] == first_now + 3600
    assert abs(newer["wall_time"] - older["wall_time"]) < 60
