"""Generation: native text (``POST /api/v1/services/aigc/text-generation/generation``, JSON and SSE), native
multimodal (``.../multimodal-generation/generation``), the OpenAI-compatible ``POST /compatible-mode/v1/chat/
completions`` (+ stream, with image parts), the Responses API (``/compatible-mode/v1/responses``), ``GET
/compatible-mode/v1/models`` and ``POST /api/v1/tokenizer``.

Every endpoint asks ``GenerationService.answer`` (which decides once who answers: a response rule, a named or
policy tool call (``tools.py``), a fine-tune's memory or the base model, as text or as JSON (``structured.py``))
for an ``answer.Answer``, and renders it through its protocol's renderer (``renderers/``): native text,
multimodal, compatible chat, Responses.  ``compatible.chat_completion`` is the same without HTTP (batch lines).

Deviations from the real service: replies are synthetic (``synth/text.py``: deterministic Faker prose in the
prompt's language; a deployed fine-tune reuses its training answers, a VL fine-tune by image); media are never
fetched (``media.py``); reasoning is synthetic prose under ``thinking_budget`` (``thinking.py``); tool calls
follow a documented word-overlap policy, not a model's judgement (``tools.py``); logprobs are synthetic numbers
on the tokenizer's tokens (``logprobs.py``); ``enable_search`` and hosted Responses tools are accepted and not
run; token-id ``stop`` lists are accepted but only string stops cut a reply; ``n`` > 1 needs ``result_format:
message`` on the native text endpoint.  See ``docs/structured-output-and-tools.md``.
"""

RESPONSES_MAX_ITEMS_PAGE = 100
"""The largest page of a stored response's input items (``limit``): the handler's bound and the document's."""
