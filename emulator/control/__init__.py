"""The test-control plane under ``/_emulator/``: clock, forced statuses, faults, journal, snapshot, seed.

``routes`` is its route table, ``handlers`` the HTTP adapters, ``service`` its domain (plain functions on the
runtime) for the handlers, the dashboard's actions and the ``seed`` command; ``paths`` confines the files it
touches, ``snapshot`` and ``seed`` are its heavier operations.  The rule books and the journal it edits live below
the resources (``emulator.rules``, ``emulator.journal``), the Host/Origin guard beside the gateway
(``emulator.guard``): nothing below the resources imports this package.
"""
