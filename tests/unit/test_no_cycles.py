"""A request leaves no reference cycles behind: cyclic garbage is freed only by the collector, whose passes then
cost CPU on every request and stall the server for milliseconds (the p99 of a status read went from ~3 to ~16-37 ms
while each request's scope and uvicorn's cycle object held each other)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from emulator.app import create_app
from emulator.settings import Settings
from tests.conftest import DATASETS, client_for
from tests.fine_tunes.test_routes import new_job, upload_id

pytestmark = pytest.mark.anyio


class ServerCycle:
    """What uvicorn hands the app: ``send`` is a method of an object that holds the request's scope."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.status: int | None = None

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}


async def test_status_reads_and_errors_leave_no_cyclic_garbage(tmp_path: Any) -> None:
    app = create_app(Settings(db=str(tmp_path / "e.db"), data_dir=tmp_path / "f", time_scale=0.0))
    async with app.router.lifespan_context(app):
        async with client_for(app) as client:
            job = await new_job(client, await upload_id(client, DATASETS / "sft_basic.jsonl"))
        paths = [f"/api/v1/fine-tunes/{job['job_id']}", "/api/v1/fine-tunes/ft-missing", "/_emulator/health"]
        gc.collect()
        gc.disable()
        try:
            for _ in range(50):
                for path in paths:
                    scope: dict[str, Any] = {
                        "type": "http",
                        "method": "GET",
                        "path": path,
                        "raw_path": path.encode(),
                        "query_string": b"",
                        "root_path": "",
                        "scheme": "http",
                        "headers": [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-test-tenant-a")],
                        "server": ("127.0.0.1", 8000),
                        "client": ("127.0.0.1", 5),
                    }
                    cycle = ServerCycle(scope)
                    await app(scope, cycle.receive, cycle.send)
                    assert cycle.status in (200, 404)
            found = gc.collect()
        finally:
            gc.enable()
    assert found < 10, f"{found} objects in reference cycles after 150 requests"
