"""Store details the engine relies on."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from emulator.db import read_counter
from emulator.fine_tunes import store
from emulator.fine_tunes.states import JobStatus
from emulator.fine_tunes.store import JobRow

pytestmark = pytest.mark.anyio


def _row(job_id: str) -> JobRow:
    return JobRow(
        seq=0,
        job_id=job_id,
        tenant="t-store",
        status=JobStatus.PENDING,
        model="qwen-turbo",
        base_model="qwen-turbo",
        training_type="sft",
        request={},
        plan={"duration": 10.0},
        output_model=f"out-{job_id}",
        created_at=0.0,
        queued_at=None,
        started_at=None,
        cancel_at=None,
        ended_at=None,
        code=None,
        message=None,
        events=[],
    )


async def test_a_taken_job_id_is_refused_and_not_counted(app: Starlette) -> None:
    db = app.state.rt.db
    async with db.transaction() as tx:
        first = _row("ft-1")
        assert await store.insert_job(tx, first, []) is True and first.seq > 0
        again = _row("ft-1")
        assert await store.insert_job(tx, again, []) is False and again.seq == 0
        second = _row("ft-2")
        assert await store.insert_job(tx, second, []) is True and second.seq > first.seq
    assert await read_counter(db, "t-store", store.KIND) == 2
