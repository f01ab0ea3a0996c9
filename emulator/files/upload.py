"""Streaming multipart: file parts go straight to temp files under the data dir, chunk by chunk.

Nothing of a file is held in memory beyond one network chunk, so a 300 MB upload costs the same RSS
as a 3 KB one.  A part past the per-file limit stops being written (the rest of it is drained and
dropped) and comes back flagged ``too_large``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from emulator.errors import InvalidParameter, UnsupportedMediaType

MAX_TEXT_FIELD = 64 * 1024
MAX_PARTS = 250


@dataclass
class FilePart:
    field: str
    filename: str
    temp_path: Path
    content_type: str | None = None
    size: int = 0
    too_large: bool = False
    _md5: hashlib._Hash = dataclasses.field(default_factory=hashlib.md5)  # `field` is the attribute above
    _fh: IO[bytes] | None = None

    @property
    def md5(self) -> str:
        return base64.b64encode(self._md5.digest()).decode()


@dataclass
class ParsedUpload:
    files: list[FilePart] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """What the request journal keeps of an upload: fields and file-part metadata, never the bytes."""
        files = [
            {"field": p.field, "filename": p.filename, "size": p.size, "content_type": p.content_type}
            for p in self.files
        ]
        return {"fields": {k: list(v) for k, v in self.fields.items()}, "files": files}

    def discard(self) -> None:
        for part in self.files:
            if part._fh is not None:
                part._fh.close()
            part.temp_path.unlink(missing_ok=True)


def boundary_of(content_type: str | None) -> bytes:
    if not content_type:
        raise UnsupportedMediaType("Content-Type must be multipart/form-data with a boundary.")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType(f"Content-Type must be multipart/form-data (got {kind.decode('latin-1')!r}).")
    boundary = params.get(b"boundary")
    if not boundary:
        raise InvalidParameter("multipart/form-data without a boundary.")
    return boundary


class _Collector:
    """python-multipart callbacks that write file parts to disk as the bytes arrive."""

    def __init__(self, temp_dir: Path, max_file_bytes: int) -> None:
        self.temp_dir = temp_dir
        self.max_file_bytes = max_file_bytes
        self.result = ParsedUpload()
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._file: FilePart | None = None
        self._text: bytearray | None = None
        self._text_name = ""
        self._parts = 0

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
        part._fh = open(temp, "wb")  # noqa: SIM115 - closed in on_part_end or discard()
        self.result.files.append(part)
        self._file = part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._write_file(self._file, data[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD:
                raise InvalidParameter(f"Form field {self._text_name!r} is longer than {MAX_TEXT_FIELD} bytes.")

    def _write_file(self, part: FilePart, chunk: bytes) -> None:
        part.size += len(chunk)
        if part.too_large:
            return
        if part.size > self.max_file_bytes:
            part.too_large = True
            assert part._fh is not None
            part._fh.truncate(0)
            return
        assert part._fh is not None
        part._fh.write(chunk)
        part._md5.update(chunk)

    def on_part_end(self) -> None:
        if self._file is not None:
            fh = self._file._fh
            if fh is not None:
                fh.close()  # fsync happens off the event loop, in the service
            self._file._fh = None
            self._file = None
        elif self._text is not None:
            value = self._text.decode("utf-8", "replace")
            self.result.fields.setdefault(self._text_name, []).append(value)
            self._text = None


async def parse_upload(
    stream: AsyncIterator[bytes], content_type: str | None, temp_dir: Path, max_file_bytes: int
) -> ParsedUpload:
    boundary = boundary_of(content_type)
    temp_dir.mkdir(parents=True, exist_ok=True)
    collector = _Collector(temp_dir, max_file_bytes)
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        collector.result.discard()
        raise InvalidParameter(f"Malformed multipart body: {exc}.") from None
    except BaseException:
        collector.result.discard()
        raise
    if any(part._fh is not None for part in collector.result.files):
        collector.result.discard()
        raise InvalidParameter("Malformed multipart body: a part was not terminated.")
    return collector.result
