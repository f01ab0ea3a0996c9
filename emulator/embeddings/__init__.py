"""Embeddings and rerank.

Endpoints: ``POST /api/v1/services/embeddings/text-embedding/text-embedding`` (text-embedding-v1..v4,
qwen3.7-text-embedding; with ``X-DashScope-Async: enable`` and text-embedding-async-v1/v2 a batch task, see
``emulator.tasks``), ``POST /api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``,
``POST /compatible-mode/v1/embeddings``, ``POST /api/v1/services/rerank/text-rerank/text-rerank`` and
``POST /compatible-api/v1/reranks``.

Deviations: vectors are hashed word and n-gram features (``emulator.synth.vectors``), not a neural model: they
mean what shared words mean, nothing more; ``text_type`` and ``instruct`` are accepted and do not change them.
Media are never fetched (an image's vector comes from its reference).  Messages of errors nobody recorded follow
the recorded ones' pattern (reference §6.5, §7.4).
"""
