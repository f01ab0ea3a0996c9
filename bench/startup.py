"""Start-up to the first healthy answer (goal: within 1.3x the bare app's, issue 25) and idle RSS (goal < 80 MB).

Measured from the spawn of ``python -m emulator serve`` to the first 200 from ``/_emulator/health``
(``EmulatorServer.wait_healthy`` polls every 20 ms), on a fresh database and again on an existing one;
the bare Starlette app's start-up is measured the same way, for the interpreter's and uvicorn's share.

Each endpoint's handler, schemas and service are imported by its first request, not at start (``emulator.lazy``,
``emulator.services``): the first answers after start are timed too, each the first of its kind, so the cost moved
off the start is in the report (a file list: the files slice; a text generation: the generation pipeline).

The package is byte-compiled first, as ``pip install`` does: an installed emulator starts from ``.pyc`` files.
Without that, a source checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as on the bench machine) would compile
~80 modules at every start, ~0.3 s that no installed copy pays.
"""

from __future__ import annotations

import compileall
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import emulator as package
from bench.common import BareServer, emulator, median, rss_kb


def _byte_compile() -> None:
    """What ``pip install`` does at install time (an editable install or a source checkout may not have it)."""
    compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def _emulator_once(workdir: Path, firsts: list[dict[str, float]] | None = None) -> tuple[float, float]:
    server = emulator(workdir)
    started = time.monotonic()
    server.start()
    try:
        elapsed = time.monotonic() - started
        if firsts is not None:
            firsts.append(_first_answers(server.url, server.api_key))
        time.sleep(1.0)  # idle: whatever start-up allocated has settled
        assert server.process is not None
        return elapsed, rss_kb(server.process.pid) / 1024
    finally:
        server.stop()


def _timed(request: urllib.request.Request) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
    return time.monotonic() - started


def _first_answers(url: str, key: str) -> dict[str, float]:
    """The first request of two kinds on a server just healthy: each imports what its endpoint needs."""
    auth = {"Authorization": f"Bearer {key}"}
    files = _timed(urllib.request.Request(f"{url}/api/v1/files", headers=auth))
    body = json.dumps({"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": "Hello"}]}})
    generation = _timed(
        urllib.request.Request(
            f"{url}/api/v1/services/aigc/text-generation/generation",
            data=body.encode(),
            headers={**auth, "Content-Type": "application/json"},
        )
    )
    again = _timed(urllib.request.Request(f"{url}/api/v1/files", headers=auth))
    return {"files": files, "generation": generation, "files_again": again}


def _bare_once(workdir: Path) -> tuple[float, float]:
    started = time.monotonic()
    with BareServer({}, workdir) as bare:
        elapsed = time.monotonic() - started
        time.sleep(1.0)
        assert bare.process is not None
        return elapsed, rss_kb(bare.process.pid) / 1024


def measure(workdir: Path, rounds: int = 5) -> dict[str, Any]:
    _byte_compile()
    firsts: list[dict[str, float]] = []
    fresh: list[tuple[float, float]] = []
    existing: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    for i in range(rounds):  # interleaved: a change in the machine's load falls on the three alike
        fresh.append(_emulator_once(workdir / f"fresh-{i}", firsts))
        existing.append(_emulator_once(workdir / f"fresh-{i}"))
        bare.append(_bare_once(workdir))
    return {
        "fresh_db_s": median([t for t, _ in fresh]),
        "existing_db_s": median([t for t, _ in existing]),
        "idle_rss_mb": median([r for _, r in fresh + existing]),
        "bare_s": median([t for t, _ in bare]),
        "bare_idle_rss_mb": median([r for _, r in bare]),
        "first_files_s": median([f["files"] for f in firsts]),
        "first_generation_s": median([f["generation"] for f in firsts]),
        "files_again_s": median([f["files_again"] for f in firsts]),
        "runs": {"fresh": fresh, "existing": existing, "bare": bare, "firsts": firsts},
    }
