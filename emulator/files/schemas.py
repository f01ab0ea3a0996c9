"""Wire shapes of the Files API (reference §2), as the real service answers them."""

from __future__ import annotations

from emulator.errors import ErrorCode
from emulator.wire import WireModel


class FileObject(WireModel):
    id: int
    file_id: str
    name: str
    description: str
    purpose: str
    size: int
    md5: str
    region: str
    url: str
    user_id: str
    api_key_id: str
    gmt_create: str


class UploadedFile(WireModel):
    file_id: str
    name: str


class FailedUpload(WireModel):
    name: str
    code: ErrorCode
    message: str


class UploadData(WireModel):
    uploaded_files: list[UploadedFile]
    failed_uploads: list[FailedUpload]


class FileListData(WireModel):
    total: int
    page_no: int
    page_size: int
    files: list[FileObject]
