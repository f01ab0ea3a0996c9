"""Jobs across tenants built through the services (issue 11): status reads, a list page and a create, flat from a
world of 100 jobs to one of 100,000.

The world is built in-process, before the server starts, by the same calls a request makes: each tenant uploads
a dataset through ``FilesService`` and creates its jobs through ``FineTunesService.create_job``; the clock is
moved through the control plane's own step (``control.service.advance_clock``), so the engine takes every job
through its transitions.  Each tenant ends with the same mix (``MIX``): finished jobs, one running, queued and
pending ones.
A small world is one such tenant; a large one is as many as it takes.  The server is then started on that
database and measured in the first tenant, whose own jobs are alike in both worlds: what grows is the rest.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load
from bench.common import emulator, median, running
from bench.fill import dataset

PER_TENANT = 100
MIX = {"finished": 60, "queued": 30, "pending": 10}  # one of the queued ones runs
SIZES = (100, 100_000)
PENDING = 5.0
SECONDS = 2.0
KEY = "sk-bench-world-{}"


@dataclass(frozen=True)
class World:
    seconds: float
    jobs: int
    tenants: int
    statuses: dict[str, int]
    probe: dict[str, str]  # status name -> a job id of the first tenant
    file_id: str


async def _build(workdir: Path, jobs: int) -> World:
    from emulator.app import create_app
    from emulator.control.service import advance_clock
    from emulator.fine_tunes.schemas import CreateJobRequest
    from emulator.settings import Settings

    settings = Settings(
        db=str(workdir / "emulator.db"), data_dir=workdir / "files", time_scale=0.0, pending_seconds=PENDING
    )
    app = create_app(settings)
    started = time.perf_counter()
    async with app.router.lifespan_context(app):
        rt = app.state.rt
        tenants = [await rt.tenants.resolve(KEY.format(i), None, rt.clock.now()) for i in range(jobs // PER_TENANT)]
        file_ids = [await _upload(app, KEY.format(i)) for i in range(len(tenants))]
        service = app.state.services.fine_tunes

        async def create(count: int) -> list[list[str]]:
            out = []
            for tenant, file_id in zip(tenants, file_ids, strict=True):
                req = CreateJobRequest(model="qwen-turbo", training_file_ids=[file_id])
                out.append([(await service.create_job(tenant, req)).job_id for _ in range(count)])
            return out

        async def advance(seconds: float) -> None:
            await advance_clock(rt, app.state.services, seconds)

        finished = await create(MIX["finished"])
        await advance(PENDING + 1)
        first = await service.get_job(tenants[0], finished[0][0])
        await advance(MIX["finished"] * float(first.plan["duration"]) + 60)
        queued = await create(MIX["queued"])
        await advance(PENDING + 1)
        pending = await create(MIX["pending"])
        statuses = dict(
            await rt.db.fetchall("SELECT status, count(*) FROM fine_tunes GROUP BY status")  # type: ignore[arg-type]
        )
        probe = {"finished": finished[0][len(finished[0]) // 2], "running": queued[0][0]}
        probe.update(queued=queued[0][len(queued[0]) // 2], pending=pending[0][0])
    return World(time.perf_counter() - started, jobs, len(tenants), statuses, probe, file_ids[0])


async def _upload(app: Any, key: str) -> str:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.post(
            "/api/v1/files",
            files=[("files", ("train.jsonl", dataset(50)))],
            headers={"Authorization": f"Bearer {key}"},
        )
    return str(response.json()["data"]["uploaded_files"][0]["file_id"])


def build(workdir: Path, jobs: int) -> World:
    workdir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_build(workdir, jobs))


def _targets(server: Any, world: World) -> dict[str, tuple[str, bytes | None]]:
    base = server.url + "/api/v1/fine-tunes"
    body = json.dumps({"model": "qwen-turbo", "training_file_ids": [world.file_id]}).encode()
    targets: dict[str, tuple[str, bytes | None]] = {
        f"status_{name}_p50_ms": (f"{base}/{job_id}", None) for name, job_id in world.probe.items()
    }
    targets["list_jobs_p50_ms"] = (f"{base}?page_no=1&page_size=10", None)
    targets["create_p50_ms"] = (base, body)  # last: each create adds a job
    return targets


def measure(workdir: Path, rounds: int = 3, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Every world built first, then their servers measured side by side, round by round (a busy machine weighs
    on every size alike)."""
    worlds = {size: build(workdir / f"world-{size}", size) for size in sizes}
    servers = {size: emulator(workdir / f"world-{size}", extra=("--pending-seconds", str(PENDING))) for size in sizes}
    auth = {"Authorization": f"Bearer {KEY.format(0)}"}
    samples: dict[int, dict[str, list[float]]] = {size: {} for size in sizes}
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(running(server))
        targets = {size: _targets(servers[size], worlds[size]) for size in sizes}
        for size in sizes:
            for url, body in targets[size].values():
                if body is None:
                    load.run(url, seconds=0.5, connections=1, headers=auth)
        for name in targets[sizes[0]]:
            for _ in range(rounds):
                for size in sizes:
                    url, body = targets[size][name]
                    run = load.run(url, seconds=SECONDS, connections=1, headers=auth, body=body)
                    samples[size].setdefault(name, []).append(run["p50_ms"])
    for size in sizes:
        shutil.rmtree(workdir / f"world-{size}", ignore_errors=True)
    by_size = {
        size: {
            "build_seconds": round(worlds[size].seconds, 1),
            "tenants": worlds[size].tenants,
            "statuses": worlds[size].statuses,
            **{name: median(values) for name, values in samples[size].items()},
        }
        for size in sizes
    }
    small, large = by_size[sizes[0]], by_size[sizes[-1]]
    growth = {k: large[k] / small[k] for k in small if k.endswith("_p50_ms") and small[k]}
    return {"sizes": {str(k): v for k, v in by_size.items()}, "p50_growth": growth}


if __name__ == "__main__":
    sizes = tuple(int(s) for s in sys.argv[1:]) or SIZES
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(Path(tmp), rounds=1, sizes=sizes), indent=2))
