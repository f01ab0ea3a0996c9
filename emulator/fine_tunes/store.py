"""SQL for fine-tune jobs, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.db import Database, Tx, bump_counter, read_counter, wipe_counters
from emulator.fine_tunes.states import JobStatus, JobTimes

_HOLDS = "('RUNNING', 'CANCELING')"


class ParsedCache:
    """Parsed JSON by its text, least recently used first out, bounded by the bytes of the texts it keeps.

    ``request`` and ``plan`` never change after insert, so their parsed form is shared between reads (callers
    treat it as read-only); parsing them was the largest cost of a status read.  A text larger than an eighth
    of the budget is parsed every time rather than kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, text: str) -> dict[str, Any]:
        parsed = self._items.get(text)
        if parsed is not None:
            self._items.move_to_end(text)
            return parsed
        parsed = json.loads(text)
        assert isinstance(parsed, dict)
        size = len(text)
        if size <= self.max_bytes // 8:
            self._items[text] = parsed
            self.bytes += size
            while self.bytes > self.max_bytes:
                old, _ = self._items.popitem(last=False)
                self.bytes -= len(old)
        return parsed

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


PARSED = ParsedCache(8 * 1024 * 1024)


def _frozen_json(text: str) -> dict[str, Any]:
    return PARSED.get(text)


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
            seq=self.seq,
        )

    def copy(self) -> JobRow:
        """A shallow copy, at a fifth of ``copy.copy``'s cost (which goes through ``__reduce_ex__``)."""
        clone = object.__new__(JobRow)
        clone.__dict__.update(self.__dict__)
        return clone

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


def _insert_params(job: JobRow) -> list[Any]:
    return [
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
    ]


_INSERT = (
    f"INSERT INTO fine_tunes ({_COLUMNS.replace('seq, ', '')}) VALUES ({','.join('?' * 17)})"
    " ON CONFLICT (job_id) DO NOTHING RETURNING seq"
)
_INSERT_MEMORY = "INSERT OR REPLACE INTO fine_tune_memory (job_id, tenant, memory) VALUES (?, ?, ?)"
_NEXT_SEQ = (
    "INSERT INTO meta (key, value) VALUES ('seq:job', '1') ON CONFLICT (key) DO UPDATE SET value = value + 1"
    " RETURNING value"
)
_BUMP = "INSERT INTO counters (tenant, kind, n) VALUES (?, ?, 1) ON CONFLICT (tenant, kind) DO UPDATE SET n = n + 1"


async def insert_job(
    tx: Tx, job: JobRow, memory: list[tuple[str, str]], name: Callable[[int, int], tuple[str, str]], attempts: int
) -> bool:
    """Draw the job's sequence, its id and output name (``name(seq, attempt)``), insert it and count it, in one
    trip to the writer's thread; an id already taken draws again, at most ``attempts`` times (False then)."""
    params = _insert_params(job)
    samples = json.dumps(memory, ensure_ascii=False)

    def run(conn: sqlite3.Connection) -> bool:
        for attempt in range(attempts):
            job.job_id, job.output_model = name(int(conn.execute(_NEXT_SEQ).fetchone()[0]), attempt)
            params[0], params[8] = job.job_id, job.output_model
            row = conn.execute(_INSERT, params).fetchone()
            if row is not None:
                job.seq = int(row[0])
                conn.execute(_BUMP, (job.tenant, KIND))
                conn.execute(_INSERT_MEMORY, (job.job_id, job.tenant, samples))
                return True
        return False

    return await tx.run(run)


async def get_job(db: Database | Tx, tenant: str | None, job_id: str) -> JobRow | None:
    if tenant is None:
        row = await db.fetchone(f"SELECT {_COLUMNS} FROM fine_tunes WHERE job_id = ?", (job_id,))
    else:
        row = await db.fetchone(f"SELECT {_COLUMNS} FROM fine_tunes WHERE job_id = ? AND tenant = ?", (job_id, tenant))
    return None if row is None else _row(row)


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


async def save_times(tx: Tx, jobs: list[JobRow], cancel_seconds: float) -> None:
    """Write the derived state; ``release_at`` (when the slot holder lets go) indexes the clock's sweep."""
    await tx.executemany(
        "UPDATE fine_tunes SET status = ?, queued_at = ?, started_at = ?, cancel_at = ?, ended_at = ?, code = ?,"
        " message = ?, events = ?, release_at = ? WHERE job_id = ?",
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
                j.times().slot_release_at(cancel_seconds),
                j.job_id,
            )
            for j in jobs
        ],
    )


# ---------------------------------------------------------------- the queue engine's reads (all index seeks)


_DUE = (
    "(SELECT min(created_at) FROM fine_tunes WHERE tenant = ? AND status = 'PENDING'),"
    f" (SELECT coalesce(release_at, -1e308) FROM fine_tunes WHERE tenant = ? AND status IN {_HOLDS} LIMIT 1),"
    " (SELECT 1 FROM fine_tunes WHERE tenant = ? AND status = 'QUEUING' LIMIT 1)"
)


