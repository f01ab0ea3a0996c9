"""Pure, deterministic generators: no I/O, no clock, no globals."""
