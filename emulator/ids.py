"""Ids and random choices from one seeded source.

Without a seed ids are random.  With ``--seed`` every id is a hash of (seed, kind, sequence), where the
sequence is persisted in the database, so the same calls give the same ids, across restarts too.  Request ids
count in memory; their stream also mixes in ``epoch``, a per-database start counter (``emulator.app``): 0 on a
fresh database (reproducible), then one more at each start and for each ``--workers`` process, so a restart or a
second worker never repeats a request id (nor an upload folder named after one).
"""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from itertools import count


class Ids:
    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self.epoch = 0
        self._requests = count(1)
        self._fast = random.Random(secrets.randbits(128))  # request ids need to be unique, not secret

    @property
    def seeded(self) -> bool:
        return self.seed is not None

    def _digest(self, *parts: object) -> bytes:
        text = ":".join(str(p) for p in (self.seed, *parts))
        return hashlib.sha256(text.encode()).digest()

    def request_id(self) -> str:
        if self.seed is None:
            return _uuid4_text(self._fast.getrandbits(128))
        parts = ("request", next(self._requests)) if not self.epoch else ("request", self.epoch, next(self._requests))
        return str(uuid.UUID(bytes=self._digest(*parts)[:16], version=4))

    def uuid(self, kind: str, seq: int) -> str:
        if self.seed is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(bytes=self._digest(kind, seq)[:16], version=4))

    def hex(self, kind: str, seq: int, length: int) -> str:
        if self.seed is None:
            return secrets.token_hex((length + 1) // 2)[:length]
        return self._digest(kind, seq).hex()[:length]

    def rng(self, *parts: object) -> random.Random:
        """A private generator for one decision; seeded runs derive it from the parts."""
        if self.seed is None:
            return random.Random(secrets.randbits(64))
        return random.Random(int.from_bytes(self._digest("rng", *parts)[:8], "big"))

    def content_seed(self, *parts: object) -> int:
        """A stable integer for synthetic content (logs, text): stable per object even without --seed."""
        return int.from_bytes(self._digest("content", *parts)[:8], "big")

    def reset(self) -> None:
        self._requests = count(1)


def _uuid4_text(bits: int) -> str:
    """A version-4 UUID in its usual text form, from 128 random bits (a third of ``str(uuid.uuid4())``'s cost)."""
    bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
