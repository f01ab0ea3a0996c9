"""``read_body``: the messages of a request read one by one (no async generator), the limit held while they come,
and the body kept as ``Request.body()`` keeps it, so any later reader gets the same bytes instead of waiting for a
message that will never come."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import ClientDisconnect, Request

from emulator.errors import TooLarge
from emulator.http import read_body


def request_of(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        if not pending:
            raise AssertionError("read past the last message")
        return pending.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or [], "query_string": b""}
    return Request(scope, receive)


def part(body: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


@pytest.mark.anyio
async def test_pieces_are_joined_and_kept_for_every_later_reader() -> None:
    request = request_of([part(b'{"a":', True), part(b"", True), part(b"1}", False)])
    assert await read_body(request) == b'{"a":1}'
    assert await read_body(request) == b'{"a":1}'  # the receive above would raise if it were asked again
    assert await request.body() == b'{"a":1}'
    assert [chunk async for chunk in request.stream()] == [b'{"a":1}', b""]


@pytest.mark.anyio
async def test_the_limit_holds_while_the_body_arrives_and_for_a_kept_body() -> None:
    request = request_of([part(b"x" * 6, True), part(b"x" * 6, False)])
    with pytest.raises(TooLarge):
        await read_body(request, limit=10)
    kept = request_of([part(b"x" * 12, False)])
    assert await read_body(kept, limit=20) == b"x" * 12
    with pytest.raises(TooLarge):
        await read_body(kept, limit=10)
    declared = request_of([], headers=[(b"content-length", b"11")])
    with pytest.raises(TooLarge):
        await read_body(declared, limit=10)  # refused from the header, before any message


@pytest.mark.anyio
async def test_a_client_gone_midway_is_a_disconnect() -> None:
    request = request_of([part(b"{", True), {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnect):
        await read_body(request)
