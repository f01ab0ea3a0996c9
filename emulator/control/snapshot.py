"""Snapshot and restore of the whole state: the SQLite database and the uploaded blobs, in one tar archive.

A snapshot holds ``snapshot.json`` (format, schema version, the emulated time), ``emulator.db`` (a
``VACUUM INTO`` copy, so a consistent single file without WAL) and ``blobs/``.  While the copy is taken
every writer of this process waits on the database lock, so rows and blobs agree; the blobs are
hard-linked (copied across file systems) under the lock and archived after it.

Restore wipes through the services (so their caches go too), copies every table of the snapshot into the
open database in one transaction, swaps the blob folder, and sets the clock back to the snapshot's time.
With ``--workers`` > 1 the other workers keep their in-memory caches until restarted.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import aiosqlite

from emulator import __version__
from emulator.clock import ClockState
from emulator.control.schemas import SnapshotInfo
from emulator.db import SCHEMA_VERSION
from emulator.errors import InvalidParameter
from emulator.runtime import Runtime

FORMAT = 1
MANIFEST = "snapshot.json"
DB_NAME = "emulator.db"
BLOBS = "blobs"
_SKIP_TABLES = {"schema_version", "sqlite_sequence"}

Wipe = Callable[[Runtime, str | None], Awaitable[Any]]


def snapshots_dir(rt: Runtime) -> Path:
    return rt.data_dir / "snapshots"


def resolve(rt: Runtime, path: str | None) -> Path:
    """Absolute paths as given; relative ones under the data dir's ``snapshots/``."""
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = f"snapshot-{stamp}.tar.gz"
        n = 1
        while (snapshots_dir(rt) / path).exists():
            n += 1
            path = f"snapshot-{stamp}-{n}.tar.gz"
    if "\x00" in path:
        raise InvalidParameter("A snapshot path cannot contain a NUL character.")
    target = Path(path)
    return target if target.is_absolute() else snapshots_dir(rt) / target


def _writable(rt: Runtime, target: Path) -> None:
    try:
        if target.parent == snapshots_dir(rt):
            target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.is_dir():
            raise InvalidParameter(f"Cannot write the snapshot: folder {target.parent} does not exist.")
        if target.is_dir():
            raise InvalidParameter(f"Cannot write the snapshot: {target} is a folder.")
    except OSError as exc:
        raise InvalidParameter(f"Cannot write the snapshot to {target}: {exc.strerror or exc}.") from None


async def take_snapshot(rt: Runtime, path: str | None) -> SnapshotInfo:
    target = resolve(rt, path)
    _writable(rt, target)
    rt.temp_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="snapshot-", dir=rt.temp_dir))
    try:
        emulated = rt.clock.now()
        async with rt.db.exclusive() as conn:
            await conn.execute("VACUUM INTO ?", (str(work / DB_NAME),))
            blobs = await asyncio.to_thread(_link_tree, rt.blob_dir, work / BLOBS)
        manifest = {
            "format": FORMAT,
            "emulator_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "emulated_time": emulated,
            "created_at": time.time(),
            "blobs": blobs,
            "seed": rt.settings.seed,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
        try:
            size = await asyncio.to_thread(_write_archive, work, target)
        except OSError as exc:
            raise InvalidParameter(f"Cannot write the snapshot to {target}: {exc.strerror or exc}.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SnapshotInfo(
        path=str(target.resolve()), size=size, emulated_time=emulated, blobs=blobs, schema_version=SCHEMA_VERSION
    )


def _link_tree(source: Path, dest: Path) -> int:
    dest.mkdir(parents=True, exist_ok=True)
    count = 0
    if not source.is_dir():
        return 0
    for path in source.rglob("*"):
        if not path.is_file():
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        count += 1
    return count


def _write_archive(work: Path, target: Path) -> int:
    mode = "w" if target.name.endswith(".tar") else "w:gz"
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with tarfile.open(partial, mode) as tar:  # type: ignore[call-overload]
            for name in (MANIFEST, DB_NAME, BLOBS):
                tar.add(work / name, arcname=name)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


async def restore_snapshot(rt: Runtime, path: str, wipe: Wipe) -> SnapshotInfo:
    source = resolve(rt, path)
    rt.temp_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="restore-", dir=rt.temp_dir))
    try:
        manifest = await asyncio.to_thread(_extract, source, work)
        await wipe(rt, None)
        async with rt.db.exclusive() as conn:
            await _copy_tables(conn, work / DB_NAME)
            await asyncio.to_thread(_swap_blobs, rt, work / BLOBS)
        emulated = float(manifest["emulated_time"])
        rt.clock.resume(ClockState(time.time(), emulated, 0.0), rt.clock.time_scale)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SnapshotInfo(
        path=str(source.resolve()),
        size=source.stat().st_size,
        emulated_time=emulated,
        blobs=int(manifest.get("blobs", 0)),
        schema_version=int(manifest["schema_version"]),
    )


