"""Fine-tunes through the real SDKs and CLIs, on a live server whose clock runs 600x."""

from __future__ import annotations

import re

import pytest

from tests.conftest import DATASETS
from tests.contract.conftest import Sdk

SFT = DATASETS / "sft_basic.jsonl"
JOB = r"ft-\d{12}-[0-9a-f]{4}"
LONG = {"n_epochs": 100, "batch_size": 1, "max_length": 8192}  # RUNNING for minutes of wall time at 600x


def upload(sdk: Sdk) -> str:
    return str(
        sdk.python(f"""
        r = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune', description='training dataset')
        print(json.dumps(r.output['uploaded_files'][0]['file_id']))
    """)
    )


def create(
    sdk: Sdk, file_id: str, hyper_parameters: dict[str, object] | None = None, model: str = "qwen2.5-72b-instruct"
) -> str:
    return str(
        sdk.python(f"""
        r = dashscope.FineTunes.call(model={model!r}, training_file_ids={file_id!r},
                                     hyper_parameters={hyper_parameters or {}!r})
        assert r.status_code == 200, r
        print(json.dumps(r.output['job_id']))
    """)
    )


def test_cli_1_20_11_seed_call_runs_to_success(sdk1: Sdk) -> None:
    files = [upload(sdk1), upload(sdk1)]
    done = sdk1.cli(
        "fine_tunes.call",
        "-m",
        "qwen-turbo",
        "-t",
        *files,
        "--mode",
        "sft",
        "-b",
        "16",
        "-e",
        "1",
        "-l",
        "1.6e-5",
        "--hyper_parameters",
        "split=0.9",
        "warmup_ratio=0.0",
        "eval_steps=1",
        timeout=90,
    )
    out = done.stdout
    job_id = re.search(rf"Create fine-tune job success, job_id: ({JOB})", out).group(1)  # type: ignore[union-attr]
    assert f"Fine-tune task success, fine-tuned model:qwen-turbo-{job_id}" in out
    assert "Failed" not in out
    assert out.count("Fine-tuning is RUNNING, start get output stream.") <= 3  # no tight reconnect loop

    got = sdk1.cli("fine_tunes.get", "-j", job_id).stdout
    assert f"Fine-tune task success, fine-tuned model : qwen-turbo-{job_id}" in got
    streamed = sdk1.cli("fine_tunes.stream", "-j", job_id).stdout
    assert f"Fine-tune job: {job_id} is SUCCEEDED" in streamed
    lines = streamed.splitlines()
    assert any(line.endswith("##FT_COMPLETE##") for line in lines)
    assert len(lines) == len(set(lines))  # every log line exactly once
    listed = sdk1.cli("fine_tunes.list").stdout
    assert f"job: {job_id}, status: SUCCEEDED, base model: qwen-turbo, fine-tuned model: qwen-turbo-{job_id}" in listed
    assert f"fine_tune job: {job_id} delete success" in sdk1.cli("fine_tunes.delete", "-j", job_id).stdout


@pytest.mark.usefixtures("slow_clock")
def test_cli_1_20_11_cancel_and_refused_delete(sdk1: Sdk) -> None:
    job_id = create(sdk1, upload(sdk1), LONG)
    refused = sdk1.cli("fine_tunes.delete", "-j", job_id).stdout
    assert "UnsupportedOperation" in refused
    assert "success!" in sdk1.cli("fine_tunes.cancel", "-j", job_id).stdout
    sdk1.server.control("POST", "/_emulator/clock", {"time_scale": 600.0})  # CANCELING ends 10 emulated s later
    status = sdk1.python(f"""
        import time
        for _ in range(300):
            s = dashscope.FineTunes.get({job_id!r}).output['status']
            if s == 'CANCELED':
                break
            time.sleep(0.1)
        print(json.dumps(s))
    """)
    assert status == "CANCELED"
    assert "Fine-tune task canceled" in sdk1.cli("fine_tunes.get", "-j", job_id).stdout
    again = sdk1.cli("fine_tunes.cancel", "-j", job_id).stdout
    assert "UnsupportedOperation" in again


