"""Snapshot and restore of the whole state: the SQLite database and the uploaded blobs, in one tar archive.

A snapshot holds ``snapshot.json`` (format, schema version, the emulated time), ``emulator.db`` (a
``VACUUM INTO`` copy, so a consistent single file without WAL), ``blobs/`` and ``results/`` (the async tasks'
result files, which their signed URLs serve).  While the copy is taken
every writer of this process waits on the database lock, so rows and blobs agree; the blobs are
hard-linked (copied across file systems) under the lock and archived after it, into a ``.part`` file
renamed into place at the end.

Restore is all or nothing.  The archive is unpacked into a staging folder and checked whole before live
state is touched: the manifest, the schema version, ``PRAGMA integrity_check`` of its database, and every
``files.blob`` (a path under ``blobs/``, present, of the recorded size; as many blobs as the manifest
counts).  The staged blobs then move under fresh names into ``<data dir>/blobs`` (unreferenced until the
commit), and one transaction replaces every table's rows and points ``files.blob`` at them.  A refused
snapshot answers 4xx and changes nothing; a crash before the commit leaves the old state (the moved blobs
are orphans, swept at a later start), after it the new one (the old blobs are the orphans).
With ``--workers`` > 1 the other workers keep their in-memory caches until restarted.

Leftovers of a crash (``tmp/snapshot-*``, ``tmp/restore-*`` and ``.part`` archives) go at start
(``clean_leftovers``), except those of a live worker: their names carry the writer's PID.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from emulator import __version__
from emulator.clock import ClockState
from emulator.control.paths import confine, open_regular, snapshots_dir
from emulator.control.schemas import SnapshotInfo
from emulator.db import SCHEMA_VERSION, Tx
from emulator.errors import InvalidParameter
from emulator.runtime import Runtime
from emulator.services import Services

FORMAT = 1
MANIFEST = "snapshot.json"
DB_NAME = "emulator.db"
BLOBS = "blobs"
RESULTS = "results"
TASK_INPUTS = "task-inputs"
"""The inputs of the tasks whose result was still being written: a restore starts them again."""
_SKIP_TABLES = {"schema_version", "sqlite_sequence"}
_BLOB_PATH = re.compile(r"^blobs/[A-Za-z0-9_-]{1,16}/[A-Za-z0-9_.~-]{1,200}$")
_RESULT_PATH = re.compile(r"^results/[A-Za-z0-9_-][A-Za-z0-9_.~-]{0,199}$")
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def resolve(rt: Runtime, path: str | None) -> Path:
    """Relative paths under the data dir's ``snapshots/``; every path confined (``paths.confine``)."""
    if path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = f"snapshot-{stamp}.tar.gz"
        n = 1
        while (snapshots_dir(rt) / path).exists():
            n += 1
            path = f"snapshot-{stamp}-{n}.tar.gz"
    return confine(rt, path, snapshots_dir(rt))


def _writable(rt: Runtime, target: Path) -> None:
    try:
        if target.parent == snapshots_dir(rt).resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.is_dir():
            raise InvalidParameter(f"Cannot write the snapshot: folder {target.parent} does not exist.")
        if target.is_dir():
            raise InvalidParameter(f"Cannot write the snapshot: {target} is a folder.")
        if target.exists() and not target.is_file():
            raise InvalidParameter(f"Cannot write the snapshot: {target} is not a regular file.")
    except OSError as exc:
        raise InvalidParameter(f"Cannot write the snapshot to {target}: {exc.strerror or exc}.") from None


def _work_dir(rt: Runtime, kind: str) -> Path:
    rt.temp_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=rt.temp_dir))


