"""``GET /api/v1/files/{file_id}/content`` answers bytes, and the OpenAPI document says so (schemathesis flagged a
JSON declaration for it)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import upload

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


async def test_the_content_route_is_documented_as_the_bytes_it_answers(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    ok = doc["paths"]["/api/v1/files/{file_id}/content"]["get"]["responses"]["200"]["content"]
    assert ok == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    file_id = (await upload(client, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"][0]["file_id"]
    response = await client.get(f"/api/v1/files/{file_id}/content")
    assert response.headers["content-type"] == "application/octet-stream" and response.content == GOOD
