"""The rule books every public request consults, set through ``/_emulator`` but living below the resources.

``faults`` (with its schemas in ``fault_schemas``) makes requests fail, wait or break mid-stream; ``responses``
(schemas in ``response_schemas``) scripts what a model answers.  The gateway and the generation service read
them; the control plane (``emulator.control``) only edits them.  Nothing here imports a resource or the control
plane.
"""
