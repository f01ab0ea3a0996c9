"""The pytest plugin, through pytester: one inner session (one server) running tests that use every helper."""

from __future__ import annotations

import os

import pytest

from emulator.testing import running_emulator
from tests.conftest import DATASETS

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.live

INNER = """
import os
import pathlib

import httpx
import pytest

SFT = {sft!r}


def client(emulator):
    return httpx.Client(base_url=os.environ["DASHSCOPE_HTTP_BASE_URL"].removesuffix("/api/v1"),
                        headers={{"Authorization": "Bearer " + os.environ["DASHSCOPE_API_KEY"]}})


def test_env_points_at_the_server(dashscope_emulator):
    assert os.environ["DASHSCOPE_HTTP_BASE_URL"] == dashscope_emulator.api_base
    assert os.environ["DASHSCOPE_HTTP_URL"] == dashscope_emulator.url + "/api/v1"  # Qwen-Agent
    for name in ("DASHSCOPE_API_BASE", "DASHSCOPE_COMPATIBLE_BASE_URL", "DASHSCOPE_BASE_URL"):  # litellm, apps
        assert os.environ[name] == dashscope_emulator.url + "/compatible-mode/v1"
    assert os.environ["DASHSCOPE_API_KEY"] == "sk-inner-key"
    assert dashscope_emulator.health()["seed"] == 42
    assert dashscope_emulator.clock()["time_scale"] == 0


def test_a_job_runs_until_it_succeeds(dashscope_emulator):
    with client(dashscope_emulator) as c:
        up = c.post("/api/v1/files", files=[("files", ("sft.jsonl", pathlib.Path(SFT).read_bytes()))]).json()
        file_id = up["data"]["uploaded_files"][0]["file_id"]
        job = c.post("/api/v1/fine-tunes", json={{"model": "qwen-turbo", "training_file_ids": [file_id]}}).json()
    job_id = job["output"]["job_id"]
    assert dashscope_emulator.run_until(job_id, "RUNNING")["status"] == "RUNNING"
    done = dashscope_emulator.run_until(job_id, "SUCCEEDED")
    assert done["finetuned_output"] == "qwen-turbo-" + job_id
    with pytest.raises(AssertionError, match="ended SUCCEEDED"):
        dashscope_emulator.run_until(job_id, "FAILED")


def test_each_test_starts_from_a_clean_emulator(dashscope_emulator):
    assert dashscope_emulator.api("GET", "/api/v1/files")["data"]["total"] == 0
    assert len(dashscope_emulator.requests()) == 1  # the call just above: the journal was cleared
    assert dashscope_emulator.faults() == []


def test_fault_advance_and_requests(dashscope_emulator):
    before = dashscope_emulator.clock()["now"]
    assert dashscope_emulator.advance(90) == before + 90
    rule = dashscope_emulator.fault("/api/v1/files", method="GET", status=429, code="Throttling", count=1)
    assert rule.startswith("fault-")
    with client(dashscope_emulator) as c:
        assert c.get("/api/v1/files").status_code == 429
        assert c.get("/api/v1/files").status_code == 200
    seen = dashscope_emulator.requests(path="/api/v1/files")
    assert [e["status"] for e in seen] == [200, 429]
    assert seen[0]["headers"]["authorization"].startswith("Bearer sk… #")
    dashscope_emulator.set_time_scale(5.0)  # the fixture puts the speed back afterwards


def test_the_speed_came_back(dashscope_emulator):
    assert dashscope_emulator.clock()["time_scale"] == 0


def test_snapshot_into_tmp_path(dashscope_emulator, tmp_path):
    dashscope_emulator.advance(60)
    path = dashscope_emulator.snapshot(tmp_path / "w.tar")
    assert path == str((tmp_path / "w.tar").resolve())
    assert dashscope_emulator.restore(path)["blobs"] == 0


def test_respond_responses_and_clear(dashscope_emulator):
    rule = dashscope_emulator.respond(contains="ping", content="pong")
    with client(dashscope_emulator) as c:
        body = {{"model": "qwen-plus", "input": {{"prompt": "ping?"}}}}
        out = c.post("/api/v1/services/aigc/text-generation/generation", json=body).json()
    assert out["output"]["text"] == "pong"
    assert [(r["id"], r["hits"]) for r in dashscope_emulator.responses()] == [(rule, 1)]
    assert dashscope_emulator.requests(path="/api/v1/services/*")[0]["rule"] == rule
    dashscope_emulator.respond(content="x")
    dashscope_emulator.clear_responses(rule)
    assert [r["content"] for r in dashscope_emulator.responses()] == ["x"]


def test_rules_do_not_leak_into_the_next_test(dashscope_emulator):
    assert dashscope_emulator.responses() == []
    dashscope_emulator.respond(content="y")
    dashscope_emulator.clear_responses()
    assert dashscope_emulator.responses() == []


def test_reset_inside_a_test(dashscope_emulator):
    dashscope_emulator.fault("/api/v1/files", status=500)
    dashscope_emulator.reset()
    assert dashscope_emulator.faults() == []
"""


