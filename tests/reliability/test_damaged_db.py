"""A damaged environment at start (issue 10): a garbage, truncated, partly overwritten or read-only --db file,
or an unwritable directory.  ``serve`` exits non-zero at once with one clear line (what is wrong, which file,
what to do): never a traceback, never a process that stays alive without listening."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

from emulator.testing import free_port

pytestmark = pytest.mark.slow  # a handful of CLI start-ups


def _real_db(path: Path) -> None:
    """An emulator database with a few hundred pages of state."""
    conn = sqlite3.connect(path)
    conn.executescript(resources.files("emulator").joinpath("schema.sql").read_text(encoding="utf-8"))
    conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [(f"k{i}", "v" * 500) for i in range(2000)])
    conn.commit()
    conn.close()


def _garbage(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(64 * 1024))


def _truncated(path: Path) -> None:
    _real_db(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _partly_damaged(path: Path) -> None:
    _real_db(path)
    data = bytearray(path.read_bytes())
    page = 4096
    noise = random.Random(2).randbytes(page * 4)
    data[page * 10 : page * 14] = noise  # four pages in the middle of the meta table
    path.write_bytes(bytes(data))


def _header_only(path: Path) -> None:
    _real_db(path)
    path.write_bytes(path.read_bytes()[:60])


def _directory(path: Path) -> None:
    path.mkdir()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "garbage": (_garbage, "is not an SQLite database"),
    "truncated": (_truncated, "is truncated"),
    "partly damaged": (_partly_damaged, "is damaged"),
    "cut inside its header": (_header_only, "ends inside its header"),
    "a directory": (_directory, "is a directory"),
}


def _serve(db: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--db", str(db), "--port", str(free_port()), *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done, time.monotonic() - started


def _assert_one_clear_line(done: subprocess.CompletedProcess[str], db: Path | str, words: str) -> None:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert str(db) in line and words in line, done.stderr
    assert "point --db" in line or "choose another place" in line or "make it writable" in line, line


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_database_file_exits_with_one_clear_line(tmp_path: Path, kind: str) -> None:
    damage, words = DAMAGE[kind]
    db = tmp_path / "emulator.db"
    damage(db)
    done, elapsed = _serve(db)
    _assert_one_clear_line(done, db, words)
    assert elapsed < 5.0  # about half a second of it is the interpreter starting; the check takes milliseconds


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory that is read-only for this process: a tmpfs remounted read-only when we may mount (root, as
    in CI), else a chmod (which binds everyone but root)."""
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() != 0:
        yield target
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.fail(f"running as root but cannot mount a tmpfs: {mounted.stderr!r}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _make_read_only(directory: Path, files: list[Path]) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
    else:
        for path in files:
            path.chmod(0o444)
        directory.chmod(0o555)


def test_a_read_only_database_exits_with_one_clear_line(read_only_dir: Path) -> None:
    db = read_only_dir / "emulator.db"
    _real_db(db)
    _make_read_only(read_only_dir, [db])
    done, _ = _serve(db, "--data-dir", str(read_only_dir.parent / "files"))
    _assert_one_clear_line(done, db, "read-only")


def test_an_unwritable_data_dir_exits_with_one_clear_line(read_only_dir: Path, tmp_path: Path) -> None:
    _make_read_only(read_only_dir, [])
    done, _ = _serve(tmp_path / "emulator.db", "--data-dir", str(read_only_dir / "files"))
    _assert_one_clear_line(done, "--data-dir", "is not writable")


def test_an_empty_file_is_an_empty_database(tmp_path: Path) -> None:
    from emulator.db import check_database_file

    db = tmp_path / "empty.db"
    db.touch()
    check_database_file(str(db))  # no error: SQLite treats an empty file as a new database
