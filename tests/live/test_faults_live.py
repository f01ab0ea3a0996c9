"""Faults on a real socket: a dropped connection gets no byte of answer, and the server carries on."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from emulator.testing import EmulatorServer

pytestmark = pytest.mark.live
KEY = {"Authorization": "Bearer sk-faults"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, seed=5) as s:
        yield s


@pytest.fixture(autouse=True)
def clean(server: EmulatorServer) -> None:
    server.reset()


def test_drop_connection_closes_without_an_answer(server: EmulatorServer) -> None:
    server.fault("/api/v1/files", method="GET", drop_connection=True, count=1)
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"GET /api/v1/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer sk-faults\r\n\r\n")
        assert sock.recv(1024) == b""  # EOF, not a byte of status line
    assert httpx.get(f"{server.url}/api/v1/files", headers=KEY).status_code == 200


def test_a_kept_alive_connection_is_dropped_and_the_server_stays_up(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, headers=KEY, timeout=5) as client:
        assert client.get("/api/v1/files").status_code == 200
        server.fault("/api/v1/files", drop_connection=True, latency_ms=20, count=2)
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError):
                client.get("/api/v1/files")
        assert client.get("/api/v1/files").status_code == 200
    health = server.health()
    assert health["status"] == "ok" and health["internal_errors"] == 0
    dropped = server.requests(path="/api/v1/files")
    assert [e["status"] for e in dropped] == [200, None, None, 200]
    log = server.log_path.read_text()
    assert "ASGI callable" not in log and "Exception" not in log


def test_errors_and_retry_after_over_the_wire(server: EmulatorServer) -> None:
    server.fault("/api/v1/fine-tunes", method="POST", status=429, code="Throttling", retry_after=3, count=1)
    response = httpx.post(f"{server.url}/api/v1/fine-tunes", json={"model": "qwen-turbo"}, headers=KEY)
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "Throttling"
    assert server.faults() == []
