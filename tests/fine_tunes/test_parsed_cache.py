"""The parsed-JSON cache of immutable job columns is bounded by bytes, not by entries (issue 10)."""

from __future__ import annotations

import json

from emulator.fine_tunes.store import PARSED, ParsedCache


def test_the_cache_stays_within_its_byte_budget_and_keeps_the_recent() -> None:
    cache = ParsedCache(max_bytes=10_000)
    texts = [json.dumps({"i": i, "pad": "x" * 200}) for i in range(500)]
    for text in texts:
        assert cache.get(text) == json.loads(text)
        assert cache.bytes <= 10_000
    assert cache.bytes == sum(len(t) for t in texts[-len(cache) :])
    recent = texts[-1]
    assert cache.get(recent) is cache.get(recent)  # shared, not parsed again


def test_a_text_larger_than_an_eighth_of_the_budget_is_parsed_but_not_kept() -> None:
    cache = ParsedCache(max_bytes=8_000)
    big = json.dumps({"pad": "y" * 2_000})
    assert cache.get(big) == json.loads(big)
    assert len(cache) == 0 and cache.bytes == 0


def test_the_shared_cache_has_a_byte_budget() -> None:
    assert 0 < PARSED.max_bytes <= 64 * 1024 * 1024
