"""Deployments: create, list, get, scale, delete under ``/api/v1/deployments``, and ``GET /deployments/models``.

Deviations from the real service: progression is synthetic (PENDING 30 s, DEPLOYING max(60 s, 20 s × capacity)
with ``ready_capacity`` +1 every 20 s, DELETING 10 s, all emulated); FAILED is reachable only through the control
plane; ``base_capacity`` is the capacity asked at creation and scaling takes any capacity from 1 to the limit
(no multiple-of-base rule); ``plan`` is optional (``lora`` for fine-tuned models, ``mu`` for base models); a base
model deploys as ``{model}-{8 hex}[-{suffix}]``; ``/stream`` sends a status snapshot at each change (emulated
time) until RUNNING, FAILED or gone; the legacy version update is not emulated.
"""

MODEL_SOURCES = ("base", "custom")
"""``GET /deployments/models``' ``model_source`` values."""
MODELS_VERSIONS = ("v1.0",)
"""The deployable-models listing's versioned form (``?version=v1.0``)."""
LIST_DEFAULT_SIZE = 50
LIST_MAX_SIZE = 200
"""Deployment lists: the page size when none is given, and the largest (bigger ones are clamped)."""
