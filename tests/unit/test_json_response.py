"""The hot path's JSON answer is Starlette's JSONResponse, byte for byte and header for header."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from emulator.http import FastJSONResponse

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_same_bytes_and_headers_as_starlette(content: Any) -> None:
    fast, slow = FastJSONResponse(content), JSONResponse(content)
    assert fast.body == slow.body and fast.raw_headers == slow.raw_headers and fast.status_code == 200


def test_extra_headers_and_status_go_through_starlette() -> None:
    fast = FastJSONResponse({"a": 1}, 429, {"Retry-After": "3"})
    slow = JSONResponse({"a": 1}, 429, {"Retry-After": "3"})
    assert (fast.body, fast.raw_headers, fast.status_code) == (slow.body, slow.raw_headers, 429)


def test_a_stored_non_finite_number_is_written_as_null_never_as_a_500() -> None:
    """Bodies with NaN/Infinity are refused at the door (``parse_json``); rows an older version stored with them
    still render, as valid JSON (Starlette's JSONResponse raises, which answered 500 for good)."""
    with pytest.raises(ValueError):
        JSONResponse({"x": math.nan})
    assert FastJSONResponse({"x": [math.nan, -math.inf, 1.5], "y": {"z": math.inf}}).body == (
        b'{"x":[null,null,1.5],"y":{"z":null}}'
    )


def _request(rid: str) -> Any:
    from starlette.requests import Request

    from emulator.context import CONTEXT, RequestContext

    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], CONTEXT: RequestContext(rid)})


@given(_JSON, st.sampled_from(["output", "data"]), st.text(max_size=40))
def test_an_envelope_around_rendered_bytes_is_the_envelope(content: Any, key: str, rid: str) -> None:
    """The status read answers ``envelope_encoded`` around bytes kept from an earlier read: byte for byte what
    ``envelope`` renders from the payload."""
    from emulator.http import envelope, envelope_encoded, render_json

    kept = envelope_encoded(_request(rid), key, render_json(content))
    fresh = envelope(_request(rid), key, content)
    assert (kept.body, kept.raw_headers, kept.status_code) == (fresh.body, fresh.raw_headers, fresh.status_code)


_RAW = st.one_of(
    _JSON.map(lambda v: json.dumps(v).encode()),
    _JSON.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    _JSON.map(lambda v: json.dumps(v).encode("utf-16")),
    st.sampled_from(
        [
            b'{"a":"\\ud800"}',
            b'{"a":"\\uDFFFx"}',
            b'["\xed\xa0\x80"]',
            b'{"\\udc00":1}',
            b"[[[[[1]]]]]",
            b'{"a":"\\\\ud800"}',
        ]
    ),
)


@given(_RAW, st.integers(min_value=1, max_value=6))
def test_the_bytes_fast_path_refuses_what_the_walk_refuses(raw: bytes, depth: int) -> None:
    """``parse_json`` skips its tree walk when the bytes show it could find nothing: it must refuse exactly the
    bodies (lone surrogates, escaped or encoded; nesting past the limit) the walk refuses."""
    from emulator.errors import MalformedBody
    from emulator.http import _check_tree, loads, parse_json

    def verdict(fast: bool) -> str:
        try:
            if fast:
                parse_json(raw, max_depth=depth)
            else:
                _check_tree(loads(raw), depth)
        except MalformedBody as exc:
            return exc.message
        except (ValueError, RecursionError):
            return "not JSON"
        return "ok"

    assert verdict(True) == verdict(False)
