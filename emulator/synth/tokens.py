"""A cheap, deterministic token estimate shared by dataset checks, usage and generation.

Qwen's tokenizer gives roughly one token per CJK character and about four characters per token
for Latin text; this estimate follows that rule so that counts are plausible and stable.
"""

from __future__ import annotations

import re

_CJK_CLASS = r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"
_CJK = re.compile(_CJK_CLASS)
_CJK_RUNS = re.compile(_CJK_CLASS + "+")


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
    if not cjk:  # an English or JSON text: no letter count needed
        return False
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return cjk * 3 >= latin


def tokenize(text: str) -> list[str]:
    """Contiguous pieces of ``text``, exactly ``count_tokens(text)`` of them."""
    pieces: list[str] = []
    run = ""
    for char in text:
        if _CJK.match(char):
            pieces += _chunks(run)
            pieces.append(char)
            run = ""
        else:
            run += char
    pieces += _chunks(run)
    target = count_tokens(text)
    index = 0
    while len(pieces) > target and index < len(pieces) - 1:
        piece = pieces[index]
        if len(piece) < 4 and not _CJK.match(piece[0]):
            pieces[index : index + 2] = [piece + pieces[index + 1]]  # a short tail joins its neighbour
        else:
            index += 1
    return pieces


def _chunks(run: str) -> list[str]:
    return [run[i : i + 4] for i in range(0, len(run), 4)]
