"""Checkpoint listing and export (reference 2026 §2): the checkpoints derive from the job (``checkpoints.py``),
the exports are rows of their own whose status derives from the emulated clock.

Two parts, so the composition root (``emulator.services``) can build them around the fine-tunes service:
``ExportLedger`` (the export rows: no job engine) is built first and handed to the fine-tunes service, whose
``find_model`` then resolves an exported checkpoint's ``model_name`` like a fine-tune's ``finetuned_output``
and whose delete drops the job's exports (``forget_job``, in the same transaction); ``CheckpointsService``
reads jobs only through the fine-tunes service's public ``get_job``, so the job engine can change underneath it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from emulator.changes import Signal
from emulator.clock import Clock
from emulator.db import Database, Tx
from emulator.errors import Conflict, InvalidParameter, NotFound, UnsupportedOperation
from emulator.fine_tunes import store as job_store
from emulator.fine_tunes.checkpoints import (
    Checkpoint,
    ExportView,
    derive,
    export_status,
    exported_model_name,
)
from emulator.fine_tunes.service import FineTunesService
from emulator.fine_tunes.states import JobStatus
from emulator.fine_tunes.store import JobRow
from emulator.tenants import Tenant

MAX_DISPLAY_NAME = 128
_CHECKPOINT_RE = re.compile(r"^(?:(?P<job>ft-[0-9A-Za-z-]+):)?checkpoint-(?P<step>\d{1,9})$")


def _missing(name: str) -> str:
    return f"Required parameter({name}) missing or invalid, please check the request parameters."


class ExportLedger:
    """The checkpoint exports' rows: what the fine-tunes service and the deployments service ask about them."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def find_export(self, tenant: Tenant, model_name: str) -> JobRow | None:
        """The job behind an exported checkpoint's ``model_name``, once that export has SUCCEEDED."""
        row = await self.db.fetchone(
            "SELECT job_id, display_name, model_name, requested_at FROM checkpoint_exports "
            "WHERE tenant = ? AND model_name = ?",
            (tenant.id, model_name),
        )
        if row is None:
            return None
        view = ExportView(row["display_name"], row["model_name"], row["requested_at"])
        if export_status(view, self.clock.now()) != "SUCCEEDED":
            return None
        job = await job_store.get_job(self.db, tenant.id, row["job_id"])
        return job if job is not None and job.status is JobStatus.SUCCEEDED else None

    async def exported_models(self, tenant: Tenant) -> list[tuple[str, JobRow]]:
        """This tenant's SUCCEEDED exports with their jobs (``/deployments/models?model_source=custom``)."""
        rows = await self.db.fetchall(
            "SELECT job_id, display_name, model_name, requested_at FROM checkpoint_exports WHERE tenant = ? "
            "ORDER BY requested_at",
            (tenant.id,),
        )
        now = self.clock.now()
        out = []
        for r in rows:
            if export_status(ExportView(r["display_name"], r["model_name"], r["requested_at"]), now) != "SUCCEEDED":
                continue
            job = await job_store.get_job(self.db, tenant.id, r["job_id"])
            if job is not None and job.status is JobStatus.SUCCEEDED:
                out.append((str(r["model_name"]), job))
        return out

    async def forget_job(self, tx: Tx, tenant: Tenant, job: JobRow) -> None:
        """A job delete hook: a deleted job's exports go with it (their display names become free again)."""
        await tx.execute("DELETE FROM checkpoint_exports WHERE tenant = ? AND job_id = ?", (tenant.id, job.job_id))

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None] | None]:
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
        return await tx.execute(f"DELETE FROM checkpoint_exports {where}", params), None


class CheckpointsService:
    def __init__(self, db: Database, clock: Clock, changes: Signal, fine_tunes: FineTunesService) -> None:
        self.db = db
        self.clock = clock
        self.changes = changes
        self._fine_tunes = fine_tunes

    async def list_checkpoints(self, tenant: Tenant, job_id: str) -> list[Checkpoint]:
        job = await self._fine_tunes.get_job(tenant, job_id)  # NotFound for an unknown job
        return derive(job, self.clock.now(), await exports_of(self.db, tenant.id, job_id))

    async def export(self, tenant: Tenant, job_id: str, checkpoint: str, display_name: str | None) -> bool:
        """Start an export (idempotent: a checkpoint exported before, or the final one, answers True again)."""
        job: JobRow = await self._fine_tunes.get_job(tenant, job_id)
        name = (display_name or "").strip()
        if not name or len(name) > MAX_DISPLAY_NAME:
            raise InvalidParameter(_missing("model_name"), param="model_name")
        if job.status is not JobStatus.SUCCEEDED:
            raise UnsupportedOperation(
                f"The checkpoint cannot be exported before the fine-tuning job succeeds (job {job_id} is {job.status})."
            )
        now = self.clock.now()
        cp = _pick(derive(job, now, await exports_of(self.db, tenant.id, job_id)), job_id, checkpoint)
        if cp.final or cp.status != "PENDING" or cp.model_name is not None:
            return True
        if cp.expired(now):
            raise InvalidParameter(f"The checkpoint has expired ({checkpoint}).", param="checkpoint")
        async with self.db.transaction() as tx:
            if await job_store.get_job(tx, tenant.id, job_id) is None:  # deleted since it was read: decided here
                raise NotFound()
            await _insert(tx, tenant.id, job_id, cp.step, name, exported_model_name(job, cp.step), now)
        self.changes.notify(tenant.id, job_id)
        return True


def _pick(checkpoints: list[Checkpoint], job_id: str, wanted: str) -> Checkpoint:
    match = _CHECKPOINT_RE.match(wanted)
    if match is not None and match.group("job") in (None, job_id):
        step = int(match.group("step"))
        for cp in checkpoints:
            if cp.step == step:
                return cp
    raise InvalidParameter(f"Checkpoint not found: {wanted}.", param="checkpoint")


async def exports_of(db: Database, tenant: str, job_id: str) -> dict[int, ExportView]:
    rows = await db.fetchall(
        "SELECT step, display_name, model_name, requested_at FROM checkpoint_exports WHERE tenant = ? AND job_id = ?",
        (tenant, job_id),
    )
    return {int(r["step"]): ExportView(r["display_name"], r["model_name"], r["requested_at"]) for r in rows}


async def _insert(tx: Tx, tenant: str, job_id: str, step: int, display: str, model_name: str, now: float) -> None:
    taken = await tx.fetchval(
        "SELECT job_id FROM checkpoint_exports WHERE tenant = ? AND display_name = ?", (tenant, display)
    )
    if taken is not None:
        raise Conflict(f"Model name {display} is already taken by another export; choose another model_name.")
    try:
        await tx.execute(
            "INSERT INTO checkpoint_exports (tenant, job_id, step, display_name, model_name, requested_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, job_id, step, display, model_name, now),
        )
    except sqlite3.IntegrityError:  # the same checkpoint exported by a concurrent request
        pass
