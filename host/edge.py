"""The edge stage the demo streams through the bridge: a one-neuron spiking R-wave detector.

Input: the delta events of one ECG lead (0.05 mV steps; UP and DOWN as two inputs, one
spike per step at most). The neuron sums both (|slope| events), with no current memory
(du = 1) and a voltage leak of 20% per step (a 14-ms time constant at 360 Hz), and fires when
about six steps in a row carry an event: the steep QRS complex does, the slower P and T waves
do not. The host keeps the first spike of each burst and ignores spikes for 350 ms after it
(the refractory period of the decoder), which gives one beat per QRS.

Tuned on the shipped MIT-BIH excerpts (threshold 4, refractory 350 ms): records 100 and 208,
120 s each, every annotated beat found within 150 ms with one extra detection in 208
(``tests/host/test_edge.py``); no claim beyond those.
"""

from __future__ import annotations

import numpy as np

from host.storage import Event
from neuro import FixedNetwork, FloatLayer, FloatNetwork, quantise

DELTA_MV = 0.05
THRESHOLD = 4.0
REFRACTORY_S = 0.35


def rwave_network(fs: float = 360.0) -> FixedNetwork:
    """The detector: 2 inputs (UP, DOWN of one lead) -> 1 LIF neuron."""
    layer = FloatLayer(np.array([[1.0, 1.0]]), du=1.0, dv=0.2, vth=THRESHOLD)
    return quantise(FloatNetwork((layer,), dt=1 / fs))


def beat_samples(spikes: np.ndarray, fs: float, start: int = 0,
                 last_beat: int | None = None) -> np.ndarray:
    """Sample indices of beats from the detector's output spikes [steps] (offset ``start``):
    the first spike of each burst, ``REFRACTORY_S`` apart (``last_beat``: the previous chunk's
    last beat, so that chunks give the same beats as one run)."""
    beats: list[int] = []
    last = last_beat
    for t in np.flatnonzero(spikes) + start:
        if last is None or t - last > REFRACTORY_S * fs:
            beats.append(int(t))
            last = int(t)
    return np.array(beats, np.int64)


def beat_events(subject: str, samples: np.ndarray, fs: float, t0: float, source: str,
                classes: np.ndarray | None = None) -> list[Event]:
    """Beats as storage events: time ``t0`` + sample / fs (s), name = the beat's class (or
    "beat" when unclassified), seq = the sample index."""
    names = classes if classes is not None else np.full(samples.size, "beat")
    return [Event(subject, t0 + s / fs, "beat", str(c), 1.0, source, int(s))
            for s, c in zip(samples, names, strict=True)]


def heart_rate(samples: np.ndarray, fs: float) -> float:
    """Mean heart rate (bpm) from beat sample indices: 60 / median RR."""
    if samples.size < 2:
        return float("nan")
    return float(60.0 / np.median(np.diff(samples) / fs))
