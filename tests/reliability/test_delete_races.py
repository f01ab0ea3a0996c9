"""Deleting a job while an export or a deployment of it is being created (issue 24): the job is read, the delete
lands, then the create commits. The create decides inside its own transaction, re-reading the job: it answers
404 / ModelNotExist and leaves nothing behind (before: an export holding its name forever, a RUNNING deployment
of a deleted job, 5 times in 5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.deployments.flows import finetuned_model
from tests.fine_tunes.test_checkpoints import checkpoints, new_job, succeed

pytestmark = pytest.mark.anyio


def delete_after(read: Callable[..., Awaitable[Any]], delete: Callable[[], Awaitable[None]]) -> Callable[..., Any]:
    """``read``, then the concurrent delete, as the race interleaves them."""

    async def raced(*args: Any, **kwargs: Any) -> Any:
        found = await read(*args, **kwargs)
        await delete()
        return found

    return raced


async def test_an_export_of_a_job_deleted_meanwhile_is_refused(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await new_job(client, eval_steps=1)
    await succeed(client, job_id)
    older = (await checkpoints(client, job_id))[1]
    assert older["status"] == "PENDING"
    fine_tunes = app.state.services.fine_tunes

    async def delete() -> None:
        assert (await client.delete(f"/api/v1/fine-tunes/{job_id}")).status_code == 200

    monkeypatch.setattr(fine_tunes, "get_job", delete_after(fine_tunes.get_job, delete))
    response = await client.get(f"/api/v1/fine-tunes/{job_id}/export/{older['checkpoint']}", params={"model_name": "x"})
    assert response.status_code == 404, response.text
    rows = await app.state.rt.db.fetchall("SELECT * FROM checkpoint_exports")
    assert rows == []


async def test_a_deployment_of_a_job_deleted_meanwhile_is_refused(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await finetuned_model(client)
    fine_tunes = app.state.services.fine_tunes

    async def delete() -> None:
        assert (await client.delete(f"/api/v1/fine-tunes/{job['job_id']}")).status_code == 200

    monkeypatch.setattr(fine_tunes, "find_model", delete_after(fine_tunes.find_model, delete))
    response = await client.post("/api/v1/deployments", json={"model_name": job["finetuned_output"]})
    assert response.status_code in (400, 404), response.text
    assert (await client.get("/api/v1/deployments")).json()["output"]["total"] == 0
