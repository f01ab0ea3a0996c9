"""The SQLite store: one file in WAL mode, a writer connection behind a lock and a reader connection.

SQL lives in each resource's ``store`` module, plus the few places that act on whole tables: the checkpoint
exports' ledger (``fine_tunes/exports.py``), the control plane's wipe and snapshot (``control/``).  They get a
``Database`` and use ``fetch*`` for queries and ``transaction()`` for writes (``BEGIN IMMEDIATE``, so separate
processes sharing the file queue up instead of failing with "database is locked").

Reads run on the event loop through a plain ``sqlite3`` connection: in WAL mode a reader never waits
for the writer, and an indexed point read takes microseconds, far less than aiosqlite's hop to its
thread and back (three hops per query: execute, fetch, close).  Writes keep aiosqlite's thread, since
``BEGIN IMMEDIATE`` may wait for another process's transaction.  An in-memory database has a single
connection, so there reads go through the writer.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

T = TypeVar("T")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000


class SchemaTooNew(RuntimeError):
    pass


class DamagedDatabase(RuntimeError):
    """The --db file cannot be served: not SQLite, truncated, corrupt or read-only.  The message says what to do."""


QUICK_CHECK_MAX_BYTES = 512 * 1024 * 1024
"""Files up to this size get ``PRAGMA quick_check`` before serving (milliseconds for an emulator's database)."""
_MAGIC = b"SQLite format 3\x00"


class Database:
    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    async def open(self) -> None:
        new = self.in_memory or not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        if not self.in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        self._writer.row_factory = sqlite3.Row
        try:
            await on_thread(self._writer, lambda raw: _prepare(raw, self.path, new=new))  # one trip to the thread
        except BaseException:
            await self._writer.close()  # its thread would otherwise keep the process alive
            self._writer = None
            raise
        if not self.in_memory:
            self._reader = _connect_reader(self.path)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            await self._writer.close()
        self._reader = self._writer = None

    def version(self) -> int | None:
        """A number that moves whenever a commit lands from any connection but the reader: this process's writer,
        another ``--workers`` process, any other program (``PRAGMA data_version`` of the reader, ~7 µs).  None for
        an in-memory database, which has no second connection to watch."""
        if self._reader is None:
            return None
        cur = self._reader.execute("PRAGMA data_version")
        try:
            return int(cur.fetchone()[0])
        finally:
            cur.close()  # ends the read transaction now (a live one would hold back the WAL's checkpoints)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        if self._reader is not None:
            cur = self._reader.execute(sql, params)
            try:
                return cur.fetchone()  # type: ignore[no-any-return]
            finally:
                cur.close()  # ends the read transaction now, not when the cursor is collected
        assert self._writer is not None, "database is not open"
        return next(iter(await self._writer.execute_fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if self._reader is not None:
            return self._reader.execute(sql, params).fetchall()
        assert self._writer is not None, "database is not open"
        return list(await self._writer.execute_fetchall(sql, params))

    async def has_rows(self, table: str) -> bool:
        """Whether ``table`` (a name from the code, never from a request) holds a row: one probe, which start-up
        asks before it imports the code that would resume a table's work."""
        return bool(await self.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"))

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        assert self._writer is not None, "database is not open"
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer connection outside any transaction, every writer of this process held off (snapshots)."""
        assert self._writer is not None, "database is not open"
        async with self._lock:
            yield self._writer


K = TypeVar("K")
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """Values read from the database, kept until anything commits (``Database.version`` moves), in this process
    or another: a read served from here is exactly what the database would answer.

    ``current()`` first (one ``PRAGMA data_version``): it drops every entry when the database moved and answers the
    version to ``put`` with, read *before* the query whose result is stored, so a commit racing that query leaves
    an entry that the next ``current()`` drops.  Without a version (an in-memory database) nothing is kept.
    At most ``limit`` entries: past it the cache starts over.
    """

    def __init__(self, db: Database, limit: int = 10_000) -> None:
        self.db = db
        self.limit = limit
        self._version: int | None = None
        self._entries: dict[K, V] = {}

    def current(self) -> int | None:
        version = self.db.version()
        if version != self._version:
            self._entries.clear()
            self._version = version
        return version

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, version: int | None, key: K, value: V) -> None:
        if version is None or version != self._version:
            return
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = value

    def clear(self) -> None:
        self._entries.clear()


class Tx:
    """The writer connection inside a transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; answers the number of rows it changed.  One trip to aiosqlite's thread: a write's
        statement is done once executed, so its cursor is left to be collected rather than closed by a second trip."""
        cur = await self.conn.execute(sql, params)
        return int(cur.rowcount)

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one INSERT; answers the new row's id."""
        cur = await self.conn.execute(sql, params)
        return int(cur.lastrowid or 0)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` called with the raw connection on aiosqlite's thread: several statements in one trip (each trip
        waits for the scheduler, which on a busy machine is most of a write)."""
        return await on_thread(self.conn, fn)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return next(iter(await self.conn.execute_fetchall(sql, params)), None)  # one trip to the thread, not three

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def fetchval(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def next_seq(self, name: str) -> int:
        """A persisted counter: the sequence behind seeded ids."""
        key = f"seq:{name}"
        return int(
            await self.fetchval(
                "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = value + 1"
                " RETURNING value",
                (key,),
            )
        )


def _connect_reader(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only=ON")
    return conn


def check_database_file(path: str) -> None:
    """Before serving: one clear ``DamagedDatabase``/``SchemaTooNew`` for a file that cannot be served, never a
    traceback or a server that starts and then fails every request."""
    if path == ":memory:":
        return
    target = Path(path)
    if not target.exists():
        check_writable_dir(target.parent, path)
        return
    if target.is_dir():
        raise DamagedDatabase(f"{path} is a directory, not an SQLite database file; point --db at a file")
    _check_header(target)
    if not os.access(target, os.R_OK | os.W_OK):
        raise DamagedDatabase(
            f"{path} is read-only (the emulator writes every change to it); make it writable or point --db at a copy"
        )
    check_writable_dir(target.parent, path)
    try:
        conn = sqlite3.connect(f"file:{target}?mode=rw", uri=True)
    except sqlite3.Error as exc:
        raise DamagedDatabase(_damaged(path, str(exc))) from None
    try:
        _check_contents(conn, path, target.stat().st_size)
    except sqlite3.Error as exc:
        raise DamagedDatabase(_damaged(path, str(exc))) from None
    finally:
        conn.close()


def check_writable_dir(directory: Path, what: str) -> None:
    """``directory`` (or the nearest ancestor that exists, where it will be created) is writable."""
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise DamagedDatabase(
            f"{what}: the directory {directory} is not writable (the emulator keeps its files and SQLite's -wal "
            "file there); make it writable or choose another place"
        )


def _check_header(target: Path) -> None:
    size = target.stat().st_size
    if size == 0:
        return  # an empty file is an empty database
    with open(target, "rb") as fh:
        header = fh.read(100)
    if not header.startswith(_MAGIC):
        raise DamagedDatabase(
            f"{target} is not an SQLite database (its first bytes are not 'SQLite format 3'); "
            "move it aside or point --db at another file"
        )
    if len(header) < 100:
        raise DamagedDatabase(_damaged(str(target), f"the file ends inside its header ({size} bytes)"))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    size_valid = header[24:28] == header[92:96]  # the in-header page count is valid (SQLite >= 3.7.0)
    if size_valid and pages and pages * page_size > size:
        raise DamagedDatabase(
            _damaged(str(target), f"it is truncated: {size} bytes on disk, its header says {pages * page_size}")
        )


def _check_contents(conn: sqlite3.Connection, path: str, size: int) -> None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone():
        found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if found is not None and int(found) > SCHEMA_VERSION:
            raise SchemaTooNew(_too_new(path, int(found)))
    if size <= QUICK_CHECK_MAX_BYTES:
        problems = [" ".join(str(row[0]).split()) for row in conn.execute("PRAGMA quick_check(3)").fetchall()]
        if problems != ["ok"]:
            raise DamagedDatabase(_damaged(path, "; ".join(problems)[:300]))


def _damaged(path: str, what: str) -> str:
    return (
        f"{path} is damaged ({what}); move it aside (a fresh database is then created) or point --db at "
        "another file, e.g. a snapshot's copy"
    )


def _too_new(path: str, found: int) -> str:
    return (
        f"{path} was written by a newer dashscope-emulator (schema version {found}, this one knows up to "
        f"{SCHEMA_VERSION}); upgrade the emulator or point --db at another file"
    )


# Columns added since a table was first created: (table, column, type). A database written before gets them on open.
_ADDED_COLUMNS = (("fine_tunes", "release_at", "REAL"),)


SCHEMA_FILE = Path(__file__).with_name("schema.sql")


def _prepare(conn: sqlite3.Connection, path: str, *, new: bool) -> None:
    """The writer's settings, WAL, and the schema (created, or brought up to date), on the writer's thread.

    A new file holds nothing to lose: its creation is written without syncing (``synchronous=OFF`` spares the
    five fsyncs of creating a WAL database, ~20 ms of a fresh start), then the writer commits as always
    (``NORMAL``: the WAL is synced before each checkpoint, the creation's pages with the first)."""
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=OFF" if new else "PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA journal_mode=WAL")
    found = _stored_version(conn)
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaTooNew(_too_new(path, found))
    _add_columns(conn)
    conn.executescript(SCHEMA_FILE.read_text(encoding="utf-8"))
    if found != SCHEMA_VERSION:
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION, time.time()))
    if new:
        conn.execute("PRAGMA synchronous=NORMAL")


def _add_columns(conn: sqlite3.Connection) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        present = [row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()]
        if present and column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _stored_version(conn: sqlite3.Connection) -> int | None:
    if conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone() is None:
        return None
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return None if row is None or row[0] is None else int(row[0])


async def get_meta(db: Database, key: str) -> str | None:
    value = await db.fetchval("SELECT value FROM meta WHERE key = ?", (key,))
    return None if value is None else str(value)


async def set_meta(tx: Tx, key: str, value: str) -> None:
    await tx.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def bump_counter(tx: Tx, tenant: str, kind: str, delta: int) -> None:
    await tx.execute(
        "INSERT INTO counters (tenant, kind, n) VALUES (?, ?, ?) ON CONFLICT (tenant, kind) DO UPDATE SET n = n + ?",
        (tenant, kind, delta, delta),
    )


async def read_counter(db: Database, tenant: str, kind: str) -> int:
    value = await db.fetchval("SELECT n FROM counters WHERE tenant = ? AND kind = ?", (tenant, kind))
    return int(value or 0)


async def wipe_counters(tx: Tx, tenant: str | None, kind: str) -> None:
    if tenant is None:
        await tx.execute("DELETE FROM counters WHERE kind = ?", (kind,))
    else:
        await tx.execute("DELETE FROM counters WHERE tenant = ? AND kind = ?", (tenant, kind))


# ------------------------------------------------------------------------------------------- aiosqlite's insides


async def on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn`` called with the raw ``sqlite3`` connection on aiosqlite's own thread, in one trip.

    aiosqlite has no public way to do this: it uses ``Connection._execute`` (queue a callable on the thread) and
    ``Connection._conn`` (the raw connection).  This is the only place that touches them;
    ``tests/unit/test_private_apis.py`` fails loudly if an aiosqlite release changes them.
    """
    raw: sqlite3.Connection = conn._conn
    return await conn._execute(lambda: fn(raw))  # type: ignore[no-untyped-call,no-any-return]
