"""Deploy and call a fine-tuned model through the real SDKs and CLIs: the seed's 模型部署 and 模型调用 flow.

Both CLIs poll a deployment every 30 wall seconds while it is PENDING or DEPLOYING.  The CLI runs unmodified,
but with a ``sitecustomize`` that turns each ``time.sleep(30)`` into ``POST /_emulator/clock/advance`` of 30
emulated seconds: the wait loop goes through PENDING and DEPLOYING exactly as it would, without the wait.
These tests run the clock at wall speed (``slow_clock``) so that only those advances move a deployment on, and
each status shows whatever the load on the machine.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from emulator.testing import fast_sleep_env
from tests.contract.conftest import Sdk
from tests.deployments.flows import SFT, training_pairs

ADVANCE = """
import os, urllib.request
def advance(seconds):
    urllib.request.urlopen(urllib.request.Request(
        os.environ["EMULATOR_CONTROL_URL"] + "/_emulator/clock/advance", method="POST",
        data=json.dumps({"seconds": seconds}).encode(), headers={"Content-Type": "application/json"})).read()
"""

PROMPT, ANSWER = training_pairs()[2]


@pytest.fixture(scope="module")
def fast_sleep() -> Path:
    """The shim the package ships for exactly this (``emulator.testing.fast_sleep_env``)."""
    return Path(fast_sleep_env("http://unused")["PYTHONPATH"].split(os.pathsep)[0])


def with_advance(code: str) -> str:
    """The snippet, with an ``advance(seconds)`` that moves the server's clock."""
    return ADVANCE + textwrap.dedent(code)


def finetune(sdk: Sdk) -> str:
    """Upload, train (moving the clock until the job succeeds), answer the fine-tuned model's name."""
    return str(
        sdk.python(
            with_advance(f"""
        up = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune', description='seed flow')
        file_id = up.output['uploaded_files'][0]['file_id']
        job_id = dashscope.FineTunes.call(model='qwen-turbo', training_file_ids=[file_id]).output['job_id']
        for _ in range(60):
            job = dashscope.FineTunes.get(job_id).output
            if job['status'] == 'SUCCEEDED':
                break
            advance(600)
        print(json.dumps(job['finetuned_output']))
    """),
            EMULATOR_CONTROL_URL=sdk.server.url,
        )
    )


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.usefixtures("slow_clock")
def test_cli_1_20_11_seed_flow(sdk1: Sdk, fast_sleep: Path) -> None:
    model = finetune(sdk1)
    waited = sdk1.cli(
        "deployments.call", "-c", "2", "-m", model, PYTHONPATH=str(fast_sleep), EMULATOR_CONTROL_URL=sdk1.server.url
    ).stdout
    assert f"Create model: {model} deployment" in waited
    assert f"Deployment {model} is PENDING" in waited and f"Deployment {model} is DEPLOYING" in waited
    assert waited.rstrip().endswith(f"Deployment: {model} status: RUNNING")

    assert f"Deployed model: {model} capacity: 2 status: RUNNING" in sdk1.cli("deployments.get", "-d", model).stdout
    assert f"Deployed_model: {model}, model: {model}, status: RUNNING" in sdk1.cli("deployments.list").stdout
    scaled = sdk1.cli("deployments.scale", "-d", model, "-c", "3").stdout
    assert f"Deployed_model: {model}, model: {model}, status: UPDATING" in scaled  # 2026: UPDATING first
    job_id = re.search(r"ft-\d{12}-[0-9a-f]{4}$", model).group(0)  # type: ignore[union-attr]
    refused = sdk1.cli("fine_tunes.delete", "-j", job_id).stdout  # the deployed model's job stays
    assert "UnsupportedOperation" in refused and "delete the deployment first" in refused

    output, usage = json_lines(sdk1.cli("generation.call", "-m", model, "-p", "你是谁?").stdout)
    assert output["finish_reason"] == "stop" and model in str(output["text"])
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]  # type: ignore[operator]
    streamed = json_lines(sdk1.cli("generation.call", "-m", model, "-p", PROMPT, "-s").stdout)
    outputs = streamed[::2]
    assert len(outputs) >= 3 and outputs[-1] == {"text": ANSWER, "finish_reason": "stop", "choices": None}
    assert [o["finish_reason"] for o in outputs[:-1]] == ["null"] * (len(outputs) - 1)

    assert f"Deployed model: {model} delete success" in sdk1.cli("deployments.delete", "-d", model).stdout


