"""SQL for batches, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.batches.states import BatchFacts
from emulator.db import Database, Tx

_COLUMNS = (
    "seq, batch_id, tenant, input_file_id, endpoint, completion_window, window_seconds, metadata, model, created_at, "
    "validate_seconds, run_seconds, validated, valid, errors, total, ok, failed, produced, cancel_at, finalized, "
    "output_file_id, error_file_id"
)


@dataclass(frozen=True)
class BatchRow:
    seq: int
    batch_id: str
    tenant: str
    input_file_id: str
    endpoint: str
    completion_window: str
    window_seconds: float
    metadata: dict[str, Any] | None
    model: str | None
    created_at: float
    validate_seconds: float
    run_seconds: float
    validated: bool
    valid: bool
    errors: list[dict[str, Any]]
    total: int
    ok: int
    failed: int
    produced: bool
    cancel_at: float | None
    finalized: bool
    output_file_id: str | None
    error_file_id: str | None

    def facts(self) -> BatchFacts:
        return BatchFacts(
            self.created_at,
            self.validate_seconds,
            self.run_seconds,
            self.validated,
            self.valid,
            self.produced,
            self.cancel_at,
            self.finalized,
            self.window_seconds,
        )


def _row(row: sqlite3.Row) -> BatchRow:
    v = list(row)
    v[7] = json.loads(v[7]) if v[7] else None
    v[14] = json.loads(v[14]) if v[14] else []
    for i in (12, 13, 18, 20):
        v[i] = bool(v[i])
    return BatchRow(*v)


async def insert_batch(tx: Tx, row: BatchRow) -> None:
    await tx.execute(
        "INSERT INTO batches (batch_id, tenant, input_file_id, endpoint, completion_window, window_seconds, metadata,"
        " created_at, validate_seconds) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            row.batch_id,
            row.tenant,
            row.input_file_id,
            row.endpoint,
            row.completion_window,
            row.window_seconds,
            None if row.metadata is None else json.dumps(row.metadata, ensure_ascii=False),
            row.created_at,
            row.validate_seconds,
        ),
    )


async def get_batch(db: Database | Tx, tenant: str, batch_id: str) -> BatchRow | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM batches WHERE batch_id = ? AND tenant = ?", (batch_id, tenant))
    return None if row is None else _row(row)


async def find_batch(db: Database, batch_id: str) -> BatchRow | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM batches WHERE batch_id = ?", (batch_id,))
    return None if row is None else _row(row)


async def list_batches(db: Database, tenant: str, before_seq: int, limit: int) -> list[BatchRow]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM batches WHERE tenant = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
        (tenant, before_seq, limit),
    )
    return [_row(r) for r in rows]


async def open_batches(db: Database) -> list[BatchRow]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM batches WHERE finalized = 0 ORDER BY seq")
    return [_row(r) for r in rows]


async def count_open(db: Database, tenant: str, model: str | None = None) -> int:
    # a batch its validation refused runs no line and is never finalized: it is not open
    sql = "SELECT count(*) FROM batches WHERE tenant = ? AND finalized = 0 AND NOT (validated = 1 AND valid = 0)"
    params: list[Any] = [tenant]
    if model is not None:
        sql += " AND endpoint = ?"
        params.append(model)
    return int(await db.fetchval(sql, params))


async def set_validated(
    tx: Tx, batch_id: str, valid: bool, errors: list[dict[str, Any]], total: int, model: str | None, run_seconds: float
) -> None:
    await tx.execute(
        "UPDATE batches SET validated = 1, valid = ?, errors = ?, total = ?, model = ?, run_seconds = ?"
        " WHERE batch_id = ?",
        (int(valid), json.dumps(errors, ensure_ascii=False), total, model, run_seconds, batch_id),
    )


async def set_produced(tx: Tx, batch_id: str) -> None:
    await tx.execute("UPDATE batches SET produced = 1 WHERE batch_id = ?", (batch_id,))


async def set_cancel(tx: Tx, batch_id: str, at: float) -> None:
    await tx.execute("UPDATE batches SET cancel_at = ? WHERE batch_id = ?", (at, batch_id))


async def set_finalized(
    tx: Tx, batch_id: str, ok: int, failed: int, output_file_id: str | None, error_file_id: str | None
) -> bool:
    """False when the batch was finalized already (by another worker process): its finish callback is not due."""
    changed = await tx.execute(
        "UPDATE batches SET finalized = 1, ok = ?, failed = ?, output_file_id = ?, error_file_id = ?"
        " WHERE batch_id = ? AND finalized = 0",
        (ok, failed, output_file_id, error_file_id, batch_id),
    )
    return changed > 0


async def delete_batches(tx: Tx, tenant: str | None) -> list[str]:
    where, params = ("", ()) if tenant is None else (" WHERE tenant = ?", (tenant,))
    rows = await tx.fetchall("SELECT batch_id FROM batches" + where, params)
    await tx.execute("DELETE FROM batches" + where, params)
    return [str(r[0]) for r in rows]
