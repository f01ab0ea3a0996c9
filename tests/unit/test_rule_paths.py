"""A rule's path is refused exactly when no public request can match it (Hypothesis over paths and globs)."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.rules.fault_schemas import reachable_path
from emulator.tenants import PROTECTED_PREFIXES

SEGMENT = st.sampled_from(["api", "v1", "v2", "compatible-mode", "files", "fine-tunes", "chat", "x", "*", "v*", "a?"])
PATHS = st.lists(SEGMENT, min_size=0, max_size=5).map(lambda parts: "/" + "/".join(parts))


def _witnesses(pattern: str) -> list[str]:
    """Public paths a glob could match: each prefix, alone and followed by the pattern's tail segments."""
    tail = pattern.split("/")[1:]
    out = []
    for prefix in PROTECTED_PREFIXES:
        out.append(prefix)
        for cut in range(len(tail) + 1):
            rest = "/".join(seg.replace("*", "x").replace("?", "x") for seg in tail[cut:])
            out.append(f"{prefix}/{rest}".rstrip("/"))
    return out


@settings(max_examples=500)
@given(PATHS)
def test_refused_only_when_unreachable(path: str) -> None:
    try:
        reachable_path(path, "faults")
    except ValueError as exc:
        assert "can never match" in str(exc) or "never /_emulator" in str(exc)
        assert all(p in str(exc) for p in PROTECTED_PREFIXES)
        assert not any(fnmatch.fnmatchcase(w, path) for w in _witnesses(path))
        return
    if not any(ch in path for ch in "*?["):
        assert any(path == p or path.startswith(p + "/") for p in PROTECTED_PREFIXES)
    else:
        assert any(fnmatch.fnmatchcase(w, path) for w in _witnesses(path))


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/files", "/api/*", "/*", "/compatible-mode/v1/chat/*"])
def test_reachable(path: str) -> None:
    assert reachable_path(path, "faults") == path


@pytest.mark.parametrize("path", ["/v1/chat", "/api/v2/files", "/api/v1x", "/api/v1x*", "/_emulator/faults"])
def test_unreachable(path: str) -> None:
    with pytest.raises(ValueError):
        reachable_path(path, "faults")
