"""The status read's cache (``VersionedCache``): a repeated read is served from memory only while nothing at all
has committed, so it answers exactly what the database would, whoever wrote."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from emulator.db import Database, VersionedCache
from tests.conftest import DATASETS, AppFactory, client_for
from tests.fine_tunes.test_routes import advance, new_job, upload_id

pytestmark = pytest.mark.anyio


async def _job(client: httpx.AsyncClient) -> str:
    job = await new_job(client, await upload_id(client, DATASETS / "sft_basic.jsonl"))
    return f"/api/v1/fine-tunes/{job['job_id']}"


async def test_a_commit_by_another_program_is_seen_at_the_next_read(app_factory: AppFactory) -> None:
    app = await app_factory(pending_seconds=0)
    async with client_for(app) as client:
        url = await _job(client)
        await advance(client, 1)  # RUNNING: the next transition is far off, so reads are served from the cache
        first = (await client.get(url)).json()["output"]
        assert (await client.get(url)).json()["output"] == first  # now served from the cache
        other = sqlite3.connect(app.state.rt.settings.db)  # another process or worker, as far as SQLite knows
        with other:
            other.execute("UPDATE fine_tunes SET model = 'edited-elsewhere' WHERE job_id = ?", (url.rsplit("/")[-1],))
        other.close()
        assert (await client.get(url)).json()["output"]["model"] == "edited-elsewhere"


async def test_this_process_s_own_writes_are_seen(app_factory: AppFactory) -> None:
    app = await app_factory(pending_seconds=5)
    async with client_for(app) as client:
        url = await _job(client)
        assert (await client.get(url)).json()["output"]["status"] == "PENDING"
        await advance(client, 10)
        assert (await client.get(url)).json()["output"]["status"] == "RUNNING"
        assert (await client.post(f"{url}/cancel")).status_code == 200
        assert (await client.get(url)).json()["output"]["status"] == "CANCELING"


async def test_a_cached_job_stays_invisible_to_another_tenant(app_factory: AppFactory) -> None:
    app = await app_factory(pending_seconds=0)
    async with client_for(app) as client, client_for(app, "sk-someone-else") as stranger:
        url = await _job(client)
        assert (await client.get(url)).status_code == 200
        assert (await stranger.get(url)).status_code == 404
        assert (await client.get(url)).status_code == 200


async def test_time_alone_still_moves_a_cached_job(app_factory: AppFactory) -> None:
    """No commit happens while the clock runs, but the cached 'next transition due' makes the read settle."""
    app = await app_factory(pending_seconds=0)
    async with client_for(app) as client:
        url = await _job(client)
        await advance(client, 1)
        assert (await client.get(url)).json()["output"]["status"] == "RUNNING"
        rt = app.state.rt
        rt.clock.advance(10**6)  # the emulated clock moves without the control plane, so nothing commits
        assert (await client.get(url)).json()["output"]["status"] in ("SUCCEEDED", "FAILED")


async def test_the_cache_ignores_a_value_read_before_a_commit(tmp_path: Any) -> None:
    db = Database(str(tmp_path / "c.db"))
    await db.open()
    try:
        cache: VersionedCache[str, int] = VersionedCache(db, limit=2)
        before = cache.current()
        async with db.transaction() as tx:  # a commit between the version read and the put
            await tx.execute("INSERT INTO meta (key, value) VALUES ('x', '1')")
        cache.current()
        cache.put(before, "stale", 1)
        assert cache.get("stale") is None
        now = cache.current()
        for key in ("a", "b", "c"):
            cache.put(now, key, 1)
        assert len(cache._entries) <= 2  # bounded
    finally:
        await db.close()


async def test_an_in_memory_database_keeps_nothing() -> None:
    db = Database(":memory:")
    await db.open()
    try:
        cache: VersionedCache[str, int] = VersionedCache(db)
        cache.put(cache.current(), "a", 1)
        assert cache.get("a") is None
    finally:
        await db.close()
