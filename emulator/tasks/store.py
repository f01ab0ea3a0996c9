"""SQL for async tasks, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from emulator.db import Database, Tx
from emulator.tasks.states import TaskTimes

_COLUMNS = (
    "task_id, tenant, api_key_id, account_id, kind, model, request, request_id, created_at, run_seconds, "
    "canceled_at, outcome, code, message, tokens, lines, token, blob"
)


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    tenant: str
    api_key_id: str
    account_id: str
    kind: str
    model: str
    request: dict[str, Any]
    request_id: str
    created_at: float
    run_seconds: float
    canceled_at: float | None
    outcome: str | None
    code: str | None
    message: str | None
    tokens: int
    lines: int
    token: str
    blob: str | None

    def times(self) -> TaskTimes:
        return TaskTimes(self.created_at, self.run_seconds, self.canceled_at, self.outcome)


def _row(row: sqlite3.Row) -> TaskRow:
    values = list(row)
    values[6] = json.loads(values[6])
    return TaskRow(*values)


async def insert_task(tx: Tx, task: TaskRow) -> None:
    await tx.execute(
        f"INSERT INTO tasks ({_COLUMNS}) VALUES ({','.join('?' * 18)})",
        (
            task.task_id,
            task.tenant,
            task.api_key_id,
            task.account_id,
            task.kind,
            task.model,
            json.dumps(task.request, ensure_ascii=False),
            task.request_id,
            task.created_at,
            task.run_seconds,
            task.canceled_at,
            task.outcome,
            task.code,
            task.message,
            task.tokens,
            task.lines,
            task.token,
            task.blob,
        ),
    )


async def get_task(db: Database | Tx, tenant: str, task_id: str) -> TaskRow | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ? AND tenant = ?", (task_id, tenant))
    return None if row is None else _row(row)


async def find_task(db: Database, task_id: str) -> TaskRow | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,))
    return None if row is None else _row(row)


async def list_tasks(
    db: Database, tenant: str, since: float, until: float, model: str | None, task_id: str | None
) -> list[TaskRow]:
    """Created in [since, until], newest first: the window is at most a day, and a tenant's tasks per day are
    bounded by the active-task limit and the clock (statuses are filtered by the caller)."""
    sql = f"SELECT {_COLUMNS} FROM tasks WHERE tenant = ? AND created_at >= ? AND created_at <= ?"
    params: list[Any] = [tenant, since, until]
    if model:
        sql += " AND model = ?"
        params.append(model)
    if task_id:
        sql += " AND task_id = ?"
        params.append(task_id)
    rows = await db.fetchall(sql + " ORDER BY seq DESC LIMIT 10000", params)
    return [_row(r) for r in rows]


async def unfinished(db: Database) -> list[TaskRow]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM tasks WHERE outcome IS NULL AND canceled_at IS NULL")
    return [_row(r) for r in rows]


async def active_count(db: Database | Tx, tenant: str, now: float) -> int:
    """Tasks neither cancelled nor past their due time with a result (the queued and running ones)."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM tasks WHERE tenant = ? AND canceled_at IS NULL "
            "AND (outcome IS NULL OR created_at + ? + run_seconds > ?)",
            (tenant, 2.0, now),
        )
    )


async def set_outcome(
    tx: Tx, task_id: str, outcome: str, code: str | None, message: str | None, tokens: int, lines: int, blob: str | None
) -> None:
    await tx.execute(
        "UPDATE tasks SET outcome = ?, code = ?, message = ?, tokens = ?, lines = ?, blob = ? WHERE task_id = ?",
        (outcome, code, message, tokens, lines, blob, task_id),
    )


async def cancel_task(tx: Tx, task_id: str, now: float) -> None:
    await tx.execute("UPDATE tasks SET canceled_at = ? WHERE task_id = ?", (now, task_id))


async def delete_tasks(tx: Tx, tenant: str | None) -> list[str]:
    where, params = ("", ()) if tenant is None else (" WHERE tenant = ?", (tenant,))
    rows = await tx.fetchall("SELECT blob FROM tasks" + where, params)
    await tx.execute("DELETE FROM tasks" + where, params)
    return [str(r["blob"]) for r in rows if r["blob"]]
