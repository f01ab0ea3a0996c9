"""The test-control plane under ``/_emulator/``: clock, forced statuses, faults, journal, snapshot, seed.

Kept import-light: ``emulator.runtime`` imports the faults and journal modules from here.
"""
