"""Address-events: the one structured dtype that encoders produce and neuro, bridge and host take.

An event array is a 1-D numpy structured array with fields, in tonic's convention for 1-D
sensors:

- ``t``: timestamp in microseconds (int64), the instant of the sample that caused the event
  (for the interpolating coders of ``sensors.interp``, of the knot that the event places);
- ``x``: the address (uint16): the channel, or for level-crossing the (channel, level) pair,
  for graded delta and the interpolating coders (channel, step size in units);
- ``p``: polarity (int8): ``UP`` (1) for a rise / ON event, ``DOWN`` (0) for a fall / OFF event
  (the interpolating coders send a knot with no change as UP with a step of 0).

Events are ordered by ``t`` and, within one timestamp, by ``x``. A file holds the array under
``events`` plus plain metadata arrays (sample rate, encoder parameters); see :func:`save_events`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

EVENT_DTYPE = np.dtype([("t", "<i8"), ("x", "<u2"), ("p", "i1")])
UP = 1
DOWN = 0
MAX_ADDRESS = np.iinfo(np.uint16).max
# What np.load raises on a file that is not a readable .npz (missing, truncated, not a zip).
NPZ_ERRORS = (OSError, EOFError, zipfile.BadZipFile)


def make_events(t: np.ndarray, x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """An event array from equal-length timestamps (µs), addresses and polarities."""
    t, x, p = np.asarray(t), np.asarray(x), np.asarray(p)
    if not t.shape == x.shape == p.shape or t.ndim != 1:
        raise ValueError(f"t, x, p must be 1-D of one length, got {t.shape}, {x.shape}, {p.shape}")
    if x.size and (x.min() < 0 or x.max() > MAX_ADDRESS):
        raise ValueError(f"addresses must lie in 0..{MAX_ADDRESS}, got {x.min()}..{x.max()}")
    events = np.empty(t.size, EVENT_DTYPE)
    events["t"], events["x"], events["p"] = t, x, p
    return events


def sample_times_us(index: np.ndarray, fs: float) -> np.ndarray:
    """Timestamps in µs (int64, rounded) of sample indices at ``fs`` Hz."""
    return np.rint(np.asarray(index, dtype=np.float64) * (1e6 / fs)).astype(np.int64)


def sample_index(events: np.ndarray, fs: float) -> np.ndarray:
    """The sample index (int64) at ``fs`` Hz of each event; inverse of :func:`sample_times_us`."""
    return np.rint(events["t"] * (fs / 1e6)).astype(np.int64)


def to_raster(events: np.ndarray, fs: float, n_samples: int, n_addresses: int,
              *, binary: bool = True) -> np.ndarray:
    """Events as spike counts [n_samples, 2 * n_addresses]: column 2x holds UP, 2x + 1 DOWN.

    With ``binary`` the counts are clipped to 1 (the 0/1 spike input that neuro takes); a sample
    that crossed k levels of a delta encoder then shows one spike.
    """
    idx = sample_index(events, fs)
    if idx.size and (idx.min() < 0 or idx.max() >= n_samples):
        raise ValueError(f"events span samples {idx.min()}..{idx.max()}, "
                         f"outside 0..{n_samples - 1}")
    if events.size and int(events["x"].max()) >= n_addresses:
        raise ValueError(f"event address {int(events['x'].max())} >= n_addresses {n_addresses}")
    column = 2 * events["x"].astype(np.int64) + (events["p"] != UP)
    counts = np.bincount(idx * (2 * n_addresses) + column, minlength=n_samples * 2 * n_addresses)
    raster = counts.reshape(n_samples, 2 * n_addresses)
    return np.minimum(raster, 1).astype(np.uint8) if binary else raster


def concatenate(chunks: list[np.ndarray]) -> np.ndarray:
    """Event arrays of consecutive chunks as one array (each already ordered)."""
    return np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE)


def save_events(path: str | Path, events: np.ndarray, **metadata: object) -> None:
    """Write ``events`` and plain metadata arrays (numbers, strings) to an ``.npz`` file."""
    if events.dtype != EVENT_DTYPE:
        raise ValueError(f"events must have dtype {EVENT_DTYPE}, got {events.dtype}")
    if "events" in metadata:
        raise ValueError("'events' is reserved for the event array")
    arrays = {key: np.asarray(value) for key, value in metadata.items()}
    if any(a.dtype == object for a in arrays.values()):
        raise ValueError("metadata must be numbers or strings (no objects)")
    np.savez(path, events=events, **arrays)


def load_events(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read an event file written by :func:`save_events`: the events and the metadata arrays."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "events" not in data.files:
                raise ValueError(f"{path}: no array named 'events' (found {data.files})")
            events = data["events"]
            metadata = {key: data[key] for key in data.files if key != "events"}
    except NPZ_ERRORS as exc:
        raise OSError(f"{path}: cannot read event file ({exc})") from exc
    if events.dtype.names is None or not {"t", "x", "p"} <= set(events.dtype.names):
        raise ValueError(f"{path}: 'events' must be a structured array with fields t, x, p, "
                         f"got dtype {events.dtype}")
    return events.astype(EVENT_DTYPE), metadata
