"""The command line tells a new user what to do: a busy port names itself and the ways out; ``--help`` shows an
example and the URLs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.__main__ import cli


def test_a_busy_port_says_which_and_how_to_pick_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", str(port), "--db", str(tmp_path / "e.db")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: port {port} on 127.0.0.1 is already in use (another dashscope-emulator?). Pick another one: "
        f"--port {port + 1} (EMULATOR_PORT={port + 1}; with make: make serve PORT={port + 1}), or --port 0 for any "
        "free port."
    ]
    assert "Errno" not in done.stderr and "Traceback" not in done.stderr


def test_a_free_port_is_not_refused() -> None:
    from emulator.__main__ import check_port_free

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_port_free("127.0.0.1", port)  # nothing listens there any more


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"]])
def test_help_shows_an_example_and_the_urls(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    for text in (
        "dashscope-emulator serve --port 8000",
        "DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:8000/api/v1",
        "OPENAI_BASE_URL=http://127.0.0.1:8000/compatible-mode/v1",
        "/_emulator/",
        "/docs",
    ):
        assert text in result.output
