"""Fill a database with many jobs and files before a server starts on it, fast (direct SQL, one transaction).

The rows are copies of real ones: a template job and file are made through the API in-process (upload a
dataset, create a job, advance the clock until it succeeds), then cloned with new ids.  Jobs all belong to
the bench tenant (its list total comes from ``counters``, kept consistent); files are capped at 100 per
tenant, so they are spread over as many tenants as it takes, the bench tenant holding the first 100.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import API_KEY
from emulator.app import create_app
from emulator.clock import fmt_job_time
from emulator.db import Database
from emulator.settings import Settings
from emulator.tenants import tenant_for

FILES_PER_TENANT = 100
ACTIVE = ("QUEUING", "QUEUING", "RUNNING")  # the newest jobs: a few still in the queue
TERMINAL_CYCLE = ("SUCCEEDED",) * 8 + ("FAILED", "CANCELED")


@dataclass
class Template:
    job: dict[str, Any]
    file: dict[str, Any]


def dataset(rows: int = 400) -> bytes:
    lines = []
    for i in range(rows):
        row = {
            "messages": [
                {"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": f"Question {i}: how many legs does a spider number {i} have?"},
                {"role": "assistant", "content": f"Spider number {i} has eight legs, like every spider."},
            ]
        }
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


async def _make_template() -> Template:
    work = Path(tempfile.mkdtemp(prefix="bench-template-"))
    app = create_app(Settings(db=str(work / "t.db"), data_dir=work / "files", time_scale=0.0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://localhost", headers={"Authorization": f"Bearer {API_KEY}"}
        ) as client:
            answer = await client.post("/api/v1/files", files=[("files", ("train.jsonl", dataset()))])
            file_id = answer.json()["data"]["uploaded_files"][0]["file_id"]
            job = (
                await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]})
            ).json()["output"]
            await client.post("/_emulator/clock/advance", json={"seconds": 10 * 86400})
            await client.get(f"/api/v1/fine-tunes/{job['job_id']}")
    conn = sqlite3.connect(work / "t.db")
    conn.row_factory = sqlite3.Row
    job_row = dict(conn.execute("SELECT * FROM fine_tunes").fetchone())
    file_row = dict(conn.execute("SELECT * FROM files").fetchone())
    conn.close()
    shutil.rmtree(work, ignore_errors=True)
    return Template(job_row, file_row)


_template: Template | None = None


def template() -> Template:
    global _template  # noqa: PLW0603 - one template per bench run
    if _template is None:
        _template = asyncio.run(_make_template())
    return _template


def _schema(db_path: Path) -> None:
    async def apply() -> None:
        db = Database(str(db_path))
        await db.open()
        await db.close()

    asyncio.run(apply())


def _stamp(ts: float) -> str:
    return fmt_job_time(ts).replace("-", "").replace(" ", "").replace(":", "")[:12]


def job_rows(count: int, tenant: str, now: float) -> list[tuple[Any, ...]]:
    """``count`` jobs, 1,000 created per emulated minute up to ``now``; ids unique (``ft-<minute>-<hex4>``)."""
    tpl = template().job
    plan = json.loads(tpl["plan"])
    plan["duration"] = 10 * 86400.0  # the running one stays RUNNING under a frozen clock
    active_plan = json.dumps(plan)
    rows = []
    for i in range(count):
        created = now - 3600 - (count - i) * 0.06
        job_id = f"ft-{_stamp(created)}-{i % 65536:04x}"
        status = ACTIVE[i - count + len(ACTIVE)] if i >= count - len(ACTIVE) else TERMINAL_CYCLE[i % 10]
        queued = started = ended = cancel = None
        code = message = None
        if status == "RUNNING":
            queued, started = created + 5, now - 1
        elif status == "QUEUING":
            queued = created + 5
        else:
            queued, started, ended = created + 5, created + 5, created + 50
            if status == "CANCELED":
                cancel = ended
            if status == "FAILED":
                code, message = "FineTuneFailed", "Fine-tune failed."
        rows.append(
            (
                job_id,
                tenant,
                status,
                tpl["model"],
                tpl["base_model"],
                tpl["training_type"],
                tpl["request"],
                active_plan if status in ACTIVE else tpl["plan"],
                tpl["memory"],
                f"{tpl['model']}-{job_id}",
                created,
                queued,
                started,
                cancel,
                ended,
                code,
                message,
                tpl["events"],
            )
        )
    return rows


def file_rows(count: int, bench_tenant: str, now: float) -> tuple[list[tuple[Any, ...]], set[str]]:
    tpl = template().file
    rows = []
    tenants = {bench_tenant}
    for i in range(count):
        owner = i // FILES_PER_TENANT
        tenant = bench_tenant if owner == 0 else tenant_for(f"{API_KEY}-{owner}", None).id
        tenants.add(tenant)
        file_id = str(uuid.UUID(int=i + 1, version=4))
        rows.append(
            (
                file_id,
                tenant,
                f"train-{i}.jsonl",
                "",
                tpl["purpose"],
                tpl["size"],
                tpl["md5"],
                tpl["kind"],
                tpl["rows"],
                tpl["tokens"],
                tpl["row_tokens"],
                tpl["samples"],
                f"blobs/{file_id[:2]}/{file_id}",
                now - count + i,
            )
        )
    return rows, tenants


@dataclass
class Filled:
    jobs: int
    files: int
    seconds: float
    db_bytes_jobs: int  # after the jobs, before the files
    db_bytes: int
    job_ids: list[str]  # a terminal one deep in the history, and the running one


def fill(db_path: Path, jobs: int, files: int, now: float | None = None) -> Filled:
    """A fresh database at ``db_path`` (schema applied) with ``jobs`` jobs and ``files`` files; clock at ``now``."""
    started = time.monotonic()
    now = time.time() if now is None else now
    _schema(db_path)
    bench = tenant_for(API_KEY, None)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    rows = job_rows(jobs, bench.id, now)
    conn.executemany(
        "INSERT INTO fine_tunes (job_id, tenant, status, model, base_model, training_type, request, plan, memory,"
        " output_model, created_at, queued_at, started_at, cancel_at, ended_at, code, message, events)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.execute("INSERT INTO counters (tenant, kind, n) VALUES (?, 'fine_tunes', ?)", (bench.id, jobs))
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('clock', ?)",
        (json.dumps({"anchor_wall": time.time(), "anchor_emulated": now, "time_scale": 0.0}),),
    )
    conn.execute("INSERT INTO meta (key, value) VALUES ('seq:job', ?)", (str(jobs),))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size_jobs = db_path.stat().st_size
    conn.execute("BEGIN")
    frows, tenants = file_rows(files, bench.id, now)
    conn.executemany(
        "INSERT INTO files (file_id, tenant, name, description, purpose, size, md5, kind, rows, tokens, row_tokens,"
        " samples, blob, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        frows,
    )
    conn.executemany(
        "INSERT OR IGNORE INTO tenants (id, key_hint, workspace, account_id, created_at)"
        " VALUES (?, 'sk-be…', NULL, '1', ?)",
        [(t, now) for t in tenants],
    )
    conn.execute("INSERT INTO meta (key, value) VALUES ('seq:file', ?)", (str(files),))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    deep = rows[len(rows) // 2][0]
    running = next(r[0] for r in rows if r[2] == "RUNNING")
    return Filled(jobs, files, time.monotonic() - started, size_jobs, db_path.stat().st_size, [deep, running])
