"""The test-control plane under ``/_emulator/``: clock, forced statuses, faults, journal, snapshot, seed.

``service`` holds its domain (plain functions on the runtime) for the ``routes``, the dashboard's actions and
the ``seed`` command; ``guard`` is the server-wide Host/Origin check and the admin token; ``paths`` confines
the files the control plane touches.  Kept import-light: ``emulator.runtime`` imports the faults and journal
modules from here.
"""
