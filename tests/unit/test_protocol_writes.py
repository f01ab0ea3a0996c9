"""A response's head and body leave the server in one write (``emulator.protocol._HeadWithBody``): copied into one
buffer when the body is small, gathered (``writelines``, a writev under uvloop) when it is large."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from emulator.protocol import GATHER_BYTES, _HeadWithBody
from emulator.testing import EmulatorServer


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def writelines(self, data: Any) -> None:
        self.writes.append(tuple(data))

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
async def test_a_large_body_leaves_beside_its_head_not_copied_behind_it() -> None:
    raw = Recorder()
    corked = _HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    head, body = b"HTTP/1.1 200 OK\r\n\r\n", b"x" * GATHER_BYTES
    corked.write(head)
    corked.write(body)
    assert len(raw.writes) == 1 and raw.writes[0] == (head, body) and raw.writes[0][1] is body
    corked.write(b"then")
    assert raw.writes[-1] == b"then"


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


@pytest.mark.live
def test_large_answers_to_pipelined_posts_arrive_whole(tmp_path: Any) -> None:
    """Two 86 KB embedding answers (gathered writes) to two POSTs on one connection, the second body sent in
    pieces (read message by message): both whole, in order, each exactly its Content-Length."""
    import json
    import time

    server = EmulatorServer(workdir=tmp_path, time_scale=0.0)
    server.start()
    try:
        host, port = server.url.removeprefix("http://").split(":")
        texts = [f"text {i}: the quick brown fox" for i in range(10)]
        body = json.dumps({"model": "text-embedding-v4", "input": {"texts": texts}}).encode()
        head = (
            f"POST /api/v1/services/embeddings/text-embedding/text-embedding HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer sk-test\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(head + body + head + body[:100])
            time.sleep(0.05)
            conn.sendall(body[100:])
            received = b""
            deadline = time.monotonic() + 10
            while not _complete(received, 2):
                assert time.monotonic() < deadline, received[:300]
                received += conn.recv(65536)
        answers = _split_answers(received)
        assert len(answers) == 2
        for answer in answers:
            data = json.loads(answer)
            embeddings = data["output"]["embeddings"]
            assert [e["text_index"] for e in embeddings] == list(range(10))
            assert all(len(e["embedding"]) == 1024 for e in embeddings)
        assert answers[0].split(b'"request_id"')[0] == answers[1].split(b'"request_id"')[0]
    finally:
        server.stop()


def _split_answers(received: bytes) -> list[bytes]:
    bodies = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
        if len(rest) < length:
            raise ValueError("not all here yet")
        bodies.append(rest[:length])
        received = rest[length:]
    return bodies


def _complete(received: bytes, answers: int) -> bool:
    try:
        bodies = _split_answers(received)
    except (StopIteration, ValueError):
        return False
    return len(bodies) == answers
