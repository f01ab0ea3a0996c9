"""Text generation: native ``POST /api/v1/services/aigc/text-generation/generation`` (JSON and SSE) and the
OpenAI-compatible ``POST /compatible-mode/v1/chat/completions`` (+ stream), ``GET /compatible-mode/v1/models``.

Deviations from the real service: replies are synthetic (``synth/text.py``: deterministic Faker prose in the
prompt's language; a deployed fine-tune reuses its training answers); ``tools``, ``enable_search``,
``enable_thinking``, ``logprobs`` and ``response_format`` are validated but change nothing (no tool calls,
no search, no reasoning content); token-id ``stop`` lists are accepted but only string stops cut a reply;
``n`` > 1 needs ``result_format: message`` on the native endpoint; the multimodal endpoint is not emulated.
"""
