"""The built distribution, shared by the packaging tests: ``make dist`` once per run (a file lock lets the first
pytest-xdist worker build it and the others reuse it), and clean venvs outside the clone on the locked runtime
dependencies (``locks/plugin.txt``)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".venv-uv" / "bin" / "uv"
TIMEOUT = 180


def clean_env(**extra: str) -> dict[str, str]:
    """No make job server, no venv or path of the checkout, no client settings: what a fresh shell would have."""
    drop = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DASHSCOPE_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**env, **extra}


def run(cmd: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def wheel(dist: Path) -> Path:
    (found,) = dist.glob("dashscope_emulator-*.whl")
    return found


def locked_venv(where: Path) -> Path:
    """A venv at ``where/venv`` (outside the clone) with locks/plugin.txt: the runtime dependencies and pytest."""
    if not UV.exists():
        pytest.fail(f"{UV} missing (make test and make dist build it)")
    assert ROOT not in where.parents
    venv = where / "venv"
    run(["python3", "-m", "venv", "--without-pip", str(venv)], cwd=where)
    lock = str(ROOT / "locks" / "plugin.txt")
    run([str(UV), "pip", "sync", "--quiet", "--require-hashes", "--python", str(venv / "bin" / "python"), lock])
    return venv


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the same folder for every xdist worker of this run
    out = shared / "dist"
    with open(shared / "dist.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".built").exists():
            run(["make", "--no-print-directory", "-s", "dist", f"DIST={out}"], cwd=ROOT)
            (out / ".built").touch()
    return out


def get(url: str, **headers: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return answer.status, answer.headers.get("content-type", ""), answer.read()


@contextmanager
def serving(venv: Path, **env: str) -> Iterator[str]:
    """``dashscope-emulator serve`` from the venv's console script on a free port, health-checked, stopped by PID."""
    where = venv.parent
    port = free_port()
    command = [str(venv / "bin" / "dashscope-emulator"), "serve", "--port", str(port), "--db", str(where / "e.db")]
    log_path = where / f"serve-{port}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=where, env=clean_env(**env), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"serve exited {server.returncode}: {log_path.read_text()}"
            try:
                if get(url + "/_emulator/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no health in 30 s: {log_path.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
