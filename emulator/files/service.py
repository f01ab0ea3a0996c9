"""Files: upload with quotas and dataset checks, list, get, delete.  Plain values in, ApiError out.

An upload's route asks for a ``budget`` first: the tenant's quota left, minus what its other uploads in flight
have taken, so the multipart writer stops at the first chunk that no longer fits; the commit then checks the
quotas again in one IMMEDIATE transaction (the authority, across worker processes too).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from emulator.clock import Clock
from emulator.db import Database, Tx, VersionedCache
from emulator.errors import FileNotFound, InsufficientStorage, InvalidParameter, is_disk_full
from emulator.files import store
from emulator.files.datasets import DatasetReport, inspect_dataset
from emulator.files.schemas import FailedUpload, UploadedFile
from emulator.files.store import FileRecord
from emulator.files.upload import StagedFile
from emulator.ids import Ids
from emulator.settings import Settings
from emulator.tenants import Tenant

PURPOSES = {"fine-tune": "fine-tune", "fine_tune": "fine-tune", "file-extract": "file-extract", "batch": "batch"}


@dataclass
class UploadOutcome:
    uploaded: list[UploadedFile]
    failed: list[FailedUpload]


def display_name(filename: str) -> str:
    """The name is metadata only: it never reaches a path.  Keep the base name, like the SDKs send it."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = "".join(ch for ch in base if ch.isprintable())
    return cleaned[:255] or "file"


def parse_purpose(value: str | None) -> str:
    raw = (value or "").strip() or "fine-tune"
    purpose = PURPOSES.get(raw)
    if purpose is None:
        raise InvalidParameter(f"purpose must be one of fine-tune, file-extract, batch (got {raw!r}).", param="purpose")
    return purpose


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_orphans(data_dir: Path, known: set[str], min_age_seconds: float) -> int:
    removed = 0
    cutoff = time.time() - min_age_seconds
    for path in (data_dir / "blobs").glob("*/*"):
        relative = path.relative_to(data_dir).as_posix()
        if relative not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@dataclass
class _InFlight:
    """What a tenant's uploads running now have written (bytes) or opened (files) in this process."""

    size: int = 0
    files: int = 0


class TenantBudget:
    """One upload's share of its tenant's quota: ``stored`` at its start plus every upload in flight must fit."""

    def __init__(
        self, flights: dict[str, _InFlight], tenant: str, stored: tuple[int, int], limits: tuple[int, int]
    ) -> None:
        self._flights = flights
        self._tenant = tenant
        self._flight = flights.setdefault(tenant, _InFlight())
        self._stored_files, self._stored_size = stored
        self._max_files, self._max_size = limits
        self._size = 0
        self._files = 0

    def take_file(self) -> bool:
        if self._stored_files + self._flight.files + 1 > self._max_files:
            return False
        self._flight.files += 1
        self._files += 1
        return True

    def take(self, size: int) -> bool:
        if self._stored_size + self._flight.size + size > self._max_size:
            return False
        self._flight.size += size
        self._size += size
        return True

    def give_back(self, size: int, files: int) -> None:
        self._flight.size -= size
        self._flight.files -= files
        self._size -= size
        self._files -= files

    def close(self) -> None:
        """The upload is over (committed or not): its reservation goes."""
        self.give_back(self._size, self._files)
        if self._flight.size <= 0 and self._flight.files <= 0:
            self._flights.pop(self._tenant, None)


V = TypeVar("V")


