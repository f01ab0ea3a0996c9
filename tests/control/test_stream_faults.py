"""Fault rules inside a stream, in-process: an error frame after N chunks, a cut after N chunks, chunk delays."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.control.test_responses import CHAT, NATIVE, SSE, native_events, openai_events, rule

pytestmark = pytest.mark.anyio

BODY = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "Tell me about tides."}]}}


async def fault(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/_emulator/faults", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_native_error_after_chunks(client: httpx.AsyncClient) -> None:
    await fault(client, path=NATIVE, after_chunks=2, status=429, code="Throttling", message="Slow down.")
    plain = await client.post(NATIVE, json=BODY)
    assert plain.status_code == 200 and plain.json()["output"]["text"], "a stream-only rule spares plain calls"
    response = await client.post(NATIVE, json=BODY, headers=SSE)
    events = native_events(response)
    assert [e for e, _ in events] == ["result", "result", "error"]
    error = events[-1][1]
    assert error == {"request_id": response.headers["x-request-id"], "code": "Throttling", "message": "Slow down."}
    last = response.text.strip().split("\n\n")[-1].split("\n")
    assert last[:3] == ["id:3", "event:error", ":HTTP_STATUS/429"]
    assert (await client.get("/_emulator/faults")).json()["faults"][0]["hits"] == 1


async def test_openai_error_frame_and_cut(client: httpx.AsyncClient) -> None:
    await fault(client, path=CHAT, after_chunks=3, status=500, code="InternalError", count=1)
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    events = openai_events(await client.post(CHAT, json=body))
    assert len(events) == 4 and events[-1]["error"]["code"] == "internal_error" and "[DONE]" not in events
    await fault(client, path=CHAT, drop_after_chunks=1, count=1)
    cut = openai_events(await client.post(CHAT, json=body))
    assert len(cut) == 1 and cut[0]["object"] == "chat.completion.chunk"
    whole = openai_events(await client.post(CHAT, json=body))
    assert whole[-1] == "[DONE]"


async def test_fault_applies_to_scripted_replies_and_short_streams(client: httpx.AsyncClient) -> None:
    await rule(client, content="one two")
    await fault(client, path="/api/v1/services/*", after_chunks=50, status=503)
    events = native_events(await client.post(NATIVE, json=BODY, headers=SSE))
    assert events[-1][0] == "error" and events[-1][1]["code"] == "ServiceUnavailable"
    assert "".join(d["output"]["text"] for e, d in events[:-1]) == "one two"


async def test_chunk_delays_are_wall_time(client: httpx.AsyncClient) -> None:
    await rule(client, content="a b c d e f g h")  # four pieces, then the finish chunk
    await fault(client, path=NATIVE, first_chunk_delay_ms=120, chunk_delay_ms=40)
    started = time.perf_counter()
    events = native_events(
        await client.post(NATIVE, json={**BODY, "parameters": {"incremental_output": True}}, headers=SSE)
    )
    elapsed = time.perf_counter() - started
    assert len(events) == 5 and elapsed >= 0.12 + 4 * 0.04 - 0.01
    assert json.dumps(events[-1][1]["output"]).count("stop") == 1


async def test_bad_stream_fault_fields(client: httpx.AsyncClient) -> None:
    for body in ({"path": NATIVE, "after_chunks": -1}, {"path": NATIVE, "chunk_delay_ms": 10**9}):
        response = await client.post("/_emulator/faults", json=body)
        assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"


async def test_stream_faults_are_spent_only_on_generation_streams(client: httpx.AsyncClient) -> None:
    """Issue 24: a job's event stream (GET, ``Accept: text/event-stream``) took the fault meant for the generation
    stream, which then ran unfaulted."""
    await fault(client, path="/api/v1/*", after_chunks=1, status=503, count=1)
    watched = await client.get("/api/v1/fine-tunes/ft-none/stream", headers={"Accept": "text/event-stream"})
    assert watched.status_code in (200, 404)
    assert (await client.get("/_emulator/faults")).json()["faults"][0]["hits"] == 0
    events = native_events(await client.post(NATIVE, json=BODY, headers=SSE))
    assert events[-1][0] == "error" and events[-1][1]["code"] == "ServiceUnavailable"
