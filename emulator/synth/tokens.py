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
_SPLIT = re.compile(f"({_CJK_CLASS})")


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
    if not cjk:
        return False
    latin = sum(len(run) for run in _LATIN_RUNS.findall(text))  # runs: one match per word, not a loop per character
    return cjk * 3 >= latin


def tokenize(text: str) -> list[str]:
    """Contiguous pieces of ``text``, exactly ``count_tokens(text)`` of them, in one linear pass."""
    pieces: list[str] = []
    for i, part in enumerate(_SPLIT.split(text)):  # non-CJK run, CJK character, non-CJK run, ...
        if i % 2 or 0 < len(part) <= 4:
            pieces.append(part)
        elif part:
            pieces += _chunks(part)
    excess = len(pieces) - count_tokens(text)
    if excess <= 0 or not pieces:
        return pieces
    out: list[str] = []
    current = pieces[0]
    for following in pieces[1:]:
        if excess > 0 and len(current) < 4 and not _CJK.match(current[0]):
            current += following  # a short tail joins its neighbour (stops once it holds 4 characters)
            excess -= 1
        else:
            out.append(current)
            current = following
    out.append(current)
    return out


def _chunks(run: str) -> list[str]:
    return [run[i : i + 4] for i in range(0, len(run), 4)]
