"""Limits on a real socket: a request head over ``--max-header-bytes`` is a 431 in the service's envelope (never a
dropped socket, never unbounded buffering), and requests under it, bodies included, are untouched."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from emulator.testing import EmulatorServer

pytestmark = pytest.mark.live
KEY = {"Authorization": "Bearer sk-limits"}
LIMIT = 4096
GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(extra_args=("--max-header-bytes", str(LIMIT))) as s:
        yield s


def _assert_431(status: int, body: bytes, request_id: str | None) -> None:
    assert status == 431
    error = json.loads(body)
    assert error["code"] == "BadRequest.HeadersTooLarge" and str(LIMIT) in error["message"]
    assert error["request_id"] == request_id


def test_a_header_over_the_limit_is_a_431_in_the_envelope(server: EmulatorServer) -> None:
    response = httpx.get(f"{server.url}/api/v1/files", headers={**KEY, "X-Big": "a" * (2 * LIMIT)})
    _assert_431(response.status_code, response.content, response.headers.get("x-request-id"))
    assert response.headers["connection"] == "close"


def test_a_head_that_never_ends_is_cut_at_the_limit(server: EmulatorServer) -> None:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"GET /api/v1/files HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for _ in range(64):  # 64 KB of header lines, far past the limit: the server answers before the end
            try:
                sock.sendall(b"X-Line: " + b"b" * 1000 + b"\r\n")
            except OSError:
                break
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    request_id = next(
        line.split(b": ", 1)[1].decode() for line in head.split(b"\r\n") if line.startswith(b"x-request-id")
    )
    _assert_431(431, body, request_id)


def test_requests_under_the_limit_and_their_bodies_pass(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, headers=KEY, timeout=30) as client:
        assert client.get("/api/v1/files", headers={"X-Big": "a" * (LIMIT // 2)}).status_code == 200
        big = client.post("/api/v1/files", files=[("files", ("train.jsonl", GOOD * 30_000))])  # ~2.5 MB body
        assert big.status_code == 200 and big.json()["data"]["uploaded_files"], big.text
        for _ in range(3):  # keep-alive: the next heads on the same connection are measured afresh
            assert client.get("/api/v1/files").status_code == 200
    assert server.control("GET", "/_emulator/health")["internal_errors"] == 0


def test_an_oversized_pipelined_head_answers_after_the_request_before_it(server: EmulatorServer) -> None:
    """Issue 24: the 431 of a pipelined oversized head was written in place of the answer to the request before
    it (which still ran, so a retry duplicated it)."""
    first = b"GET /api/v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-limits\r\n\r\n"
    big = b"GET /api/v1/files HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"c" * (2 * LIMIT) + b"\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(first + big)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 431 " in answer
    assert b"HTTP/1.1 500" not in answer


@pytest.mark.parametrize("head_timeout", [None, 1.5])
def test_a_head_that_stops_arriving_is_timed_out(head_timeout: float | None) -> None:
    """Issue 24: a connection that never finished its request head was held forever; it gets a 408 after
    ``--head-timeout`` (default ``HEAD_SECONDS``)."""
    import time

    from emulator.protocol import HEAD_SECONDS

    seconds = head_timeout or HEAD_SECONDS
    extra = ("--head-timeout", str(head_timeout)) if head_timeout else ()
    with EmulatorServer(extra_args=extra) as timed:
        with socket.create_connection((timed.host, timed.port), timeout=seconds + 10) as sock:
            sock.sendall(b"GET /api/v1/files HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert seconds - 0.5 <= waited <= seconds + 5
        with httpx.Client(base_url=timed.url, headers=KEY) as client:  # a head that arrives in time is answered
            assert client.get("/api/v1/files").status_code == 200
