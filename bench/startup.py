"""Start-up to the first healthy answer (goal < 0.5 s) and idle RSS (goal < 80 MB).

Measured from the spawn of ``python -m emulator serve`` to the first 200 from ``/_emulator/health``
(``EmulatorServer.wait_healthy`` polls every 20 ms), on a fresh database and again on an existing one;
the bare Starlette app's start-up is measured the same way, for the interpreter's and uvicorn's share.

The package is byte-compiled first, as ``pip install`` does: an installed emulator starts from ``.pyc`` files.
Without that, a source checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as on the bench machine) would compile
~80 modules at every start, ~0.3 s that no installed copy pays.
"""

from __future__ import annotations

import compileall
import time
from pathlib import Path
from typing import Any

import emulator as package
from bench.common import BareServer, emulator, median, rss_kb


def _byte_compile() -> None:
    """What ``pip install`` does at install time (an editable install or a source checkout may not have it)."""
    compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def _emulator_once(workdir: Path) -> tuple[float, float]:
    server = emulator(workdir)
    started = time.monotonic()
    server.start()
    try:
        elapsed = time.monotonic() - started
        time.sleep(1.0)  # idle: whatever start-up allocated has settled
        assert server.process is not None
        return elapsed, rss_kb(server.process.pid) / 1024
    finally:
        server.stop()


def _bare_once(workdir: Path) -> tuple[float, float]:
    started = time.monotonic()
    with BareServer({}, workdir) as bare:
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        assert bare.process is not None
        return elapsed, rss_kb(bare.process.pid) / 1024


def measure(workdir: Path, rounds: int = 5) -> dict[str, Any]:
    _byte_compile()
    fresh = [_emulator_once(workdir / f"fresh-{i}") for i in range(rounds)]
    existing = [_emulator_once(workdir / "fresh-0") for _ in range(rounds)]
    bare = [_bare_once(workdir) for _ in range(rounds)]
    return {
        "fresh_db_s": median([t for t, _ in fresh]),
        "existing_db_s": median([t for t, _ in existing]),
        "idle_rss_mb": median([r for _, r in fresh + existing]),
        "bare_s": median([t for t, _ in bare]),
        "bare_idle_rss_mb": median([r for _, r in bare]),
        "runs": {"fresh": fresh, "existing": existing, "bare": bare},
    }
