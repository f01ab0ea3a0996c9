"""Thinking models (reference §5): who thinks, under which request, and the synthetic reasoning they produce.

``enable_thinking`` turns a hybrid model's reasoning on or off; models that always think ignore it; a model that
cannot think refuses ``enable_thinking: true``.  Open-source Qwen3 (thinking on by default) and the always-thinking
models answer only streaming calls while they think.  ``thinking_budget`` caps the reasoning tokens; the reasoning
is spent out of ``max_tokens`` first, so a small ``max_tokens`` ends in the reasoning with ``finish_reason: length``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import InvalidParameter
from emulator.synth.text import Reply, generate_reply

MAX_THINKING_BUDGET = 38912
"""The largest ``thinking_budget`` (Qwen3's maximum chain-of-thought length)."""
_STREAM_ONLY = ("hybrid-on", "always")


@dataclass(frozen=True)
class Thinking:
    enabled: bool
    budget: int | None = None


OFF = Thinking(False)
FORCED_TOOL_WHILE_THINKING = (
    "<400> InternalError.Algo.InvalidParameter: The tool_choice parameter does not support being set to required "
    "or object in thinking mode"
)
"""The 400 for ``tool_choice`` ``"required"`` or a function object on a call that thinks (2026 docs; reference
2026-apps §2 and decision 5)."""


def thinks(mode: str, enable: bool | None) -> bool:
    """Whether a model of this thinking mode thinks on a call with this ``enable_thinking``."""
    if mode == "none":
        return False
    return True if mode == "always" else enable if enable is not None else mode in ("hybrid-on", "on")


def check_tool_choice(mode: str, enable: bool | None, tool_choice: object) -> None:
    """A call that thinks cannot force a tool: ``tool_choice`` ``"required"`` or a function object is refused."""
    if (tool_choice == "required" or isinstance(tool_choice, dict)) and thinks(mode, enable):
        raise InvalidParameter(FORCED_TOOL_WHILE_THINKING)


def decide_thinking(
    mode: str, enable: bool | None, budget: int | None, *, stream: bool, max_budget: int | None = None
) -> Thinking:
    """Whether this call thinks; the service's 400s for the combinations it refuses. ``max_budget``: the model's
    largest ``thinking_budget`` (the catalog's), else Qwen3's."""
    largest = max_budget or MAX_THINKING_BUDGET
    if budget is not None and budget > largest:
        raise InvalidParameter(
            f"The thinking_budget parameter must be a positive integer and not greater than {largest}",
            param="thinking_budget",
        )
    if mode == "none":
        if enable:
            raise InvalidParameter(
                "The model does not support enable_thinking",
                code="InvalidParameter.NotSupportEnableThinking",
                param="enable_thinking",
            )
        return OFF
    if not thinks(mode, enable):
        return OFF
    if mode in _STREAM_ONLY and not stream:
        if mode == "always":
            raise InvalidParameter("This model only support stream mode, please enable the stream parameter.")
        raise InvalidParameter(
            "parameter.enable_thinking must be set to false for non-streaming calls", param="enable_thinking"
        )
    return Thinking(True, budget)


def think(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    seed: int | None,
    budget: int | None,
    max_tokens: int | None,
    server_seed: int,
) -> Reply:
    """The reasoning: deterministic prose about the question (a persona of its own, so it differs from the
    answer), cut at the budget or at ``max_tokens``, whichever is smaller."""
    caps = [cap for cap in (budget, max_tokens) if cap is not None]
    return generate_reply(
        model=model,
        messages=messages,
        seed=seed,
        max_tokens=min(caps) if caps else None,
        temperature=1.3,
        persona=f"{model} (thinking)",
        server_seed=server_seed,
    )
