"""Where a request's CPU goes: the app called as ASGI in-process (no socket, no uvicorn), timed and profiled.

    .venv/bin/python bench/profile.py                       # CPU µs per call: bare route, status read, file page
    .venv/bin/python bench/profile.py /api/v1/files         # ... then a pyinstrument tree of that path
    .venv/bin/python bench/profile.py /api/v1/fine-tunes/JOB    # JOB stands for the running job's id

The tenant holds one RUNNING job and ten files, as in the request-overhead section of ``bench/run.py``.
For the live server under load, use ``py-spy record --gil -p PID`` while ``bench/load.py`` runs.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.bare import create_app as bare_app  # noqa: E402
from bench.common import API_KEY  # noqa: E402
from bench.fill import dataset  # noqa: E402
from emulator.app import create_app  # noqa: E402
from emulator.settings import Settings  # noqa: E402

HEADERS = [(b"authorization", f"Bearer {API_KEY}".encode())]


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 5),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)


async def cpu_us(app: Any, path: str, headers: list[tuple[bytes, bytes]], n: int = 3000) -> float:
    for _ in range(200):
        await call(app, path, headers)
    started = time.process_time()
    for _ in range(n):
        await call(app, path, headers)
    return (time.process_time() - started) / n * 1e6


async def main(profile_path: str | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        await _run(work, profile_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _run(work: Path, profile_path: str | None) -> None:
    app = create_app(Settings(db=str(work / "e.db"), data_dir=work / "files", time_scale=0.0, pending_seconds=0))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers={"Authorization": f"Bearer {API_KEY}"}
        ) as client:
            ids = [
                (await client.post("/api/v1/files", files=[("files", ("t.jsonl", dataset(20)))])).json()["data"][
                    "uploaded_files"
                ][0]["file_id"]
                for _ in range(10)
            ]
            job = (
                await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": ids[:1]})
            ).json()["output"]
        bare = bare_app({"job": {"status": "ok"}})
        status_path = f"/api/v1/fine-tunes/{job['job_id']}"
        for _ in range(3):
            print(
                f"CPU µs per call: bare {await cpu_us(bare, '/job', []):.0f}, "
                f"status read {await cpu_us(app, status_path, HEADERS):.0f}, "
                f"file page {await cpu_us(app, '/api/v1/files', HEADERS):.0f}",
                flush=True,
            )
        if profile_path:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001, async_mode="disabled")
            profiler.start()
            await cpu_us(app, profile_path.replace("JOB", job["job_id"]), HEADERS)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False))


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
    except ImportError:  # pragma: no cover
        asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
