"""Text generation: which model answers, the checks every parameter goes through, and the replies themselves.

Callable models are the catalog's models and the caller's RUNNING deployments.  A deployed fine-tune answers from
its training samples (``synth.text``'s memory), so a test can tell which model answered.  Replies are a pure
function of (model, messages, seed, sampling parameters) and the server seed: the same request, the same text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from emulator.catalog import Catalog, load_catalog, serves_multimodal, thinking_mode
from emulator.context import RequestContext
from emulator.deployments.service import DeploymentsService
from emulator.errors import InvalidParameter, ModelNotExist, ModelNotFound
from emulator.fine_tunes.service import FineTunesService
from emulator.generation.answer import Answer, generated_answer, scripted_answer
from emulator.generation.answer import input_tokens as prompt_tokens
from emulator.generation.logprobs import MAX_TOP_LOGPROBS, token_logprobs
from emulator.generation.media import (
    DOWNLOAD_FAILED,
    EMPTY_MESSAGES,
    URL_ERROR,
    Conversation,
    Media,
    OssResolver,
    recall,
    resolve_media,
)
from emulator.generation.schemas import ROLES, ChatMessage, SamplingFields
from emulator.generation.structured import OutputFormat, check_format, instance, json_text, output_format
from emulator.generation.thinking import Thinking, check_tool_choice, decide_thinking, think
from emulator.generation.tools import answer_from_results, choose, drawn_arguments, tool_results
from emulator.ids import Ids
from emulator.rules.responses import ResponseRules
from emulator.rules.scripted import ChatView, Scripted, ToolCall, call_id
from emulator.synth.text import Memory, Reply, content_text, generate_reply, recite
from emulator.synth.toolargs import tool_arguments
from emulator.tenants import Tenant

MAX_CHOICES = 4
MAX_OUTPUT_TOKENS = 8192
LONG_CONTEXT_OUTPUT_TOKENS = 16384
MAX_SEED = 2**64 - 1
TOOL_CHOICES = ("auto", "none", "required")


@dataclass(frozen=True)
class Target:
    """The model that answers: a catalog model, or a deployment (with its fine-tune's memory)."""

    model: str
    base_model: str
    memory: Memory
    context_window: int
    vision: bool = False
    multimodal: bool = False
    thinking: str = "none"
    thinking_budget: int | None = None
    """The model's largest ``thinking_budget`` (catalog), None: the generation default."""

    @property
    def max_output_tokens(self) -> int:
        return LONG_CONTEXT_OUTPUT_TOKENS if self.context_window >= 131072 else MAX_OUTPUT_TOKENS


@dataclass(frozen=True)
class Sampling:
    seed: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    n: int = 1
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    output: OutputFormat | None = None
    """``response_format`` beyond text: the answer is JSON."""
    logprobs: int | None = None
    """``top_logprobs`` when ``logprobs`` was asked for (0: the tokens' own only), else None."""


@dataclass(frozen=True)
class Ask:
    """A checked generation request, the same for every protocol (and for a batch line)."""

    tenant: Tenant
    request_id: str
    model: str
    messages: list[dict[str, Any]]
    sampling: Sampling
    fields: SamplingFields
    stream: bool = False
    conversation: Conversation | None = None
    """Messages with media parts: the model must see them (the multimodal endpoint always sends one)."""
    oss: OssResolver | None = None
    openai: bool = False
    """The compatible mode: its 404 for an unknown model, its wording of a failed download."""
    ctx: RequestContext | None = None
    """The request's context: the response rule that answered is named on it (the journal notes it), else the
    rules that came closest are added to its near misses."""


def chat_view(ask: Ask, base_model: str | None) -> ChatView:
    """What a response rule matches on."""
    messages = ask.messages
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    last_role = messages[-1].get("role") if messages else None
    return ChatView(
        model=ask.model,
        base_model=base_model,
        tenant_id=ask.tenant.id,
        last_user_text=content_text(last_user.get("content")) if last_user is not None else "",
        tools=tuple(t for t in ask.fields.tools or () if isinstance(t, dict)),
        tool_choice=ask.fields.tool_choice,
        after_tool_result=last_role in ("tool", "function"),
        stream=ask.stream,
    )


class GenerationService:
    def __init__(
        self,
        deployments: DeploymentsService,
        fine_tunes: FineTunesService,
        *,
        seed: int | None,
        rules: ResponseRules,
        ids: Ids,
        tool_policy: bool = True,
        catalog: Catalog | None = None,
    ) -> None:
        self.server_seed = seed or 0
        """``--seed`` (0 without): what every generated text is derived from, with the request's own seed."""
        self.catalog = catalog or load_catalog()
        self._deployments = deployments
        self._fine_tunes = fine_tunes
        self._rules = rules
        self._ids = ids
        self.tool_policy = tool_policy
        """``--tool-policy``: ``auto``/``required`` call the tools a message relates to (``generation.tools``)."""

    async def resolve(self, tenant: Tenant, model: str) -> Target:
        """Unknown names answer 400 "Model not exist." (reference §12.15); a deployment that is not RUNNING and
        a fine-tuned model that was never deployed answer 400 with a message saying so."""
        info = self.catalog.get(model)
        if info is not None:
            return Target(
                model,
                info.id,
                Memory(),
                info.context_window,
                vision=info.vision,
                multimodal=serves_multimodal(info),
                thinking=thinking_mode(info.id, info),
                thinking_budget=info.thinking_budget,
            )
        served = await self._deployments.serve(tenant, model)
        if served is not None:
            base = self.catalog.get(served.base_model)
            return Target(
                model,
                served.base_model,
                served.memory,
                base.context_window if base else 8192,
                vision=bool(base and base.vision),
                multimodal=bool(base and serves_multimodal(base)),
                thinking=_fine_tune_thinking(thinking_mode(served.base_model)),
                thinking_budget=base.thinking_budget if base else None,
            )
        if await self._fine_tunes.find_model(tenant, model) is not None:
            raise InvalidParameter(
                f"Model {model} is a fine-tuned model that is not deployed: deploy it "
                "(POST /api/v1/deployments) and call it once the deployment is RUNNING.",
                param="model",
            )
        raise ModelNotExist(param="model")

    async def answer(self, ask: Ask) -> Answer:
        answer = await self._answer(ask)
        if ask.sampling.logprobs is None:
            return answer
        seed = self._ids.content_seed("logprobs", ask.sampling.seed)
        top = ask.sampling.logprobs
        choices = tuple(
            replace(c, logprobs=token_logprobs(c.content, top, seed + i)) for i, c in enumerate(answer.choices)
        )
        return replace(answer, choices=choices)

    async def _answer(self, ask: Ask) -> Answer:
        """Who answers, decided once for every protocol: a response rule (its error raised), else a call of the
        function ``tool_choice`` forces, else the model itself (a fine-tune's memory or a base model's text)."""
        try:
            target = await self.resolve(ask.tenant, ask.model)
        except ModelNotExist:
            if ask.openai:
                raise ModelNotFound(
                    f"The model `{ask.model}` does not exist or you do not have access to it.", param="model"
                ) from None
            raise
        if prompt_tokens(ask.messages) > target.context_window:  # before any rule's regex reads the prompt
            raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="messages")
        view = chat_view(ask, target.base_model)
        scripted = self._rules.answer(view, ask.request_id, ask.ctx)
        if scripted is not None:
            if scripted.error is not None:
                raise scripted.error
            return scripted_answer(ask.model, scripted, ask.messages)
        conversation = ask.conversation
        if conversation is not None:  # the model must take this media, whoever answers (a tool call too)
            try:
                await self.check_media(target, conversation, oss=ask.oss, openai=ask.openai)
            except InvalidParameter as exc:
                if ask.openai and exc.message == DOWNLOAD_FAILED:  # the compatible mode's wording (reference §1.8)
                    raise InvalidParameter(f"<400> InternalError.Algo.InvalidParameter: {DOWNLOAD_FAILED}") from None
                raise
        check_tool_choice(target.thinking, ask.sampling.enable_thinking, view.tool_choice)
        calls = self._calls(view, ask)
        if calls is not None:
            return scripted_answer(ask.model, calls, ask.messages)
        say = self._after_tools(view, ask)
        if conversation is None:
            return self.complete(target, ask.messages, ask.sampling, stream=ask.stream, say=say)
        return self.complete(target, conversation.messages, ask.sampling, media=conversation.media, stream=ask.stream)

    def _calls(self, view: ChatView, ask: Ask) -> Scripted | None:
        """The functions called: the one ``tool_choice`` names, else what the tool policy (``generation.tools``)
        picks; with the policy off, ``required`` calls the first tool.  None: the model answers in text."""
        forced = view.forced_tool()
        policy = self.tool_policy
        if forced is not None:
            functions: list[Mapping[str, Any]] = [forced]
        elif not policy or view.after_tool_result:
            first = view.tools[0].get("function") if view.tools and view.tool_choice == "required" else None
            functions = [first] if isinstance(first, dict) else []
        else:
            chosen = choose(view.tools, view.tool_choice, view.last_user_text, parallel=_parallel(ask.fields))
            functions = [t["function"] for t in chosen]
        if not functions:
            return None
        seed = self._ids.content_seed("tool", view.last_user_text)
        calls = []
        for index, function in enumerate(functions):
            name, parameters = str(function.get("name")), function.get("parameters")
            arguments = tool_arguments(name, parameters, seed)
            if policy:
                arguments = drawn_arguments(parameters, view.last_user_text, arguments)
            calls.append(ToolCall(call_id(ask.request_id, index), name, arguments))
        return Scripted(tool_calls=tuple(calls), finish_reason="tool_calls")

    def _after_tools(self, view: ChatView, ask: Ask) -> str | None:
        """The prose that uses the tools' results, when the conversation ends with them (and the policy is on)."""
        if not self.tool_policy or not view.after_tool_result or ask.sampling.output is not None:
            return None
        results = tool_results(ask.messages)
        question = next((content_text(m.get("content")) for m in reversed(ask.messages) if m.get("role") == "user"), "")
        return answer_from_results(results, question) if results else None

    def complete(
        self,
        target: Target,
        messages: Sequence[Mapping[str, Any]],
        sampling: Sampling,
        *,
        media: Sequence[Media] = (),
        stream: bool = False,
        say: str | None = None,
    ) -> Answer:
        """The model's own answer to a request, once its input is checked; ``say``: the text it answers (the
        prose after tool results), else its own."""
        if sampling.max_tokens is not None and sampling.max_tokens > target.max_output_tokens:
            raise InvalidParameter(f"Range of max_tokens should be [1, {target.max_output_tokens}]", param="max_tokens")
        thinking = decide_thinking(
            target.thinking,
            sampling.enable_thinking,
            sampling.thinking_budget,
            stream=stream,
            max_budget=target.thinking_budget,
        )
        if sampling.output is not None:
            check_format(sampling.output, target.base_model, messages, thinks=thinking.enabled)
        choices = [
            self._choice(target, messages, sampling, i, media, thinking, say, split=stream) for i in range(sampling.n)
        ]
        media_tokens: dict[str, int] = {}
        for item in media:
            media_tokens[item.kind] = media_tokens.get(item.kind, 0) + item.tokens
        input_tokens = choices[0][0].input_tokens + sum(media_tokens.values())
        if input_tokens > target.context_window:
            raise InvalidParameter(f"Range of input length should be [1, {target.context_window}]", param="messages")
        reasoning = tuple(r for _, r in choices if r is not None)
        return generated_answer(target.model, [c for c, _ in choices], reasoning, input_tokens, media_tokens)

    def _choice(
        self,
        target: Target,
        messages: Sequence[Mapping[str, Any]],
        sampling: Sampling,
        index: int,
        media: Sequence[Media],
        thinking: Thinking,
        say: str | None = None,
        *,
        split: bool = True,
    ) -> tuple[Reply, Reply | None]:
        """(answer, reasoning or None): the reasoning spends its tokens out of ``max_tokens`` first.  ``split``: the
        answer is streamed (its pieces are drawn; a whole answer is one piece, the same text)."""
        reasoning = None
        budget = sampling.max_tokens
        if thinking.enabled:
            reasoning = think(
                target.model,
                messages,
                seed=self._seed(sampling, index),
                budget=thinking.budget,
                max_tokens=budget,
                server_seed=self.server_seed,
            )
            if budget is not None:
                budget -= reasoning.output_tokens
        if say is not None:
            seed = self._seed(sampling, index)
            return recite(say, messages=messages, seed=seed, max_tokens=budget, stop=sampling.stop), reasoning
        return self._reply(target, messages, sampling, index, media, budget, split=split), reasoning

    @staticmethod
    def _seed(sampling: Sampling, index: int) -> int | None:
        return sampling.seed if index == 0 else (sampling.seed or 0) + index

    def _reply(
        self,
        target: Target,
        messages: Sequence[Mapping[str, Any]],
        sampling: Sampling,
        index: int,
        media: Sequence[Media] = (),
        max_tokens: int | None = None,
        *,
        split: bool = True,
    ) -> Reply:
        """Choice 0 is the n=1 reply; the others draw with the seed moved by their index.  A fine-tune shown an
        image of its training rows answers that row's answer."""
        seed = self._seed(sampling, index)
        if max_tokens is None:
            max_tokens = sampling.max_tokens
        if sampling.output is not None:
            return self._structured(target, messages, sampling, index, media, max_tokens)
        remembered = recall(target.memory, list(media), _last_user_text(messages)) if media else None
        if remembered is not None:
            return recite(remembered, messages=messages, seed=seed, max_tokens=max_tokens, stop=sampling.stop)
        return generate_reply(
            model=target.model,
            messages=messages,
            seed=seed,
            max_tokens=max_tokens,
            stop=sampling.stop,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            memory=target.memory,
            server_seed=self.server_seed,
            context=[m.identity for m in media] if media else None,
            split=split,
        )

    def _structured(
        self,
        target: Target,
        messages: Sequence[Mapping[str, Any]],
        sampling: Sampling,
        index: int,
        media: Sequence[Media],
        max_tokens: int | None,
    ) -> Reply:
        """A JSON answer (``structured``): cut by ``max_tokens`` and ``stop`` like any reply."""
        fmt = sampling.output
        assert fmt is not None
        seed = self._seed(sampling, index)
        prose = None
        if fmt.kind == "json_object":
            prose = self._reply(target, messages, replace(sampling, output=None), index, media, None, split=False).text
        salt = self._ids.content_seed("json", target.model, seed, self.server_seed, _last_user_text(messages))
        text = json_text(instance(fmt, messages, salt, prose))
        return recite(text, messages=messages, seed=seed, max_tokens=max_tokens, stop=sampling.stop)

    async def check_media(
        self, target: Target, conversation: Conversation, *, oss: OssResolver | None, openai: bool = False
    ) -> None:
        """A conversation with media, before anyone answers it: the model takes media, and these kinds of it; its
        references resolve (``oss://``, data URIs, URLs)."""
        model = target.model
        if not target.multimodal:
            if openai:
                raise InvalidParameter(
                    f"The model `{model}` does not support image, video or audio input; use a vision model "
                    "(qwen-vl-*).",
                    param="messages",
                )
            raise InvalidParameter(
                f"{URL_ERROR} For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url"
                f" (model {model} is not served by the multimodal endpoint)"
            )
        await resolve_media(conversation, oss=oss)
        info = self.catalog.get(target.base_model)
        refused = sorted({item.kind for item in conversation.media} - set(info.inputs)) if info else []
        if refused:  # the catalog's input modalities (an OCR model takes images only) [GUESS: the wording]
            raise InvalidParameter(
                f"The model {model} does not support {' or '.join(refused)} input.", param="input.messages"
            )


