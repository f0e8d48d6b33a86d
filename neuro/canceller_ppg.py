"""Wrist-PPG heart rate under motion: front end, canceller, heart-rate tracker, error.

The pipeline behind ``neurotwin eval ppg`` and ``benchmarks/bench_ppg.py``:

1. :class:`PPGFrontEnd` — a causal band-pass (0.4-4 Hz, 24-240 bpm with margin) of the PPG
   and accelerometer channels, and the PPG scaled so that its resting pulse (the first 8 s)
   has unit rms: PPG comes in arbitrary units, and the spiking canceller's delta steps are
   set in these units. The accelerometer stays in g.
2. A canceller (:func:`make_canceller`): ``snn`` (:class:`~neuro.canceller_snn.
   SpikingCanceller`), ``nlms``, ``rls`` or ``none``, with both PPG channels as primaries and
   the three axes as references.
3. :class:`~neuro.heart_rate.HeartRateTracker` on the two cleaned PPG channels.
4. The mean absolute error against the reference heart rate per window.

Every method gets the same front end and tracker, so that the error differences are the
cancellers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.signal

from neuro.canceller import NLMSCanceller, PassThrough, RLSCanceller
from neuro.canceller_snn import SpikingCanceller
from neuro.heart_rate import HeartRateTracker, mean_absolute_error
from sensors.records import Recording

METHODS = ("snn", "nlms", "rls", "none")
PPG_CHANNELS = ("PPG1", "PPG2")
ACC_CHANNELS = ("ACC_X", "ACC_Y", "ACC_Z")


@dataclass(frozen=True)
class PPGFrontEnd:
    """Causal band-pass of PPG and accelerometer, PPG scaled to unit resting rms.

    Args:
        band_hz: pass band, Hz.
        order: Butterworth order (of the low-pass prototype).
        calibration_s: seconds at the start whose PPG rms becomes 1.
    """

    band_hz: tuple[float, float] = (0.4, 4.0)
    order: int = 4
    calibration_s: float = 8.0

    def __call__(self, ppg: np.ndarray, acc: np.ndarray, fs: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(primary [2, n] in resting-rms units, reference [3, n] in g)."""
        sos = scipy.signal.butter(self.order, self.band_hz, "bandpass", fs=fs, output="sos")
        zi = scipy.signal.sosfilt_zi(sos)

        def bandpass(x: np.ndarray) -> np.ndarray:
            # Start from the first sample's steady state (causal): no step transient.
            x = np.atleast_2d(np.asarray(x, dtype=np.float64))
            state = zi[:, None, :] * x[None, :, :1]
            return scipy.signal.sosfilt(sos, x, axis=1, zi=state)[0]

        primary = bandpass(ppg)
        rest = primary[:, : max(2, round(self.calibration_s * fs))].std(axis=1, keepdims=True)
        if np.any(rest == 0):
            raise ValueError("a PPG channel is constant over the calibration span")
        return primary / rest, bandpass(acc)


def make_canceller(method: str, backend: str = "reference", device: Any = "hfox",
                   fs: float = 125.0, **params: Any) -> Any:
    """A canceller for ``method`` (snn, nlms, rls, none); ``backend`` and ``device`` apply to
    snn only; ``params`` override its hyperparameters."""
    if method == "snn":
        return SpikingCanceller(backend=backend, device=device, fs=fs, **params)
    if backend != "reference":
        raise ValueError(f"--backend applies to the spiking canceller only; {method} runs in "
                         "floating point")
    makers = {"nlms": NLMSCanceller, "rls": RLSCanceller, "none": PassThrough}
    if method not in makers:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    return makers[method](**params)


@dataclass
class PPGResult:
    """Heart-rate error of one recording."""

    name: str
    mae_bpm: float
    windows: int
    bpm: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)
    cleaned: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The per-recording entry of ``neurotwin eval ppg --json``."""
        return {"mae_bpm": round(self.mae_bpm, 4), "windows": self.windows}


def ppg_channels(recording: Recording) -> tuple[np.ndarray, np.ndarray]:
    """(PPG [2, n], acceleration [3, n] in g) of an SP Cup 2015 style recording."""
    return (recording.select(list(PPG_CHANNELS)).signal,
            recording.select(list(ACC_CHANNELS)).signal)


def evaluate_recording(recording: Recording, method: str = "snn", backend: str = "reference",
                       device: Any = "hfox", front_end: PPGFrontEnd | None = None,
                       tracker: HeartRateTracker | None = None, keep_signal: bool = False,
                       **params: Any) -> PPGResult:
    """Clean one recording's PPG with ``method``, track its heart rate, score it."""
    if recording.hr.size == 0:
        raise ValueError(f"{recording.name}: no reference heart rate to score against")
    ppg, acc = ppg_channels(recording)
    primary, reference = (front_end or PPGFrontEnd())(ppg, acc, recording.fs)
    canceller = make_canceller(method, backend, device, fs=recording.fs, **params)
    cleaned = canceller.fit_transform(primary, reference)
    tracker = tracker or HeartRateTracker(fs=recording.fs)
    bpm = tracker.predict(cleaned)
    truth = recording.hr["bpm"]
    if bpm.size != truth.size:
        raise ValueError(f"{recording.name}: {bpm.size} windows of 8 s at a 2-s step but "
                         f"{truth.size} reference values")
    return PPGResult(recording.name, mean_absolute_error(bpm, truth), int(truth.size), bpm,
                     truth, cleaned if keep_signal else None)


def summarise(results: list[PPGResult]) -> dict[str, Any]:
    """``mae_bpm`` over all windows of all recordings and the per-recording entries."""
    errors = np.concatenate([np.abs(r.bpm - r.truth) for r in results]) if results else []
    return {"mae_bpm": round(float(np.mean(errors)), 4) if len(errors) else float("nan"),
            "recordings": {r.name.split(":", 1)[-1]: r.to_json() for r in results}}
