"""Deployments in-process, on a frozen clock moved by /_emulator/clock/advance."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import AppFactory, assert_error, client_for
from tests.deployments.flows import SFT, advance, deploy, finetuned_model, generate, running

pytestmark = pytest.mark.anyio

DEPLOY_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
SEED_KEYS = {
    "deployed_model",
    "gmt_create",
    "gmt_modified",
    "status",
    "model_name",
    "base_model",
    "base_capacity",
    "capacity",
    "ready_capacity",
    "workspace_id",
    "charge_type",
    "creator",
    "modifier",
}


@pytest.fixture
async def model(client: httpx.AsyncClient) -> str:
    return str((await finetuned_model(client))["finetuned_output"])


async def get(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/deployments/{name}")
    assert response.status_code == 200, response.text
    return response.json()["output"]  # type: ignore[no-any-return]


async def state(client: httpx.AsyncClient, name: str) -> tuple[str, int, int]:
    d = await get(client, name)
    return d["status"], d["capacity"], d["ready_capacity"]


async def test_create_answers_the_seed_shape(client: httpx.AsyncClient, model: str) -> None:
    response = await client.post("/api/v1/deployments", json={"model_name": model, "capacity": 2})
    body = response.json()
    assert set(body) == {"request_id", "output"}
    d = body["output"]
    assert set(d) == SEED_KEYS | {"plan"}  # 2026: plan "for some modes"
    assert d["plan"] == "lora"  # a seed-era model's fine-tune: token-billed LoRA by default
    assert d["deployed_model"] == d["model_name"] == model and d["base_model"] == "qwen-turbo"
    assert (d["status"], d["base_capacity"], d["capacity"], d["ready_capacity"]) == ("PENDING", 2, 2, 0)
    assert d["charge_type"] == "post_paid" and d["creator"] == d["modifier"] and d["creator"].isdigit()
    assert d["workspace_id"].startswith("llm-")
    assert DEPLOY_TIME.match(d["gmt_create"]) and d["gmt_modified"] == d["gmt_create"]


async def test_pending_deploying_running_as_the_clock_moves(client: httpx.AsyncClient, model: str) -> None:
    name = (await deploy(client, model, capacity=2))["deployed_model"]
    seen = []
    for seconds in (29, 1, 20, 20, 19, 1):
        await advance(client, seconds)
        seen.append(await state(client, name))
    assert seen == [
        ("PENDING", 2, 0),
        ("DEPLOYING", 2, 0),
        ("DEPLOYING", 2, 1),
        ("DEPLOYING", 2, 2),
        ("DEPLOYING", 2, 2),
        ("RUNNING", 2, 2),
    ]
    d = await get(client, name)
    assert d["gmt_modified"] > d["gmt_create"]


async def test_list_shows_the_status_the_clock_says_without_a_get(client: httpx.AsyncClient, model: str) -> None:
    await deploy(client, model)
    await advance(client, 1000)
    listed = (await client.get("/api/v1/deployments")).json()["output"]
    assert [d["status"] for d in listed["deployments"]] == ["RUNNING"]


async def test_scale_changes_capacity_and_ready_capacity_follows(client: httpx.AsyncClient, model: str) -> None:
    name = await running(client, model, capacity=2)
    response = await client.put(f"/api/v1/deployments/{name}/scale", json={"deployed_model": name, "capacity": 4})
    answered = response.json()["output"]
    assert (answered["status"], answered["capacity"], answered["ready_capacity"]) == ("UPDATING", 4, 2)
    seen = [await state(client, name)]
    for _ in range(3):
        await advance(client, 20)
        seen.append(await state(client, name))
    assert seen == [("UPDATING", 4, 2), ("UPDATING", 4, 3), ("RUNNING", 4, 4), ("RUNNING", 4, 4)]
    assert (await generate(client, name)).status_code == 200  # old capacity serves while UPDATING
    down = await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 1})  # the docs' curl body
    assert down.json()["output"]["status"] == "UPDATING"
    await advance(client, 40)
    assert await state(client, name) == ("UPDATING", 1, 2)
    again = await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 2})  # scaled while UPDATING
    assert again.json()["output"]["status"] == "RUNNING"
    assert await state(client, name) == ("RUNNING", 2, 2)
    await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 1})
    await advance(client, 20)
    assert await state(client, name) == ("RUNNING", 1, 1)
    assert (await get(client, name))["base_capacity"] == 2


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({}, "capacity is required"),
        ({"capacity": 0}, "between 1 and 32"),
        ({"capacity": 33}, "between 1 and 32"),
        ({"capacity": "3"}, "capacity"),
        ({"capacity": 2.5}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"capacity": 3, "deployed_model": "another"}, "differs from the path"),
    ],
)
async def test_scale_validation(client: httpx.AsyncClient, model: str, body: dict[str, Any], fragment: str) -> None:
    name = await running(client, model)
    error = assert_error(await client.put(f"/api/v1/deployments/{name}/scale", json=body), 400, "InvalidParameter")
    assert fragment in error["message"]


async def test_scale_only_while_running(client: httpx.AsyncClient, model: str) -> None:
    name = (await deploy(client, model))["deployed_model"]
    error = assert_error(
        await client.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 3}), 400, "UnsupportedOperation"
    )
    assert "PENDING" in error["message"]
    assert_error(await client.put("/api/v1/deployments/nope/scale", json={"capacity": 3}), 404, "NotFound")


async def test_delete_answers_deleting_then_the_deployment_is_gone(client: httpx.AsyncClient, model: str) -> None:
    name = await running(client, model)
    response = await client.delete(f"/api/v1/deployments/{name}")
    assert response.status_code == 200 and response.json()["output"]["status"] == "DELETING"
    await advance(client, 5)
    assert (await state(client, name))[0] == "DELETING"
    again = await client.delete(f"/api/v1/deployments/{name}")  # a repeated delete answers the same
    assert again.json()["output"]["status"] == "DELETING"
    assert (await client.get("/api/v1/deployments")).json()["output"]["total"] == 1
    await advance(client, 5)
    error = assert_error(await client.get(f"/api/v1/deployments/{name}"), 404, "NotFound")
    assert error["message"] == f"Model: {name} not found!"
    assert_error(await client.delete(f"/api/v1/deployments/{name}"), 404, "NotFound")
    listed = (await client.get("/api/v1/deployments")).json()["output"]
    assert listed == {"deployments": [], "page_no": 1, "page_size": 50, "total": 0}


async def test_unknown_deployment_is_404_with_the_documented_message(client: httpx.AsyncClient) -> None:
    error = assert_error(await client.get("/api/v1/deployments/qwen-plus-20230703-cx7f"), 404, "NotFound")
    assert error["message"] == "Model: qwen-plus-20230703-cx7f not found!"


async def test_second_live_deployment_of_the_same_name_conflicts(client: httpx.AsyncClient, model: str) -> None:
    await deploy(client, model)
    error = assert_error(await client.post("/api/v1/deployments", json={"model_name": model}), 409, "Conflict")
    assert model in error["message"]
    other = await deploy(client, model, suffix="v2", capacity=1)
    assert other["deployed_model"] == f"{model}-v2" and other["model_name"] == model
    await client.delete(f"/api/v1/deployments/{model}")
    assert_error(await client.post("/api/v1/deployments", json={"model_name": model}), 409, "Conflict")  # DELETING
    await advance(client, 10)
    assert (await deploy(client, model))["status"] == "PENDING"


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"capacity": 0}, "between 1 and 32"),
        ({"capacity": -1}, "between 1 and 32"),
        ({"capacity": 33}, "between 1 and 32"),
        ({"capacity": "2"}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
        ({"capacity": False}, "capacity"),
        ({"suffix": "Has Caps"}, "suffix"),
        ({"suffix": "waytoolongsuffix"}, "suffix"),
        ({"plan": "gold"}, "plan must be one of lora, mu, ptu"),
    ],
)
async def test_create_validation(client: httpx.AsyncClient, model: str, body: dict[str, Any], fragment: str) -> None:
    response = await client.post("/api/v1/deployments", json={"model_name": model, **body})
    assert fragment in assert_error(response, 400, "InvalidParameter")["message"]


async def test_capacity_defaults_to_one_and_plan_is_case_insensitive(client: httpx.AsyncClient, model: str) -> None:
    d = await deploy(client, model, plan="Lora")
    assert (d["capacity"], d["base_capacity"]) == (1, 1)


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({}, "model_name"),
        ({"model_name": ""}, "model_name"),
        ({"model_name": "gpt-4"}, "Model not exist"),
        ({"model_name": "qwen-max"}, "cannot be deployed"),
        ({"model_name": "qwen-turbo", "plan": "lora"}, "plan lora"),
    ],
)
async def test_what_can_be_deployed(client: httpx.AsyncClient, body: dict[str, Any], fragment: str) -> None:
    error = assert_error(await client.post("/api/v1/deployments", json=body), 400, "InvalidParameter")
    assert fragment in error["message"]


async def test_a_base_model_deploys_under_a_name_of_its_own(client: httpx.AsyncClient) -> None:
    d = await deploy(client, "qwen-turbo", capacity=1, suffix="sample01")
    assert re.match(r"^qwen-turbo-[0-9a-f]{8}-sample01$", d["deployed_model"])
    assert d["model_name"] == d["base_model"] == "qwen-turbo"


async def test_a_fine_tune_that_has_not_succeeded_cannot_be_deployed(client: httpx.AsyncClient) -> None:
    file_id = (await client.post("/api/v1/files", files=[("files", ("sft.jsonl", SFT.read_bytes()))])).json()
    job = (
        await client.post(
            "/api/v1/fine-tunes",
            json={"model": "qwen-turbo", "training_file_ids": [file_id["data"]["uploaded_files"][0]["file_id"]]},
        )
    ).json()
    response = await client.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{job['output']['job_id']}"})
    assert "succeeded" in assert_error(response, 400, "InvalidParameter")["message"]


async def test_list_pages_newest_first(client: httpx.AsyncClient, model: str) -> None:
    names = [(await deploy(client, model, suffix=f"s{i}"))["deployed_model"] for i in range(3)]
    page = (await client.get("/api/v1/deployments", params={"page_no": 1, "page_size": 2})).json()["output"]
    assert [d["deployed_model"] for d in page["deployments"]] == names[::-1][:2]
    assert (page["page_no"], page["page_size"], page["total"]) == (1, 2, 3)
    last = (await client.get("/api/v1/deployments", params={"page_no": 2, "page_size": 2})).json()["output"]
    assert [d["deployed_model"] for d in last["deployments"]] == [names[0]]
    assert_error(await client.get("/api/v1/deployments", params={"page_size": 0}), 400, "InvalidParameter")


async def test_deployments_of_another_tenant_are_invisible(app: Starlette, model: str) -> None:
    async with client_for(app) as owner:
        name = await running(owner, model)
    async with client_for(app, "sk-someone-else") as other:
        assert_error(await other.get(f"/api/v1/deployments/{name}"), 404, "NotFound")
        assert_error(await other.put(f"/api/v1/deployments/{name}/scale", json={"capacity": 2}), 404, "NotFound")
        assert_error(await other.delete(f"/api/v1/deployments/{name}"), 404, "NotFound")
        assert (await other.get("/api/v1/deployments")).json()["output"]["total"] == 0
        assert_error(await other.post("/api/v1/deployments", json={"model_name": model}), 400, "InvalidParameter")
        assert_error(await generate(other, name), 400, "InvalidParameter")


async def test_control_plane_fails_a_deployment_along_the_table(client: httpx.AsyncClient, model: str) -> None:
    name = await running(client, model)
    forced = await client.post(f"/_emulator/deployments/{name}/status", json={"status": "FAILED", "message": "OOM"})
    assert forced.status_code == 200 and forced.json()["status"] == "FAILED"
    assert await state(client, name) == ("FAILED", 1, 0)
    assert "FAILED" in assert_error(await generate(client, name), 400, "InvalidParameter")["message"]
    illegal = await client.post(f"/_emulator/deployments/{name}/status", json={"status": "RUNNING"})
    assert "cannot become RUNNING" in assert_error(illegal, 400, "UnsupportedOperation")["message"]
    assert (await client.delete(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "DELETING"
    assert_error(await client.post("/_emulator/deployments/nope/status", json={"status": "FAILED"}), 404, "NotFound")
    assert_error(
        await client.post(f"/_emulator/deployments/{name}/status", json={"status": "GONE"}), 400, "InvalidParameter"
    )


async def test_control_plane_can_skip_the_wait(client: httpx.AsyncClient, model: str) -> None:
    name = (await deploy(client, model, capacity=3))["deployed_model"]
    for status in ("DEPLOYING", "RUNNING"):
        assert (await client.post(f"/_emulator/deployments/{name}/status", json={"status": status})).status_code == 200
    assert await state(client, name) == ("RUNNING", 3, 3)


async def test_a_deployed_models_job_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    job = await finetuned_model(client)
    name = await running(client, job["finetuned_output"])
    refused = await client.delete(f"/api/v1/fine-tunes/{job['job_id']}")
    assert name in assert_error(refused, 400, "UnsupportedOperation")["message"]
    file_id = job["training_file_ids"][0]
    assert (await client.delete(f"/api/v1/files/{file_id}")).status_code == 200
    assert (await generate(client, name)).status_code == 200  # the training file is not needed any more
    await client.delete(f"/api/v1/deployments/{name}")
    # a DELETING deployment no longer holds its job: deployment first, then job, without waiting
    assert (await client.delete(f"/api/v1/fine-tunes/{job['job_id']}")).status_code == 200
    assert (await client.get(f"/api/v1/fine-tunes/{job['job_id']}")).status_code == 404
    assert (await get(client, name))["status"] == "DELETING"
    await advance(client, 10)
    assert_error(await client.get(f"/api/v1/deployments/{name}"), 404, "NotFound")


async def test_deployable_models(client: httpx.AsyncClient, model: str) -> None:
    base = (await client.get("/api/v1/deployments/models")).json()["output"]
    names = [m["model_name"] for m in base["models"]]
    assert "qwen-turbo" in names and "qwen-max" not in names
    assert base["total"] == len(names) and base["page_size"] == 50
    assert all(m["base_capacity"] == 1 for m in base["models"])
    custom = (await client.get("/api/v1/deployments/models", params={"model_source": "custom"})).json()["output"]
    assert custom["models"] == [{"model_name": model, "base_capacity": 1}]
    page = (await client.get("/api/v1/deployments/models", params={"page_no": 2, "page_size": 3})).json()["output"]
    assert [m["model_name"] for m in page["models"]] == names[3:6]
    bad = await client.get("/api/v1/deployments/models", params={"model_source": "mine"})
    assert_error(bad, 400, "InvalidParameter")


async def test_reset_removes_deployments(client: httpx.AsyncClient, model: str) -> None:
    await deploy(client, model)
    removed = (await client.post("/_emulator/reset")).json()["removed"]
    assert removed["deployments"] == 1
    assert (await client.get("/api/v1/deployments")).json()["output"]["total"] == 0


async def test_a_restart_keeps_deployments_and_their_schedule(app_factory: AppFactory) -> None:
    first = await app_factory()
    async with client_for(first) as client:
        model = (await finetuned_model(client))["finetuned_output"]
        name = (await deploy(client, model))["deployed_model"]
        await advance(client, 40)
    second = await app_factory()
    async with client_for(second) as client:
        assert (await state(client, name))[0] == "DEPLOYING"
        await advance(client, 60)
        assert (await state(client, name))[0] == "RUNNING"
        assert (await generate(client, name)).status_code == 200
