"""Contract tests: the real dashscope SDKs (1.20.11 and 2.0.2, each in its own venv) and their CLIs,
driven against a real emulator server on a free loopback port.

`make test` builds the venvs under .venv-sdk/ and sets EMULATOR_REQUIRE_SDK=1, so a missing SDK fails
the run there; a bare `pytest` without them skips these tests with the reason. Three variables point the tests at
other venvs (`make test-latest` does, with the newest releases): EMULATOR_SDK_VENVS (the folder of the SDK venvs),
EMULATOR_CLIENT_VENV (the quick start's) and EMULATOR_CLIENT_VENVS (the folder of the third-party clients' venvs).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
SDK_VENVS = Path(os.environ.get("EMULATOR_SDK_VENVS", ROOT / ".venv-sdk"))
CLIENT_VENV = Path(os.environ.get("EMULATOR_CLIENT_VENV", ROOT / ".venv-client"))
CLIENT_VENVS = Path(os.environ.get("EMULATOR_CLIENT_VENVS", ROOT / ".venv-clients"))
VERSIONS = ("1.20.11", "2.0.2")
CLI_TIMEOUT = 120


_running: list[pytest.Item] = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[:] = [item]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/contract/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.contract)
            item.add_marker(pytest.mark.live)


@dataclass
class Sdk:
    version: str
    server: EmulatorServer
    api_key: str = "sk-contract"

    @property
    def bin(self) -> Path:
        return SDK_VENVS / self.version / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
        env.update(
            DASHSCOPE_HTTP_BASE_URL=self.server.api_base,
            DASHSCOPE_API_KEY=self.api_key,
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
            TERM="dumb",
            COLUMNS="200",
        )
        env.update(extra)
        return env

    def python(self, code: str, *, timeout: float = CLI_TIMEOUT, **env: str) -> Any:
        """Run a snippet with this SDK; whatever it prints last as JSON comes back."""
        script = "import json, dashscope\n" + textwrap.dedent(code)
        done = subprocess.run(
            [str(self.bin / "python"), "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(**env),
            cwd=self.server.workdir,
        )
        assert done.returncode == 0, f"SDK {self.version} snippet failed:\n{done.stdout}\n{done.stderr}"
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else None

    def cli(
        self, *args: str, timeout: float = CLI_TIMEOUT, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin / "dashscope"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(**env),
            cwd=self.server.workdir,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert done.returncode == 0, (
                f"dashscope {' '.join(args)} ({self.version}) exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done


def _require(version: str) -> None:
    require_venv(SDK_VENVS / version, "make test", program="dashscope")


def require_venv(venv: Path, builder: str, *, program: str = "python") -> None:
    """Fail under EMULATOR_REQUIRE_SDK (``make test`` builds every client venv), else skip, when a venv is missing."""
    if _running:  # which venvs a test used, for make test-latest's table (junit XML properties)
        _running[0].user_properties.append(("venv", str(venv)))
    if not (venv / "bin" / program).exists() or not (venv / ".installed").exists():
        message = f"client venv missing or unfinished at {venv} ({builder} builds it)"
        if os.environ.get("EMULATOR_REQUIRE_SDK"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def live_server() -> Iterator[EmulatorServer]:
    """One server for the contract session; a fast clock so jobs finish in wall seconds."""
    with EmulatorServer(time_scale=600.0, extra_args=("--pending-seconds", "0")) as server:
        yield server


@pytest.fixture(params=VERSIONS)
def sdk(request: pytest.FixtureRequest, live_server: EmulatorServer) -> Sdk:
    _require(request.param)
    return Sdk(request.param, live_server, api_key=f"sk-contract-{request.node.name}")


@pytest.fixture
def sdk1(live_server: EmulatorServer, request: pytest.FixtureRequest) -> Sdk:
    _require("1.20.11")
    return Sdk("1.20.11", live_server, api_key=f"sk-contract-{request.node.name}")


@pytest.fixture
def sdk2(live_server: EmulatorServer, request: pytest.FixtureRequest) -> Sdk:
    _require("2.0.2")
    return Sdk("2.0.2", live_server, api_key=f"sk-contract-{request.node.name}")


@pytest.fixture
def slow_clock(live_server: EmulatorServer) -> Iterator[None]:
    """Real time for one test (jobs stay RUNNING across several CLI start-ups), then back to fast."""
    before = live_server.control("GET", "/_emulator/clock")["time_scale"]
    live_server.control("POST", "/_emulator/clock", {"time_scale": 1.0})
    try:
        yield
    finally:
        live_server.control("POST", "/_emulator/clock", {"time_scale": before})
