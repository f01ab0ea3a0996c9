"""Generation: native text (``POST /api/v1/services/aigc/text-generation/generation``, JSON and SSE), native
multimodal (``.../multimodal-generation/generation``), the OpenAI-compatible ``POST /compatible-mode/v1/chat/
completions`` (+ stream, with image parts), ``GET /compatible-mode/v1/models`` and ``POST /api/v1/tokenizer``.

Deviations from the real service: replies are synthetic (``synth/text.py``: deterministic Faker prose in the
prompt's language; a deployed fine-tune reuses its training answers, a VL fine-tune by image); media are never
fetched (``media.py``); reasoning is synthetic prose under ``thinking_budget`` (``thinking.py``); ``tools``
yield a call only when ``tool_choice`` forces one (arguments from its JSON schema, ``synth/toolargs.py``) or a
response rule scripts it (``/_emulator/responses``); ``enable_search``, ``logprobs`` and ``response_format``
are validated but change nothing (no search); token-id ``stop`` lists are accepted but only string stops cut a
reply; ``n`` > 1 needs ``result_format: message`` on the native text endpoint.
"""
