"""Scale of state: status read and list-page latency with 100, 10,000 and 100,000 jobs and files stored.

Two kinds of world: rows filled straight into the database (below), and jobs built through the services across
tenants, with queued, running, pending and finished ones (``bench/world.py``, the ``services`` part).

Goal: flat, p50 at 100,000 within 1.5x of p50 at 100.  Each size gets a database filled before the server
starts (``bench/fill.py``): all jobs in the bench tenant (three still active, the rest finished), files
100 to a tenant over as many tenants as it takes.  Also: database bytes per job and per file.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import load
from bench.common import AUTH, emulator, median, running
from bench.fill import fill
from bench.world import measure as measure_world

SIZES = (100, 10_000, 100_000)
SECONDS = 2.0
CONNECTIONS = 1  # one request at a time: p50 is the service time, not queueing


def _targets(url: str, job_ids: list[str]) -> dict[str, str]:
    deep, active = job_ids
    return {
        "status_finished": f"{url}/api/v1/fine-tunes/{deep}",
        "status_running": f"{url}/api/v1/fine-tunes/{active}",
        "list_jobs": f"{url}/api/v1/fine-tunes?page_no=1&page_size=10",
        "list_files": f"{url}/api/v1/files?page_no=1&page_size=10",
    }


def _one_size(workdir: Path, size: int, rounds: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    filled = fill(workdir / "emulator.db", size, size)
    server = emulator(workdir)
    with running(server):
        targets = _targets(server.url, filled.job_ids)
        for url in targets.values():
            load.run(url, seconds=1, connections=CONNECTIONS, headers=AUTH)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, url in targets.items():
                runs[name].append(load.run(url, seconds=SECONDS, connections=CONNECTIONS, headers=AUTH))
    shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {
        "fill_seconds": filled.seconds,
        "db_bytes_jobs": filled.db_bytes_jobs,
        "db_bytes": filled.db_bytes,
    }
    for name, values in runs.items():
        result[name] = {key: median([v[key] for v in values]) for key in ("rps", "p50_ms", "p99_ms")}
        result[name]["errors"] = sum(v["errors"] for v in values)
    return result


def measure(
    workdir: Path, rounds: int = 3, sizes: tuple[int, ...] = SIZES, world_sizes: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """The filled worlds (one tenant's finished history, files over many tenants), then the world built through
    the services (``bench/world.py``: queued, running, pending and finished jobs across tenants)."""
    result = _filled(workdir, rounds, sizes)
    result["services"] = measure_world(workdir, rounds, world_sizes or (sizes[0], sizes[-1]))
    return result


def _filled(workdir: Path, rounds: int, sizes: tuple[int, ...]) -> dict[str, Any]:
    by_size = {size: _one_size(workdir / f"scale-{size}", size, rounds) for size in sizes}
    small, large = by_size[sizes[0]], by_size[sizes[-1]]
    growth = {
        name: large[name]["p50_ms"] / small[name]["p50_ms"]
        for name in ("status_finished", "status_running", "list_jobs", "list_files")
    }
    span = sizes[-1] - sizes[0]
    return {
        "sizes": {str(k): v for k, v in by_size.items()},
        "p50_growth": growth,
        "db_bytes_per_job": (large["db_bytes_jobs"] - small["db_bytes_jobs"]) / span,
        "db_bytes_per_file": (
            (large["db_bytes"] - large["db_bytes_jobs"]) - (small["db_bytes"] - small["db_bytes_jobs"])
        )
        / span,
    }
