"""The base of every wire schema: pydantic builds a model's validator on first use, not at import.

Dozens of request/response models are defined at import time; building them all eagerly cost a few hundred
milliseconds of every start-up, mostly for control-plane shapes that most runs never touch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
