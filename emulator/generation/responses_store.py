"""SQL for stored Responses API answers, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.db import Database, Tx

_COLUMNS = "id, tenant, created_at, body, items"
PRUNE_BATCH = 100
"""Expired rows deleted at most per insert: the table stays bounded by what is alive, at a bounded cost."""


@dataclass(frozen=True)
class StoredResponse:
    id: str
    tenant: str
    created_at: float
    body: str
    items: str


async def find(db: Database, tenant: str, response_id: str, since: float) -> StoredResponse | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM responses WHERE id = ? AND tenant = ? AND created_at >= ?",
        (response_id, tenant, since),
    )
    return None if row is None else StoredResponse(*row)


async def insert(tx: Tx, record: StoredResponse, expired_before: float) -> None:
    await tx.execute(
        "DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE created_at < ? LIMIT ?)",
        (expired_before, PRUNE_BATCH),
    )
    await tx.execute(
        f"INSERT INTO responses ({_COLUMNS}) VALUES (?,?,?,?,?)",
        (record.id, record.tenant, record.created_at, record.body, record.items),
    )


async def delete(tx: Tx, tenant: str, response_id: str, since: float) -> bool:
    deleted = await tx.execute(
        "DELETE FROM responses WHERE id = ? AND tenant = ? AND created_at >= ?", (response_id, tenant, since)
    )
    return deleted > 0


async def wipe(tx: Tx, tenant: str | None) -> int:
    if tenant is None:
        return await tx.execute("DELETE FROM responses")
    return await tx.execute("DELETE FROM responses WHERE tenant = ?", (tenant,))
