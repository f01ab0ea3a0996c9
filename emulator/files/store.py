"""SQL for files, and nothing else."""

from __future__ import annotations

import array
import json
import sqlite3
from dataclasses import dataclass

from emulator.db import Database, Tx

_COLUMNS = "id, file_id, tenant, name, description, purpose, size, md5, kind, rows, tokens, blob, created_at"


@dataclass(frozen=True)
class FileRecord:
    id: int
    file_id: str
    tenant: str
    name: str
    description: str
    purpose: str
    size: int
    md5: str
    kind: str | None
    rows: int
    tokens: int
    blob: str
    created_at: float


@dataclass(frozen=True)
class FileStats:
    """What a fine-tune needs from a dataset: kept in the row so the job survives the file's deletion."""

    file_id: str
    name: str
    kind: str | None
    row_tokens: array.array[int]
    samples: list[tuple[str, str]]


def _record(row: sqlite3.Row) -> FileRecord:
    return FileRecord(*row)  # _COLUMNS lists the fields in the dataclass's order


async def usage(tx: Tx | Database, tenant: str) -> tuple[int, int]:
    row = await tx.fetchone("SELECT count(*), coalesce(sum(size), 0) FROM files WHERE tenant = ?", (tenant,))
    assert row is not None
    return int(row[0]), int(row[1])


async def insert_file(tx: Tx, record: FileRecord, row_tokens: bytes | None, samples: list[tuple[str, str]]) -> int:
    return await tx.insert(
        "INSERT INTO files (file_id, tenant, name, description, purpose, size, md5, kind, rows, tokens, row_tokens,"
        " samples, blob, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            record.file_id,
            record.tenant,
            record.name,
            record.description,
            record.purpose,
            record.size,
            record.md5,
            record.kind,
            record.rows,
            record.tokens,
            row_tokens,
            json.dumps(samples, ensure_ascii=False),
            record.blob,
            record.created_at,
        ),
    )


async def get_file(db: Database, tenant: str, file_id: str) -> FileRecord | None:
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM files WHERE file_id = ? AND tenant = ?", (file_id, tenant))
    return None if row is None else _record(row)


async def list_files(db: Database, tenant: str, offset: int, limit: int) -> tuple[int, list[FileRecord]]:
    total = int(await db.fetchval("SELECT count(*) FROM files WHERE tenant = ?", (tenant,)))
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM files WHERE tenant = ? ORDER BY id DESC LIMIT ? OFFSET ?", (tenant, limit, offset)
    )
    return total, [_record(r) for r in rows]


async def list_files_after(
    db: Database, tenant: str, after: str | None, limit: int, purposes: tuple[str, ...]
) -> list[FileRecord] | None:
    """Newest first, those older than the file ``after`` (None when ``after`` is not the tenant's): OpenAI's cursor."""
    start = 1 << 62
    if after:
        found = await db.fetchval("SELECT id FROM files WHERE file_id = ? AND tenant = ?", (after, tenant))
        if found is None:
            return None
        start = int(found)
    marks = ",".join("?" * len(purposes))
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM files WHERE tenant = ? AND id < ? AND purpose IN ({marks}) ORDER BY id DESC LIMIT ?",
        (tenant, start, *purposes, limit),
    )
    return [_record(r) for r in rows]


async def delete_file(tx: Tx, tenant: str, file_id: str) -> FileRecord | None:
    row = await tx.fetchone(f"SELECT {_COLUMNS} FROM files WHERE file_id = ? AND tenant = ?", (file_id, tenant))
    if row is None:
        return None
    await tx.execute("DELETE FROM files WHERE id = ?", (row["id"],))
    return _record(row)


_IN_CHUNK = 500
"""Ids per ``IN (...)``: far under SQLite's variable limit (32766, or 999 on old builds) whatever a caller asks."""


async def file_stats(db: Database, tenant: str, file_ids: list[str]) -> dict[str, FileStats]:
    stats = {}
    unique = list(dict.fromkeys(file_ids))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            f"SELECT file_id, name, kind, row_tokens, samples FROM files WHERE tenant = ? AND file_id IN ({marks})",
            (tenant, *chunk),
        )
        for row in rows:
            tokens: array.array[int] = array.array("I")
            if row["row_tokens"]:
                tokens.frombytes(row["row_tokens"])
            samples = [(str(a), str(b)) for a, b in json.loads(row["samples"] or "[]")]
            stats[row["file_id"]] = FileStats(row["file_id"], row["name"], row["kind"], tokens, samples)
    return stats


async def all_blobs(db: Database) -> set[str]:
    """Every blob a row points at, the upload host's objects (``blobs/oss/<name>``) included: the sweep spares them."""
    rows = await db.fetchall("SELECT blob FROM files UNION ALL SELECT 'blobs/oss/' || blob FROM oss_objects")
    return {row[0] for row in rows}


async def delete_tenant_files(tx: Tx, tenant: str | None) -> list[str]:
    where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
    blobs = [row[0] for row in await tx.fetchall(f"SELECT blob FROM files {where}", params)]
    await tx.execute(f"DELETE FROM files {where}", params)
    return blobs
