"""The request journal: ``recorder`` keeps the last public requests (the gateway feeds it), ``schemas`` is one
entry as ``GET /_emulator/requests`` lists it.  Below the resources: nothing here imports a resource or the
control plane."""
