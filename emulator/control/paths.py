"""The server-side paths the control plane touches (snapshot, restore, seed): confined, and regular files only;
and what a crashed snapshot or restore left behind (``clean_leftovers``, at start).

A path given over HTTP must resolve (symbolic links followed) inside the data dir or one of the
``--control-path`` folders; a file is opened without blocking and refused unless it is a regular file, so
``/dev/zero`` or a FIFO never hangs the server.  Errors name the path, never the file's content.
"""

from __future__ import annotations

import os
import shutil
import stat
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

from emulator.errors import AccessDenied, InvalidParameter, TooLarge
from emulator.runtime import Runtime


def snapshots_dir(rt: Runtime) -> Path:
    return rt.data_dir / "snapshots"


def roots(rt: Runtime) -> list[Path]:
    return [rt.data_dir.resolve(), *(Path(p).resolve() for p in rt.settings.control_paths)]


def confine(rt: Runtime, raw: str | Path, base: Path) -> Path:
    """``raw`` (relative to ``base``) resolved, if it lies inside an allowed folder; else 403."""
    text = str(raw)
    if "\x00" in text:
        raise InvalidParameter("A path cannot contain a NUL character.")
    path = Path(text)
    if not path.is_absolute():
        path = base / path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # a loop of symbolic links, a name too long
        raise InvalidParameter(f"Cannot resolve the path {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    if not any(resolved.is_relative_to(root) for root in roots(rt)):
        raise AccessDenied(
            f"{path} is outside the data dir and every --control-path: the control plane reads and writes "
            "only there (start the server with --control-path DIR to allow more)."
        )
    return resolved


def open_regular(path: Path) -> BinaryIO:
    """Open for reading without blocking (a FIFO, a device), then refuse anything but a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidParameter(f"No file at {path}.") from None
    except OSError as exc:
        raise InvalidParameter(f"Cannot read {path}: {exc.strerror or 'unreadable'}.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidParameter(f"{path} is not a regular file.")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: Path, limit: int) -> bytes:
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path} is larger than {limit} bytes.")
    return data


def pid_alive(pid_text: str) -> bool:
    """Whether another live process wrote a leftover named after its PID (this process's own are stale)."""
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_WORK_PREFIXES = ("snapshot-", "restore-", "blobs-old-")


def clean_leftovers(rt: Runtime) -> int:
    """At start: work folders and ``.part`` archives of snapshots and restores a crash left behind."""
    removed = 0
    if rt.temp_dir.is_dir():
        for path in rt.temp_dir.iterdir():
            kind = next((p for p in _WORK_PREFIXES if path.name.startswith(p)), None)
            if kind is None or not path.is_dir() or pid_alive(path.name[len(kind) :].split("-", 1)[0]):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    for folder in {snapshots_dir(rt), *(Path(p) for p in rt.settings.control_paths)}:
        for part in _glob(folder, ".*.part"):
            pid = part.name.removesuffix(".part").rsplit(".", 1)[-1]
            if part.is_file() and not pid_alive(pid):
                with suppress(OSError):
                    part.unlink()
                    removed += 1
    return removed


def _glob(folder: Path, pattern: str) -> list[Path]:
    try:
        return list(folder.glob(pattern)) if folder.is_dir() else []
    except OSError:
        return []
