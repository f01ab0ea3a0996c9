"""One renderer per protocol: an ``Answer`` in, a body or lazily produced stream chunks out.

``native`` (text generation, ``result_format`` text or message, incremental or cumulative streams),
``multimodal`` (the multimodal endpoint's content parts and 2025 usage), ``compatible`` (OpenAI chat
completions).  No renderer sees a request: each takes the answer and the protocol's options, so batch lines and
the HTTP routes share them.
"""
