"""Deployments wake only their own watchers; the custom model list is read one page at a time."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from emulator.deployments.service import deployment_key
from tests.deployments.flows import advance, deploy, finetuned_model

pytestmark = pytest.mark.anyio


async def _woken(app: Starlette, key: str, action: object) -> bool:
    """Whether a waiter on ``key`` is woken while ``action`` (an awaitable) runs."""
    waiter = asyncio.create_task(app.state.rt.changes.wait(2.0, (key,)))
    await asyncio.sleep(0)
    response = await action  # type: ignore[misc]
    assert response.status_code == 200, response.text
    return bool(await waiter)


async def test_a_deployment_change_wakes_its_own_watchers_only(app: Starlette, client: httpx.AsyncClient) -> None:
    model = str((await finetuned_model(client))["finetuned_output"])
    first = str((await deploy(client, model))["deployed_model"])
    second = str((await deploy(client, model, suffix="two"))["deployed_model"])
    await advance(client, 120)  # both RUNNING: a scale is accepted
    scale_second = client.put(f"/api/v1/deployments/{second}/scale", json={"capacity": 2})
    assert not await _woken(app, deployment_key(first), scale_second)
    scale_first = client.put(f"/api/v1/deployments/{first}/scale", json={"capacity": 2})
    assert await _woken(app, deployment_key(first), scale_first)


async def test_custom_models_are_paged_newest_first(client: httpx.AsyncClient) -> None:
    models = [str((await finetuned_model(client))["finetuned_output"]) for _ in range(3)]
    await advance(client, 1)
    pages = [
        (await client.get("/api/v1/deployments/models", params={"model_source": "custom", **p})).json()["output"]
        for p in ({"page_no": 1, "page_size": 2}, {"page_no": 2, "page_size": 2}, {"page_no": 3, "page_size": 2})
    ]
    assert [m["model_name"] for page in pages for m in page["models"]] == models[::-1]
    assert {page["total"] for page in pages} == {3}
    assert pages[2]["models"] == []