def test_the_fixture_and_its_helpers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER.format(sft=str(DATASETS / "sft_basic.jsonl")))
    pytester.makeini("[pytest]\ndashscope_emulator_seed = 42\n")
    result = pytester.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "--dashscope-emulator-api-key",
        "sk-inner-key",
        "--dashscope-emulator-time-scale",
        "0",
        "-q",
    )
    result.assert_outcomes(passed=9)


def test_the_options_are_documented(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines(
        ["*--dashscope-emulator-time-scale*", "*--dashscope-emulator-url*", "*dashscope_emulator_seed*"]
    )


URL_MODE = """
def test_uses_the_running_emulator(dashscope_emulator):
    assert dashscope_emulator.health()["seed"] == 3
    assert dashscope_emulator.api("GET", "/api/v1/files")["data"]["total"] == 0  # reset before the test
"""


def test_running_emulator_for_scripts_and_the_url_option(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "outer")
    monkeypatch.setenv("DASHSCOPE_API_BASE", "https://outer.example/compatible-mode/v1")
    for name in (
        "DASHSCOPE_HTTP_BASE_URL",
        "DASHSCOPE_HTTP_URL",
        "DASHSCOPE_COMPATIBLE_BASE_URL",
        "DASHSCOPE_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    with running_emulator(seed=3, api_key="sk-script-key") as emulator:
        assert os.environ["DASHSCOPE_HTTP_BASE_URL"] == emulator.api_base == emulator.url + "/api/v1"
        assert os.environ["DASHSCOPE_HTTP_URL"] == emulator.api_base
        assert os.environ["DASHSCOPE_API_BASE"] == os.environ["DASHSCOPE_BASE_URL"] == emulator.openai_base
        assert os.environ["DASHSCOPE_COMPATIBLE_BASE_URL"] == emulator.url + "/compatible-mode/v1"
        assert os.environ["DASHSCOPE_API_KEY"] == "sk-script-key"
        pytester.makepyfile(test_url=URL_MODE)
        result = pytester.runpytest_inprocess(
            "-p", "no:cacheprovider", "-q", f"--dashscope-emulator-url={emulator.url}"
        )
        result.assert_outcomes(passed=1)
        process = emulator.process
    assert process is not None and process.poll() is not None  # stopped on exit
    assert os.environ["DASHSCOPE_API_KEY"] == "outer" and "DASHSCOPE_HTTP_BASE_URL" not in os.environ
    assert os.environ["DASHSCOPE_API_BASE"] == "https://outer.example/compatible-mode/v1"
    assert "DASHSCOPE_HTTP_URL" not in os.environ and "DASHSCOPE_BASE_URL" not in os.environ


def test_fast_sleep_env_puts_the_shim_first_and_keeps_the_rest() -> None:
    import os
    from pathlib import Path

    from emulator.testing import fast_sleep_env

    env = fast_sleep_env("http://127.0.0.1:9", {"PYTHONPATH": "/somewhere", "KEEP": "1"})
    first, rest = env["PYTHONPATH"].split(os.pathsep, 1)
    assert (Path(first) / "sitecustomize.py").is_file() and rest == "/somewhere"
    assert env["EMULATOR_CONTROL_URL"] == "http://127.0.0.1:9" and env["KEEP"] == "1"
    assert fast_sleep_env("http://x", {})["PYTHONPATH"] == first
    assert env["DASHSCOPE_HTTP_BASE_URL"] == env["DASHSCOPE_HTTP_URL"] == "http://127.0.0.1:9/api/v1"
    assert env["DASHSCOPE_API_BASE"] == "http://127.0.0.1:9/compatible-mode/v1" and "DASHSCOPE_API_KEY" not in env
    given = fast_sleep_env("http://127.0.0.1:9", {"DASHSCOPE_HTTP_BASE_URL": "http://elsewhere/api/v1"})
    assert given["DASHSCOPE_HTTP_BASE_URL"] == "http://elsewhere/api/v1"  # what the caller set wins
