"""A cheap, deterministic token estimate shared by dataset checks, usage and generation.

Qwen's tokenizer gives roughly one token per CJK character and about four characters per token
for Latin text; this estimate follows that rule so that counts are plausible and stable.
"""

from __future__ import annotations

import re

_CJK_CLASS = r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
_CJK = re.compile(_CJK_CLASS)
_CJK_RUNS = re.compile(_CJK_CLASS + "+")
_LATIN_RUNS = re.compile("[A-Za-z]+")


def _cjk_chars(text: str) -> int:
    """Runs, not characters: one match object per run is far cheaper than one per character."""
    if text.isascii():  # O(1) in CPython, and no CJK character is ASCII: English rows skip the scan
        return 0
    return sum(len(run) for run in _CJK_RUNS.findall(text))


def count_tokens(text: str) -> int:
    if not text:
        return 0
    cjk = _cjk_chars(text)
    other = len(text) - cjk
    return cjk + (other + 3) // 4


def is_chinese(text: str) -> bool:
    """True when CJK characters make up a fair share of the text's letters."""
    cjk = _cjk_chars(text)
    latin = sum(len(run) for run in _LATIN_RUNS.findall(text))  # runs: one match per word, not a loop per character
    return cjk > 0 and cjk * 3 >= latin
