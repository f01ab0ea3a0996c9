"""The README's quick start, run as written (the block after its ``<!-- quickstart`` marker) in the repository
folder, with ``.venv-client`` from ``make sdk``, against a live server with ``make serve``'s options: the README
cannot drift from what works."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import CLIENT_VENV, ROOT, require_venv

README = ROOT / "README.md"
MARKER = "<!-- quickstart:"
SERVE_ADDRESS = "127.0.0.1:8000"  # make serve's default, the address the README shows

pytestmark = pytest.mark.slow


def quickstart_block(readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    assert MARKER in text, "the README lost its quick-start marker"
    found = re.search(r"```bash\n(.*?)```", text.split(MARKER, 1)[1], re.S)
    assert found is not None, "no bash block after the quick-start marker"
    return found.group(1)


def test_the_block_is_what_a_user_would_paste() -> None:
    block = quickstart_block()
    assert block.startswith("make sdk") and "source .venv-client/bin/activate" in block
    assert SERVE_ADDRESS in block and "<" not in block, "the block must run without hand-edited placeholders"


def test_readme_quickstart_runs_as_written() -> None:
    require_venv(CLIENT_VENV, "make sdk")
    block = quickstart_block()
    # make serve's options but a faster clock: the job streams for a wall second instead of ten
    with EmulatorServer(time_scale=600.0) as server:
        script = block.replace(SERVE_ADDRESS, f"{server.host}:{server.port}")
        if CLIENT_VENV != ROOT / ".venv-client":  # EMULATOR_CLIENT_VENV (make test-latest): that venv instead
            script = script.replace("source .venv-client/", f"source {CLIENT_VENV}/")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "OPENAI_", "VIRTUAL_ENV"))}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env={**env, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"the quick start failed:\n{done.stdout}\n{done.stderr}"
        journal = server.requests(tenant="sk-local")
    out = done.stdout
    job_id = re.search(r"fine-tuned model: qwen-turbo-(ft-\d{12}-[0-9a-f]{4})", out)
    assert job_id is not None, out
    assert "##FT_COMPLETE##" in out and f"finetuned output: qwen-turbo-{job_id.group(1)}" in out
    native, compatible = out.strip().splitlines()[-2:]
    assert native and native == compatible, "the same question, natively and OpenAI-style, gets the same reply"
    model = f"qwen-turbo-{job_id.group(1)}"
    assert f'"deployed_model":"{model}","status":"RUNNING"' in out, "the deployment was followed until RUNNING"
    seen = {(r["method"], r["path"], r["status"]) for r in journal}
    for call in (
        ("POST", "/api/v1/files", 200),
        ("POST", "/api/v1/fine-tunes", 200),
        ("GET", f"/api/v1/fine-tunes/{job_id.group(1)}/stream", 200),
        ("POST", "/api/v1/services/aigc/text-generation/generation", 200),
        ("POST", "/compatible-mode/v1/chat/completions", 200),
        ("POST", "/api/v1/deployments", 200),
        ("GET", f"/api/v1/deployments/qwen-turbo-{job_id.group(1)}/stream", 200),
    ):
        assert call in seen, f"{call} never reached the server: {sorted(seen)}"
    asked = {
        r["body"]["model"]
        for r in journal
        if (r["method"], r["path"])
        in {
            ("POST", "/api/v1/services/aigc/text-generation/generation"),
            ("POST", "/compatible-mode/v1/chat/completions"),
        }
    }
    assert asked == {model}, f"the deployed fine-tune must answer both calls, not {asked}"
