"""Checks and unit conversions shared by every stage: [channels, samples] float signals."""

from __future__ import annotations

import numpy as np

# Unit -> (quantity's base unit, factor to it). "a.u." (arbitrary units) converts to nothing.
UNITS: dict[str, tuple[str, float]] = {
    "V": ("V", 1.0), "mV": ("V", 1e-3), "uV": ("V", 1e-6), "µV": ("V", 1e-6),
    "g": ("g", 1.0), "mg": ("g", 1e-3),
    "A": ("A", 1.0), "uA": ("A", 1e-6), "nA": ("A", 1e-9), "pA": ("A", 1e-12),
    "Pa": ("Pa", 1.0), "mPa": ("Pa", 1e-3),
}


def as_signal(signal: np.ndarray, n_channels: int | None = None) -> np.ndarray:
    """Validate a [channels, samples] float signal (finite, right channel count)."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"signal must be [channels, samples], got shape {x.shape}")
    if n_channels is not None and x.shape[0] != n_channels:
        raise ValueError(f"signal has {x.shape[0]} channels, the stream was started with "
                         f"{n_channels}; call reset() to start a new stream")
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"signal holds NaN or infinite samples (first at channel {bad[0]}, "
                         f"sample {bad[1]}); interpolate or drop them first")
    return x


def unit_factor(unit: str, to: str) -> float:
    """Factor that converts values in ``unit`` to ``to`` (same quantity), e.g. mV -> V: 1e-3."""
    if unit not in UNITS or to not in UNITS:
        unknown = unit if unit not in UNITS else to
        raise ValueError(f"unit {unknown!r} has no physical scale (known: {', '.join(UNITS)})")
    (base_from, f_from), (base_to, f_to) = UNITS[unit], UNITS[to]
    if base_from != base_to:
        raise ValueError(f"cannot convert {unit} ({base_from}) to {to} ({base_to})")
    return f_from / f_to


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """10 log10 of the power ratio of two signals, each about its own mean (all channels)."""
    s = np.asarray(signal, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    ps = np.mean((s - s.mean(axis=-1, keepdims=True)) ** 2)
    pn = np.mean((n - n.mean(axis=-1, keepdims=True)) ** 2)
    return float(10 * np.log10(ps / pn))
