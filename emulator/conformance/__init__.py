"""Conformance: recorded exchanges with the real service, replayed against an emulator and compared by structure.

``corpus`` reads and writes exchanges (one JSON file each) and redacts secrets; ``shape`` compares two answers by
structure, never by value; ``replay`` prepares what an exchange needs on an emulator, sends it and compares;
``record`` is a forwarding proxy that writes what it forwards in the corpus format.
"""
