"""Wire shapes of native text generation (reference §6) and the OpenAI-compatible chat endpoint (§7.1).

Requests are parsed in strict mode: a number where a bool belongs, or a string where a number belongs, is a
400 naming the field, not a silent coercion.  Unknown keys are ignored, as the real service does.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from emulator.errors import InvalidParameter
from emulator.http import validation_message
from emulator.wire import WireModel

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    """Strict parsing; the 400 names the first offending field, also as the OpenAI ``param``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = ".".join(str(p) for p in exc.errors(include_url=False)[0]["loc"])
        raise InvalidParameter(prefix + validation_message(exc), param=prefix + loc or None) from None


ROLES = ("system", "user", "assistant", "tool", "function")


class ChatMessage(WireModel):
    """A message as both APIs take it: ``content`` is text, or a list of parts (DashScope ``{"text": ..}``,
    OpenAI ``{"type": "text", "text": ..}``); an assistant message with ``tool_calls`` may have none."""

    model_config = ConfigDict(extra="allow", strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None


class SamplingFields(WireModel):
    """The parameters both APIs share; ranges are checked by ``service.check_sampling``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    seed: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    n: int | None = None
    stop: str | list[str] | list[list[int]] | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    enable_search: bool | None = None
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    search_options: dict[str, Any] | None = None


class GenerationParameters(SamplingFields):
    result_format: Literal["text", "message"] | None = None
    incremental_output: bool | None = None


class GenerationInput(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    history: list[dict[str, Any]] | None = Field(None, description="Deprecated: [{'user': .., 'bot': ..}, ...].")


class GenerationRequest(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    model: str = Field(min_length=1, max_length=256)
    input: GenerationInput
    parameters: GenerationParameters = Field(default_factory=GenerationParameters)


class AssistantMessage(WireModel):
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None = Field(None, description="Function calls (`finish_reason` tool_calls).")


class GenerationChoice(WireModel):
    finish_reason: str
    message: AssistantMessage
    index: int | None = None


class GenerationOutput(WireModel):
    """``text`` + ``finish_reason`` (result_format text) or ``choices`` (message)."""

    text: str | None = None
    finish_reason: str | None = None
    choices: list[GenerationChoice] | None = None


class GenerationUsage(WireModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class GenerationResponse(WireModel):
    request_id: str
    output: GenerationOutput
    usage: GenerationUsage


# ---------------------------------------------------------------------------------------------- OpenAI-compatible


class StreamOptions(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool | None = None


class ChatCompletionRequest(SamplingFields):
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = None
    frequency_penalty: float | None = None
    user: str | None = None


class CompletionMessage(WireModel):
    role: Literal["assistant"]
    content: str
    tool_calls: list[dict[str, Any]] | None = Field(None, description="Function calls (`finish_reason` tool_calls).")


class CompletionChoice(WireModel):
    index: int
    message: CompletionMessage
    finish_reason: str
    logprobs: None = None


class CompletionUsage(WireModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(WireModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    system_fingerprint: None = None


class ModelCard(WireModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(WireModel):
    object: Literal["list"]
    data: list[ModelCard]


# ---------------------------------------------------------------------------------------------- multimodal (native)


class MultimodalInput(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[dict[str, Any]] = Field(
        description='Messages whose content is a list of {"text"}, {"image"}, {"video"} or {"audio"} parts '
        "(a plain string is text)."
    )


class MultimodalRequest(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    model: str = Field(min_length=1, max_length=256)
    input: MultimodalInput
    parameters: GenerationParameters = Field(default_factory=GenerationParameters)


class MultimodalMessage(WireModel):
    role: str
    content: list[dict[str, str]]
    reasoning_content: str | None = None


class MultimodalChoice(WireModel):
    finish_reason: str
    message: MultimodalMessage
    index: int | None = None


class MultimodalOutput(WireModel):
    choices: list[MultimodalChoice]


class MultimodalResponse(WireModel):
    request_id: str
    output: MultimodalOutput
    usage: dict[str, Any]