async def tenant_due(db: Database | Tx, tenant: str, pending_seconds: float) -> float | None:
    """When the tenant's next transition falls due: the earliest data check, the slot's release, or at once
    when the slot is free while a job waits (or a holder's release time is unknown).  Three index seeks."""
    row = await db.fetchone(f"SELECT {_DUE}", (tenant, tenant, tenant))
    assert row is not None
    return _due(row[0], row[1], row[2], pending_seconds)


async def get_job_due(
    db: Database, tenant: str, job_id: str, pending_seconds: float
) -> tuple[JobRow | None, float | None]:
    """The job and ``tenant_due`` in one statement (a status read's one round trip when nothing is due)."""
    row = await db.fetchone(
        f"SELECT {_COLUMNS}, {_DUE} FROM fine_tunes WHERE job_id = ? AND tenant = ?",
        (tenant, tenant, tenant, job_id, tenant),
    )
    if row is None:
        return None, None
    n = len(row)
    return _row(row), _due(row[n - 3], row[n - 2], row[n - 1], pending_seconds)


def _due(created: float | None, release: float | None, queued: int | None, pending_seconds: float) -> float | None:
    ready = None if created is None else created + pending_seconds
    if release is None and queued is not None:
        return float("-inf")
    dues = [d for d in (ready, release) if d is not None]
    return float(min(dues)) if dues else None


async def due_tenants(db: Database, now: float, pending_seconds: float) -> list[str]:
    """Tenants with a transition due at ``now``: O(transitions due), not O(jobs)."""
    rows = await db.fetchall(
        "SELECT tenant FROM fine_tunes WHERE status = 'PENDING' AND created_at <= ?"
        " UNION SELECT tenant FROM fine_tunes WHERE release_at <= ?",
        (now - pending_seconds, now),
    )
    return [r[0] for r in rows]


async def holder(db: Database | Tx, tenant: str) -> JobRow | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND status IN {_HOLDS} LIMIT 1", (tenant,)
    )
    return None if row is None else _row(row)


async def queued_after(db: Database | Tx, tenant: str, seq: int, limit: int) -> list[JobRow]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND status = 'QUEUING' AND seq > ? ORDER BY seq LIMIT ?",
        (tenant, seq, limit),
    )
    return [_row(r) for r in rows]


async def pending_due(db: Database | Tx, tenant: str, ready_by: float) -> list[JobRow]:
    """PENDING jobs created at or before ``ready_by`` (now minus the data check)."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND status = 'PENDING' AND created_at <= ?",
        (tenant, ready_by),
    )
    return [_row(r) for r in rows]


async def backfill_release(tx: Tx, cancel_seconds: float) -> None:
    """Holders written without ``release_at`` (an older database or snapshot) get it from their stored facts."""
    await tx.execute(
        "UPDATE fine_tunes SET release_at = CASE status"
        " WHEN 'RUNNING' THEN started_at + json_extract(plan, '$.duration') ELSE cancel_at + ? END"
        f" WHERE status IN {_HOLDS} AND release_at IS NULL",
        (cancel_seconds,),
    )


async def delete_job(tx: Tx, tenant: str, job_id: str) -> None:
    if await tx.execute("DELETE FROM fine_tunes WHERE job_id = ? AND tenant = ?", (job_id, tenant)):
        await tx.execute("DELETE FROM fine_tune_memory WHERE job_id = ?", (job_id,))
        await bump_counter(tx, tenant, KIND, -1)


async def succeeded_by_output(db: Database, tenant: str, output_model: str) -> JobRow | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE output_model = ? AND tenant = ? AND status = 'SUCCEEDED'",
        (output_model, tenant),
    )
    return None if row is None else _row(row)


async def succeeded_page(db: Database, tenant: str, offset: int, limit: int) -> tuple[int, list[JobRow]]:
    """The tenant's SUCCEEDED jobs newest first, one page, and how many there are (the state index)."""
    total = await db.fetchval("SELECT count(*) FROM fine_tunes WHERE tenant = ? AND status = 'SUCCEEDED'", (tenant,))
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM fine_tunes WHERE tenant = ? AND status = 'SUCCEEDED' ORDER BY seq DESC"
        " LIMIT ? OFFSET ?",
        (tenant, limit, offset),
    )
    return int(total), [_row(r) for r in rows]


async def output_taken(tx: Tx, tenant: str, output_model: str) -> bool:
    return bool(
        await tx.fetchval("SELECT 1 FROM fine_tunes WHERE output_model = ? AND tenant = ?", (output_model, tenant))
    )


async def memory_of(db: Database, job_id: str) -> list[tuple[str, str]]:
    raw = await db.fetchval("SELECT memory FROM fine_tune_memory WHERE job_id = ?", (job_id,))
    if raw is None:  # a job written before the side table
        raw = await db.fetchval("SELECT memory FROM fine_tunes WHERE job_id = ?", (job_id,))
    return [tuple(pair) for pair in json.loads(raw or "[]")]


async def wipe(tx: Tx, tenant: str | None) -> int:
    where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
    count = await tx.execute(f"DELETE FROM fine_tunes {where}", params)
    await tx.execute(f"DELETE FROM fine_tune_memory {where}", params)
    await wipe_counters(tx, tenant, KIND)
    return count
