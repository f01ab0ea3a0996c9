"""Forcing a fine-tune's status through the control plane, and the optional admin token."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import DATASETS, AppFactory, assert_error, client_for
from tests.fine_tunes.test_routes import advance, new_job, status, upload_id

pytestmark = pytest.mark.anyio


async def force(client: httpx.AsyncClient, job_id: str, target: str, message: str | None = None) -> httpx.Response:
    body = {"status": target} if message is None else {"status": target, "message": message}
    return await client.post(f"/_emulator/fine-tunes/{job_id}/status", json=body)


async def test_force_failed_answers_the_job_and_logs_the_event(client: httpx.AsyncClient) -> None:
    job_id = (await new_job(client, await upload_id(client, DATASETS / "sft_basic.jsonl")))["job_id"]
    response = await force(client, job_id, "FAILED", "disk on fire")
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["job_id"] == job_id and job["status"] == "FAILED" and job["message"] == "disk on fire"
    assert "end_time" in job and "request_id" not in job
    assert await status(client, job_id) == "FAILED"
    logs = (await client.get(f"/api/v1/fine-tunes/{job_id}/logs")).json()["output"]["logs"]
    assert any("FAILED by the emulator control plane: disk on fire" in line for line in logs)


async def test_only_legal_transitions(client: httpx.AsyncClient) -> None:
    job_id = (await new_job(client, await upload_id(client, DATASETS / "sft_basic.jsonl")))["job_id"]
    assert_error(await force(client, job_id, "SUCCEEDED"), 400, "UnsupportedOperation")  # PENDING cannot succeed
    assert (await force(client, job_id, "RUNNING")).json()["status"] == "RUNNING"
    assert (await force(client, job_id, "SUCCEEDED")).json()["status"] == "SUCCEEDED"
    assert_error(await force(client, job_id, "FAILED"), 400, "UnsupportedOperation")  # final
    assert_error(await force(client, job_id, "EXPLODED"), 400, "InvalidParameter")
    assert_error(await client.post(f"/_emulator/fine-tunes/{job_id}/status", json={}), 400, "InvalidParameter")
    assert_error(await force(client, "ft-000000000000-0000", "FAILED"), 404, "NotFound")


async def test_forced_running_then_the_clock_finishes_it(client: httpx.AsyncClient) -> None:
    sft = await upload_id(client, DATASETS / "sft_basic.jsonl")
    first = (await new_job(client, sft))["job_id"]
    second = (await new_job(client, sft))["job_id"]
    assert (await force(client, second, "RUNNING")).json()["status"] == "RUNNING"
    assert_error(await force(client, first, "RUNNING"), 400, "UnsupportedOperation")  # one slot per tenant
    await advance(client, 10)
    assert await status(client, first) == "QUEUING"


async def test_admin_token_guards_the_control_plane(app_factory: AppFactory) -> None:
    app = await app_factory(admin_token="s3cret")
    async with client_for(app, None) as client:
        assert (await client.get("/_emulator/health")).status_code == 200
        body = assert_error(await client.get("/_emulator/clock"), 401, "InvalidApiKey")
        assert "X-Emulator-Token" in body["message"]
        assert_error(await client.get("/_emulator/clock", headers={"X-Emulator-Token": "nope"}), 401, "InvalidApiKey")
        assert_error(await client.post("/_emulator/reset"), 401, "InvalidApiKey")
        assert (await client.get("/_emulator/clock", headers={"X-Emulator-Token": "s3cret"})).status_code == 200
        assert (await client.get("/_emulator/clock", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        assert (await client.get("/_emulator/faults", headers={"Authorization": "Bearer s3cret"})).status_code == 200
    async with client_for(app) as user:  # the public API still takes API keys, not the token
        assert (await user.get("/api/v1/files")).status_code == 200


async def test_without_a_token_the_control_plane_is_open(app: Starlette) -> None:
    async with client_for(app, None) as client:
        assert (await client.get("/_emulator/clock")).status_code == 200
