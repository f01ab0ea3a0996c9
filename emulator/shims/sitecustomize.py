"""Loaded by a client's Python through ``PYTHONPATH`` (see ``emulator.testing.fast_sleep_env``).

The dashscope CLIs poll a job or deployment every 30 *wall* seconds while it is PENDING or DEPLOYING.
With this on the path, every ``time.sleep`` of a second or more becomes ``POST /_emulator/clock/advance`` of
that many emulated seconds instead: the CLI's wait loop runs unmodified through every status, at once.
Without ``EMULATOR_CONTROL_URL`` in the environment it changes nothing.
"""

import json
import operator
import os
import time
import urllib.request
from typing import SupportsIndex

_CONTROL = os.environ.get("EMULATOR_CONTROL_URL", "").rstrip("/")
_real_sleep = time.sleep


def _sleep(secs: float | SupportsIndex) -> None:
    """A poll interval moves the emulator's clock instead of the wall clock."""
    seconds = secs if isinstance(secs, float) else float(operator.index(secs))
    if _CONTROL and seconds >= 1:
        request = urllib.request.Request(
            _CONTROL + "/_emulator/clock/advance",
            method="POST",
            data=json.dumps({"seconds": seconds}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    else:
        _real_sleep(seconds)


if _CONTROL:
    time.sleep = _sleep
