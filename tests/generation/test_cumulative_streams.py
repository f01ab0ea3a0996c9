"""Cumulative (non-incremental) native streams are made chunk by chunk as they are sent (issue 24): each chunk
repeats the text so far, so building them all first held O(L²) bytes (one 112 KB request: 49 -> 289 MB).  Every
answer (a rule's or the model's) goes through the same renderers (``generation.renderers``)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.generation.answer import generated_answer, scripted_answer
from emulator.generation.renderers.multimodal import multimodal_chunks
from emulator.generation.renderers.native import native_chunks
from emulator.rules.scripted import Scripted, ToolCall
from emulator.synth.text import Reply

LENGTH = 30_000  # 10,000 pieces: every "text so far" at once is ~150 MB; one at a time, ~30 KB


def _peak(make: Callable[[], Iterator[Any]]) -> tuple[int, Any]:
    tracemalloc.start()
    last = None
    for last in make():  # noqa: B007 - only the last chunk is kept, as a sender keeps one at a time
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, last


def _reply(text: str) -> Reply:
    return Reply(text, tuple(text[i : i + 3] for i in range(0, len(text), 3)), "stop", 10, len(text) // 3)


@pytest.mark.parametrize("incremental", [False, True])
def test_scripted_cumulative_streams_hold_one_message_so_far(incremental: bool) -> None:
    text = "词" * LENGTH
    call = ToolCall("call_1", "f", {"x": "y" * LENGTH})
    scripted = Scripted(content=text, reasoning_content=text, tool_calls=(call,), input_tokens=5, output_tokens=99)
    answer = scripted_answer("qwen-plus", scripted, [])
    peak, last = _peak(lambda: native_chunks(answer, as_message=True, incremental=incremental))
    assert peak < 8 * 1024 * 1024, peak  # linear: the deltas list (~45 bytes a character), not L² chunks
    message = last["output"]["choices"][0]["message"]
    assert incremental or (message["content"] == text and message["reasoning_content"] == text)


@pytest.mark.parametrize("incremental", [False, True])
def test_generated_cumulative_streams_hold_one_text_so_far(incremental: bool) -> None:
    plain = generated_answer("qwen-plus", [_reply("a" * LENGTH)], [], 5, {})
    peak, last = _peak(lambda: native_chunks(plain, as_message=False, incremental=incremental))
    assert peak < 2 * 1024 * 1024, peak
    assert last["output"]["finish_reason"] == "stop"
    thinking = generated_answer("qwen-vl-max", [_reply("a" * LENGTH)], [_reply("b" * LENGTH)], 5, {})
    peak, last = _peak(lambda: multimodal_chunks(thinking, incremental=incremental))
    assert peak < 2 * 1024 * 1024, peak
    assert last["output"]["choices"][0]["finish_reason"] == "stop"
