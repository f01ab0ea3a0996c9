"""The locks under locks/: every venv ``make test`` builds installs from one, with exact versions and hashes only.

A lock is compiled by ``make lock`` from the ``.in`` beside it (``test.txt`` and ``bench.txt`` from pyproject.toml's
extras, ``runtime.txt``, the Docker image's, from its dependencies alone); these tests catch a lock that no longer
satisfies its inputs, a file that lost its hashes or recorded this machine's local index, and a Makefile install
that resolves on its own.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "locks"
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;(?P<marker>.*?))?(?=\s+--hash|\s*$)"
)


def lock_entries(lock: Path) -> list[tuple[str, str, str | None, list[str]]]:
    """(name, version, marker, hashes) for each requirement of a compiled lock (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", lock.read_text())
    entries = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pin = PIN.match(line)
        assert pin, f"{lock.relative_to(ROOT)}: not an exact pin: {line!r}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", line)
        marker = pin["marker"].strip() if pin["marker"] else None
        entries.append((canonicalize_name(pin["name"]), pin["version"], marker, hashes))
    return entries


def pinned(lock: Path) -> dict[str, str]:
    """The versions a Linux CPython 3.11 installs from this lock."""
    env = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux"}
    env |= {"platform_system": "Linux", "platform_python_implementation": "CPython", "implementation_name": "cpython"}
    return {name: v for name, v, marker, _ in lock_entries(lock) if marker is None or Marker(marker).evaluate(env)}


def inputs(lock: Path) -> list[str]:
    """The top-level requirements a lock was compiled from."""
    if lock.parent == LOCKS and lock.stem in {"test", "bench", "runtime"}:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        extras = {"test": ["test"], "bench": ["test", "bench"], "runtime": []}[lock.stem]
        reqs = list(project["dependencies"]) + [r for e in extras for r in project["optional-dependencies"][e]]
        return reqs + requirement_lines(LOCKS / "build.in")
    return requirement_lines(lock.with_suffix(".in"))


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


LOCK_FILES = sorted(LOCKS.rglob("*.txt"))


def test_every_requirements_file_has_its_lock() -> None:
    ins = sorted(LOCKS.rglob("*.in"))
    assert {"test", "bench", "runtime", "client", "1.20.11", "2.0.2", "langchain", "litellm"} <= {
        p.stem for p in LOCK_FILES
    }
    missing = [str(p.relative_to(ROOT)) for p in ins if p != LOCKS / "build.in" and not p.with_suffix(".txt").exists()]
    assert not missing, f"run `make lock`: no lock for {missing}"


@pytest.mark.parametrize("lock", LOCK_FILES, ids=lambda p: str(p.relative_to(LOCKS)))
def test_a_lock_pins_every_package_exactly_with_hashes_and_no_local_source(lock: Path) -> None:
    text = lock.read_text()
    assert "make lock" in text.splitlines()[1], "compiled by `make lock` (uv pip compile), not by hand"
    for forbidden in ("file:", "/opt/", "--index-url", "--extra-index-url", "--find-links", "-e "):
        assert forbidden not in text, f"{lock.relative_to(ROOT)} records {forbidden!r}: locks must work on any machine"
    entries = lock_entries(lock)
    assert entries
    for name, version, _, hashes in entries:
        assert hashes, f"{lock.relative_to(ROOT)}: {name}=={version} has no hash"


@pytest.mark.parametrize("lock", LOCK_FILES, ids=lambda p: str(p.relative_to(LOCKS)))
def test_a_lock_satisfies_the_requirements_it_was_compiled_from(lock: Path) -> None:
    versions = pinned(lock)
    for line in inputs(lock):
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in versions, f"{lock.relative_to(ROOT)} lacks {req.name}: run `make lock`"
        assert req.specifier.contains(versions[name], prereleases=True), (
            f"{lock.relative_to(ROOT)} has {req.name}=={versions[name]}, outside {line!r}: run `make lock`"
        )


def test_the_makefile_installs_only_from_the_locks() -> None:
    """Every install line of the Makefile takes a lock with --require-hashes, or the emulator itself with --no-deps."""
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    installs = [line.strip() for line in makefile.splitlines() if re.search(r"\bpip install\b|\$\(UV_SYNC\)", line)]
    assert installs
    for line in installs:
        from_lock = "--require-hashes" in line or "$(UV_SYNC)" in line
        assert from_lock or "--no-deps" in line, f"an install that resolves on its own: {line}"
    assert "--require-hashes" in re.search(r"^UV_SYNC = (.*)$", makefile, re.M)[1]  # type: ignore[index]