def _parallel(fields: SamplingFields) -> bool:
    return fields.parallel_tool_calls is True


def _fine_tune_thinking(base_mode: str) -> str:
    """Reference §8 q18: a deployed fine-tune thinks only when asked (its base must be able to)."""
    return "none" if base_mode == "none" else "hybrid"


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


# --------------------------------------------------------------------------------------------- request checks


def _range(ok: bool, name: str, bounds: str, prefix: str) -> None:
    if not ok:
        raise InvalidParameter(f"Range of {name} should be {bounds}", param=prefix + name)


def check_sampling(f: SamplingFields, prefix: str = "", *, max_tokens: int | None = None) -> Sampling:
    """Ranges of the shared parameters, with the service's "Range of X should be [a, b]" wording."""
    max_tokens = f.max_tokens if max_tokens is None else max_tokens
    _range(f.seed is None or 0 <= f.seed <= MAX_SEED, "seed", f"[0, {MAX_SEED}]", prefix)
    _range(max_tokens is None or max_tokens >= 1, "max_tokens", "[1, ...]", prefix)
    _range(f.temperature is None or 0 <= f.temperature < 2, "temperature", "[0.0, 2.0)", prefix)
    _range(f.top_p is None or 0 < f.top_p <= 1, "top_p", "(0.0, 1.0]", prefix)
    _range(f.top_k is None or f.top_k >= 0, "top_k", "[0, ...]", prefix)
    _range(f.n is None or 1 <= f.n <= MAX_CHOICES, "n", f"[1, {MAX_CHOICES}]", prefix)
    _range(f.repetition_penalty is None or f.repetition_penalty > 0, "repetition_penalty", "(0.0, ...)", prefix)
    _range(f.presence_penalty is None or -2 <= f.presence_penalty <= 2, "presence_penalty", "[-2.0, 2.0]", prefix)
    _range(f.thinking_budget is None or f.thinking_budget >= 1, "thinking_budget", "[1, ...]", prefix)
    _range(
        f.top_logprobs is None or 0 <= f.top_logprobs <= MAX_TOP_LOGPROBS,
        "top_logprobs",
        f"[0, {MAX_TOP_LOGPROBS}]",
        prefix,
    )
    _check_tools(f, prefix)
    output = output_format(f.response_format, prefix)
    return Sampling(
        seed=f.seed,
        max_tokens=max_tokens,
        temperature=f.temperature,
        top_p=f.top_p,
        stop=_stop_strings(f.stop),
        n=f.n or 1,
        enable_thinking=f.enable_thinking,
        thinking_budget=f.thinking_budget,
        output=output,
        logprobs=(f.top_logprobs or 0) if f.logprobs else None,
    )


