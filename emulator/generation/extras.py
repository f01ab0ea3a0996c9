"""Model- and plugin-specific parts of a native answer that the recordings show (cnblogs RawHttpData):

- ``enable_search``: ``output.search_info`` (``search_results`` with ``enable_source``, ``extra_tool_info`` with
  ``enable_search_extension``) on every frame, and ``usage.plugins.search`` ``{count, strategy}``;
- ``enable_code_interpreter``: ``output.tool_info`` ``[{"code_interpreter": {"code"}, "type"}]`` on the final frame
  and ``usage.plugins.code_interpreter.count``;
- translation models (``qwen-mt-*``): ``output.model_name`` and ``output.finish_reason`` beside ``choices``;
- OCR models with ``ocr_options.task``: an ``ocr_result`` part (``words_info`` or ``kv_result``) beside the text.

Everything is synthetic and deterministic (a function of the request): the structure is the service's, the
values are made up. ``decorate`` edits one answer (or one stream frame) in place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from emulator.catalog import ModelInfo

THINKS = ("hybrid-on", "on", "always")

_SITES = (
    ("https://example.com/news", "Example News"),
    ("https://wiki.example.org/entry", "Example Wiki"),
    ("https://blog.example.net/post", "Example Blog"),
)


def wanted(parameters: Mapping[str, Any], model: ModelInfo | None) -> bool:
    """Whether ``decorate`` has anything to add for this request (most requests: nothing, and no cost)."""
    return bool(
        parameters.get("enable_search") is True
        or parameters.get("enable_code_interpreter") is True
        or model is not None
        and (model.kind == "mt" or model.kind == "ocr" and isinstance(parameters.get("ocr_options"), Mapping))
    )


def decorate(
    chunk: dict[str, Any], parameters: Mapping[str, Any], model: ModelInfo | None, *, final: bool, question: str
) -> dict[str, Any]:
    """``chunk`` (``{"output", "usage"}``) with the parts this request's plugins and model add."""
    output = chunk.setdefault("output", {})
    usage = chunk.setdefault("usage", {})
    plugins: dict[str, Any] = {}
    if parameters.get("enable_search") is True:
        options = parameters.get("search_options")
        options = options if isinstance(options, Mapping) else {}
        output["search_info"] = search_info(options, question)
        plugins["search"] = {"count": 1, "strategy": str(options.get("search_strategy") or "turbo")}
        if parameters.get("enable_text_image_mixed") is True:
            plugins["image_search"] = {"count": 1 + len(question) % 4}
    if parameters.get("enable_code_interpreter") is True and final:
        output["tool_info"] = [{"code_interpreter": {"code": _code(question)}, "type": "code_interpreter"}]
        plugins["code_interpreter"] = {"count": 1}
    if plugins and (final or "search" in plugins):
        usage["plugins"] = plugins
    if model is not None and model.kind == "mt":
        choices = output.get("choices")
        if isinstance(choices, list) and choices:
            output["finish_reason"] = choices[0].get("finish_reason", "stop")
        output["model_name"] = model.id
    if model is not None and model.kind == "ocr" and final:
        _ocr(output, parameters.get("ocr_options"))
    return chunk


def decorate_stream(
    chunks: Iterator[dict[str, Any]], parameters: Mapping[str, Any], model: ModelInfo | None, question: str
) -> Iterator[dict[str, Any]]:
    """Every frame decorated; the last one knows it is the last (one frame of look-ahead)."""
    previous: dict[str, Any] | None = None
    options = parameters.get("search_options")
    prepend = (
        parameters.get("enable_search") is True
        and isinstance(options, Mapping)
        and options.get("prepend_search_result") is True
    )
    for chunk in chunks:
        if prepend:
            yield _search_frame(chunk, options, question)  # type: ignore[arg-type]
            prepend = False
        if previous is not None:
            yield decorate(previous, parameters, model, final=False, question=question)
        previous = chunk
    if previous is not None:
        yield decorate(previous, parameters, model, final=True, question=question)


def _search_frame(first: Mapping[str, Any], options: Mapping[str, Any], question: str) -> dict[str, Any]:
    """``prepend_search_result``: a frame of its own, before the text, with the sources and an empty usage."""
    choices = []
    for choice in first.get("output", {}).get("choices", []):
        message = dict(choice.get("message", {}))
        message["content"] = [] if isinstance(message.get("content"), list) else ""
        message.pop("reasoning_content", None)
        choices.append({**choice, "message": message, "finish_reason": "null"})
    results = search_info(options, question)["search_results"]
    return {"output": {"choices": choices, "search_info": {"search_results": results}}, "usage": {}}


def default_result_format(model: ModelInfo | None, thinking: str, enable_thinking: bool | None) -> str:
    """``result_format`` when the request names none: ``message`` for a model that thinks by default (``thinking``,
    the answering target's mode: a deployed fine-tune thinks only when asked), the third-party ones, and any call
    that turns thinking on (recorded: deepseek-v4-pro answers ``choices`` unasked); else ``text``."""
    if enable_thinking is not None:
        return "message" if enable_thinking else "text"
    if thinking in THINKS:
        return "message"
    if model is not None and thinking != "none" and model.family in ("deepseek", "kimi", "glm", "minimax"):
        return "message"
    return "text"


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def search_info(options: Mapping[str, Any], question: str) -> dict[str, Any]:
    digest = hashlib.sha256(question.encode()).hexdigest()
    results = []
    if options.get("enable_source") is not False:
        for index, (url, site) in enumerate(_SITES, 1):
            results.append(
                {
                    "icon": f"{url.split('/')[0]}//{url.split('/')[2]}/favicon.ico",
                    "index": index,
                    "site_name": site,
                    "title": f"{question[:40]} - {site}",
                    "url": f"{url}/{digest[index * 6 : index * 6 + 12]}",
                }
            )
    extra = []
    if options.get("enable_search_extension") is True:
        extra.append({"result": f"{question[:60]}: synthetic data {digest[:8]}", "tool": "search"})
    return {"extra_tool_info": extra, "search_results": results}


def _code(question: str) -> str:
    digits = "".join(c for c in question if c.isdigit())[:6] or "1"
    return f"print({digits} * 2)"


def _ocr(output: dict[str, Any], options: Any) -> None:
    if not isinstance(options, Mapping):
        return
    task = options.get("task")
    if task == "key_information_extraction":
        result: dict[str, Any] = {"kv_result": {"field": "value"}}
    elif task in ("advanced_recognition", "text_recognition", "multi_lan", "document_parsing", "table_parsing"):
        result = {
            "words_info": [
                {"location": [0, 0, 100, 0, 100, 20, 0, 20], "rotate_rect": [50, 10, 20, 100, 0], "text": "TEXT"}
            ]
        }
    else:
        return
    for choice in output.get("choices", []):
        content = choice.get("message", {}).get("content")
        if isinstance(content, list) and content and isinstance(content[0], dict):
            content[0] = {"ocr_result": result, **content[0]}
