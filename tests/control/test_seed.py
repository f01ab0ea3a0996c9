"""fixtures/world.json loaded through the services: by the ``seed`` command offline, and by POST /_emulator/seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from emulator.__main__ import cli
from tests.conftest import FIXTURES, AppFactory, assert_error, client_for

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(app_factory: AppFactory, tmp_path: Path) -> Starlette:
    """The world lives in fixtures/, the bad ones in tmp_path: both allowed as --control-path."""
    return await app_factory(control_paths=(tmp_path, FIXTURES))


WORLD = FIXTURES / "world.json"
EVERY_STATUS = {"SUCCEEDED", "FAILED", "CANCELED", "RUNNING", "QUEUING", "PENDING", "CANCELING"}


async def seed_command(*args: str) -> Any:
    """The CLI runs its own event loop: in a worker thread, as it would in its own process."""
    return await anyio.to_thread.run_sync(lambda: CliRunner().invoke(cli, ["seed", *args]))


def statuses(summary: dict[str, Any]) -> set[str]:
    return {job["status"] for tenant in summary["tenants"] for job in tenant["fine_tunes"].values()}


async def check_world(app: Any, summary: dict[str, Any]) -> None:
    alice, bob = summary["tenants"]
    async with client_for(app, "sk-world-alice") as client:
        assert (await client.get("/api/v1/files")).json()["data"]["total"] == 5
        jobs = (await client.get("/api/v1/fine-tunes", params={"page_size": 50})).json()["output"]["jobs"]
        assert {j["job_id"]: j["status"] for j in jobs} == {
            v["job_id"]: v["status"] for v in alice["fine_tunes"].values()
        }
        failed = alice["fine_tunes"]["broken"]["job_id"]
        job = (await client.get(f"/api/v1/fine-tunes/{failed}")).json()["output"]
        assert "GPU caught fire" in job["message"]
        [deployment] = (await client.get("/api/v1/deployments")).json()["output"]["deployments"]
        assert deployment["status"] == "RUNNING" and deployment["capacity"] == 2
        assert deployment["model_name"].endswith(alice["fine_tunes"]["support-bot"]["job_id"])
    async with client_for(app, "sk-world-bob") as client:
        [job] = (await client.get("/api/v1/fine-tunes")).json()["output"]["jobs"]
        assert job["status"] == "CANCELING"
        [deployment] = (await client.get("/api/v1/deployments")).json()["output"]["deployments"]
        assert deployment["status"] == "DEPLOYING"
    assert bob["deployments"] == {deployment["deployed_model"]: "DEPLOYING"}


async def test_the_seed_endpoint_loads_every_status(app: Starlette) -> None:
    async with client_for(app, None) as control:
        response = await control.post("/_emulator/seed", json={"path": str(WORLD)})
        assert response.status_code == 200, response.text
        summary = response.json()
    assert statuses(summary) == EVERY_STATUS
    await check_world(app, summary)


async def test_the_seed_command_prepares_a_database_offline(app_factory: AppFactory, tmp_path: Path) -> None:
    db = tmp_path / "world.db"
    result = await seed_command(str(WORLD), "--db", str(db), "--seed", "7")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert statuses(summary) == EVERY_STATUS
    app = await app_factory(db=str(db), data_dir=tmp_path / "files", seed=7)
    async with client_for(app, None) as control:
        assert (await control.get("/_emulator/clock")).json()["now"] == summary["emulated_time"]
    await check_world(app, summary)
    again = await seed_command(str(WORLD), "--db", str(db), "--seed", "7", "--reset")
    assert again.exit_code == 0, again.output


async def test_bad_worlds_are_refused(client: httpx.AsyncClient, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"tenants": [{"api_key": "k", "fine_tunes": [{"name": "j", "training_files": ["nope"]}]}]})
    )
    body = assert_error(await client.post("/_emulator/seed", json={"path": str(bad)}), 400, "InvalidParameter")
    assert "unknown file 'nope'" in body["message"]
    assert_error(
        await client.post("/_emulator/seed", json={"path": str(tmp_path / "none.json")}), 400, "InvalidParameter"
    )
    result = await seed_command(str(bad), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1 and "unknown file 'nope'" in result.output
