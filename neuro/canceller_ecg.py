"""ECG under modelled motion: mixtures, cancellers tuned for 360 Hz, SNR and beat detection.

The other half of the canceller's evaluation (issue 7): clean MIT-BIH ECG plus an electrode
motion artefact from :class:`sensors.artefacts.MotionArtefact` (ECG coupling: skin stretch
follows the jerk of the acceleration, with electrode-motion-like steps) at a set SNR, with the
3-axis accelerometer that drives it as the reference. The NSTDB electrode-motion records
(118e06, 118e24) carry no reference channel, so no adaptive canceller applies to them; they
serve as the "before" of beat detection only.

The spiking canceller's settings follow the PPG ones with the same time constants at 360 Hz
(the current leak and the step size per second) and a coarser primary delta step, since a
QRS complex moves about 2.5 resting rms per sample and the thermometer code carries 16 steps:
:data:`ECG_SNN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.signal

from neuro.canceller import NLMSCanceller, PassThrough, RLSCanceller
from neuro.canceller_snn import SpikingCanceller
from sensors.artefacts import MotionArtefact, corrupt
from sensors.records import Recording

# Spiking canceller at 360 Hz: du = 10 keeps the ~1-s leak of du = 31 at 125 Hz, and 384
# events per pulse keep the PPG's pulses per second; taps 8 ms apart cover the coupling's
# 10-Hz band.
ECG_SNN = {"taps": 16, "tap_spacing": 3, "primary_threshold": 0.2, "primary_events": 16,
           "reference_threshold": 0.02, "du": 10, "update_threshold": 384}
ECG_BASELINES = {"nlms": {"taps": 16, "tap_spacing": 3, "step_size": 0.002},
                 "rls": {"taps": 16, "tap_spacing": 3, "forgetting": 0.9995}}


def bandpass(x: np.ndarray, band: tuple[float, float], fs: float) -> np.ndarray:
    """Causal 2nd-order Butterworth band-pass from the first sample's steady state."""
    sos = scipy.signal.butter(2, band, "bandpass", fs=fs, output="sos")
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    state = scipy.signal.sosfilt_zi(sos)[:, None, :] * x[None, :, :1]
    return scipy.signal.sosfilt(sos, x, axis=1, zi=state)[0]


@dataclass
class ECGMixture:
    """A motion-corrupted ECG with its reference and ground truth (front end applied).

    Attributes:
        primary: [1, n] corrupted ECG, 0.5-40 Hz, in units of its first 8 s rms.
        reference: [3, n] acceleration (g), 0.3-20 Hz, at the ECG's rate.
        clean: [n] the clean ECG through the same front end and scale.
        beats: annotated beat samples.
        fs: Hz.
        snr_db: the SNR the artefact was mixed at.
    """

    primary: np.ndarray
    reference: np.ndarray
    clean: np.ndarray
    beats: np.ndarray
    fs: float
    snr_db: float


def motion_mixture(recording: Recording, snr_db: float, activity: str = "walking",
                   random_state: int | None = 0) -> ECGMixture:
    """Lead 0 of ``recording`` with a motion artefact at ``snr_db`` (two 30-50 s episodes)."""
    lead = recording.select([recording.channels[0]])
    model = MotionArtefact(activity, "ecg", episodes=2, episode_s=(30.0, 50.0))
    mixed = corrupt(lead, [model], snr_db, random_state)
    acc = mixed.references[0]
    t = np.arange(lead.n_samples) / lead.fs
    t_acc = np.arange(acc.n_samples) / acc.fs
    a = np.stack([np.interp(t, t_acc, ch) for ch in acc.signal])
    primary = bandpass(mixed.recording.signal, (0.5, 40.0), lead.fs)
    scale = primary[:, : round(8 * lead.fs)].std()
    clean = bandpass(lead.signal, (0.5, 40.0), lead.fs)[0] / scale
    return ECGMixture(primary / scale, bandpass(a, (0.3, 20.0), lead.fs), clean,
                      lead.beats["sample"], lead.fs, snr_db)


def make_ecg_canceller(method: str, backend: str = "reference", fs: float = 360.0,
                       **params: Any) -> Any:
    """A canceller for ECG at ``fs`` with the settings above (``params`` override)."""
    if method == "snn":
        return SpikingCanceller(backend=backend, fs=fs, **{**ECG_SNN, **params})
    if method == "none":
        return PassThrough()
    makers = {"nlms": NLMSCanceller, "rls": RLSCanceller}
    if method not in makers:
        raise ValueError(f"method must be snn, nlms, rls or none, got {method!r}")
    return makers[method](**{**ECG_BASELINES[method], **params})


def output_snr_db(clean: np.ndarray, x: np.ndarray, start: int = 0) -> float:
    """10 log10 of the clean power over the power of ``x - clean`` from ``start``, dB."""
    err = x[start:] - clean[start:]
    return float(10 * np.log10(np.mean(clean[start:] ** 2) / np.mean(err**2)))


def detect_beats(x: np.ndarray, fs: float) -> np.ndarray:
    """R-peak samples by neurokit2's default QRS detector (Makowski et al. 2021)."""
    import neurokit2 as nk

    _, info = nk.ecg_peaks(np.asarray(x, dtype=np.float64), sampling_rate=round(fs),
                           method="neurokit")
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def beat_scores(detected: np.ndarray, annotated: np.ndarray, tolerance: int
                ) -> tuple[float, float]:
    """(sensitivity, positive predictivity) of detections within ``tolerance`` samples of an
    annotation (each annotation matched at most once, EC57-style)."""
    det = np.sort(np.asarray(detected))
    ref = np.sort(np.asarray(annotated))
    if ref.size == 0:
        raise ValueError("no annotated beats to score against")
    if det.size == 0:
        return 0.0, float("nan")
    i = np.searchsorted(det, ref)
    lo, hi = np.clip(i - 1, 0, det.size - 1), np.clip(i, 0, det.size - 1)
    nearest = np.where(np.abs(det[hi] - ref) < np.abs(det[lo] - ref), hi, lo)
    hit = np.abs(det[nearest] - ref) <= tolerance
    matched = np.unique(nearest[hit]).size
    return matched / ref.size, matched / det.size
