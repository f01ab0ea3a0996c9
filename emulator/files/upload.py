"""Streaming multipart: file parts go straight to temp files under the data dir, chunk by chunk.

Nothing of a file is held in memory beyond one network chunk, so a 300 MB upload costs the same RSS
as a 3 KB one.  A part stops being written at the first chunk that does not fit (the rest of it is drained
and dropped, its temp file removed at once) and comes back flagged: ``over="file"`` past the per-file limit,
``over="quota"`` past the tenant's space left (an ``UploadBudget`` the files service hands out, shared by the
tenant's uploads in flight), ``over="count"`` past the tenant's files left.  Parts outside the file fields are
counted, never written.  A full disk removes what this upload wrote and answers ``InsufficientStorage``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, Protocol

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from emulator.errors import InsufficientStorage, InvalidParameter, UnsupportedMediaType, is_disk_full

MAX_TEXT_FIELD = 64 * 1024
MAX_TEXT_TOTAL = 1024 * 1024
"""All text fields of one upload together (they are held in memory until the upload is answered)."""
MAX_PARTS = 250
MAX_BOUNDARY = 200
"""RFC 2046 allows 70 characters; python-multipart refuses past 256 with an exception of its own."""


FILE_FIELDS = ("files", "file")
Over = Literal["file", "quota", "count"]


FileGate = Callable[[dict[str, list[str]], "FilePart"], int]
"""Decides, before the first byte of a file part is written, whether it may be written (else raises) and how large
it may grow (``UploadsService.gate``: the OSS form's fields come first and carry the credential)."""


class UploadBudget(Protocol):
    """What one upload may still write for its tenant (``FilesService.budget``)."""

    def take_file(self) -> bool: ...
    def take(self, size: int) -> bool: ...
    def give_back(self, size: int, files: int) -> None: ...


class Unlimited:
    def take_file(self) -> bool:
        return True

    def take(self, size: int) -> bool:
        return True

    def give_back(self, size: int, files: int) -> None:
        return None


@dataclass(frozen=True)
class StagedFile:
    """One received file, as plain values for the files service."""

    name: str
    temp_path: Path
    size: int
    md5: str
    over: Over | None = None


def write_chunk(fh: IO[bytes], chunk: bytes) -> None:
    """The one place upload bytes reach the disk (a test replaces it to inject ENOSPC)."""
    fh.write(chunk)


@dataclass
class FilePart:
    field: str
    filename: str
    temp_path: Path
    content_type: str | None = None
    size: int = 0
    written: int = 0
    over: Over | None = None
    wanted: bool = True  # a part in a file field (others are counted, not written)
    limit: int | None = None  # bytes this part may hold when a gate set it (past it, the gate's error is raised)
    closed: bool = False  # its closing boundary arrived
    _md5: hashlib._Hash = dataclasses.field(default_factory=hashlib.md5)
    _fh: IO[bytes] | None = None

    @property
    def md5(self) -> str:
        return base64.b64encode(self._md5.digest()).decode()

    @property
    def too_large(self) -> bool:
        return self.over == "file"

    def staged(self) -> StagedFile:
        return StagedFile(self.filename, self.temp_path, self.size, self.md5, self.over)


@dataclass
class ParsedUpload:
    files: list[FilePart] = dataclasses.field(default_factory=list)
    fields: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What the request journal keeps of an upload: fields and file-part metadata, never the bytes."""
        files = [
            {"field": p.field, "filename": p.filename, "size": p.size, "content_type": p.content_type}
            for p in self.files
        ]
        return {"fields": {k: list(v) for k, v in self.fields.items()}, "files": files}

    def staged(self) -> list[StagedFile]:
        """The parts of the file fields, in order."""
        return [part.staged() for part in self.files if part.wanted]

    def last(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def discard(self) -> None:
        for part in self.files:
            if part._fh is not None:
                _close_quietly(part._fh)
                part._fh = None
            part.temp_path.unlink(missing_ok=True)


class FileTooLarge(Exception):
    """A gated part grew past the limit its gate set: the upload stops at that chunk."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _close_quietly(fh: IO[bytes]) -> None:
    """Closing flushes the buffer, which fails again on a full disk: the file goes anyway."""
    try:
        fh.close()
    except OSError:
        pass


def boundary_of(content_type: str | None) -> bytes:
    if not content_type:
        raise UnsupportedMediaType("Content-Type must be multipart/form-data with a boundary.")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType(f"Content-Type must be multipart/form-data (got {kind.decode('latin-1')!r}).")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidParameter("multipart/form-data without a boundary.")
    if len(boundary) > MAX_BOUNDARY:
        raise InvalidParameter(f"multipart boundary is {len(boundary)} characters long; at most {MAX_BOUNDARY}.")
    return boundary


class _Collector:
    """python-multipart callbacks that write file parts to disk as the bytes arrive."""

    def __init__(self, temp_dir: Path, max_file_bytes: int, budget: UploadBudget, gate: FileGate | None = None) -> None:
        self.temp_dir = temp_dir
        self.gate = gate
        self.max_file_bytes = max_file_bytes
        self.budget = budget
        self.result = ParsedUpload()
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._file: FilePart | None = None
        self._text: bytearray | None = None
        self._text_name = ""
        self._parts = 0
        self._text_total = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        if self.gate is not None and self.result.files:
            raise InvalidParameter("The file must be the last field of the form.")
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise InvalidParameter(f"Too many multipart parts (at most {MAX_PARTS}).")
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = b""
        self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._text, self._text_name = bytearray(), name
            return
        temp = self.temp_dir / f"{os.getpid()}-{secrets.token_hex(12)}.part"
        content_type = self._headers.get(b"content-type")
        part = FilePart(
            field=name,
            filename=filename.decode("utf-8", "replace"),
            temp_path=temp,
            content_type=content_type.decode("latin-1") if content_type is not None else None,
        )
        if self.gate is not None:
            part.limit = self.gate(self.result.fields, part)  # raises before anything is written or opened
        self.result.files.append(part)
        self._file = part
        if name not in FILE_FIELDS:
            part.wanted = False
        elif not self.budget.take_file():
            part.over = "count"
        else:
            part._fh = open(temp, "wb")  # noqa: SIM115 - closed in on_part_end or discard()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._write_file(self._file, data[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD:
                raise InvalidParameter(f"Form field {self._text_name!r} is longer than {MAX_TEXT_FIELD} bytes.")
            self._text_total += end - start
            if self._text_total > MAX_TEXT_TOTAL:
                raise InvalidParameter(f"The form fields of one upload are longer than {MAX_TEXT_TOTAL} bytes.")

    def _write_file(self, part: FilePart, chunk: bytes) -> None:
        part.size += len(chunk)
        if part.limit is not None and part.size > part.limit:
            raise FileTooLarge(part.limit)
        if part._fh is None:
            return  # not wanted, or stopped
        if part.size > self.max_file_bytes:
            self._stop(part, "file")
        elif not self.budget.take(len(chunk)):
            self._stop(part, "quota")
        else:
            write_chunk(part._fh, chunk)
            part.written += len(chunk)
            part._md5.update(chunk)

    def _stop(self, part: FilePart, over: Over) -> None:
        """The first chunk that does not fit: the bytes written so far go, and their reservation with them."""
        part.over = over
        assert part._fh is not None
        _close_quietly(part._fh)
        part._fh = None
        part.temp_path.unlink(missing_ok=True)
        self.budget.give_back(part.written, 1)
        part.written = 0

    def on_part_end(self) -> None:
        if self._file is not None:
            fh = self._file._fh
            if fh is not None:
                fh.close()  # fsync happens off the event loop, in the service
            self._file._fh = None
            self._file.closed = True
            self._file = None
        elif self._text is not None:
            value = self._text.decode("utf-8", "replace")
            self.result.fields.setdefault(self._text_name, []).append(value)
            self._text = None


async def parse_upload(
    stream: AsyncIterator[bytes],
    content_type: str | None,
    temp_dir: Path,
    max_file_bytes: int,
    budget: UploadBudget | None = None,
    gate: FileGate | None = None,
) -> ParsedUpload:
    """``gate``, when given, is asked before each file part is opened, and the file must then be the form's last
    part (as OSS's PostObject requires): a field after it is refused."""
    boundary = boundary_of(content_type)
    collector = _Collector(temp_dir, max_file_bytes, budget or Unlimited(), gate)
    try:
        temp_dir.mkdir(parents=True, exist_ok=True)
        parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        collector.result.discard()
        raise InvalidParameter(f"Malformed multipart body: {exc}.") from None
    except OSError as exc:
        collector.result.discard()
        if is_disk_full(exc):
            raise InsufficientStorage(
                f"No space left on the device holding {temp_dir}: the upload was not kept."
            ) from None
        raise
    except BaseException:
        collector.result.discard()
        raise
    if any(not part.closed for part in collector.result.files):
        collector.result.discard()
        raise InvalidParameter("Malformed multipart body: a part was not terminated.")
    return collector.result


def stage_copy(source: Path, temp_dir: Path, read_size: int = 1024 * 1024) -> StagedFile:
    """A file already on disk (a seed world's), staged like an upload: copied to a temp file, MD5 on the way."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    temp = temp_dir / f"{os.getpid()}-{secrets.token_hex(12)}.part"
    digest = hashlib.md5()
    size = 0
    try:
        with open(source, "rb") as src, open(temp, "wb") as dst:
            while chunk := src.read(read_size):
                write_chunk(dst, chunk)
                digest.update(chunk)
                size += len(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return StagedFile(source.name, temp, size, base64.b64encode(digest.digest()).decode())