@pytest.mark.usefixtures("slow_clock")
def test_cli_2_0_2_flow(sdk2: Sdk, fast_sleep: Path) -> None:
    model = finetune(sdk2)
    created = sdk2.cli(
        "deployments",
        "create",
        "-m",
        model,
        "-c",
        "2",
        "--plan",
        "lora",
        PYTHONPATH=str(fast_sleep),
        EMULATOR_CONTROL_URL=sdk2.server.url,
    ).stdout
    assert f"Create model: {model} deployment" in created and f"Deployment {model} is PENDING" in created
    assert f"Deployment: {model} status: RUNNING" in created
    assert f"Deployed model: {model} capacity: 2 status: RUNNING" in sdk2.cli("deployments", "get", model).stdout
    # 2.0.2 checks isinstance(output, dict) on a typed object: its list never prints a deployment (reference §5.5)
    assert "There is no deployed model!" in sdk2.cli("deployments", "list").stdout
    assert "status: UPDATING" in sdk2.cli("deployments", "scale", model, "-c", "3").stdout

    [plain] = json_lines(sdk2.cli("generation", "create", "-m", model, "-p", PROMPT).stdout)
    assert plain["output"] == {"text": ANSWER, "finish_reason": "stop", "choices": None}
    streamed = json_lines(sdk2.cli("generation", "create", "-m", model, "-p", PROMPT, "-s").stdout)
    assert len(streamed) >= 3 and streamed[-1]["output"] == plain["output"]

    assert f"Deployed model: {model} delete success" in sdk2.cli("deployments", "delete", model).stdout


@pytest.mark.usefixtures("slow_clock")
def test_sdk_deployments_and_generation(sdk: Sdk) -> None:
    model = finetune(sdk)
    result = sdk.python(
        with_advance(f"""
        from dashscope import Deployments, Generation
        model = {model!r}
        created = Deployments.call(model=model, capacity=2)
        pending = Deployments.get(model)
        advance(100)
        running = Deployments.get(model)
        listed = Deployments.list(page_no=1, page_size=10)
        scaled = Deployments.scale(model, 3)
        plain = Generation.call(model=model, prompt={PROMPT!r})
        message = Generation.call(model=model, messages=[{{'role': 'user', 'content': {PROMPT!r}}}],
                                  result_format='message', seed=3)
        chunks = [r.output.text for r in Generation.call(model=model, prompt={PROMPT!r}, stream=True)]
        deltas = [r.output.text for r in Generation.call(model=model, prompt={PROMPT!r}, stream=True,
                                                         incremental_output=True)]
        unknown = Generation.call(model='qwen-nope', prompt='hi')
        deleted = Deployments.delete(model)
        advance(20)
        gone = Deployments.get(model)
        def out(r):
            o = r.output
            return {{k: o[k] for k in ('deployed_model', 'status', 'capacity', 'ready_capacity')}} if o else None
        print(json.dumps({{
            "created": out(created), "pending": out(pending), "running": out(running), "scaled": out(scaled),
            "listed": [listed.status_code, [d['deployed_model'] for d in listed.output['deployments']]],
            "plain": [plain.status_code, plain.output.text, plain.output.finish_reason, dict(plain.usage)],
            "message": message.output.choices[0].message.content, "chunks": chunks, "deltas": deltas,
            "unknown": [unknown.status_code, unknown.code, unknown.message],
            "deleted": [deleted.status_code, deleted.output['status']],
            "gone": [gone.status_code, gone.code, gone.message]}}))
    """),
        EMULATOR_CONTROL_URL=sdk.server.url,
    )
    assert result["created"] == {"deployed_model": model, "status": "PENDING", "capacity": 2, "ready_capacity": 0}
    assert result["pending"]["status"] == "PENDING"
    assert result["running"] == {"deployed_model": model, "status": "RUNNING", "capacity": 2, "ready_capacity": 2}
    assert (result["scaled"]["capacity"], result["scaled"]["status"]) == (3, "UPDATING")
    assert result["listed"] == [200, [model]]
    status, text, finish, usage = result["plain"]
    assert (status, text, finish) == (200, ANSWER, "stop") and usage["output_tokens"] > 0
    assert result["message"] == ANSWER
    chunks = result["chunks"]
    assert len(chunks) >= 3 and chunks[-1] == ANSWER
    assert all(later.startswith(earlier) for earlier, later in zip(chunks, chunks[1:], strict=False))
    assert "".join(result["deltas"]) == ANSWER
    assert result["unknown"] == [400, "InvalidParameter", "Model not exist."]
    assert result["deleted"] == [200, "DELETING"]
    assert result["gone"] == [404, "NotFound", f"Model: {model} not found!"]