class FilesService:
    def __init__(self, db: Database, clock: Clock, ids: Ids, data_dir: Path, limits: Settings) -> None:
        self.db = db
        self.clock = clock
        self.ids = ids
        self.data_dir = data_dir
        """Blobs are stored under it (their paths in the rows are relative to it)."""
        self.limits = limits
        self._flights: dict[str, _InFlight] = {}
        self._pages: VersionedCache[tuple[str, int, int, Hashable], Any] = VersionedCache(db)
        """Renderings of a tenant's file pages (``page_view``), while nothing commits."""

    async def budget(self, tenant: Tenant) -> TenantBudget:
        """Hand one to the multipart writer before the body is read; ``close()`` it once the upload is done."""
        stored = await store.usage(self.db, tenant.id)
        limits = (self.limits.max_tenant_files, self.limits.max_tenant_bytes)
        return TenantBudget(self._flights, tenant.id, stored, limits)

    async def upload_files(
        self,
        tenant: Tenant,
        files: list[StagedFile],
        *,
        purpose: str | None,
        descriptions: list[str],
        id_prefix: str | None = None,
    ) -> UploadOutcome:
        """Files already received to temp paths (the caller removes what is left of them afterwards)."""
        if not files:
            raise InvalidParameter("No file in the request: send the dataset in a multipart field named 'files'.")
        kind = parse_purpose(purpose)
        outcome = UploadOutcome([], [])
        for index, staged in enumerate(files):
            description = descriptions[index] if index < len(descriptions) else ""
            await self._upload_one(tenant, staged, kind, description, outcome, id_prefix)
        return outcome

    async def add_file(self, tenant: Tenant, staged: StagedFile, purpose: str, id_prefix: str) -> str | FailedUpload:
        """A file the emulator made for the tenant (a batch's output): quotas as for an upload; the temp file is
        moved into place.  Answers the file id, or why it did not fit."""
        await asyncio.to_thread(_fsync, staged.temp_path)
        return await self._commit(tenant, staged, display_name(staged.name), purpose, "", None, id_prefix)

    async def _upload_one(
        self,
        tenant: Tenant,
        staged: StagedFile,
        purpose: str,
        description: str,
        outcome: UploadOutcome,
        id_prefix: str | None = None,
    ) -> None:
        name = display_name(staged.name)
        if staged.over is not None:
            outcome.failed.append(await self._over(tenant, staged, name))
            return
        report = None
        if purpose == "fine-tune":
            report = await asyncio.to_thread(inspect_dataset, staged.temp_path, name)
            if not report.ok:
                outcome.failed.append(FailedUpload(name=name, code="InvalidFileFormat", message=report.summary()))
                return
        try:
            await asyncio.to_thread(_fsync, staged.temp_path)
            result = await self._commit(tenant, staged, name, purpose, description, report, id_prefix)
        except (OSError, sqlite3.OperationalError) as exc:
            if is_disk_full(exc):
                raise InsufficientStorage(
                    f"No space left on the emulator's disk while storing {name!r}: the file was not kept."
                ) from None
            raise
        if isinstance(result, FailedUpload):
            outcome.failed.append(result)
        else:
            outcome.uploaded.append(UploadedFile(file_id=result, name=name))

    async def _over(self, tenant: Tenant, staged: StagedFile, name: str) -> FailedUpload:
        if staged.over == "file":
            limit = self.limits.max_file_bytes
            return FailedUpload(
                name=name,
                code="BadRequest.TooLarge",
                message=f"File too large, <{staged.size}> B exceeds the limit of <{limit}> B for one file.",
            )
        count, used = await store.usage(self.db, tenant.id)
        return self._count_failure(name, count) if staged.over == "count" else self._space_failure(name, used)

    def _count_failure(self, name: str, count: int) -> FailedUpload:
        return FailedUpload(
            name=name,
            code="BadRequest.TooMany",
            message=f"Out of number, <{count}> of <{self.limits.max_tenant_files}> files has been uploaded.",
        )

    def _space_failure(self, name: str, used: int) -> FailedUpload:
        return FailedUpload(
            name=name,
            code="BadRequest.TooLarge",
            message=f"Out of space, <{used}> B of <{self.limits.max_tenant_bytes}> B storage space has been used.",
        )

    async def _commit(
        self,
        tenant: Tenant,
        part: StagedFile,
        name: str,
        purpose: str,
        description: str,
        report: DatasetReport | None,
        id_prefix: str | None = None,
    ) -> FailedUpload | str:
        """Check the quotas and insert in one IMMEDIATE transaction, so two uploads cannot both slip past.

        The blob is renamed into place inside the transaction; if the transaction does not commit (a full disk,
        a crash is the sweep's), the blob goes too, so no file is ever half there.
        """
        placed: list[Path] = []
        try:
            async with self.db.transaction() as tx:
                count, used = await store.usage(tx, tenant.id)
                if count + 1 > self.limits.max_tenant_files:
                    return self._count_failure(name, count)
                if used + part.size > self.limits.max_tenant_bytes:
                    return self._space_failure(name, used)
                seq = await tx.next_seq("file")
                file_id = self.ids.uuid("file", seq) if id_prefix is None else id_prefix + self.ids.hex("file", seq, 24)
                record = self._record(tenant, file_id, name, purpose, description, part, report)
                target = self.data_dir / record.blob
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(part.temp_path, target)
                placed.append(target)
                rows = report.row_tokens.tobytes() if report else None
                await store.insert_file(tx, record, rows, list(report.samples) if report else [])
        except BaseException:
            for target in placed:
                target.unlink(missing_ok=True)
            raise
        return file_id

    def _record(
        self,
        tenant: Tenant,
        file_id: str,
        name: str,
        purpose: str,
        description: str,
        part: StagedFile,
        report: DatasetReport | None,
    ) -> FileRecord:
        return FileRecord(
            id=0,
            file_id=file_id,
            tenant=tenant.id,
            name=name,
            description=description,
            purpose=purpose,
            size=part.size,
            md5=part.md5,
            kind=report.kind if report else None,
            rows=report.rows if report else 0,
            tokens=sum(report.row_tokens) if report else 0,
            blob=f"blobs/{file_id[:2]}/{file_id}",
            created_at=self.clock.now(),
        )

    async def list_files(self, tenant: Tenant, offset: int, limit: int) -> tuple[int, list[FileRecord]]:
        return await store.list_files(self.db, tenant.id, offset, limit)

    async def page_view(
        self, tenant: Tenant, offset: int, limit: int, key: Hashable, render: Callable[[int, list[FileRecord]], V]
    ) -> V:
        """``render(total, records)`` of a page of the tenant's files, kept while the database does not move (as the
        status read keeps its job: ``db.VersionedCache``).  ``key`` names what else the rendering depends on (the
        request's base URL, which the files' URLs are built from)."""
        version = self._pages.current()
        cache_key = (tenant.id, offset, limit, key)
        view: V | None = self._pages.get(cache_key)
        if view is None:
            total, records = await store.list_files(self.db, tenant.id, offset, limit)
            view = render(total, records)
            self._pages.put(version, cache_key, view)
        return view

    async def list_files_after(
        self, tenant: Tenant, after: str | None, limit: int, purposes: tuple[str, ...]
    ) -> list[FileRecord] | None:
        return await store.list_files_after(self.db, tenant.id, after, limit, purposes)

    async def get_file(self, tenant: Tenant, file_id: str) -> FileRecord:
        record = await store.get_file(self.db, tenant.id, file_id)
        if record is None:
            raise FileNotFound()
        return record

    def blob_path(self, record: FileRecord) -> Path:
        return self.data_dir / record.blob

    async def sweep_orphans(self, min_age_seconds: float = 300.0) -> int:
        """Blobs renamed into place by an upload whose commit never happened (a crash between the two)."""
        known = await store.all_blobs(self.db)
        return await asyncio.to_thread(_remove_orphans, self.data_dir, known, min_age_seconds)

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None]]:
        blobs = await store.delete_tenant_files(tx, tenant)

        def remove_blobs() -> None:
            for blob in blobs:
                (self.data_dir / blob).unlink(missing_ok=True)

        return len(blobs), remove_blobs

    async def delete_file(self, tenant: Tenant, file_id: str) -> None:
        async with self.db.transaction() as tx:
            record = await store.delete_file(tx, tenant.id, file_id)
        if record is None:
            raise FileNotFound()
        (self.data_dir / record.blob).unlink(missing_ok=True)
