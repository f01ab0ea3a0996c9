"""OpenAI's file shapes as the compatible mode answers them (reference §9.1)."""

from __future__ import annotations

from typing import Literal

from emulator.wire import WireModel


class OpenAIFile(WireModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    created_at: int


class OpenAIFileList(WireModel):
    object: Literal["list"] = "list"
    data: list[OpenAIFile]
    has_more: bool


class OpenAIFileDeleted(WireModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool
