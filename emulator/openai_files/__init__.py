"""OpenAI-compatible Files: ``/compatible-mode/v1/files`` upload (``purpose`` batch or file-extract), list,
retrieve, delete and content (reference §9.1), over the same tenant store and quotas as the native Files API.

Ids: ``file-fe-`` + 24 hex (file-extract), ``file-batch-`` (batch input), ``file-batch_output-`` (a batch's output
and error files).  Deviations: only output files can be downloaded (the doc's rule), other ids answer 400; files
uploaded here also appear in the native list (one store).
"""