async def take_snapshot(rt: Runtime, path: str | None) -> SnapshotInfo:
    target = resolve(rt, path)
    _writable(rt, target)
    work = _work_dir(rt, "snapshot")
    try:
        emulated = rt.clock.now()
        async with rt.db.exclusive() as conn:
            await conn.execute("VACUUM INTO ?", (str(work / DB_NAME),))
            blobs = await asyncio.to_thread(_link_tree, rt.blob_dir, work / BLOBS)
            async with conn.execute("SELECT blob FROM tasks WHERE blob IS NOT NULL") as cur:
                kept = [str(row[0]) for row in await cur.fetchall()]
            results = await asyncio.to_thread(_link_results, rt.data_dir, kept, work)
            async with conn.execute("SELECT task_id FROM tasks WHERE outcome IS NULL AND canceled_at IS NULL") as cur:
                running = [str(row[0]) for row in await cur.fetchall()]
            inputs = await asyncio.to_thread(_link_inputs, rt.data_dir, running, work)
        manifest = {
            "format": FORMAT,
            "emulator_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "emulated_time": emulated,
            "created_at": time.time(),
            "blobs": blobs,
            "results": results,
            "task_inputs": inputs,
            "seed": rt.settings.seed,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
        try:
            size = await asyncio.to_thread(_write_archive, work, target)
        except OSError as exc:
            raise InvalidParameter(f"Cannot write the snapshot to {target}: {exc.strerror or exc}.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SnapshotInfo(path=str(target), size=size, emulated_time=emulated, blobs=blobs, schema_version=SCHEMA_VERSION)


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


def _link_results(data_dir: Path, kept: list[str], work: Path) -> int:
    """The task result files the rows name (``results/<task>.txt.gz``), as they are; a missing one is left out
    (its task's URL answers not found, before and after a restore)."""
    (work / RESULTS).mkdir(parents=True, exist_ok=True)
    count = 0
    for blob in kept:
        source = data_dir / blob
        if not _RESULT_PATH.match(blob) or not source.is_file():
            continue
        try:
            os.link(source, work / blob)
        except OSError:
            shutil.copy2(source, work / blob)
        count += 1
    return count


def _link_inputs(data_dir: Path, running: list[str], work: Path) -> int:
    """The kept inputs (``results/<task>.input``) of the tasks whose result is still being written."""
    (work / TASK_INPUTS).mkdir(parents=True, exist_ok=True)
    count = 0
    for task_id in running:
        source = data_dir / RESULTS / f"{task_id}.input"
        if not _TASK_ID.match(task_id) or not source.is_file():
            continue
        try:
            os.link(source, work / TASK_INPUTS / source.name)
        except OSError:
            shutil.copy2(source, work / TASK_INPUTS / source.name)
        count += 1
    return count


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.part")


def _write_archive(work: Path, target: Path) -> int:
    mode = "w" if target.name.endswith(".tar") else "w:gz"
    partial = _partial(target)
    try:
        with tarfile.open(partial, mode) as tar:  # type: ignore[call-overload]
            for name in (MANIFEST, DB_NAME, BLOBS, RESULTS, TASK_INPUTS):
                tar.add(work / name, arcname=name)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


# ---------------------------------------------------------------------------------------------------- restore

Cleanup = Callable[[], None]


async def restore_snapshot(rt: Runtime, services: Services, path: str) -> SnapshotInfo:
    source = resolve(rt, path)
    work = _work_dir(rt, "restore")
    try:
        manifest, size = await asyncio.to_thread(_extract, source, work)
        blobs, results, inputs = await asyncio.to_thread(_validate, work, manifest)
        renames = await asyncio.to_thread(_place_blobs, rt, work, blobs)
        try:
            results_renamed = await asyncio.to_thread(_place_results, rt, work, results)
        except BaseException:
            await asyncio.to_thread(_unlink_all, rt, [new for _, new in renames])
            raise
        placed = [new for _, new in renames + results_renamed]
        await asyncio.to_thread(_place_inputs, rt, work, inputs)  # named by their task: nothing to point at them
        try:
            cleanups = await _replace_rows(rt, services, work / DB_NAME, renames, results_renamed)
        except BaseException:
            await asyncio.to_thread(_unlink_all, rt, placed)
            raise
        for cleanup in cleanups:
            cleanup()
        rt.tenants.forget()
        emulated = float(manifest["emulated_time"])
        rt.clock.resume(ClockState(time.time(), emulated, 0.0), rt.clock.time_scale)
        await services.batches.start()  # what was being checked or answered when the snapshot was taken goes on
        await services.tasks.start()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SnapshotInfo(
        path=str(source),
        size=size,
        emulated_time=emulated,
        blobs=int(manifest.get("blobs", 0)),
        schema_version=int(manifest["schema_version"]),
    )


def _extract(source: Path, work: Path) -> tuple[dict[str, Any], int]:
    """Unpack after checking it is one of ours: only the manifest, the db and regular files under blobs/."""
    with open_regular(source) as handle:
        size = os.fstat(handle.fileno()).st_size
        try:
            with tarfile.open(fileobj=handle, mode="r:*") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member)
                names = {m.name for m in members}
                if MANIFEST not in names or DB_NAME not in names:
                    raise InvalidParameter(
                        f"{source} is not a dashscope-emulator snapshot (no {MANIFEST} or {DB_NAME})."
                    )
                tar.extractall(work, members=members, filter="data")
            manifest = json.loads((work / MANIFEST).read_text())
        except (tarfile.TarError, OSError, ValueError, EOFError, zlib.error) as exc:
            raise InvalidParameter(f"{source} is not a readable snapshot archive ({type(exc).__name__}).") from None
    if not isinstance(manifest, dict):
        raise InvalidParameter(f"{source}: its {MANIFEST} is not a JSON object.")
    _check_manifest(source, manifest)
    (work / BLOBS).mkdir(exist_ok=True)
    (work / RESULTS).mkdir(exist_ok=True)
    (work / TASK_INPUTS).mkdir(exist_ok=True)
    return manifest, size


def _check_manifest(source: Path, manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT:
        raise InvalidParameter(f"{source}: not a snapshot format this emulator knows (format {FORMAT}).")
    version, emulated, blobs = manifest.get("schema_version"), manifest.get("emulated_time"), manifest.get("blobs", 0)
    results, inputs = manifest.get("results", 0), manifest.get("task_inputs", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidParameter(f"{source}: the manifest's schema_version is not a positive integer.")
    if version > SCHEMA_VERSION:
        raise InvalidParameter(
            f"{source} was written by a newer dashscope-emulator (schema version "
            f"{version}, this one knows up to {SCHEMA_VERSION})."
        )
    if not isinstance(emulated, (int, float)) or isinstance(emulated, bool) or not math.isfinite(emulated):
        raise InvalidParameter(f"{source}: the manifest's emulated_time is not a number.")
    for count in (blobs, results, inputs):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidParameter(f"{source}: the manifest's blob count is not a count.")


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    parts = Path(name).parts
    folders = (BLOBS, RESULTS, TASK_INPUTS)
    ok_name = name in (MANIFEST, DB_NAME, *folders) or (parts[:1] in [(f,) for f in folders] and ".." not in parts)
    if not ok_name or Path(name).is_absolute() or not (member.isfile() or member.isdir()):
        raise InvalidParameter(f"Unexpected entry {name!r} in the snapshot archive.")


def _validate(work: Path, manifest: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """The staged database is sound and agrees with the staged blobs, results and task inputs; answers the blobs its
    rows use, the task results and the task inputs it holds."""
    try:
        conn = sqlite3.connect(f"file:{work / DB_NAME}?mode=ro", uri=True)
    except sqlite3.Error:
        raise InvalidParameter("The snapshot's database cannot be opened.") from None
    try:
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if [tuple(row) for row in check] != [("ok",)]:
            raise InvalidParameter("The snapshot's database fails SQLite's integrity check.")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "files" not in tables or "schema_version" not in tables:
            raise InvalidParameter("The snapshot's database is not a dashscope-emulator database.")
        stored = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if stored != manifest["schema_version"]:
            raise InvalidParameter("The snapshot's database and its manifest disagree on the schema version.")
        rows = conn.execute("SELECT blob, size FROM files").fetchall()
        if "oss_objects" in tables:  # the upload host's objects: blobs/oss/<name>
            rows += conn.execute("SELECT 'blobs/oss/' || blob, size FROM oss_objects").fetchall()
        kept = conn.execute("SELECT blob FROM tasks WHERE blob IS NOT NULL").fetchall() if "tasks" in tables else []
        running = (
            {str(r[0]) for r in conn.execute("SELECT task_id FROM tasks WHERE outcome IS NULL AND canceled_at IS NULL")}
            if "tasks" in tables
            else set()
        )
    except sqlite3.Error:
        raise InvalidParameter("The snapshot's database is damaged or not a SQLite database.") from None
    finally:
        conn.close()
    for blob, size in rows:
        _check_blob(work, blob, size)
    staged = sum(1 for p in (work / BLOBS).rglob("*") if p.is_file())
    if staged != manifest.get("blobs", 0):
        raise InvalidParameter(
            f"The snapshot is incomplete: its manifest counts {manifest.get('blobs', 0)} blobs, "
            f"the archive holds {staged}."
        )
    results = _staged_results(work, [row[0] for row in kept], manifest.get("results", 0))
    return [str(blob) for blob, _ in rows], results, _staged_inputs(work, running, manifest.get("task_inputs", 0))


def _staged_inputs(work: Path, running: set[str], expected: int) -> list[str]:
    """The staged task inputs: each ``<task>.input`` of a task of the staged rows still being written."""
    found = [p for p in (work / TASK_INPUTS).rglob("*") if p.is_file() or p.is_symlink()]
    for path in found:
        if path.is_symlink() or path.parent != work / TASK_INPUTS or path.name.removesuffix(".input") not in running:
            raise InvalidParameter(f"The snapshot's task input {path.name} belongs to no task still running: refused.")
    if len(found) != expected:
        raise InvalidParameter(
            f"The snapshot is incomplete: its manifest counts {expected} task inputs, the archive holds {len(found)}."
        )
    return [path.name for path in found]


def _staged_results(work: Path, kept: list[object], expected: int) -> list[str]:
    """The task results of the staged rows that the archive holds (a result missing when the snapshot was taken
    stays missing), all of them plain names under ``results/``."""
    found: list[str] = []
    for blob in kept:
        if not isinstance(blob, str) or not _RESULT_PATH.match(blob):
            raise InvalidParameter("The snapshot's task rows point outside results/: refused.")
        staged = work / blob
        if staged.is_symlink():
            raise InvalidParameter(f"The snapshot's result {blob} is not a regular file.")
        if staged.is_file():
            found.append(blob)
    staged_count = sum(1 for p in (work / RESULTS).rglob("*") if p.is_file())
    if staged_count != expected or len(found) != expected:
        raise InvalidParameter(
            f"The snapshot is incomplete: its manifest counts {expected} task results, the archive holds "
            f"{staged_count} ({len(found)} of them named by its tasks)."
        )
    return found


def _check_blob(work: Path, blob: object, size: object) -> None:
    if not isinstance(blob, str) or not _BLOB_PATH.match(blob) or ".." in blob.split("/"):
        raise InvalidParameter("The snapshot's file rows point outside blobs/: refused.")
    staged = work / blob
    if staged.is_symlink() or not staged.is_file():
        raise InvalidParameter(f"The snapshot lacks the blob {blob} one of its files needs.")
    if isinstance(size, int) and staged.stat().st_size != size:
        raise InvalidParameter(f"The snapshot's blob {blob} does not have its file's recorded size.")


def _place_blobs(rt: Runtime, work: Path, blobs: list[str]) -> list[tuple[str, str]]:
    """Each staged blob moves under a fresh name into the live blob folder; no row points at it yet."""
    token = secrets.token_hex(6)
    renames: list[tuple[str, str]] = []
    try:
        for blob in blobs:
            folder, name = blob.split("/")[1:]
            new = f"{BLOBS}/{folder}/{name.split('~', 1)[0]}~{token}"
            target = rt.data_dir / new
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(work / blob, target)
            except OSError:
                shutil.copy2(work / blob, target)
            renames.append((blob, new))
    except BaseException:
        _unlink_all(rt, [new for _, new in renames])
        raise
    return renames


def _place_results(rt: Runtime, work: Path, results: list[str]) -> list[tuple[str, str]]:
    """Each staged result moves under a fresh name into ``<data dir>/results`` (the old state's result of the same
    task is removed after the commit: it must not be this file)."""
    token = secrets.token_hex(6)
    renames: list[tuple[str, str]] = []
    (rt.data_dir / RESULTS).mkdir(parents=True, exist_ok=True)
    try:
        for blob in results:
            stem, dot, ext = blob.split("/", 1)[1].partition(".")
            new = f"{RESULTS}/{stem.split('~', 1)[0]}~{token}{dot}{ext}"
            try:
                os.replace(work / blob, rt.data_dir / new)
            except OSError:
                shutil.copy2(work / blob, rt.data_dir / new)
            renames.append((blob, new))
    except BaseException:
        _unlink_all(rt, [new for _, new in renames])
        raise
    return renames


def _place_inputs(rt: Runtime, work: Path, inputs: list[str]) -> None:
    (rt.data_dir / RESULTS).mkdir(parents=True, exist_ok=True)
    for name in inputs:
        try:
            os.replace(work / TASK_INPUTS / name, rt.data_dir / RESULTS / name)
        except OSError:
            shutil.copy2(work / TASK_INPUTS / name, rt.data_dir / RESULTS / name)


def _unlink_all(rt: Runtime, blobs: list[str]) -> None:
    for blob in blobs:
        (rt.data_dir / blob).unlink(missing_ok=True)


async def _replace_rows(
    rt: Runtime, services: Services, source: Path, renames: list[tuple[str, str]], results: list[tuple[str, str]]
) -> list[Cleanup]:
    """One transaction: every service forgets its state, every table takes the snapshot's rows."""
    async with rt.db.exclusive() as conn:
        await conn.execute("ATTACH DATABASE ? AS snap", (str(source),))
        try:
            main = await _columns(conn, "main")
            snap = await _columns(conn, "snap")
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute("PRAGMA defer_foreign_keys = ON")
                cleanups = await _wipe_services(services, Tx(conn))
                await _copy_tables(conn, main, snap)
                await _copy_sequences(conn)
                await conn.executemany("UPDATE main.files SET blob = ? WHERE blob = ?", [(n, o) for o, n in renames])
                oss = [(n.rsplit("/", 1)[1], o.rsplit("/", 1)[1]) for o, n in renames if o.startswith(f"{BLOBS}/oss/")]
                await conn.executemany("UPDATE main.oss_objects SET blob = ? WHERE blob = ?", oss)
                await conn.executemany("UPDATE main.tasks SET blob = ? WHERE blob = ?", [(n, o) for o, n in results])
            except sqlite3.Error as exc:
                await conn.execute("ROLLBACK")
                raise InvalidParameter(f"The snapshot's rows do not fit this emulator's database ({exc}).") from None
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")
        finally:
            await conn.execute("DETACH DATABASE snap")
    return cleanups


async def _wipe_services(services: Services, tx: Tx) -> list[Cleanup]:
    _, after = await services.wipe(tx, None)
    return [cleanup for cleanup in after if cleanup is not None]


async def _copy_tables(conn: aiosqlite.Connection, main: dict[str, list[str]], snap: dict[str, list[str]]) -> None:
    """Every table of the snapshot into the open database; tables it lacks end up empty."""
    for table, columns in main.items():
        await conn.execute(f'DELETE FROM main."{table}"')
        shared = [c for c in columns if c in snap.get(table, ())]
        if shared:
            cols = ", ".join(f'"{c}"' for c in shared)
            await conn.execute(f'INSERT INTO main."{table}" ({cols}) SELECT {cols} FROM snap."{table}"')


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
