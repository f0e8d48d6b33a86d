"""Lava side of the lava backend: runs under Python 3.10 with lava-nc, imports no neuro code."""
