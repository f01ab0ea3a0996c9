"""Deployments as the 2026 docs describe them: UPDATING, plan/deploy_spec/billing_method/suffix, the v1.0 model
list, the status stream, and a DELETING deployment that no longer holds its job."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import assert_error
from tests.deployments.flows import advance, deploy, finetuned_model, running

pytestmark = pytest.mark.anyio


@pytest.fixture
async def model(client: httpx.AsyncClient) -> str:
    return str((await finetuned_model(client))["finetuned_output"])


async def test_a_second_unsuffixed_deployment_of_one_model_is_a_409(client: httpx.AsyncClient) -> None:
    first = await deploy(client, "qwen-turbo")
    response = await client.post("/api/v1/deployments", json={"model_name": "qwen-turbo"})
    error = assert_error(response, 409, "Conflict")
    assert error["message"] == "Deployed model qwen-turbo already exists, please specify a suffix."
    second = await deploy(client, "qwen-turbo", suffix="b")
    assert second["deployed_model"].endswith("-b")
    again = await client.post("/api/v1/deployments", json={"model_name": "qwen-turbo", "suffix": "b"})
    assert "suffix b already exists" in assert_error(again, 409, "Conflict")["message"]
    await client.delete(f"/api/v1/deployments/{first['deployed_model']}")
    await advance(client, 10)
    assert (await deploy(client, "qwen-turbo"))["status"] == "PENDING"  # the first one is gone


@pytest.mark.parametrize(
    "body,param",
    [
        ({"plan": "mu"}, "deploy_spec"),
        ({"plan": "MU", "deploy_spec": "MU1"}, "billing_method"),
        ({"plan": "mu", "billing_method": "POST_PAY"}, "deploy_spec"),
        ({"plan": "mu", "deploy_spec": {}, "billing_method": "POST_PAY"}, "deploy_spec"),
    ],
)
async def test_an_explicit_mu_plan_needs_deploy_spec_and_billing_method(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    error = assert_error(
        await client.post("/api/v1/deployments", json={"model_name": "qwen-turbo", **body}), 400, "InvalidParameter"
    )
    assert error["message"] == f"Required parameter({param}) missing or invalid, please check the request parameters."


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"deploy_spec": "GPU-8", "billing_method": "POST_PAY"}, "deploy_spec must be"),
        ({"deploy_spec": "MU1", "billing_method": "PRE_PAY"}, "billing_method must be POST_PAY"),
    ],
)
async def test_deploy_spec_and_billing_method_are_checked(
    client: httpx.AsyncClient, body: dict[str, Any], fragment: str
) -> None:
    response = await client.post("/api/v1/deployments", json={"model_name": "qwen-turbo", "plan": "mu", **body})
    assert fragment in assert_error(response, 400, "InvalidParameter")["message"]


async def test_mu_deployment_shows_its_plan_and_unit_spec(client: httpx.AsyncClient) -> None:
    d = await deploy(client, "qwen-turbo", plan="mu", deploy_spec="MU2", billing_method="post_pay", name="x")
    assert (d["plan"], d["model_unit_spec"]) == ("mu", "MU2")
    v2 = await deploy(client, "qwen-turbo", plan="mu", suffix="v2", deploy_spec={"model_unit_spec": "MU1"},
                      billing_method="POST_PAY")  # fmt: skip
    assert v2["model_unit_spec"] == "MU1"
    got = (await client.get(f"/api/v1/deployments/{d['deployed_model']}")).json()["output"]
    assert got["model_unit_spec"] == "MU2"
    listed = (await client.get("/api/v1/deployments")).json()["output"]["deployments"]
    assert [x["model_unit_spec"] for x in listed] == ["MU1", "MU2"]
    implicit = await deploy(client, "qwen-turbo", suffix="old")  # 1.20.11 sends no plan: mu without the 2026 fields
    assert implicit["plan"] == "mu" and "model_unit_spec" not in implicit


async def test_scale_of_a_pending_deployment_is_refused_but_updating_can_be_rescaled(
    client: httpx.AsyncClient, model: str
) -> None:
    name = await running(client, model)
    up = (await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 3})).json()["output"]
    assert (up["status"], up["capacity"], up["ready_capacity"]) == ("UPDATING", 3, 1)
    more = (await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 4})).json()["output"]
    assert (more["status"], more["capacity"]) == ("UPDATING", 4)
    await advance(client, 60)
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "RUNNING"


async def test_models_version_v1(client: httpx.AsyncClient, model: str) -> None:
    flat = (await client.get("/api/v1/deployments/models")).json()["output"]
    v1 = (await client.get("/api/v1/deployments/models", params={"version": "v1.0"})).json()["output"]
    assert v1["total"] == flat["total"] and v1["page_size"] == 50
    assert [m["model_name"] for m in v1["models"]] == [m["model_name"] for m in flat["models"]]
    mu = v1["models"][0]["plans"][0]
    assert mu["plan"] == "mu" and mu["charge_type"] == "post_paid"
    assert [t["template_id"] for t in mu["templates"]] == ["MU1", "MU1-PD"]
    assert mu["templates"][1]["roles"]["decode"] == {"model_unit_spec": "MU1", "capacity_unit_per_instance": 1}
    custom = (
        await client.get("/api/v1/deployments/models", params={"version": "v1.0", "model_source": "custom"})
    ).json()["output"]
    assert custom["models"] == [{"model_name": model, "plans": [json.loads(json.dumps(mu)), {"plan": "lora"}]}]
    clamped = await client.get("/api/v1/deployments/models", params={"version": "v1.0", "page_size": 500})
    assert clamped.json()["output"]["page_size"] == 100
    bad = await client.get("/api/v1/deployments/models", params={"version": "v2"})
    assert "version must be v1.0" in assert_error(bad, 400, "InvalidParameter")["message"]


def events(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


async def test_stream_follows_status_until_running(client: httpx.AsyncClient, model: str) -> None:
    name = (await deploy(client, model, capacity=2))["deployed_model"]
    got: list[httpx.Response] = []

    async def follow() -> None:
        got.append(await client.get(f"/api/v1/deployments/{name}/stream"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(follow)
        for _ in range(20):
            await anyio.sleep(0.02)
            await advance(client, 10)
    response = got[0]
    assert response.headers["content-type"].startswith("text/event-stream")
    seen = [(e["status"], e["ready_capacity"]) for e in events(response.text)]
    assert seen[0] == ("PENDING", 0) and seen[-1] == ("RUNNING", 2)
    assert ("DEPLOYING", 1) in seen and len(seen) == len(set(seen))
    assert set(events(response.text)[0]) == {"deployed_model", "status", "capacity", "ready_capacity", "gmt_modified"}
    assert "id:1\nevent:result\ndata:{" in response.text


async def test_stream_of_a_running_deployment_is_one_event(client: httpx.AsyncClient, model: str) -> None:
    name = await running(client, model)
    assert [e["status"] for e in events((await client.get(f"/api/v1/deployments/{name}/stream")).text)] == ["RUNNING"]
    forced = await client.post(f"/_emulator/deployments/{name}/status", json={"status": "FAILED"})
    assert forced.status_code == 200
    assert [e["status"] for e in events((await client.get(f"/api/v1/deployments/{name}/stream")).text)] == ["FAILED"]


async def test_stream_ends_when_a_deleting_deployment_is_gone(client: httpx.AsyncClient, model: str) -> None:
    name = await running(client, model)
    await client.delete(f"/api/v1/deployments/{name}")
    got: list[httpx.Response] = []

    async def follow() -> None:
        got.append(await client.get(f"/api/v1/deployments/{name}/stream"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(follow)
        await anyio.sleep(0.05)
        await advance(client, 10)
    assert [e["status"] for e in events(got[0].text)] == ["DELETING"]


async def test_stream_of_an_unknown_deployment_is_a_json_404(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.get("/api/v1/deployments/nope/stream"), 404, "NotFound")
    assert error["message"] == "Model: nope not found!"


async def test_fine_tune_delete_right_after_deployment_delete(client: httpx.AsyncClient) -> None:
    """The clean-up order of a test suite: Deployments.delete, then FineTunes.delete (issue 12)."""
    job = await finetuned_model(client)
    name = await running(client, job["finetuned_output"])
    held = await client.delete(f"/api/v1/fine-tunes/{job['job_id']}")
    assert "delete the deployment first" in assert_error(held, 400, "UnsupportedOperation")["message"]
    assert (await client.delete(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "DELETING"
    assert (await client.delete(f"/api/v1/fine-tunes/{job['job_id']}")).status_code == 200
