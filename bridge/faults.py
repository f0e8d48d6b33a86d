"""Fault injection on a byte stream: drop, corrupt, duplicate and reorder bytes.

A small seeded callable (tonic style) that hands back a damaged copy of each chunk and
counts what it did, for testing links and the devices behind them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ByteFaults:
    """Each byte independently: dropped with ``p_drop``, XOR-ed with a random non-zero value
    with ``p_corrupt``, sent twice with ``p_duplicate``, swapped with the next byte with
    ``p_reorder``."""

    p_drop: float = 0.0
    p_corrupt: float = 0.0
    p_duplicate: float = 0.0
    p_reorder: float = 0.0
    random_state: int | np.random.Generator | None = None
    counters: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for name in ("p_drop", "p_corrupt", "p_duplicate", "p_reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        self._rng = np.random.default_rng(self.random_state)

    def __call__(self, data: bytes) -> bytes:
        b = np.frombuffer(data, np.uint8).copy()
        n = b.size
        if n == 0:
            return b""
        rng = self._rng
        corrupt = rng.random(n) < self.p_corrupt
        b[corrupt] ^= rng.integers(1, 256, corrupt.sum(), dtype=np.uint8)
        swap = np.flatnonzero(rng.random(n - 1) < self.p_reorder)
        swap = swap[np.diff(swap, prepend=-2) > 1]  # non-overlapping pairs
        b[swap], b[swap + 1] = b[swap + 1].copy(), b[swap].copy()
        repeat = np.where(rng.random(n) < self.p_duplicate, 2, 1)
        repeat[rng.random(n) < self.p_drop] = 0
        self.counters.update(corrupted=int(corrupt.sum()), reordered=int(swap.size),
                             duplicated=int((repeat == 2).sum()),
                             dropped=int((repeat == 0).sum()))
        return np.repeat(b, repeat).tobytes()
