"""Shared fixtures: an app on a fresh SQLite file with a frozen clock, reached in-process through httpx."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpcore  # noqa: F401  (see below)
import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from starlette.applications import Starlette

from emulator.app import create_app
from emulator.settings import Settings

# Locally, property tests explore new inputs on every run (that is how they find bugs); CI (CI=true) replays a
# fixed sequence, so one run's verdict does not hang on luck.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# httpx imports httpcore on its first real request and keeps a map of httpcore's exception classes.  A pytester
# in-process run (tests/control/test_pytest_plugin.py) drops every module first imported inside it: if that was
# httpcore, a later httpx request raises exceptions of a fresh httpcore that the map no longer knows, so a
# connection reset escapes as a raw httpcore.ReadError instead of httpx.ReadError.  Imported here, before any
# inner run, httpcore stays the same module for the whole session.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DATASETS = FIXTURES / "datasets"
API_KEY = "sk-test-tenant-a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "db": str(tmp_path / "emulator.db"),
            "data_dir": tmp_path / "files",
            "time_scale": 0.0,
            "seed": 7,
        }
        values.update(overrides)
        return Settings(**values)

    return make


AppFactory = Callable[..., Awaitable[Starlette]]


INTERNAL_ERRORS: dict[str, int] = {}
"""Internal errors (unexpected exceptions: the 500 net) counted by each test's in-process apps; must stay empty."""


@pytest.fixture
async def app_factory(
    settings_factory: Callable[..., Settings], request: pytest.FixtureRequest
) -> AsyncIterator[AppFactory]:
    apps: list[Starlette] = []
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Starlette:
            app = create_app(settings_factory(**overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps.append(app)
            return app

        yield make
    counted = sum(app.state.rt.stats.get("internal_errors", 0) for app in apps)
    if counted:
        INTERNAL_ERRORS[request.node.nodeid] = counted
    assert not counted, f"{counted} internal error(s) (a 5xx with a traceback in the log) during this test"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = sum(INTERNAL_ERRORS.values())
    terminalreporter.write_line(f"in-process apps: internal_errors = {total}")
    for nodeid, count in INTERNAL_ERRORS.items():
        terminalreporter.write_line(f"  {nodeid}: {count}")


def client_for(app: Starlette, api_key: str | None = API_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=headers, timeout=30
    )


@pytest.fixture
async def app(app_factory: AppFactory) -> Starlette:
    return await app_factory()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


def upload(
    client: httpx.AsyncClient,
    *paths: Path | tuple[str, bytes],
    description: str | None = None,
    purpose: str | None = None,
    headers: dict[str, str] | None = None,
) -> Awaitable[httpx.Response]:
    files = []
    for item in paths:
        name, content = (item.name, item.read_bytes()) if isinstance(item, Path) else item
        files.append(("files", (name, content)))
    data: dict[str, str] = {}
    if description is not None:
        data["descriptions"] = description
    if purpose is not None:
        data["purpose"] = purpose
    return client.post("/api/v1/files", files=files, data=data, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def sft_line() -> Iterator[bytes]:
    yield b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


class Held:
    """A function of ``owner`` (one that runs in a worker thread) made to wait, once called, until ``release()``:
    the work it belongs to stays in flight for as long as a test needs (``called`` tells it got there)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self._called, self._release = threading.Event(), threading.Event()
        real = getattr(owner, name)

        def held(*args: Any, **kwargs: Any) -> Any:
            self._called.set()
            assert self._release.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)

    def called(self, timeout: float = 10) -> bool:
        return self._called.wait(timeout)

    def release(self) -> None:
        self._release.set()
