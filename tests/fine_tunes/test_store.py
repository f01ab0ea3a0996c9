"""Store details the engine relies on."""

from __future__ import annotations

from collections.abc import Callable

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


def _fixed(job_id: str) -> Callable[[int, int], tuple[str, str]]:
    return lambda seq, attempt: (job_id, f"out-{job_id}")


async def test_a_taken_job_id_is_refused_and_not_counted(app: Starlette) -> None:
    db = app.state.rt.db
    async with db.transaction() as tx:
        first = _row("ft-1")
        assert await store.insert_job(tx, first, [], _fixed("ft-1"), 3) is True and first.seq > 0
        again = _row("ft-1")
        assert await store.insert_job(tx, again, [], _fixed("ft-1"), 3) is False and again.seq == 0
        second = _row("ft-2")
        assert await store.insert_job(tx, second, [], _fixed("ft-2"), 3) is True and second.seq > first.seq
    assert await read_counter(db, "t-store", store.KIND) == 2


async def test_a_taken_job_id_draws_again_with_the_next_sequence(app: Starlette) -> None:
    db = app.state.rt.db
    drawn: list[tuple[int, int]] = []

    def name(seq: int, attempt: int) -> tuple[str, str]:
        drawn.append((seq, attempt))
        job_id = "ft-taken" if attempt == 0 else f"ft-{seq}"
        return job_id, f"out-{job_id}"

    async with db.transaction() as tx:
        assert await store.insert_job(tx, _row("x"), [], _fixed("ft-taken"), 1) is True
        job = _row("y")
        assert await store.insert_job(tx, job, [], name, 3) is True
    assert [a for _, a in drawn] == [0, 1] and drawn[1][0] == drawn[0][0] + 1
    assert job.job_id == f"ft-{drawn[1][0]}" and job.output_model == f"out-{job.job_id}"
    assert await read_counter(db, "t-store", store.KIND) == 2


async def test_samples_live_beside_the_row_and_older_rows_keep_theirs(app: Starlette) -> None:
    db = app.state.rt.db
    pairs = [("q", "a")]
    async with db.transaction() as tx:
        assert await store.insert_job(tx, _row("ft-new"), pairs, _fixed("ft-new"), 1)
        assert await store.insert_job(tx, _row("ft-old"), [], _fixed("ft-old"), 1)
        await tx.execute("DELETE FROM fine_tune_memory WHERE job_id = 'ft-old'")
        await tx.execute("UPDATE fine_tunes SET memory = '[[\"old q\", \"old a\"]]' WHERE job_id = 'ft-old'")
    assert await db.fetchval("SELECT memory FROM fine_tunes WHERE job_id = 'ft-new'") is None
    assert await store.memory_of(db, "ft-new") == pairs
    assert await store.memory_of(db, "ft-old") == [("old q", "old a")]
    async with db.transaction() as tx:
        await store.delete_job(tx, "t-store", "ft-new")
    assert await db.fetchval("SELECT count(*) FROM fine_tune_memory WHERE job_id = 'ft-new'") == 0
    async with db.transaction() as tx:
        await store.wipe(tx, "t-store")
    assert await db.fetchval("SELECT count(*) FROM fine_tune_memory") == 0
