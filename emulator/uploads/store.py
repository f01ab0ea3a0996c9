"""SQL for uploaded OSS objects, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.db import Database, Tx

_COLUMNS = "key, account, size, md5, content_type, blob, created_at"


@dataclass(frozen=True)
class OssRecord:
    key: str
    account: str
    size: int
    md5: str
    content_type: str | None
    blob: str
    created_at: float


async def find(db: Database, key: str) -> OssRecord | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM oss_objects WHERE key = ?", (key,))
    return None if row is None else OssRecord(*row)


async def exists(tx: Tx, key: str) -> bool:
    return await tx.fetchone("SELECT 1 FROM oss_objects WHERE key = ?", (key,)) is not None


async def usage(tx: Tx, account: str) -> tuple[int, int]:
    row = await tx.fetchone("SELECT count(*), coalesce(sum(size), 0) FROM oss_objects WHERE account = ?", (account,))
    assert row is not None
    return int(row[0]), int(row[1])


async def insert(tx: Tx, record: OssRecord) -> None:
    await tx.execute(
        f"INSERT INTO oss_objects ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
        (
            record.key,
            record.account,
            record.size,
            record.md5,
            record.content_type,
            record.blob,
            record.created_at,
        ),
    )


async def take_expired(tx: Tx, account: str, before: float, limit: int) -> list[str]:
    """Deletes up to ``limit`` of the account's objects created before ``before``; returns their blob names."""
    rows = await tx.fetchall(
        "SELECT key, blob FROM oss_objects WHERE account = ? AND created_at < ? ORDER BY created_at LIMIT ?",
        (account, before, limit),
    )
    await tx.executemany("DELETE FROM oss_objects WHERE key = ?", [(row[0],) for row in rows])
    return [str(row[1]) for row in rows]


async def wipe(tx: Tx, account: str | None) -> list[str]:
    if account is None:
        rows = await tx.fetchall("SELECT blob FROM oss_objects")
        await tx.execute("DELETE FROM oss_objects")
    else:
        rows = await tx.fetchall("SELECT blob FROM oss_objects WHERE account = ?", (account,))
        await tx.execute("DELETE FROM oss_objects WHERE account = ?", (account,))
    return [str(row[0]) for row in rows]
