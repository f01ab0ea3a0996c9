"""A cheap, deterministic token estimate shared by dataset checks, usage and generation.

Qwen's tokenizer gives roughly one token per CJK character and about four characters per token
for Latin text; this estimate follows that rule so that counts are plausible and stable.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def count_tokens(text: str) -> int:
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + (other + 3) // 4


def is_chinese(text: str) -> bool:
    """True when CJK characters make up a fair share of the text's letters."""
    cjk = len(_CJK.findall(text))
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return cjk > 0 and cjk * 3 >= latin
