"""The generation pipeline answers today's bytes: every golden case (captured from the code before the pipeline,
see ``golden/capture.py``) gives the same status, content type and body, scripted or generated, in each protocol."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from emulator.app import create_app
from tests.generation.golden.capture import answer, make_settings
from tests.generation.golden.cases import cases

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).parent / "golden" / "golden.jsonl.gz"


def _golden() -> dict[int, dict[str, Any]]:
    rows = (json.loads(line) for line in gzip.decompress(GOLDEN.read_bytes()).decode().splitlines())
    return {row["id"]: row for row in rows}


GOLDEN_ROWS = _golden()
CASES = cases()


@pytest.fixture
async def golden_app(tmp_path: Path) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    app = create_app(make_settings(tmp_path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer sk-test-tenant-a"}
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers) as client:
            yield app, client


def test_the_cases_are_the_captured_ones() -> None:
    assert [{k: v for k, v in row.items() if k != "answer"} for row in GOLDEN_ROWS.values()] == [
        json.loads(json.dumps(case)) for case in CASES
    ]


@given(case=st.sampled_from(CASES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_case_answers_the_golden_bytes(
    golden_app: tuple[Starlette, httpx.AsyncClient], case: dict[str, Any]
) -> None:
    app, client = golden_app
    assert await answer(client, app, json.loads(json.dumps(case))) == GOLDEN_ROWS[case["id"]]["answer"]


async def test_every_case_answers_the_golden_bytes(golden_app: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = golden_app
    differ = [case["id"] for case in CASES if await answer(client, app, case) != GOLDEN_ROWS[case["id"]]["answer"]]
    assert not differ, f"{len(differ)} case(s) answer other bytes: {differ[:20]}"
