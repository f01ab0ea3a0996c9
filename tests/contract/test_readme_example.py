"""The README's pytest example, run as written (the block after its ``<!-- pytest-example`` marker) by pytest in a
folder of its own, with the plugin registered by the package's entry point (no conftest), the ``dashscope`` SDK
of ``make sdk``'s venv, and ``train.jsonl`` beside it: the README cannot promise a fixture that does not work."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import DATASETS
from tests.contract.conftest import CLIENT_VENV, ROOT, require_venv

README = ROOT / "README.md"
MARKER = "<!-- pytest-example:"

pytestmark = [pytest.mark.live, pytest.mark.slow]


def example_block() -> str:
    text = README.read_text(encoding="utf-8")
    assert MARKER in text, "the README lost its pytest-example marker"
    found = re.search(r"```python\n(.*?)```", text.split(MARKER, 1)[1], re.S)
    assert found is not None, "no python block after the pytest-example marker"
    return found.group(1)


def test_the_example_is_short_and_uses_only_the_fixture() -> None:
    block = example_block()
    assert len(block.strip().splitlines()) <= 14 and "conftest" not in block
    assert "dashscope_emulator" in block and "OpenAI()" in block, "the fixture points an argument-less client here"


def test_readme_pytest_example_runs_as_written(tmp_path: Path) -> None:
    require_venv(CLIENT_VENV, "make sdk")
    (tmp_path / "test_example.py").write_text(example_block(), encoding="utf-8")
    shutil.copy(DATASETS / "sft_basic.jsonl", tmp_path / "train.jsonl")
    # the SDK from make sdk's venv; pytest, the emulator and its dependencies from the test venv, by path
    paths = [str(ROOT), sysconfig.get_paths()["purelib"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "OPENAI_", "VIRTUAL_ENV", "PYTEST"))}
    done = subprocess.run(
        [str(CLIENT_VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"the README's pytest example failed:\n{done.stdout}\n{done.stderr}"
    assert re.search(r"^1 passed", done.stdout, re.M), done.stdout
