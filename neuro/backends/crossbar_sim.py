"""The ``crossbar`` backend: synapses on a simulated memristive crossbar (neuro.crossbar).

Every layer's weights are programmed onto crossbar tiles of the chosen device preset; each
step the tiles read the previous step's spikes and their ADC outputs, in the Dense output's
integer units, feed the reference's own fixed-point CUBA-LIF (``reference.integrate``). The
``ideal`` preset therefore reproduces the reference bit for bit; the others add the device
and periphery non-idealities of their preset.

The energy and latency estimate goes to standard error as one line unless ``summary=False``;
:func:`simulate` returns it (and the per-layer activations) with the record.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from neuro.crossbar import CrossbarNetwork, CrossbarRun
from neuro.network import FixedNetwork
from neuro.record import Record


def simulate(
    network: FixedNetwork,
    spikes: np.ndarray,
    device: Any = "ideal",
    seed: int | None = 0,
    t_start: float | None = None,
    dtype: type = np.float64,
) -> CrossbarRun:
    """Program ``network`` onto crossbars of ``device`` and run uint8 spikes [batch, steps, in].

    Args:
        device: preset name (``ideal``, ``hfox``, ``taox``, ``pcm``), a ``.json`` preset file,
            a dict or a :class:`~neuro.crossbar_presets.DevicePreset`.
        seed: seed of programming, variability and noise (same seed, same run).
        t_start: time since programming at the first step (s); default the preset's drift
            reference time t0.
        dtype: float type of the analog read path.
    """
    xbar = CrossbarNetwork(network, device, seed=seed, dtype=dtype)
    return xbar.run(spikes, t_start=t_start)


def run(
    network: FixedNetwork,
    spikes: np.ndarray,
    device: Any = "ideal",
    seed: int | None = 0,
    t_start: float | None = None,
    summary: bool = True,
) -> Record:
    """Backend entry point (see :func:`simulate`); prints the estimate line unless told not to."""
    result = simulate(network, spikes, device, seed=seed, t_start=t_start)
    if summary:
        name = getattr(device, "name", device)
        print(f"crossbar[{name}]: {result.estimate.summary()}", file=sys.stderr)
    return result.record
