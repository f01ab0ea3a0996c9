"""A response's head and body leave the server in one write (``emulator.protocol._HeadWithBody``)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from emulator.protocol import _HeadWithBody
from emulator.testing import EmulatorServer


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


@pytest.mark.anyio
async def test_a_head_and_its_body_leave_together() -> None:
    raw = Recorder()
    corked = _HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert raw.writes == []
    corked.write(b"{}")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    corked.write(b"more")
    assert raw.writes[-1] == b"more"


@pytest.mark.anyio
async def test_a_head_without_a_body_in_the_same_step_leaves_at_its_end() -> None:
    raw = Recorder()
    corked = _HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")  # a stream: its first event comes later
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    corked.write(b"data: 1\n\n")
    assert raw.writes[-1] == b"data: 1\n\n"


@pytest.mark.anyio
async def test_closing_sends_what_is_held_first() -> None:
    raw = Recorder()
    corked = _HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    corked.close()
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"] and raw.closed and corked.is_closing()
    assert corked.get_extra_info("peername") == "info:peername"


@pytest.mark.live
def test_keep_alive_and_pipelined_requests_still_get_whole_answers(tmp_path: Any) -> None:
    """Two requests sent at once on one connection, then a HEAD: every answer whole and in order."""
    server = EmulatorServer(workdir=tmp_path, time_scale=0.0)
    server.start()
    try:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            req = f"GET /_emulator/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            head = f"HEAD /_emulator/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            conn.sendall(req + req + head)
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        answers = received.split(b"HTTP/1.1 ")[1:]
        assert len(answers) == 3 and all(a.startswith(b"200 OK") for a in answers)
        assert answers[0].count(b'"status"') == 1 and answers[1].count(b'"status"') == 1
        assert b'"status"' not in answers[2]  # HEAD: no body
    finally:
        server.stop()