STREAM_SNIPPET = """
import threading, time
from dashscope import Deployments
model = {model!r}

def ticking(seconds, times):
    def run():
        for _ in range(times):
            advance(seconds)
            time.sleep(0.05)
    thread = threading.Thread(target=run)
    thread.start()
    return thread

def follow(name, seconds, times):
    seen, ticker = [], None
    for rsp in Deployments.stream_events(name):
        assert rsp.status_code == 200, rsp
        seen.append(json.loads(rsp.output))  # the module API hands over the raw text after data:
        ticker = ticker or ticking(seconds, times)
    if ticker:
        ticker.join()
    return [[e['status'], e['capacity'], e['ready_capacity']] for e in seen]

Deployments.call(model=model, capacity=2)
created = follow(model, 10, 12)
Deployments.scale(model, 3)
scaled = follow(model, 10, 4)
v2 = None
if hasattr(dashscope, 'Client'):
    from dashscope import Client
    client = Client()
    v2 = [[e.output['status'], e.is_error] for e in client.deployments.stream_events(model)]
Deployments.delete(model)
deleting = follow(model, 5, 3)
print(json.dumps({{"created": created, "scaled": scaled, "v2": v2, "deleting": deleting,
                  "gone": Deployments.get(model).status_code}}))
"""


@pytest.mark.usefixtures("slow_clock")
def test_deployment_stream_events(sdk: Sdk) -> None:
    """``Deployments.stream_events`` (both generations, and the v2 Client): status snapshots until RUNNING."""
    model = finetune(sdk)
    result = sdk.python(with_advance(STREAM_SNIPPET.format(model=model)), EMULATOR_CONTROL_URL=sdk.server.url)
    created = result["created"]
    assert created[0] == ["PENDING", 2, 0] and created[-1] == ["RUNNING", 2, 2]
    assert ["DEPLOYING", 2, 1] in created
    assert result["scaled"] == [["UPDATING", 3, 2], ["RUNNING", 3, 3]]
    if sdk.version.startswith("2."):
        assert result["v2"] == [["RUNNING", False]]
    assert result["deleting"] == [["DELETING", 3, 3]]
    assert result["gone"] == 404


def test_v2_client_deploys_with_the_2026_fields(sdk2: Sdk) -> None:
    """v2 ``client.deployments.create`` sends ``plan``, ``deploy_spec`` (an object) and ``billing_method``; a second
    suffix-less deployment of the same model is a 409 the client raises on."""
    result = sdk2.python("""
        from dashscope import Client
        client = Client()
        def create(**extra):
            try:
                made = client.deployments.create(model='qwen3-8b', capacity=1, plan='mu', **extra)
            except Exception as exc:
                return [type(exc).__name__, getattr(exc, 'status_code', None), str(exc)]
            return [made.deployed_model, made.status]
        spec = dict(deploy_spec={'model_unit_spec': 'MU1'}, billing_method='POST_PAY')
        made, again, missing = create(**spec), create(**spec), create(suffix='nospec')
        fetched = client.deployments.get(made[0])
        client.deployments.delete(made[0])
        print(json.dumps({"made": made, "again": again, "missing": missing,
                          "fetched": [fetched.status, fetched.base_model]}))
    """)
    assert result["made"][0].startswith("qwen3-8b-") and result["made"][1] in ("PENDING", "DEPLOYING")
    assert result["again"][1] == 409
    assert "Deployed model qwen3-8b already exists, please specify a suffix." in result["again"][2]
    assert result["missing"][1] == 400 and "deploy_spec" in result["missing"][2]
    assert result["fetched"][1] == "qwen3-8b"  # the clock runs fast here: any status
