"""A database written by a newer emulator is refused with a clear message, in-process and from the CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from emulator.app import create_app
from emulator.db import SCHEMA_VERSION, SchemaTooNew

pytestmark = pytest.mark.anyio


def _future_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()


async def test_the_app_refuses_a_newer_database(tmp_path: Path, settings_factory: Any) -> None:
    db = tmp_path / "future.db"
    _future_db(db)
    app = create_app(settings_factory(db=str(db)))
    with pytest.raises(SchemaTooNew, match="newer dashscope-emulator"):
        async with app.router.lifespan_context(app):
            pass


def test_the_cli_says_so_without_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    _future_db(db)
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--db", str(db), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "newer dashscope-emulator" in done.stderr and "Traceback" not in done.stderr


async def test_an_older_or_current_database_opens(tmp_path: Path, settings_factory: Any) -> None:
    app = create_app(settings_factory(db=str(tmp_path / "fresh.db")))
    async with app.router.lifespan_context(app):
        pass
    again = create_app(settings_factory(db=str(tmp_path / "fresh.db")))
    async with again.router.lifespan_context(again):
        version = await again.state.rt.db.fetchval("SELECT max(version) FROM schema_version")
    assert version == SCHEMA_VERSION
