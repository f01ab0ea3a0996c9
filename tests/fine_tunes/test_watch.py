"""Wake-ups: a job's watchers wake on changes to that job or its tenant (and the clock, while it trains), never
on another tenant's; the one watch iterator behind the SSE stream and the dashboard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette

from emulator.changes import CLOCK, Signal
from tests.conftest import DATASETS, client_for, upload

pytestmark = pytest.mark.anyio


async def _spin() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_keyed_signal_wakes_only_its_keys() -> None:
    signal = Signal()
    a = asyncio.ensure_future(signal.wait(5, ("job-a", "tenant-a")))
    anyone = asyncio.ensure_future(signal.wait(5))
    await _spin()
    signal.notify("tenant-b", "job-b")
    await _spin()
    assert not a.done() and anyone.done()
    signal.notify("tenant-a")
    assert await a is True
    assert signal.waiting() == 0
    assert await signal.wait(0.01, ("job-a",)) is False and signal.waiting() == 0


async def _job(client: Any) -> str:
    file_id = (await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]["uploaded_files"][0]["file_id"]
    answer = await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]})
    return str(answer.json()["output"]["job_id"])


async def test_another_tenants_create_does_not_wake_a_watch(app: Starlette) -> None:
    service = app.state.services.fine_tunes
    async with client_for(app, "sk-watch-a") as a, client_for(app, "sk-watch-b") as b:
        job_a = await _job(a)
        await _job(a)
        looks = service.watch(job_a)
        first = await looks.__anext__()
        assert first.job.status.value == "PENDING" and not first.timed_out
        nxt = asyncio.ensure_future(looks.__anext__())
        await _spin()
        await _job(b)
        await b.post(f"/api/v1/fine-tunes/{await _job(b)}/cancel")
        await _spin()
        assert not nxt.done(), "a change in tenant B woke a watch of tenant A"
        await a.post("/_emulator/clock/advance", json={"seconds": 10})
        look = await asyncio.wait_for(nxt, 5)
        assert look.job.status.value == "RUNNING" and not look.timed_out
        await looks.aclose()


async def test_a_queued_job_is_not_woken_by_the_clock_alone(app: Starlette) -> None:
    """Its log cannot move until the queue does; the running job's watch does wake (its log moves with time)."""
    service = app.state.services.fine_tunes
    async with client_for(app, "sk-watch-q") as a:
        running, queued = await _job(a), await _job(a)
        await a.post("/_emulator/clock/advance", json={"seconds": 10})
        watches = [service.watch(running), service.watch(queued)]
        for watch in watches:
            await watch.__anext__()
        nxt = [asyncio.ensure_future(w.__anext__()) for w in watches]
        await _spin()
        app.state.rt.changes.notify(CLOCK)
        await _spin()
        assert nxt[0].done() and not nxt[1].done()
        nxt[1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await nxt[1]
        for watch in watches:
            await watch.aclose()


async def test_the_watch_reports_a_deleted_job_as_gone(app: Starlette) -> None:
    service = app.state.services.fine_tunes
    looks = [look async for look in service.watch("ft-202401010000-0000")]
    assert len(looks) == 1 and looks[0].job is None


async def test_the_watch_times_out_at_the_configured_heartbeat(app_factory: Any) -> None:
    """One heartbeat setting for both followers (the dashboard's used to be hard-coded)."""
    app = await app_factory(heartbeat_seconds=0.05)
    service = app.state.services.fine_tunes
    async with client_for(app, "sk-watch-h") as a:
        looks = service.watch(await _job(a))
        assert not (await looks.__anext__()).timed_out
        second = await asyncio.wait_for(looks.__anext__(), 5)
        assert second.timed_out and second.job.status.value == "PENDING"
        await looks.aclose()


async def test_with_two_workers_a_watch_looks_again_within_half_a_second(app_factory: Any) -> None:
    """Another worker's changes do not wake this one: both followers poll (the SSE route had it, the dashboard not)."""
    app = await app_factory(workers=2)
    service = app.state.services.fine_tunes
    async with client_for(app, "sk-watch-w") as a:
        job = await service.find_job(await _job(a))
        assert service._wait_seconds(job, app.state.rt.clock.now(), None) <= 0.5
