"""The queue engine's derived state survives a restart, and a database written before it is brought up to date.

Status is derived from stored facts and the clock: a server stopped with a queue mid-way answers, after a
restart, exactly what it would have answered without one; a database without ``release_at`` (written by an
older emulator) gets the column and the slot holder's release time on open, so the clock's sweep finds it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator.app import create_app
from emulator.settings import Settings
from tests.conftest import DATASETS, client_for, upload

pytestmark = pytest.mark.anyio

KEY = "sk-restart-engine"


async def _with_app(settings: Settings, work: Callable[[Any], Any]) -> Any:
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_for(app, KEY) as client:
        return await work(client)


async def _statuses(client: Any, job_ids: list[str]) -> list[str]:
    return [(await client.get(f"/api/v1/fine-tunes/{j}")).json()["output"]["status"] for j in job_ids]


async def _fill(client: Any) -> list[str]:
    file_id = (await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]["uploaded_files"][0]["file_id"]
    body = {"model": "qwen-turbo", "training_file_ids": [file_id]}
    ids = [(await client.post("/api/v1/fine-tunes", json=body)).json()["output"]["job_id"] for _ in range(4)]
    await client.post("/_emulator/clock/advance", json={"seconds": 10})
    return ids


async def _advance_and_read(client: Any, ids: list[str], seconds: float) -> list[str]:
    await client.post("/_emulator/clock/advance", json={"seconds": seconds})
    return await _statuses(client, ids)


async def test_a_restart_mid_queue_answers_as_if_none_happened(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    ids = await _with_app(settings, _fill)
    before = await _with_app(settings, lambda c: _statuses(c, ids))
    assert before == ["RUNNING", "QUEUING", "QUEUING", "QUEUING"]
    history = [await _with_app(settings, lambda c: _advance_and_read(c, ids, 30)) for _ in range(40)]
    assert history[-1] == ["SUCCEEDED"] * 4
    for statuses in history:  # one at a time, first come first served, at every step
        running = [i for i, s in enumerate(statuses) if s == "RUNNING"]
        assert len(running) <= 1
        if running:
            assert all(s == "SUCCEEDED" for s in statuses[: running[0]])
            assert all(s == "QUEUING" for s in statuses[running[0] + 1 :])


async def test_a_database_from_before_release_at_is_migrated(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    ids = await _with_app(settings, _fill)
    conn = sqlite3.connect(Path(settings.db))
    columns = [r[1] for r in conn.execute("PRAGMA table_info(fine_tunes)") if r[1] != "release_at"]
    conn.execute(f"CREATE TABLE old AS SELECT {', '.join(columns)} FROM fine_tunes")
    conn.execute("DROP TABLE fine_tunes")
    conn.execute("ALTER TABLE old RENAME TO fine_tunes")
    conn.commit()
    conn.close()
    assert await _with_app(settings, lambda c: _statuses(c, ids[:1])) == ["RUNNING"]
    conn = sqlite3.connect(Path(settings.db))
    holders = conn.execute("SELECT count(*) FROM fine_tunes WHERE status = 'RUNNING' AND release_at > 0").fetchone()
    conn.close()
    assert holders == (1,)
    finished = await _with_app(settings, lambda c: _advance_and_read(c, ids, 100_000))
    assert finished == ["SUCCEEDED"] * 4
