"""A client that disconnects mid-body (issue 10) is a dropped request in the journal: no answer, no internal error,
no traceback, no temp file left; the server carries on."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.types import Message

from tests.conftest import API_KEY, client_for

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


async def _disconnect_mid_body(app: Starlette, path: str, content_type: bytes, first: bytes) -> list[Message]:
    """Drive the app at the ASGI level: one chunk of the body, then the server reports the client gone."""
    incoming: list[Message] = [
        {"type": "http.request", "body": first, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"emulator.test"),
            (b"authorization", f"Bearer {API_KEY}".encode()),
            (b"content-type", content_type),
            (b"content-length", b"10000000"),
        ],
        "client": ("127.0.0.1", 5555),
        "server": ("emulator.test", 80),
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("path", "content_type", "first"),
    [
        (
            "/api/v1/files",
            b"multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.jsonl"\r\n\r\n' + GOOD * 50,
        ),
        ("/api/v1/fine-tunes", b"application/json", b'{"model": "qwen-turbo", "training_file_ids": ['),
        ("/api/v1/services/aigc/text-generation/generation", b"application/json", b'{"model": "qwen-turbo"'),
        ("/_emulator/clock/advance", b"application/json", b'{"seconds": '),
    ],
)
async def test_a_client_gone_mid_body_is_a_dropped_request(
    app: Starlette, path: str, content_type: bytes, first: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="emulator"):
        sent = await _disconnect_mid_body(app, path, content_type, first)
    assert [m for m in sent if m["type"] == "http.response.start"] == []  # nobody to answer
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    rt = app.state.rt
    assert rt.stats.get("internal_errors", 0) == 0
    assert list(rt.temp_dir.iterdir()) == []
    async with client_for(app) as client:
        if path.startswith("/api/"):
            [entry] = (await client.get("/_emulator/requests", params={"path": path})).json()["requests"]
            assert entry["status"] is None and entry["body_size"] == len(first)
        assert (await client.get("/api/v1/files")).status_code == 200
