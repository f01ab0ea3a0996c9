"""Write ``golden.jsonl.gz``: each case of ``cases.py`` and the bytes the emulator answered.

Run against the code whose behaviour the golden files pin (the checkout on ``PYTHONPATH`` first)::

    PYTHONPATH=<checkout>:<this repo> python -m tests.generation.golden.capture tests/generation/golden/golden.jsonl.gz
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from emulator.app import create_app
from emulator.settings import Settings
from tests.generation.golden.cases import cases

API_KEY = "sk-test-tenant-a"


def make_settings(root: Path) -> Settings:
    return Settings(db=str(root / "emulator.db"), data_dir=root / "files", time_scale=0.0, seed=7)


async def answer(client: httpx.AsyncClient, app: Any, case: dict[str, Any]) -> dict[str, Any]:
    """The case's answer: rules cleared, its rule posted, the id sequence restarted, then the request."""
    await client.delete("/_emulator/responses")
    if case["rule"] is not None:
        posted = await client.post("/_emulator/responses", json=case["rule"])
        assert posted.status_code in (200, 201), posted.text
    app.state.rt.ids.reset()
    response = await client.post(case["path"], json=case["body"], headers=case["headers"])
    return {
        "status": response.status_code,
        "content_type": response.headers.get("content-type"),
        "body": response.text,
    }


async def capture(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(Path(tmp)))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {API_KEY}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
                lines = [json.dumps({**case, "answer": await answer(client, app, case)}) for case in cases()]
    out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


if __name__ == "__main__":
    asyncio.run(capture(Path(sys.argv[1])))