def _stop_strings(stop: str | list[str] | list[list[int]] | None) -> tuple[str, ...] | None:
    """Token-id stop sequences are accepted but cannot apply to synthetic text: only strings cut a reply."""
    if stop is None:
        return None
    if isinstance(stop, str):
        return (stop,) if stop else None
    strings = tuple(s for s in stop if isinstance(s, str) and s)
    return strings or None


def _check_tools(f: SamplingFields, prefix: str) -> None:
    for i, tool in enumerate(f.tools or ()):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise InvalidParameter(
                f'{prefix}tools[{i}] must be {{"type": "function", "function": {{...}}}}.', param=f"{prefix}tools"
            )
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise InvalidParameter(f"{prefix}tools[{i}].function.name is required.", param=f"{prefix}tools")
    choice = f.tool_choice
    if isinstance(choice, str) and choice not in TOOL_CHOICES:
        raise InvalidParameter(
            f"{prefix}tool_choice must be one of {', '.join(TOOL_CHOICES)} or a function object (got {choice!r}).",
            param=f"{prefix}tool_choice",
        )
    if isinstance(choice, dict):
        function = choice.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidParameter(
                f'{prefix}tool_choice must look like {{"type": "function", "function": {{"name": ...}}}}.',
                param=f"{prefix}tool_choice",
            )


