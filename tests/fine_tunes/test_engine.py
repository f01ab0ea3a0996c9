"""The incremental queue engine through the real service, against the old full replay (``states.advance``).

Random sequences of create / cancel / force / clock advance / delete over two tenants, sent over HTTP to an
in-process app on a SQLite file; after every step each job's status and timestamps (as stored, to the bit) must
be what the replay of the same facts gives, and every refused action must be refused by both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.app import create_app
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import (
    ACTIVE,
    CANCEL_SECONDS,
    HOLDS_SLOT,
    TERMINAL,
    IllegalTransition,
    JobStatus,
    JobTimes,
    Policy,
    cancel,
    force,
)
from emulator.settings import Settings
from tests.conftest import DATASETS, client_for, upload
from tests.fine_tunes.replay import advance, fill_slot

KEYS = ("sk-engine-a", "sk-engine-b")
PENDING = 5.0
POLICY = Policy(pending_seconds=PENDING, cancel_seconds=CANCEL_SECONDS)

_step = st.one_of(
    st.tuples(st.just("create"), st.sampled_from([0, 0, 0, 1])),
    st.tuples(st.just("cancel"), st.integers(0, 4)),
    st.tuples(st.just("force"), st.integers(0, 4), st.sampled_from(sorted(JobStatus))),
    st.tuples(st.just("delete"), st.integers(0, 4)),
    st.tuples(st.just("advance"), st.sampled_from([1.0, 5.0, 30.0, 120.0, 600.0, 3000.0])),
)


class Replay:
    """The old engine: every action replays the tenant's active jobs up to now, then acts, then fills the slot."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[JobTimes]] = {key: [] for key in KEYS}
        self.owner: dict[str, str] = {}

    def sync(self, key: str, now: float) -> None:
        advance([j for j in self.jobs[key] if j.status in ACTIVE], now, POLICY)

    def job(self, job_id: str) -> JobTimes:
        return next(j for j in self.jobs[self.owner[job_id]] if j.job_id == job_id)

    def act(self, step: tuple[Any, ...], job_id: str, now: float) -> bool:
        """True when the action is accepted."""
        key = self.owner[job_id]
        self.sync(key, now)
        job = self.job(job_id)
        if step[0] == "delete":
            if job.status not in TERMINAL:
                return False
            self.jobs[key].remove(job)
            del self.owner[job_id]
            return True
        if job.status in TERMINAL:
            return False
        if step[0] == "cancel" and job.status is JobStatus.CANCELING:
            return True
        others = [j for j in self.jobs[key] if j is not job and j.status in HOLDS_SLOT]
        if step[0] == "force" and step[2] is JobStatus.RUNNING and others:
            return False
        try:
            cancel(job, now) if step[0] == "cancel" else force(job, step[2], now)
        except IllegalTransition:
            return False
        fill_slot([j for j in self.jobs[key] if j.status in ACTIVE], now, POLICY)
        return True


async def _scenario(steps: list[tuple[Any, ...]], workdir: Path) -> None:
    settings = Settings(db=str(workdir / "e.db"), data_dir=workdir / "files", time_scale=0.0, seed=3)
    settings = dataclasses.replace(settings, pending_seconds=PENDING)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        clients = [client_for(app, key) for key in KEYS]
        files = []
        for client in clients:
            files.append((await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]["uploaded_files"][0])
        await _run(app, clients, [f["file_id"] for f in files], steps)
        for client in clients:
            await client.aclose()


