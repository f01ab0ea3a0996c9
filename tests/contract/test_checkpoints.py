"""Checkpoints → export → deploy → call, against a real server: the checkpoint endpoints over HTTP (no SDK has
them, reference 2026 §2), then the exported model deployed and called through the real SDKs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.contract.conftest import Sdk
from tests.contract.test_deployments import ANSWER, PROMPT, with_advance
from tests.deployments.flows import SFT


def api(sdk: Sdk, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sdk.api_key}"}
    return httpx.request(method, f"{sdk.server.api_base}{path}", headers=headers, timeout=30, **kwargs)


def advance(sdk: Sdk, seconds: float) -> None:
    sdk.server.control("POST", "/_emulator/clock/advance", {"seconds": seconds})


@pytest.mark.usefixtures("slow_clock")
def test_checkpoint_export_deploy_and_call(sdk: Sdk) -> None:
    files = [("files", ("sft.jsonl", SFT.read_bytes()))]
    file_id = api(sdk, "POST", "/files", files=files).json()["data"]["uploaded_files"][0]["file_id"]
    body = {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": {"n_epochs": 3, "eval_steps": 1}}
    job_id = api(sdk, "POST", "/fine-tunes", json=body).json()["output"]["job_id"]
    for _ in range(50):
        if api(sdk, "GET", f"/fine-tunes/{job_id}").json()["output"]["status"] == "SUCCEEDED":
            break
        advance(sdk, 600)
    listed = api(sdk, "GET", f"/fine-tunes/{job_id}/checkpoints").json()["output"]
    assert listed[0]["status"] == "SUCCEEDED" and listed[1]["status"] == "PENDING"
    exported = api(sdk, "GET", f"/fine-tunes/{job_id}/export/{listed[1]['checkpoint']}", params={"model_name": "c1"})
    assert exported.json()["output"] is True
    statuses = [api(sdk, "GET", f"/fine-tunes/{job_id}/checkpoints").json()["output"][1]["status"]]
    advance(sdk, 200)
    done = api(sdk, "GET", f"/fine-tunes/{job_id}/checkpoints").json()["output"][1]
    assert statuses == ["PENDING"] and done["status"] == "SUCCEEDED"
    model = done["model_name"]

    result = sdk.python(
        with_advance(f"""
        from dashscope import Deployments, Generation
        created = Deployments.call(model={model!r}, capacity=1)
        advance(100)
        running = Deployments.get({model!r})
        answer = Generation.call(model={model!r}, prompt={PROMPT!r})
        Deployments.delete({model!r})
        print(json.dumps([created.status_code, running.output['status'], answer.status_code, answer.output.text]))
    """),
        EMULATOR_CONTROL_URL=sdk.server.url,
    )
    assert result == [200, "RUNNING", 200, ANSWER]
    assert api(sdk, "DELETE", f"/fine-tunes/{job_id}").status_code == 200  # its deployment is DELETING
