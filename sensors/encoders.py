"""Spike encoders: sampled signals to spike trains."""

from __future__ import annotations

import numpy as np


def delta_encode(signal: np.ndarray, threshold: float) -> np.ndarray:
    """Delta modulation: an UP (DOWN) spike whenever the signal has risen (fallen) by
    ``threshold`` since the last spike of that channel.

    Args:
        signal: [channels, samples], any unit.
        threshold: step in the signal's unit (> 0).

    Returns:
        uint8 spikes [samples, 2 * channels]: columns 2c (UP) and 2c + 1 (DOWN) of channel c.
        At most one spike per channel and sample; a larger jump is tracked over later samples.
    """
    x = np.asarray(signal, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"signal must be [channels, samples], got shape {x.shape}")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    if not np.all(np.isfinite(x)):
        raise ValueError("signal holds NaN or infinite samples; interpolate or drop them first")
    channels, samples = x.shape
    out = np.zeros((samples, 2 * channels), np.uint8)
    level = x[:, 0].copy()
    # The tracked level depends on every earlier spike, so time is sequential;
    # channels are vectorised.
    for t in range(1, samples):
        up = x[:, t] - level >= threshold
        down = level - x[:, t] >= threshold
        level += threshold * (up.astype(float) - down)
        out[t, 0::2] = up
        out[t, 1::2] = down
    return out
