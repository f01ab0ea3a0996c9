"""Log probabilities (``logprobs`` / ``top_logprobs``): an entry per output token, by the emulator's tokenizer.

The tokens are ``synth.tokens.tokenize``'s pieces of the answer's text (so they join to it, and there are
``count_tokens`` of them: the usage's count); each token's log probability and its runners-up are drawn from
a generator seeded by the text, so the same answer has the same numbers.  The chosen token is always the most
likely one (greedy decoding); runners-up are other tokens of the answer, less likely.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from emulator.generation.answer import TokenLogprob
from emulator.synth.tokens import tokenize

MAX_TOP_LOGPROBS = 5
"""The service's ``top_logprobs`` range is [0, 5]."""


def token_logprobs(text: str, top: int, seed: int) -> tuple[TokenLogprob, ...]:
    tokens = tokenize(text)
    rng = random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{text}".encode()).digest()[:8], "big"))
    others = list(dict.fromkeys(tokens)) or ["the"]
    out = []
    for token in tokens:
        chosen = -round(rng.random() ** 3 * 2.5, 6)
        alternates: list[tuple[str, float]] = [(token, chosen)]
        floor = chosen
        for candidate in rng.sample(others, min(len(others), top + 1)):
            if len(alternates) > top - 1 or candidate == token:
                continue
            floor = round(floor - 0.5 - rng.random() * 3, 6)
            alternates.append((candidate, floor))
        out.append(TokenLogprob(token, chosen, tuple(alternates[:top])))
    return tuple(out)


def entry(logprob: TokenLogprob) -> dict[str, Any]:
    return {
        "token": logprob.token,
        "bytes": list(logprob.token.encode("utf-8", "surrogatepass")),
        "logprob": logprob.logprob,
        "top_logprobs": [
            {"token": t, "bytes": list(t.encode("utf-8", "surrogatepass")), "logprob": p} for t, p in logprob.top
        ],
    }


def logprobs_object(entries: tuple[TokenLogprob, ...] | None) -> dict[str, Any] | None:
    return None if entries is None else {"content": [entry(e) for e in entries]}
