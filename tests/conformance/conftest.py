"""Fixtures of the conformance suite: the public corpus, its expectations, and a live emulator to replay on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.conformance import corpus
from emulator.testing import EmulatorServer

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EXPECTED = HERE / "expected.json"
KEY = "sk-conformance"


@pytest.fixture(scope="module")
def exchanges() -> list[dict[str, Any]]:
    return corpus.load(CORPUS)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """One key only, so a recorded 401 can be replayed with another."""
    with EmulatorServer(api_key=KEY, extra_args=("--api-key", KEY)) as server:
        yield server
