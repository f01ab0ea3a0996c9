"""The closed error-code type and the README's table stay in sync."""

from __future__ import annotations

import re
from pathlib import Path

from emulator import errors
from emulator.errors import ERROR_CODES, ApiError

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_codes() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def test_readme_lists_every_error_code_once() -> None:
    assert _readme_codes() == list(ERROR_CODES)


def _subclasses(cls: type[ApiError]) -> list[type[ApiError]]:
    return [cls, *(sub for direct in cls.__subclasses__() for sub in _subclasses(direct))]


def test_every_error_class_answers_a_listed_code() -> None:
    classes = [c for c in _subclasses(ApiError) if c.__module__ == errors.__name__]
    assert len(classes) > 10
    assert {c.code for c in classes} <= set(ERROR_CODES)
