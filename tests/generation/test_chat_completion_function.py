"""``generation.compatible.chat_completion``: a chat completion without an HTTP request (what a batch line calls)
answers what the endpoint answers, and refuses what it refuses."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from emulator.errors import InvalidParameter
from emulator.generation.compatible import chat_completion

pytestmark = pytest.mark.anyio


async def test_the_same_answer_as_the_endpoint(app: Starlette, client: httpx.AsyncClient) -> None:
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "Weather in Hangzhou?"}], "seed": 4}
    over_http = await client.post("/compatible-mode/v1/chat/completions", json=body)
    rt = app.state.rt
    tenant = await rt.tenants.from_headers(b"Bearer sk-test-tenant-a", None, rt.clock.now)
    rid = over_http.headers["x-request-id"]
    direct = await chat_completion(app.state.services.generation, tenant, {**body, "stream": True}, rid, 1)
    expected = over_http.json()
    assert direct["choices"] == expected["choices"] and direct["usage"] == expected["usage"]
    assert direct["id"] == f"chatcmpl-{rid}" and direct["object"] == "chat.completion"
    with pytest.raises(InvalidParameter):
        await chat_completion(app.state.services.generation, tenant, {"model": "qwen-plus", "messages": []}, rid, 1)
