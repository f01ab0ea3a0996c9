"""Dockerfile and docker-compose.yml, checked statically (no Docker engine here), plus the image's command
and healthcheck run for real against a server started with the image's own EMULATOR_* settings."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.__main__ import serve
from emulator.rules.faults import load_rules
from emulator.testing import EmulatorClient, free_port

ROOT = Path(__file__).resolve().parents[2]
ENVVARS = {p.envvar for p in serve.params if isinstance(getattr(p, "envvar", None), str)}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        word, _, rest = text.partition(" ")
        lines.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line runs off the end"
    return lines


def instructions(name: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == name]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in instructions("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def healthcheck_code() -> str:
    [check] = instructions("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"]
    return str(command[2])


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_dockerfile_builds_a_slim_image_serving_on_all_interfaces() -> None:
    words = [word for word, _ in dockerfile()]
    assert words[0] == "FROM" and instructions("FROM") == ["python:3.11-slim"]
    assert set(words) <= {
        "FROM",
        "ENV",
        "WORKDIR",
        "COPY",
        "RUN",
        "USER",
        "VOLUME",
        "EXPOSE",
        "HEALTHCHECK",
        "ENTRYPOINT",
        "CMD",
        "ARG",
        "LABEL",
    }
    env = image_env()
    assert env["EMULATOR_HOST"] == "0.0.0.0" and env["EMULATOR_PORT"] == "8000"
    assert instructions("EXPOSE") == ["8000"]
    [volume] = instructions("VOLUME")
    assert json.loads(volume) == ["/data"]
    assert env["EMULATOR_DB"].startswith("/data/") and env["EMULATOR_DATA_DIR"].startswith("/data/")
    assert json.loads(instructions("ENTRYPOINT")[0]) == ["dashscope-emulator"]
    assert json.loads(instructions("CMD")[0]) == ["serve"]
    assert instructions("USER") and instructions("USER")[0] not in ("root", "0")
    [check] = instructions("HEALTHCHECK")
    assert "/_emulator/health" in check and "curl" not in check and "wget" not in check


def test_the_image_installs_from_the_runtime_lock_with_hashes() -> None:
    """Like every venv of ``make test``: the locked runtime dependencies with ``--require-hashes``, then the
    emulator with ``--no-deps`` (built with the lock's setuptools), never a resolve of its own.  The lock is a
    real one: ``tests/packaging/test_locks.py`` checks it pins, hashes and satisfies pyproject's dependencies."""
    from tests.packaging.test_locks import inputs, pinned

    installs = [run for run in instructions("RUN") if "pip install" in run]
    locked = [run for run in installs if "-r " in run]
    assert len(locked) == 1 and "--require-hashes" in locked[0], installs
    lock = locked[0].split("-r ", 1)[1].split()[0]
    assert lock == "locks/runtime.txt" and (ROOT / lock).is_file()
    assert any(rest.split()[0] == lock for rest in instructions("COPY")), "the lock is copied into the image"
    [package] = [run for run in installs if run not in locked]
    assert "pip install --no-deps --no-build-isolation ." in package
    versions = pinned(ROOT / lock)
    assert {"setuptools", "wheel", "starlette", "uvicorn", "uvloop", "httptools"} <= set(versions)
    assert "pytest" not in versions  # the runtime only
    assert len(inputs(ROOT / lock)) > 10
    order = [word + " " + rest for word, rest in dockerfile()]
    assert order.index("RUN " + locked[0]) < order.index("RUN " + package), "dependencies first, then the package"


def test_every_copied_path_exists_and_is_not_docker_ignored() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    for rest in instructions("COPY"):
        *sources, _dest = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source
    assert {".venv", ".venv-sdk", ".git", ".data"} <= ignored


def test_every_emulator_variable_is_a_serve_option() -> None:
    named = set(image_env()) | set(compose()["services"]["emulator"]["environment"])
    commented = {
        word.strip('#:"')
        for line in (ROOT / "docker-compose.yml").read_text().splitlines()
        for word in line.split()
        if word.strip('#:"').startswith("EMULATOR_")
    }
    emulator_vars = {name for name in named | commented if name.startswith("EMULATOR_")}
    unknown = emulator_vars - ENVVARS - {"EMULATOR_HOST_PORT"}  # the compose file's own port mapping knob
    assert not unknown, f"not read by `serve`: {sorted(unknown)}"
    assert {"EMULATOR_TIME_SCALE", "EMULATOR_ADMIN_TOKEN", "EMULATOR_FAULTS", "EMULATOR_SEED"} <= emulator_vars


def test_compose_file() -> None:
    doc = compose()
    service = doc["services"]["emulator"]
    assert service["build"] == "."
    assert service["ports"] == ["${EMULATOR_HOST_PORT:-8000}:8000"]
    [mount] = service["volumes"]
    volume, target = mount.split(":")
    assert target == "/data" and volume in doc["volumes"]
    check = service["healthcheck"]
    assert check["test"][0] == "CMD" and check["test"][1:3] == ["python", "-c"]
    assert check["test"][3] == healthcheck_code()
    for value in service["environment"].values():
        assert isinstance(value, str)  # compose wants strings (or it rewrites them)


def test_the_sample_faults_file_loads() -> None:
    assert len(load_rules(ROOT / "fixtures" / "faults.json")) == 3


def test_docker_compose_config_when_available() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no `docker compose` on this machine; the compose file is checked statically above")
    done = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.live
def test_the_image_command_and_healthcheck_work(tmp_path: Path) -> None:
    """What the container runs, outside a container: ``dashscope-emulator serve`` configured by the image's ENV
    (with /data moved to a temp dir), then the HEALTHCHECK command; and the check fails when nothing listens."""
    port = free_port()
    env = {**os.environ, **{k: v.replace("/data", str(tmp_path)) for k, v in image_env().items()}}
    env.update(EMULATOR_PORT=str(port), EMULATOR_LOG_LEVEL="warning")
    entry = [sys.executable, "-m", "emulator", *json.loads(instructions("CMD")[0])]
    with open(tmp_path / "server.log", "wb") as log:
        process = subprocess.Popen(entry, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        client = EmulatorClient(f"http://127.0.0.1:{port}")
        for _ in range(500):
            try:
                client.health()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                time.sleep(0.02)
        check = subprocess.run([sys.executable, "-c", healthcheck_code()], env=env, timeout=10)
        assert check.returncode == 0
        assert (tmp_path / "emulator.db").exists() and (tmp_path / "files").is_dir()
    finally:
        process.terminate()
        process.wait(10)
    down = subprocess.run([sys.executable, "-c", healthcheck_code()], env=env, capture_output=True, timeout=10)
    assert down.returncode != 0