def _extract(source: Path, work: Path) -> dict[str, Any]:
    """Unpack after checking it is one of ours: only the manifest, the db and regular files under blobs/."""
    try:
        if not source.is_file():
            raise InvalidParameter(f"No snapshot at {source}.")
        with tarfile.open(source, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member)
            names = {m.name for m in members}
            if MANIFEST not in names or DB_NAME not in names:
                raise InvalidParameter(f"{source} is not a dashscope-emulator snapshot (no {MANIFEST} or {DB_NAME}).")
            tar.extractall(work, members=members, filter="data")
        manifest: dict[str, Any] = json.loads((work / MANIFEST).read_text())
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise InvalidParameter(f"{source} is not a readable snapshot archive: {exc}.") from None
    if manifest.get("format") != FORMAT or "emulated_time" not in manifest:
        raise InvalidParameter(f"{source}: unknown snapshot format {manifest.get('format')!r}.")
    if int(manifest.get("schema_version", 0)) > SCHEMA_VERSION:
        raise InvalidParameter(
            f"{source} was written by a newer dashscope-emulator (schema version "
            f"{manifest['schema_version']}, this one knows up to {SCHEMA_VERSION})."
        )
    (work / BLOBS).mkdir(exist_ok=True)
    return manifest


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    parts = Path(name).parts
    ok_name = name in (MANIFEST, DB_NAME, BLOBS) or (parts[:1] == (BLOBS,) and ".." not in parts)
    if not ok_name or Path(name).is_absolute() or not (member.isfile() or member.isdir()):
        raise InvalidParameter(f"Unexpected entry {name!r} in the snapshot archive.")


async def _copy_tables(conn: aiosqlite.Connection, source: Path) -> None:
    """Every table of the snapshot into the open database, one transaction; tables it lacks end up empty."""
    await conn.execute("ATTACH DATABASE ? AS snap", (str(source),))
    try:
        main = await _columns(conn, "main")
        snap = await _columns(conn, "snap")
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for table, columns in main.items():
                await conn.execute(f'DELETE FROM main."{table}"')
                shared = [c for c in columns if c in snap.get(table, ())]
                if shared:
                    cols = ", ".join(f'"{c}"' for c in shared)
                    await conn.execute(f'INSERT INTO main."{table}" ({cols}) SELECT {cols} FROM snap."{table}"')
            await _copy_sequences(conn)
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
    finally:
        await conn.execute("DETACH DATABASE snap")


async def _columns(conn: aiosqlite.Connection, schema: str) -> dict[str, list[str]]:
    async with conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'") as cur:
        tables = [row[0] for row in await cur.fetchall() if row[0] not in _SKIP_TABLES]
    out: dict[str, list[str]] = {}
    for table in tables:
        async with conn.execute(f'PRAGMA {schema}.table_info("{table}")') as cur:
            out[table] = [row[1] for row in await cur.fetchall()]
    return out


async def _copy_sequences(conn: aiosqlite.Connection) -> None:
    """AUTOINCREMENT counters, so row ids continue after the snapshot's, not after the wiped state's."""
    async with conn.execute("SELECT 1 FROM snap.sqlite_master WHERE name = 'sqlite_sequence'") as cur:
        has_snap = await cur.fetchone() is not None
    async with conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'sqlite_sequence'") as cur:
        has_main = await cur.fetchone() is not None
    if not has_main:
        return
    await conn.execute("DELETE FROM main.sqlite_sequence")
    if has_snap:
        await conn.execute("INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM snap.sqlite_sequence")


def _swap_blobs(rt: Runtime, restored: Path) -> None:
    old = rt.temp_dir / f"blobs-old-{os.getpid()}-{time.monotonic_ns()}"
    if rt.blob_dir.exists():
        os.replace(rt.blob_dir, old)
    try:
        os.replace(restored, rt.blob_dir)
    except OSError:
        shutil.copytree(restored, rt.blob_dir)
    with suppress(OSError):
        shutil.rmtree(old)
