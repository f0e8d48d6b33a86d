"""Spike inputs and run records: validation and the ``.npz`` file contract.

``in.npz`` holds an integer array ``spikes`` of shape [steps, inputs] or [batch, steps, inputs]
with values 0 or 1. ``out.npz`` holds the output layer's ``spikes`` and, per layer i,
``spikes_i``, ``u_i`` and ``v_i`` over time, with the batch axis only when the input had one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.events import NPZ_ERRORS


class InputError(ValueError):
    """Spike input that a network cannot take."""


def as_spike_batch(spikes: np.ndarray, n_inputs: int) -> tuple[np.ndarray, bool]:
    """Validate spikes and return them as uint8 [batch, steps, inputs] and whether batched."""
    arr = np.asarray(spikes)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    if arr.dtype.kind not in "iu":
        raise InputError(
            f"spikes must be an integer array of 0/1 values, got dtype {arr.dtype}; "
            "convert with spikes.astype(int) after thresholding"
        )
    if arr.ndim not in (2, 3):
        raise InputError(
            f"spikes must have shape [steps, inputs] or [batch, steps, inputs], got {arr.shape}"
        )
    batched = arr.ndim == 3
    batch = arr if batched else arr[None]
    if batch.shape[2] != n_inputs:
        raise InputError(
            f"spikes have {batch.shape[2]} inputs on the last axis but the network takes "
            f"{n_inputs}"
        )
    if batch.shape[1] == 0:
        raise InputError("spikes have 0 time steps; give at least one")
    if batch.size and (batch.min() < 0 or batch.max() > 1):
        raise InputError(
            f"spikes must be 0 or 1, got values in [{batch.min()}, {batch.max()}]"
        )
    return batch.astype(np.uint8), batched


def load_spikes(path: str | Path) -> np.ndarray:
    """Read the ``spikes`` array of an input ``.npz`` file."""
    try:
        with np.load(path) as data:
            if "spikes" not in data.files:
                raise InputError(f"{path}: no array named 'spikes' (found {data.files})")
            return data["spikes"]
    except (ValueError, *NPZ_ERRORS) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: not a readable .npz file ({exc})") from exc


@dataclass(frozen=True)
class Record:
    """What a backend recorded: per layer, spikes, u and v, each [batch, steps, neurons].

    ``u`` and ``v`` are int32 state words for the fixed-point backends and float64 values in
    the same units for floating-point ones. ``batched`` says whether the input had a batch axis.
    """

    spikes: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    v: tuple[np.ndarray, ...]
    batched: bool = True

    @property
    def output(self) -> np.ndarray:
        """Output-layer spikes."""
        return self.arrays()["spikes"]

    def arrays(self) -> dict[str, np.ndarray]:
        """The ``out.npz`` arrays, without the batch axis when the input had none."""

        def shaped(a: np.ndarray) -> np.ndarray:
            return a if self.batched else a[0]

        out = {"spikes": shaped(self.spikes[-1])}
        for i, (s, u, v) in enumerate(zip(self.spikes, self.u, self.v, strict=True)):
            out[f"spikes_{i}"] = shaped(s)
            out[f"u_{i}"] = shaped(u)
            out[f"v_{i}"] = shaped(v)
        return out

    def save(self, path: str | Path) -> None:
        """Write the ``out.npz`` file."""
        np.savez_compressed(path, **self.arrays())
