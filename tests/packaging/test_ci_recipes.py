"""The CI recipes under examples/ci/, run here: each recipe's shell steps (GitHub's ``run:``, GitLab's ``script:``
and ``after_script:``), in order, with the recipe's own variables, in a fresh folder outside the clone; the one
install step (``pip install "$DASHSCOPE_EMULATOR" ...``) installs the wheel ``make dist`` built instead, into a
venv on the locked runtime dependencies and pytest. Port 8000 becomes a free port. The docker compose snippet
is checked without Docker: its healthcheck runs against a server with its settings, reached by its service name.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.__main__ import serve
from emulator.testing import free_port
from tests.packaging.conftest import ROOT, UV, clean_env, get, locked_venv, serving, wheel

EXAMPLES = ROOT / "examples" / "ci"
INSTALL = re.compile(r'^pip install "\$DASHSCOPE_EMULATOR"(?P<more>[^#\n]*)(?:#.*)?$', re.M)
STEP_TIMEOUT = 120
ENVVARS = {p.envvar for p in serve.params if isinstance(getattr(p, "envvar", None), str)}

pytestmark = [pytest.mark.slow, pytest.mark.live]


def recipe(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text())  # type: ignore[no-any-return]


def github(doc: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, bool]]]:
    """The job's env and its shell steps: (script, runs even after a failure)."""
    [job] = doc["jobs"].values()
    steps = [(step["run"], step.get("if") == "always()") for step in job["steps"] if "run" in step]
    return dict(job.get("env", {})), steps


def gitlab(doc: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, bool]]]:
    """The job's variables; its script as one shell (as GitLab runs it), then after_script (always) as another."""
    [job] = (v for k, v in doc.items() if isinstance(v, dict) and "script" in v)
    steps = [("\n".join(job["script"]), False)]
    if "after_script" in job:
        steps.append(("\n".join(job["after_script"]), True))
    return dict(job.get("variables", {})), steps


RECIPES = {
    "github-actions-pytest.yml": github,
    "github-actions-server.yml": github,
    "gitlab-ci-pytest.yml": gitlab,
    "gitlab-ci-server.yml": gitlab,
}


def test_every_recipe_is_run_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.yml")} == {*RECIPES, "docker-compose.yml"}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_recipe_runs(name: str, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    variables, steps = RECIPES[name](recipe(name))
    scripts = "\n".join(script for script, _ in steps)
    assert len(INSTALL.findall(scripts)) == 1, f'{name}: one install step, `pip install "$DASHSCOPE_EMULATOR" ...`'
    assert scripts.count("pip install") == 1, f"{name}: the emulator's install step is the only install"
    assert "dashscope-emulator @ git+https://" in variables["DASHSCOPE_EMULATOR"]

    where = tmp_path_factory.mktemp("ci")
    venv = locked_venv(where)
    project = where / "project"
    project.mkdir()
    shutil.copy(EXAMPLES / "test_with_the_emulator.py", project)
    port = str(free_port())
    env = clean_env(**{k: str(v).replace("8000", port) for k, v in variables.items()})
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        RUNNER_TEMP=str(where),
        CI_PROJECT_DIR=str(project),
        CI="true",
    )
    wheel_install = f'"{UV}" pip install --quiet --no-deps --python "{venv}/bin/python" "{wheel(dist)}"'

    outputs, failed = [], False
    try:
        for script, always in steps:
            if failed and not always:
                continue
            script = INSTALL.sub(wheel_install, script)
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
            outputs.append(f"$ {script}\n{done.stdout}{done.stderr}")
            failed = failed or done.returncode != 0
    finally:
        leftover = _stop_leftover(where, project)
    log = "\n".join(outputs)
    assert not failed, f"{name} failed:\n{log}"
    assert leftover is None, f"{name} left the emulator running (pid {leftover})"
    if "pytest" in name:
        assert re.search(r"\b1 passed\b", log), log
    else:
        assert '"qwen-plus"' in log, log  # the tests step reached the emulator through the recipe's variables
        assert "Application startup complete" in log, log  # the stop step printed the server's log


def _stop_leftover(*folders: Path) -> int | None:
    """A server a recipe failed to stop: killed here by the PID it wrote, and reported."""
    for folder in folders:
        pid_file = folder / "emulator.pid"
        if not pid_file.exists():
            continue
        pid = int(pid_file.read_text())
        for _ in range(50):  # the recipe's kill is a SIGTERM: give uvicorn its moment to finish
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        return pid
    return None


def compose() -> dict[str, Any]:
    return recipe("docker-compose.yml")


def test_the_compose_snippet_builds_the_repository_image_and_waits_for_health() -> None:
    services = compose()["services"]
    emulator, tests = services["dashscope-emulator"], services["tests"]
    assert (EXAMPLES / emulator["build"] / "Dockerfile").exists()
    assert tests["depends_on"]["dashscope-emulator"]["condition"] == "service_healthy"
    unknown = {k for k in emulator["environment"] if k.startswith("EMULATOR_")} - ENVVARS
    assert not unknown, f"not serve settings: {unknown}"
    for key in ("DASHSCOPE_HTTP_BASE_URL", "OPENAI_BASE_URL"):
        assert tests["environment"][key].startswith("http://dashscope-emulator:8000/")
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        done = subprocess.run([docker, "compose", "-f", str(EXAMPLES / "docker-compose.yml"), "config", "--quiet"])
        assert done.returncode == 0


def test_the_compose_healthcheck_and_host_name_work(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The snippet's settings on a server from the wheel: its healthcheck passes, and a request naming the service
    as its Host (how the tests container reaches it) is served, not refused by the Host allow-list."""
    emulator = compose()["services"]["dashscope-emulator"]
    venv = locked_venv(tmp_path_factory.mktemp("compose"))
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--no-deps", "--python", str(venv / "bin" / "python"), str(wheel(dist))],
        check=True,
        env=clean_env(),
        timeout=120,
    )
    kind, *check = emulator["healthcheck"]["test"]
    assert kind == "CMD" and check[:2] == ["python", "-c"]
    with serving(venv, **emulator["environment"]) as url:
        port = url.rsplit(":", 1)[1]
        python = str(venv / "bin" / "python")
        healthy = subprocess.run([python, *check[1:]], env=clean_env(EMULATOR_PORT=port), timeout=30)
        assert healthy.returncode == 0
        status, _, _ = get(url + "/compatible-mode/v1/models", Authorization="Bearer sk-ci", Host="dashscope-emulator")
        assert status == 200
    unhealthy = subprocess.run([python, *check[1:]], env=clean_env(EMULATOR_PORT=port), timeout=30, capture_output=True)
    assert unhealthy.returncode != 0
