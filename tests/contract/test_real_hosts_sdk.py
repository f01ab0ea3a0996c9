"""The real dashscope SDK (2.0.2, ``make sdk``'s venv) given the real service's URL inside a test that uses the
fixture: its sync (requests) and async (aiohttp) calls fail naming the test and the host, and a call whose error
the code swallows still fails the test.  The SDK runs unmodified; only the test's pytest comes from the test venv."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from tests.contract.conftest import CLIENT_VENV, ROOT, require_venv

pytestmark = [pytest.mark.live, pytest.mark.contract]

INNER = """
import asyncio

import dashscope

REAL = "https://dashscope.aliyuncs.com/api/v1"


def test_sync_and_async_calls_are_refused(dashscope_emulator, dashscope_emulator_refused, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", REAL)  # an app with the URL written in
    try:
        answer = dashscope.Generation.call(model="qwen-turbo", prompt="hi")
    except Exception as exc:
        answer = exc
    assert "test_sdk.py::test_sync_and_async_calls_are_refused tried to reach dashscope.aliyuncs.com" in repr(answer)
    try:
        answer = asyncio.run(dashscope.AioGeneration.call(model="qwen-turbo", prompt="hi"))
    except Exception as exc:
        answer = exc
    assert "tried to reach dashscope.aliyuncs.com" in repr(answer), repr(answer)
    assert set(dashscope_emulator_refused) == {"dashscope.aliyuncs.com"}  # once or more a call (retries)
    assert dashscope_emulator.requests() == []  # nothing reached the emulator either


def test_a_swallowed_refusal_fails_the_test(dashscope_emulator, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", REAL)
    try:
        dashscope.Generation.call(model="qwen-turbo", prompt="hi")
    except Exception:
        pass


def test_the_fixture_points_the_sdk_here(dashscope_emulator):
    assert dashscope.Generation.call(model="qwen-turbo", prompt="hi").status_code == 200
"""


def test_the_sdk_cannot_reach_the_real_service(tmp_path: Path) -> None:
    require_venv(CLIENT_VENV, "make sdk")
    (tmp_path / "test_sdk.py").write_text(INNER, encoding="utf-8")
    paths = [str(ROOT), sysconfig.get_paths()["purelib"]]  # pytest and the emulator from the test venv
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "OPENAI_", "VIRTUAL_ENV", "PYTEST"))}
    done = subprocess.run(
        [str(CLIENT_VENV / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_sdk.py"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout
    assert re.search(r"^3 passed, 1 error", out, re.M), f"{out}\n{done.stderr}"
    assert "ERROR at teardown of test_a_swallowed_refusal_fails_the_test" in out
    assert "test_sdk.py::test_a_swallowed_refusal_fails_the_test tried to reach dashscope.aliyuncs.com" in out
