"""pytest plugin, registered by installing the package: the ``dashscope_emulator`` fixture.

It starts one real emulator server per test session (frozen clock), resets it before each test, and
points the dashscope SDK at it through ``DASHSCOPE_HTTP_BASE_URL``/``DASHSCOPE_API_KEY``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import EmulatorServer


@pytest.fixture(scope="session")
def _dashscope_emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0) as server:
        yield server


@pytest.fixture
def dashscope_emulator(_dashscope_emulator_server: EmulatorServer,
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    server = _dashscope_emulator_server
    server.control("POST", "/_emulator/reset", {})
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", server.api_base)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-emulator-test")
    yield server
