"""Files: ``POST/GET /api/v1/files``, ``GET/DELETE /api/v1/files/{file_id}`` (+ ``/content``).

Deviations from the real service: ``url`` points at this server's ``/content`` route instead of a signed
OSS URL; content checks of fine-tune datasets happen at upload (see ``datasets.py`` for what is refused).
"""