async def _run(app: Any, clients: list[httpx.AsyncClient], files: list[str], steps: list[tuple[Any, ...]]) -> None:
    rt = app.state.rt
    service: FineTunesService = app.state.services.fine_tunes
    replay = Replay()
    created: list[str] = []
    for step in steps:
        now = rt.clock.now()
        if step[0] == "advance":
            assert (await clients[0].post("/_emulator/clock/advance", json={"seconds": step[1]})).status_code == 200
        elif step[0] == "create":
            key = KEYS[step[1]]
            replay.sync(key, now)
            answer = await clients[step[1]].post(
                "/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [files[step[1]]]}
            )
            assert answer.status_code == 200, answer.text
            row = await service.find_job(answer.json()["output"]["job_id"])
            fails = bool(row.plan.get("failure"))
            replay.jobs[key].append(
                JobTimes(row.job_id, JobStatus.PENDING, row.created_at, row.plan["duration"], fails)
            )
            replay.owner[row.job_id] = key
            created.append(row.job_id)
        elif step[1] < len(created) and created[step[1]] in replay.owner:
            await _act(clients, replay, step, created[step[1]], now)
        await _compare(service, replay, rt.clock.now())


async def _act(
    clients: list[httpx.AsyncClient], replay: Replay, step: tuple[Any, ...], job_id: str, now: float
) -> None:
    client = clients[KEYS.index(replay.owner[job_id])]
    if step[0] == "cancel":
        answer = await client.post(f"/api/v1/fine-tunes/{job_id}/cancel")
    elif step[0] == "delete":
        answer = await client.delete(f"/api/v1/fine-tunes/{job_id}")
    else:
        answer = await client.post(f"/_emulator/fine-tunes/{job_id}/status", json={"status": step[2].value})
    accepted = replay.act(step, job_id, now)
    assert (answer.status_code == 200) == accepted, (step, answer.status_code, answer.text)


async def _compare(service: FineTunesService, replay: Replay, now: float) -> None:
    for key, jobs in replay.jobs.items():
        replay.sync(key, now)
        for want in jobs:
            got = await service.find_job(want.job_id)
            assert (got.status, got.queued_at, got.started_at, got.cancel_at, got.ended_at) == (
                want.status,
                want.queued_at,
                want.started_at,
                want.cancel_at,
                want.ended_at,
            ), want.job_id


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(st.sampled_from([0, 0, 1]), min_size=2, max_size=5), steps=st.lists(_step, min_size=5, max_size=30)
)
def test_the_service_agrees_with_the_replay(first: list[int], steps: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_scenario([("create", tenant) for tenant in first] + steps, Path(tmp)))


async def _wire_forms(workdir: Path) -> list[dict[str, Any]]:
    settings = Settings(db=str(workdir / "e.db"), data_dir=workdir / "files", time_scale=0.0, seed=3)
    app = create_app(settings)
    forms: list[dict[str, Any]] = []
    async with app.router.lifespan_context(app), client_for(app, KEYS[0]) as client:
        file_id = (await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]["uploaded_files"][0]["file_id"]
        body = {"model": "qwen-turbo", "training_file_ids": [file_id], "job_name": "wire"}
        ids = [(await client.post("/api/v1/fine-tunes", json=body)).json()["output"]["job_id"] for _ in range(3)]
        await client.post(f"/_emulator/fine-tunes/{ids[1]}/status", json={"status": "FAILED", "message": "boom"})
        await client.post(f"/api/v1/fine-tunes/{ids[2]}/cancel")
        forms.append((await client.get(f"/api/v1/fine-tunes/{ids[0]}")).json()["output"])
        await client.post("/_emulator/clock/advance", json={"seconds": 100_000})
        forms += [(await client.get(f"/api/v1/fine-tunes/{i}")).json()["output"] for i in ids]
        forms += (await client.get("/api/v1/fine-tunes")).json()["output"]["jobs"]
    return forms


def test_the_hot_path_renders_exactly_the_schema() -> None:
    """``job_dict`` skips pydantic; what it renders must be what the ``JobObject`` model dumps, in its order."""
    from emulator.fine_tunes.schemas import JobObject

    with tempfile.TemporaryDirectory() as tmp:
        forms = asyncio.run(_wire_forms(Path(tmp)))
    assert {f["status"] for f in forms} == {"PENDING", "SUCCEEDED", "FAILED", "CANCELED"}
    for form in forms:
        dumped = JobObject.model_validate(form).model_dump(exclude_none=True)
        assert list(dumped.items()) == list(form.items())
