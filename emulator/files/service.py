"""Files: upload with quotas and dataset checks, list, get, delete.  Plain values in, ApiError out."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from emulator.db import Tx
from emulator.errors import FileNotFound, InvalidParameter
from emulator.files import store
from emulator.files.datasets import DatasetReport, inspect_dataset
from emulator.files.schemas import FailedUpload, UploadedFile
from emulator.files.store import FileRecord
from emulator.files.upload import FilePart, ParsedUpload
from emulator.runtime import Runtime
from emulator.tenants import Tenant

FILE_FIELDS = ("files", "file")
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


def parse_purpose(values: list[str] | None) -> str:
    raw = (values or ["fine-tune"])[-1].strip() or "fine-tune"
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


class FilesService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.limits = rt.settings

    async def upload_files(self, tenant: Tenant, parsed: ParsedUpload) -> UploadOutcome:
        parts = [p for p in parsed.files if p.field in FILE_FIELDS]
        if not parts:
            parsed.discard()
            raise InvalidParameter("No file in the request: send the dataset in a multipart field named 'files'.")
        try:
            purpose = parse_purpose(parsed.fields.get("purpose"))
            descriptions = parsed.fields.get("descriptions") or parsed.fields.get("description") or []
            outcome = UploadOutcome([], [])
            for index, part in enumerate(parts):
                description = descriptions[index] if index < len(descriptions) else ""
                await self._upload_one(tenant, part, purpose, description, outcome)
            return outcome
        finally:
            parsed.discard()

    async def _upload_one(
        self, tenant: Tenant, part: FilePart, purpose: str, description: str, outcome: UploadOutcome
    ) -> None:
        name = display_name(part.filename)
        if part.too_large:
            limit = self.limits.max_file_bytes
            outcome.failed.append(
                FailedUpload(
                    name=name,
                    code="BadRequest.TooLarge",
                    message=f"File too large, <{part.size}> B exceeds the limit of <{limit}> B for one file.",
                )
            )
            return
        report = None
        if purpose == "fine-tune":
            report = await asyncio.to_thread(inspect_dataset, part.temp_path, name)
            if not report.ok:
                outcome.failed.append(FailedUpload(name=name, code="InvalidFileFormat", message=report.summary()))
                return
        await asyncio.to_thread(_fsync, part.temp_path)
        result = await self._commit(tenant, part, name, purpose, description, report)
        if isinstance(result, FailedUpload):
            outcome.failed.append(result)
        else:
            outcome.uploaded.append(UploadedFile(file_id=result, name=name))

    async def _commit(
        self, tenant: Tenant, part: FilePart, name: str, purpose: str, description: str, report: DatasetReport | None
    ) -> FailedUpload | str:
        """Check the quotas and insert in one IMMEDIATE transaction, so two uploads cannot both slip past."""
        async with self.rt.db.transaction() as tx:
            count, used = await store.usage(tx, tenant.id)
            if count + 1 > self.limits.max_tenant_files:
                return FailedUpload(
                    name=name,
                    code="BadRequest.TooMany",
                    message=f"Out of number, <{count}> of <{self.limits.max_tenant_files}> files has been uploaded.",
                )
            if used + part.size > self.limits.max_tenant_bytes:
                return FailedUpload(
                    name=name,
                    code="BadRequest.TooLarge",
                    message=f"Out of space, <{used}> B of <{self.limits.max_tenant_bytes}> B storage "
                    "space has been used.",
                )
            seq = await tx.next_seq("file")
            file_id = self.rt.ids.uuid("file", seq)
            blob = f"blobs/{file_id[:2]}/{file_id}"
            record = FileRecord(
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
                blob=blob,
                created_at=self.rt.clock.now(),
            )
            target = self.rt.data_dir / blob
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part.temp_path, target)
            await store.insert_file(
                tx, record, report.row_tokens.tobytes() if report else None, list(report.samples) if report else []
            )
        return file_id

    async def list_files(self, tenant: Tenant, offset: int, limit: int) -> tuple[int, list[FileRecord]]:
        return await store.list_files(self.rt.db, tenant.id, offset, limit)

    async def get_file(self, tenant: Tenant, file_id: str) -> FileRecord:
        record = await store.get_file(self.rt.db, tenant.id, file_id)
        if record is None:
            raise FileNotFound()
        return record

    def blob_path(self, record: FileRecord) -> Path:
        return self.rt.data_dir / record.blob

    async def sweep_orphans(self, min_age_seconds: float = 300.0) -> int:
        """Blobs renamed into place by an upload whose commit never happened (a crash between the two)."""
        known = await store.all_blobs(self.rt.db)
        return await asyncio.to_thread(_remove_orphans, self.rt.data_dir, known, min_age_seconds)

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[int, Callable[[], None]]:
        blobs = await store.delete_tenant_files(tx, tenant)

        def remove_blobs() -> None:
            for blob in blobs:
                (self.rt.data_dir / blob).unlink(missing_ok=True)

        return len(blobs), remove_blobs

    async def delete_file(self, tenant: Tenant, file_id: str) -> None:
        async with self.rt.db.transaction() as tx:
            record = await store.delete_file(tx, tenant.id, file_id)
        if record is None:
            raise FileNotFound()
        (self.rt.data_dir / record.blob).unlink(missing_ok=True)
