"""The error envelope everywhere: auth, unknown paths, wrong methods, the OpenAI-compatible shape."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import AppFactory, assert_error, client_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer two words", "token"])
async def test_missing_or_malformed_key_is_401(app: Starlette, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with client_for(app, None) as client:
        body = assert_error(await client.get("/api/v1/files", headers=headers), 401, "InvalidApiKey")
    assert set(body) == {"request_id", "code", "message"}


async def test_configured_keys_only(app_factory: AppFactory) -> None:
    app = await app_factory(api_keys=("sk-good",))
    async with client_for(app, "sk-good") as good, client_for(app, "sk-other") as other:
        assert (await good.get("/api/v1/files")).status_code == 200
        assert_error(await other.get("/api/v1/files"), 401, "InvalidApiKey")


async def test_unknown_path_and_method(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "NotFound")
    assert_error(await client.put("/api/v1/files"), 405, "MethodNotAllowed")


async def test_control_plane_needs_no_key(app: Starlette) -> None:
    async with client_for(app, None) as client:
        body = (await client.get("/_emulator/health")).json()
    assert body["status"] == "ok" and body["version"]


async def test_openai_routes_answer_errors_in_openai_shape(app: Starlette) -> None:
    async with client_for(app, None) as client:
        response = await client.post("/compatible-mode/v1/chat/completions", json={})
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "invalid_api_key"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_reset_whole_and_per_tenant(app: Starlette) -> None:
    line = b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'
    async with client_for(app, "key-a") as a, client_for(app, "key-b") as b:
        for c in (a, b):
            await c.post("/api/v1/files", files=[("files", ("x.jsonl", line))])
        reset = await a.post("/_emulator/reset", json={"api_key": "key-a"})
        assert reset.json()["removed"]["files"] == 1
        assert (await a.get("/api/v1/files")).json()["data"]["total"] == 0
        assert (await b.get("/api/v1/files")).json()["data"]["total"] == 1
        await a.post("/_emulator/reset")
        assert (await b.get("/api/v1/files")).json()["data"]["total"] == 0
