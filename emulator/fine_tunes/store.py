"""SQL for fine-tune jobs, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.db import Database, Tx, bump_counter, read_counter, wipe_counters
from emulator.fine_tunes.states import JobStatus, JobTimes

_ACTIVE = "('PENDING', 'QUEUING', 'RUNNING', 'CANCELING')"
_PARSED: dict[str, dict[str, Any]] = {}
_PARSED_MAX = 4096


def _frozen_json(text: str) -> dict[str, Any]:
    """``request`` and ``plan`` never change after insert, so their parsed form is shared between reads.

    Callers treat the result as read-only; parsing them was the largest cost of a status read.
    """
    parsed = _PARSED.get(text)
    if parsed is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = _PARSED[text] = json.loads(text)
    return parsed


KIND = "fine_tunes"


@dataclass
class JobRow:
    seq: int
    job_id: str
    tenant: str
    status: JobStatus
    model: str
    base_model: str
    training_type: str
    request: dict[str, Any]
    plan: dict[str, Any]
    output_model: str
    created_at: float
    queued_at: float | None
    started_at: float | None
    cancel_at: float | None
    ended_at: float | None
    code: str | None
    message: str | None
    events: list[list[Any]]

    def times(self) -> JobTimes:
        return JobTimes(
            job_id=self.job_id,
            status=self.status,
            created_at=self.created_at,
            duration=float(self.plan["duration"]),
            fails=bool(self.plan.get("failure")),
            queued_at=self.queued_at,
            started_at=self.started_at,
            cancel_at=self.cancel_at,
            ended_at=self.ended_at,
        )

    def take(self, times: JobTimes) -> None:
        self.status, self.queued_at, self.started_at = times.status, times.queued_at, times.started_at
        self.cancel_at, self.ended_at = times.cancel_at, times.ended_at


_COLUMNS = (
    "seq, job_id, tenant, status, model, base_model, training_type, request, plan, output_model, created_at,"
    " queued_at, started_at, cancel_at, ended_at, code, message, events"
)


def _row(r: sqlite3.Row) -> JobRow:
    return JobRow(
        seq=r["seq"],
        job_id=r["job_id"],
        tenant=r["tenant"],
        status=JobStatus(r["status"]),
        model=r["model"],
        base_model=r["base_model"],
        training_type=r["training_type"],
        request=_frozen_json(r["request"]),
        plan=_frozen_json(r["plan"]),
        output_model=r["output_model"],
        created_at=r["created_at"],
        queued_at=r["queued_at"],
        started_at=r["started_at"],
        cancel_at=r["cancel_at"],
        ended_at=r["ended_at"],
        code=r["code"],
        message=r["message"],
        events=json.loads(r["events"]) if r["events"] and r["events"] != "[]" else [],
    )


async def insert_job(tx: Tx, job: JobRow, memory: list[tuple[str, str]]) -> bool:
    """False when the job id is taken (the caller draws another)."""
    taken = await tx.fetchval("SELECT 1 FROM fine_tunes WHERE job_id = ?", (job.job_id,))
    if taken:
        return False
    job.seq = await tx.insert(
        f"INSERT INTO fine_tunes ({_COLUMNS.replace('seq, ', '')}, memory) VALUES ({','.join('?' * 18)})",
        (
            job.job_id,
            job.tenant,
            job.status.value,
            job.model,
            job.base_model,
            job.training_type,
            json.dumps(job.request, ensure_ascii=False),
            json.dumps(job.plan, ensure_ascii=False),
            job.output_model,
            job.created_at,
            job.queued_at,
            job.started_at,
            job.cancel_at,
            job.ended_at,
            job.code,
            job.message,
            json.dumps(job.events, ensure_ascii=False),
            json.dumps(memory, ensure_ascii=False),
        ),
    )
    await bump_counter(tx, job.tenant, KIND, 1)
    return True


async def get_job(db: Database | Tx, tenant: str | None, job_id: str) -> JobRow | None:
    if tenant is None:
        row = await db.fetchone(f"SELECT {_COLUMNS} FROM fine_tunes WHERE job_id = ?", (job_id,))
    else:
        row = await db.fetchone(f"SELECT {_COLUMNS} FROM fine_tunes WHERE job_id = ? AND tenant = ?", (job_id, tenant))
    return None if row is None else _row(row)


async def active_jobs(db: Database | Tx, tenant: str) -> list[JobRow]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND status IN {_ACTIVE} ORDER BY seq", (tenant,)
    )
    return [_row(r) for r in rows]


async def tenants_with_active_jobs(db: Database) -> list[str]:
    return [r[0] for r in await db.fetchall(f"SELECT DISTINCT tenant FROM fine_tunes WHERE status IN {_ACTIVE}")]


async def list_jobs(
    db: Database, tenant: str, offset: int, limit: int, model: str | None = None
) -> tuple[int, list[JobRow]]:
    if model:
        total = int(
            await db.fetchval("SELECT count(*) FROM fine_tunes WHERE tenant = ? AND model = ?", (tenant, model))
        )
        rows = await db.fetchall(
            f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND model = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
            (tenant, model, limit, offset),
        )
    else:
        total = await read_counter(db, tenant, KIND)
        rows = await db.fetchall(
            f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
            (tenant, limit, offset),
        )
    return total, [_row(r) for r in rows]


async def save_times(tx: Tx, jobs: list[JobRow]) -> None:
    await tx.executemany(
        "UPDATE fine_tunes SET status = ?, queued_at = ?, started_at = ?, cancel_at = ?, ended_at = ?, code = ?,"
        " message = ?, events = ? WHERE job_id = ?",
        [
            (
                j.status.value,
                j.queued_at,
                j.started_at,
                j.cancel_at,
                j.ended_at,
                j.code,
                j.message,
                json.dumps(j.events, ensure_ascii=False),
                j.job_id,
            )
            for j in jobs
        ],
    )


async def delete_job(tx: Tx, tenant: str, job_id: str) -> None:
    if await tx.execute("DELETE FROM fine_tunes WHERE job_id = ? AND tenant = ?", (job_id, tenant)):
        await bump_counter(tx, tenant, KIND, -1)


async def succeeded_by_output(db: Database, tenant: str, output_model: str) -> JobRow | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE output_model = ? AND tenant = ? AND status = 'SUCCEEDED'",
        (output_model, tenant),
    )
    return None if row is None else _row(row)


async def output_taken(tx: Tx, tenant: str, output_model: str) -> bool:
    return bool(
        await tx.fetchval("SELECT 1 FROM fine_tunes WHERE output_model = ? AND tenant = ?", (output_model, tenant))
    )


async def memory_of(db: Database, job_id: str) -> list[tuple[str, str]]:
    raw = await db.fetchval("SELECT memory FROM fine_tunes WHERE job_id = ?", (job_id,))
    return [tuple(pair) for pair in json.loads(raw or "[]")]


async def wipe(tx: Tx, tenant: str | None) -> int:
    where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
    count = await tx.execute(f"DELETE FROM fine_tunes {where}", params)
    await wipe_counters(tx, tenant, KIND)
    return count