def test_cli_2_0_2_commands(sdk2: Sdk) -> None:
    file_id = upload(sdk2)
    created = sdk2.cli(
        "fine-tunes", "create", "-m", "qwen-turbo", "-t", file_id, "--mode", "sft", "-e", "1", timeout=90
    ).stdout
    job_id = re.search(rf"Create fine-tune job success, job_id: ({JOB})", created).group(1)  # type: ignore[union-attr]
    sdk2.python(f"""
        import time
        for _ in range(200):
            if dashscope.FineTunes.get({job_id!r}).output['status'] == 'SUCCEEDED':
                break
            time.sleep(0.05)
        print(1)
    """)
    assert f"Fine-tune task success, fine-tuned model: qwen-turbo-{job_id}" in sdk2.cli("ft", "get", job_id).stdout
    assert f"job: {job_id}, status: SUCCEEDED" in sdk2.cli("ft", "list", "-s", "5").stdout
    sdk2.cli("ft", "stream", job_id)
    sdk2.server.control("POST", "/_emulator/clock", {"time_scale": 1.0})
    try:
        long_job = create(sdk2, file_id, LONG)
        assert "The fine-tune task is: " in sdk2.cli("ft", "get", long_job).stdout
        assert f"Cancel fine-tune job: {long_job} success!" in sdk2.cli("ft", "cancel", long_job).stdout
    finally:
        sdk2.server.control("POST", "/_emulator/clock", {"time_scale": 600.0})
    assert f"fine_tune job: {job_id} delete success" in sdk2.cli("ft", "delete", job_id).stdout
    missing = sdk2.cli("ft", "get", job_id, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stdout + missing.stderr


def test_sdk_fine_tunes_api(sdk: Sdk) -> None:
    file_id = upload(sdk)
    result = sdk.python(f"""
        ft = dashscope.FineTunes
        created = ft.call(model='qwen-turbo', training_file_ids={file_id!r},
                          hyper_parameters={{'n_epochs': 1, 'learning_rate': '1.6e-5', 'split': '0.9'}})
        job_id = created.output['job_id']
        events = [e.output for e in ft.stream_events(job_id)]
        waited = ft.wait(job_id)
        logs = ft.logs(job_id, offset=1, line=1000)
        listed = ft.list(page_size=10)
        long_job = ft.call(model='qwen2.5-72b-instruct', training_file_ids=[{file_id!r}],
                           hyper_parameters={LONG!r})
        cancel = ft.cancel(long_job.output['job_id'])
        deleted = ft.delete(job_id)
        missing = ft.get(job_id)
        print(json.dumps({{
            "created": [created.status_code, created.output['status']],
            "events": events, "waited": [waited.output['status'], waited.output['finetuned_output']],
            "logs": [logs.output['total'], logs.output['logs']],
            "listed": [listed.output['total'], [j['job_id'] for j in listed.output['jobs']]],
            "cancel": [cancel.status_code, cancel.output['status']], "deleted": deleted.status_code,
            "missing": [missing.status_code, missing.code, missing.message], "job_id": job_id}}))
    """)
    job_id = result["job_id"]
    assert result["created"] == [200, "PENDING"]
    assert result["waited"] == ["SUCCEEDED", f"qwen-turbo-{job_id}"]
    events = [e.strip() for e in result["events"]]
    total, logs = result["logs"]
    assert total == len(logs) and logs[-1].endswith("##FT_COMPLETE##")
    assert events == logs[len(logs) - len(events) :] and len(events) > 5  # the stream's lines are the log's lines
    assert result["listed"] == [1, [job_id]]
    assert result["cancel"] == [200, "success"] and result["deleted"] == 200
    assert result["missing"] == [404, "NotFound", "Not found!"]
