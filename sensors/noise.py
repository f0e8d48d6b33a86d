"""Seeded Gaussian noise streams that give the same samples in chunks as in one call.

Generating normal variates (ziggurat) costs more than the rest of a front-end chain, so the
stream draws raw 64-bit words from the generator's bit generator and reads each as four 16-bit
indices into a table of the standard normal quantiles at (i + 0.5) / 65536, scaled to unit
variance. The distribution is the normal law sampled at 65 536 equiprobable points: exact to
within 1.5e-5 in probability, with tails cut at ±4.3 σ (a true normal lies beyond with
probability 1.7e-5). Indices left over at the end of a chunk are kept for the next one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.special import ndtri


@cache
def _quantile_table() -> np.ndarray:
    table = ndtri((np.arange(1 << 16) + 0.5) / (1 << 16))
    return table / np.sqrt(np.mean(table**2))


@dataclass
class GaussianNoise:
    """White Gaussian noise [n_channels, samples] with mean ``loc`` and rms ``scale``.

    Each channel draws from its own child generator (``Generator.spawn``), so a chunk is one
    contiguous draw per channel and chunking does not change the samples.

    Args:
        n_channels: channels per sample.
        random_state: seed or ``numpy.random.Generator`` (its children are spawned);
            ``reset()`` restarts every channel's stream.
        scale, loc: rms about the mean and mean, in the caller's unit.
    """

    n_channels: int
    random_state: int | np.random.Generator | None = None
    scale: float = 1.0
    loc: float = 0.0

    def __post_init__(self) -> None:
        if self.n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {self.n_channels}")
        children = np.random.default_rng(self.random_state).spawn(self.n_channels)
        self.children0_ = [copy.deepcopy(child.bit_generator) for child in children]
        self.table_ = self.loc + self.scale * _quantile_table()
        self.reset()

    def reset(self) -> GaussianNoise:
        """Restart the stream."""
        self.bits_ = [copy.deepcopy(bits) for bits in self.children0_]
        self.spare_ = np.empty((self.n_channels, 0), np.uint16)
        return self

    def __call__(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples of every channel, [n_channels, n_samples] float64."""
        kept = self.spare_.shape[1]
        words = max(0, -(-(n_samples - kept) // 4))
        index = np.empty((self.n_channels, kept + 4 * words), np.uint16)
        index[:, :kept] = self.spare_
        for row, bits in zip(index, self.bits_, strict=True):
            row[kept:] = bits.random_raw(words).view(np.uint16)
        self.spare_ = index[:, n_samples:].copy()
        return self.table_[index[:, :n_samples]]
