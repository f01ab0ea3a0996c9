"""The models list: ``GET /api/v1/models`` (``page_no``/``page_size``, ``?model=``) and ``GET /api/v1/models/{name}``.

Covered: base models from the catalogue (``emulator.catalog``, read through its accessors) and the embedding and
rerank models (``emulator.embeddings.specs``), each with its capabilities; then the tenant's own models: its
SUCCEEDED fine-tunes' outputs, its exported checkpoints and its RUNNING deployments (``source: "custom"``).
Deviations: no recorded bytes exist for an item (reference §5.1), so the fields are those the clients read
(``model``, ``source``, ``provider``, ``opensource``) plus ``name``, ``capabilities`` and, for custom models,
``base_model``.  The path form (1.20.11's ``Models.get``) is served although the real service now 404s on it.
"""
