"""The plain-row fast path must agree with the full checks on every row it accepts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.files.datasets import _plain_sft_row, _RowError, _sft_row

ROLE = st.sampled_from(["system", "user", "assistant", "bot", ""])
CONTENT = st.one_of(st.text(max_size=40), st.just("你好，世界"), st.just("   "), st.integers(), st.none())
MESSAGE = st.fixed_dictionaries(
    {"role": ROLE, "content": CONTENT}, optional={"name": st.text(max_size=3), "weight": st.integers()}
)


@settings(max_examples=400, deadline=None)
@given(messages=st.lists(MESSAGE, max_size=6), extra=st.dictionaries(st.sampled_from(["id", "meta"]), st.integers()))
def test_fast_path_agrees_with_the_full_check(messages: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    row = {"messages": messages, **extra}
    fast = _plain_sft_row(row)
    try:
        full = _sft_row(row, None)
    except _RowError:
        assert fast is None
        return
    assert fast is None or fast == full
