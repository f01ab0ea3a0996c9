"""The JSON reader of large bodies (issue 24's residual): ``parse_json_windowed`` reads what ``parse_json`` reads,
a window at a time, and a large body is parsed off the event loop, so other requests are answered meanwhile."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.errors import MalformedBody
from emulator.http import OFF_LOOP_JSON_BYTES, parse_json, parse_json_windowed
from tests.conftest import AppFactory, client_for

MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.sampled_from('ab,]}{["\\:\u4e2d\U0001f600 \n'), max_size=6),
)
documents = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(alphabet=',}]"ab', max_size=3), inner, max_size=4)
    ),
    max_leaves=40,
)


def outcome(parse: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", parse(raw)
    except MalformedBody as exc:
        return "refused", exc.message


@settings(max_examples=300, deadline=None)
@given(
    document=documents,
    ascii_only=st.booleans(),
    indent=st.sampled_from([None, 0, 2]),
    edit=st.tuples(st.integers(0, 10**6), st.sampled_from(["", "drop", "cut", *',[]{}":x \\'])),
    window=st.integers(1, 12),
)
def test_windowed_reads_what_the_one_call_reader_reads(
    document: Any, ascii_only: bool, indent: int | None, edit: tuple[int, str], window: int
) -> None:
    """Same values, same refusals (same messages), for valid documents and for documents with one edit in them
    (a character dropped or inserted, or the text cut), at window sizes that cut every token somewhere."""
    text = json.dumps(document, ensure_ascii=ascii_only, indent=indent)
    at, change = edit[0] % (len(text) + 1), edit[1]
    if change == "drop":
        text = text[:at] + text[at + 1 :]
    elif change == "cut":
        text = text[:at]
    elif change:
        text = text[:at] + change + text[at:]
    raw = text.encode("utf-8", "surrogatepass")
    expected = outcome(parse_json, raw)
    assert outcome(lambda r: parse_json_windowed(r, window=window), raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"[1,]",
        b'{"a":1,}',
        b"[" * 70 + b"]" * 70,
        b"[" * 3000 + b"]" * 3000,
        b"[1e999]",
        b"[NaN]",
        b'"\\ud800"',
        b'{"\\udc00":1}',
        b'"\xed\xa0\x80"',
        b"\xff",
        b"",
        b"[]x",
        "\ufeff[1]".encode(),
        json.dumps([1, "a"]).encode("utf-16"),
    ],
)
def test_windowed_refuses_and_accepts_the_same_edge_cases(raw: bytes) -> None:
    for window in (1, 4, 64):
        assert outcome(lambda r, w=window: parse_json_windowed(r, window=w), raw) == outcome(parse_json, raw)


@pytest.mark.anyio
async def test_the_loop_answers_while_a_large_body_is_parsed(app_factory: AppFactory) -> None:
    """An 800,000-frame video list (~14 MB) held the event loop for its whole parse (0.5-4 s before this); a
    ticker on the same loop now keeps ticking while it is read, and a health check is answered meanwhile."""
    app = await app_factory()
    content = [{"video": ["oss://a/b.png"] * 800_000}, {"text": "what happens?"}]
    raw = json.dumps({"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}).encode()
    assert len(raw) > OFF_LOOP_JSON_BYTES
    gaps: list[float] = []
    health: list[float] = []
    async with client_for(app) as client:
        finished = asyncio.Event()

        async def tick() -> None:
            last = time.perf_counter()
            while not finished.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        async def probe() -> None:
            while not finished.is_set():
                started = time.perf_counter()
                assert (await client.get("/_emulator/health")).status_code == 200
                health.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

        async def hostile() -> float:
            started = time.perf_counter()
            response = await client.post(MULTIMODAL, content=raw, headers={"Content-Type": "application/json"})
            finished.set()
            assert response.status_code == 400 and "frames" in response.json()["message"]
            return time.perf_counter() - started

        took, *_ = await asyncio.gather(hostile(), tick(), probe())
    assert len(health) >= 3, (took, health)  # answered while the body was read, not after it
    # The parse is the bulk of the request: held on the loop, one gap was most of it; off the loop, none is.
    assert max(gaps) < max(0.25, took / 4), (max(gaps), took)