_CALL_KEYS = ("tool_calls", "tool_call_id", "name")


def check_messages(messages: list[ChatMessage], where: str) -> list[dict[str, Any]]:
    """Plain dicts for the generator; every role known, every message but an assistant's has content."""
    if not messages:
        raise InvalidParameter(EMPTY_MESSAGES, param=where)
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if message.role not in ROLES:
            raise InvalidParameter(
                f"{where}[{i}].role must be one of {', '.join(ROLES)} (got {message.role!r}).",
                param=f"{where}[{i}].role",
            )
        if message.content is None and message.role != "assistant":
            raise InvalidParameter(
                f"{where}[{i}].content is required for role {message.role}.", param=f"{where}[{i}].content"
            )
        kept: dict[str, Any] = {"role": message.role, "content": message.content or ""}
        for key in _CALL_KEYS:  # what ties a tool's result to its call (the tool policy names results by them)
            if message.model_extra and key in message.model_extra:
                kept[key] = message.model_extra[key]
        out.append(kept)
    return out


def history_messages(history: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """The deprecated ``input.history`` ``[{"user": .., "bot": ..}]`` as alternating messages."""
    out: list[dict[str, Any]] = []
    for i, turn in enumerate(history):
        user, bot = turn.get("user"), turn.get("bot")
        if not isinstance(user, str) or not isinstance(bot, str):
            raise InvalidParameter(f'{where}[{i}] must be {{"user": "...", "bot": "..."}}.', param=where)
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": bot}]
    return out
