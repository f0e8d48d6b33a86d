"""Level-1 state indicators per window, emitted as fixed-layout event records for the bridge.

From the beats of an ECG (times and AAMI classes, e.g. from :mod:`neuro.ecg`), a wrist
accelerometer and a PPG, per window:

- heart rate (bpm) from the mean RR interval;
- heart-rate variability over the NN intervals (RR between two consecutive N beats):
  RMSSD and SDNN (ms), Task Force of the ESC/NASPE, Circulation 93(5):1043-1065 (1996);
- beats of each AAMI class;
- activity (rest / walk / run) from the accelerometer (:class:`ActivityClassifier`, trained on
  the SP Cup 2015 protocol: rest, a slow and a fast treadmill speed);
- respiratory rate (breaths/min) from the respiratory modulation of the PPG
  (:func:`respiratory_rate`).

- artefact fraction: the share of an artefact classifier's consecutive windows (e.g. the 2-s
  windows of :mod:`neuro.artefact_classifier`) that it flagged, given as one flag per window;
  this module does not run that classifier.

A missing input gives NaN (or ``activity`` -1) in its fields. The indicators are classical
signal processing, not spiking networks.

:data:`STATE_DTYPE` is one packed little-endian record per window (``tobytes()`` travels as
a byte payload; :func:`from_bytes` reads it back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.signal

CLASSES = ("N", "S", "V", "F", "Q")
ACTIVITIES = ("rest", "walk", "run")

STATE_DTYPE = np.dtype([
    ("onset_s", "<f8"), ("offset_s", "<f8"),
    ("hr_bpm", "<f4"), ("rmssd_ms", "<f4"), ("sdnn_ms", "<f4"),
    *((f"n_{c}", "<u2") for c in CLASSES),
    ("activity", "i1"),  # index into ACTIVITIES, -1: no accelerometer
    ("resp_per_min", "<f4"),
    ("artefact_fraction", "<f4"),
])

# SP Cup 2015 protocol (PROVENANCE.md of the set): rest 30 s, slow 1 min, fast 1 min, slow
# 1 min, fast 1 min, rest 30 s; slow is 6 or 8 km/h ("walk"), fast 12 or 15 km/h ("run").
SPC2015_PROTOCOL: tuple[tuple[float, str], ...] = (
    (30.0, "rest"), (90.0, "walk"), (150.0, "run"), (210.0, "walk"), (270.0, "run"),
    (np.inf, "rest"))


def empty_states(n: int = 0) -> np.ndarray:
    """``n`` state records with every indicator missing."""
    out = np.zeros(n, STATE_DTYPE)
    for name in ("hr_bpm", "rmssd_ms", "sdnn_ms", "resp_per_min", "artefact_fraction"):
        out[name] = np.nan
    out["activity"] = -1
    return out


def from_bytes(payload: bytes) -> np.ndarray:
    """State records from a byte payload made by ``records.tobytes()``."""
    if len(payload) % STATE_DTYPE.itemsize:
        raise ValueError(f"payload of {len(payload)} bytes is not a whole number of "
                         f"{STATE_DTYPE.itemsize}-byte state records")
    return np.frombuffer(payload, STATE_DTYPE).copy()


def windows(duration_s: float, window_s: float, step_s: float) -> np.ndarray:
    """[n, 2] window onsets and offsets (s) covering ``duration_s``."""
    if window_s <= 0 or step_s <= 0:
        raise ValueError(f"window_s and step_s must be > 0, got {window_s}, {step_s}")
    onsets = np.arange(0.0, max(duration_s - window_s, 0.0) + 1e-9, step_s)
    return np.column_stack([onsets, onsets + window_s])


def heart_indicators(beat_s: np.ndarray, classes: np.ndarray | None,
                     spans: np.ndarray) -> dict[str, np.ndarray]:
    """Heart rate (bpm), RMSSD and SDNN (ms) and beats per class in each window [n, 2] (s).

    An interval belongs to the window that holds its ending beat. Without ``classes`` every
    beat counts as N. A window with fewer than 2 (HR) or 3 (HRV) intervals gets NaN.
    """
    t = np.asarray(beat_s, dtype=np.float64)
    cls = np.full(t.size, "N") if classes is None else np.asarray(classes)
    rr = np.diff(t)
    nn = (cls[1:] == "N") & (cls[:-1] == "N")
    end = t[1:]
    # Windows as index ranges into the sorted interval ends and beat times.
    lo = np.searchsorted(end, spans[:, 0])
    hi = np.searchsorted(end, spans[:, 1])
    csum = np.concatenate([[0.0], np.cumsum(rr)])
    n_rr = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        hr = np.where(n_rr >= 2, 60.0 * n_rr / (csum[hi] - csum[lo]), np.nan)
    # NN statistics by cumulative sums of the NN intervals and of successive NN differences.
    nn_rr = np.where(nn, rr, 0.0)
    c1 = np.concatenate([[0.0], np.cumsum(nn_rr)])
    c2 = np.concatenate([[0.0], np.cumsum(nn_rr**2)])
    cn = np.concatenate([[0], np.cumsum(nn)])
    both = nn[1:] & nn[:-1]
    diff2 = np.where(both, np.diff(rr) ** 2, 0.0)
    d2 = np.concatenate([[0.0], np.cumsum(diff2)])
    dn = np.concatenate([[0], np.cumsum(both)])
    count = cn[hi] - cn[lo]
    # Successive differences of two intervals that both lie in the window.
    lo_d = np.minimum(lo, dn.size - 1)
    hi_d = np.clip(hi - 1, lo_d, dn.size - 1)
    n_diff = dn[hi_d] - dn[lo_d]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[hi] - c1[lo]) / count
        var = (c2[hi] - c2[lo]) / count - mean**2
        sdnn = np.where(count >= 3, 1e3 * np.sqrt(np.maximum(var * count / (count - 1), 0)),
                        np.nan)
        rmssd = np.where(n_diff >= 2, 1e3 * np.sqrt((d2[hi_d] - d2[lo_d]) / n_diff), np.nan)
    b_lo = np.searchsorted(t, spans[:, 0])
    b_hi = np.searchsorted(t, spans[:, 1])
    counts = {}
    for c in CLASSES:
        cc = np.concatenate([[0], np.cumsum(cls == c)])
        counts[c] = cc[b_hi] - cc[b_lo]
    return {"hr_bpm": hr, "rmssd_ms": rmssd, "sdnn_ms": sdnn, **counts}


def activity_features(acc: np.ndarray, fs: float, spans: np.ndarray) -> np.ndarray:
    """Accelerometer features per window [n, 3]: log of the magnitude's standard deviation (g),
    log of its mean absolute jerk (g/s), and its dominant frequency in 0.5-4 Hz (Hz, the step
    cadence).

    Args:
        acc: [3, samples] in g.
        fs: sample rate, Hz.
        spans: windows [n, 2] in s.
    """
    acc = np.asarray(acc, dtype=np.float64)
    if acc.ndim != 2 or acc.shape[0] != 3:
        raise ValueError(f"acc must be [3, samples] (x, y, z in g), got {acc.shape}")
    magnitude = np.linalg.norm(acc, axis=0)
    a = np.clip(np.rint(spans[:, 0] * fs).astype(np.int64), 0, magnitude.size)
    width = max(2, round((spans[0, 1] - spans[0, 0]) * fs)) if len(spans) else 2
    idx = np.clip(a[:, None] + np.arange(width)[None, :], 0, magnitude.size - 1)
    seg = magnitude[idx]
    seg = seg - seg.mean(axis=1, keepdims=True)
    std = seg.std(axis=1)
    jerk = np.abs(np.diff(seg, axis=1)).mean(axis=1) * fs
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(width), axis=1)) ** 2
    freq = np.fft.rfftfreq(width, 1.0 / fs)
    band = (freq >= 0.5) & (freq <= 4.0)
    cadence = freq[band][np.argmax(spectrum[:, band], axis=1)]
    return np.column_stack([np.log(std + 1e-4), np.log(jerk + 1e-3), cadence])


def protocol_labels(spans: np.ndarray, guard_s: float = 5.0) -> np.ndarray:
    """SP Cup 2015 activity per window (index into ACTIVITIES), -1 for windows within
    ``guard_s`` of a change of speed (the treadmill ramps)."""
    mid = spans.mean(axis=1)
    ends = np.array([e for e, _ in SPC2015_PROTOCOL])
    names = [ACTIVITIES.index(n) for _, n in SPC2015_PROTOCOL]
    label = np.asarray(names)[np.searchsorted(ends, mid, side="right")]
    changes = ends[np.isfinite(ends)]
    near = np.any((spans[:, 1, None] > changes - guard_s) & (spans[:, 0, None] < changes
                                                              + guard_s), axis=1)
    return np.where(near, -1, label)


class ActivityClassifier:
    """Rest / walk / run from accelerometer features: nearest class mean in standardised
    feature space (scikit-learn conventions; learned ``means_``, ``center_``, ``scale_``,
    ``classes_``).

    Args:
        window_s: analysis window, s.
    """

    def __init__(self, window_s: float = 8.0) -> None:
        self.window_s = window_s

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters."""
        return {"window_s": self.window_s}

    def fit(self, features: np.ndarray, y: np.ndarray) -> ActivityClassifier:
        """Learn from features [n, 3] (:func:`activity_features`) and labels (ACTIVITIES
        indices; -1 rows are ignored)."""
        X, y = np.asarray(features, float), np.asarray(y)
        keep = y >= 0
        X, y = X[keep], y[keep]
        missing = sorted(set(range(len(ACTIVITIES))) - set(y.tolist()))
        if missing:
            raise ValueError(f"training data lack activities {[ACTIVITIES[m] for m in missing]}")
        self.center_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-9
        Z = (X - self.center_) / self.scale_
        self.classes_ = np.arange(len(ACTIVITIES))
        self.means_ = np.stack([Z[y == k].mean(axis=0) for k in self.classes_])
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Activity index per feature row."""
        if not hasattr(self, "means_"):
            raise ValueError("ActivityClassifier is not fitted")
        Z = (np.asarray(features, float) - self.center_) / self.scale_
        return np.argmin(((Z[:, None, :] - self.means_[None]) ** 2).sum(axis=2), axis=1)


def _pulse_peaks(ppg: np.ndarray, fs: float) -> np.ndarray:
    """Systolic peaks of a band-passed PPG (at most 200 bpm)."""
    peaks, _ = scipy.signal.find_peaks(ppg, distance=max(1, round(0.3 * fs)),
                                       prominence=0.3 * np.std(ppg))
    return peaks


def respiratory_rate(ppg: np.ndarray, fs: float, spans: np.ndarray,
                     band_hz: tuple[float, float] = (0.1, 0.5)) -> np.ndarray:
    """Respiratory rate per window (breaths/min) from the PPG's respiratory modulation.

    Three modulations of the pulse train, each resampled at 4 Hz: intensity (the pulse peaks'
    level, RIIV), amplitude (peak minus the preceding trough, RIAV) and frequency (the pulse
    intervals, RIFV). Per window each gives the frequency of its largest spectral peak in
    ``band_hz``; the rate is their median ("smart fusion" after Karlen et al., IEEE TBME
    60(7):1946-1953, 2013, which trusts agreeing modulations). NaN where the window holds
    fewer than 8 pulses.
    """
    x = np.asarray(ppg, dtype=np.float64)
    sos = scipy.signal.butter(2, (0.05, 5.0), btype="band", fs=fs, output="sos")
    y = scipy.signal.sosfiltfilt(sos, x)
    peaks = _pulse_peaks(y, fs)
    out = np.full(len(spans), np.nan)
    if peaks.size < 8:
        return out
    # Trough before each peak: the minimum since the previous peak.
    troughs = np.minimum.reduceat(y, np.concatenate([[0], peaks]))[:-1]
    t = peaks / fs
    series = np.stack([y[peaks], y[peaks] - troughs, np.gradient(t)])
    grid = np.arange(0.0, x.size / fs, 0.25)
    resampled = np.stack([np.interp(grid, t, s) for s in series])
    for i, (a, b) in enumerate(spans):
        inside = (t >= a) & (t < b)
        if inside.sum() < 8:
            continue
        # Linear detrend: a slow drift would otherwise leak into the lowest breathing rates.
        seg = scipy.signal.detrend(resampled[:, (grid >= a) & (grid < b)], axis=1)
        freq, power = scipy.signal.periodogram(seg, fs=4.0, window="hann", nfft=1024, axis=1)
        band = (freq >= band_hz[0]) & (freq <= band_hz[1])
        out[i] = 60.0 * np.median(freq[band][np.argmax(power[:, band], axis=1)])
    return out


@dataclass(frozen=True)
class StateInputs:
    """What a subject's sensors gave over one span of time (any may be missing).

    Attributes:
        duration_s: length of the span, s.
        beat_s: beat times (s) and ``beat_class`` their AAMI letters (None: all N).
        acc: [3, samples] accelerometer (g) at ``acc_fs`` Hz.
        ppg: PPG samples at ``ppg_fs`` Hz.
        artefact: one flag per consecutive ``artefact_window_s`` window (from 0 s): an
            artefact classifier's verdict that the window is not clean.
    """

    duration_s: float
    beat_s: np.ndarray | None = None
    beat_class: np.ndarray | None = None
    acc: np.ndarray | None = None
    acc_fs: float = 125.0
    ppg: np.ndarray | None = None
    ppg_fs: float = 125.0
    artefact: np.ndarray | None = None
    artefact_window_s: float = 2.0


def state_events(inputs: StateInputs, window_s: float = 60.0, step_s: float = 60.0,
                 activity: ActivityClassifier | None = None,
                 resp_window_s: float = 32.0) -> np.ndarray:
    """The level-1 state records (:data:`STATE_DTYPE`) of consecutive windows.

    Activity needs a fitted ``activity`` classifier; it is the majority of its per-8-s
    decisions inside the window. The respiratory rate is the median over ``resp_window_s``
    sub-windows (a breath takes 2-10 s, so a rate needs about half a minute).
    """
    spans = windows(inputs.duration_s, window_s, step_s)
    out = empty_states(len(spans))
    out["onset_s"], out["offset_s"] = spans[:, 0], spans[:, 1]
    if inputs.beat_s is not None:
        heart = heart_indicators(inputs.beat_s, inputs.beat_class, spans)
        for name in ("hr_bpm", "rmssd_ms", "sdnn_ms"):
            out[name] = heart[name]
        for c in CLASSES:
            out[f"n_{c}"] = np.minimum(heart[c], np.iinfo(np.uint16).max)
    if inputs.acc is not None and activity is not None:
        sub = windows(inputs.duration_s, activity.window_s, activity.window_s / 2)
        decided = activity.predict(activity_features(inputs.acc, inputs.acc_fs, sub))
        mid = sub.mean(axis=1)
        for i, (a, b) in enumerate(spans):
            inside = decided[(mid >= a) & (mid < b)]
            if inside.size:
                out["activity"][i] = np.bincount(inside, minlength=len(ACTIVITIES)).argmax()
    if inputs.ppg is not None:
        sub = windows(inputs.duration_s, resp_window_s, resp_window_s / 4)
        rate = respiratory_rate(inputs.ppg, inputs.ppg_fs, sub)
        mid = sub.mean(axis=1)
        for i, (a, b) in enumerate(spans):
            inside = rate[(mid >= a) & (mid < b)]
            if np.isfinite(inside).any():
                out["resp_per_min"][i] = np.nanmedian(inside)
    if inputs.artefact is not None:
        flags = np.asarray(inputs.artefact, dtype=float)
        mid = (np.arange(flags.size) + 0.5) * inputs.artefact_window_s
        done = np.concatenate([[0.0], np.cumsum(flags)])
        lo, hi = np.searchsorted(mid, spans[:, 0]), np.searchsorted(mid, spans[:, 1])
        with np.errstate(invalid="ignore", divide="ignore"):
            out["artefact_fraction"] = np.where(hi > lo, (done[hi] - done[lo]) / (hi - lo),
                                                np.nan)
    return out


def summary(records: np.ndarray, fields: Sequence[str] = ("hr_bpm", "rmssd_ms", "sdnn_ms",
                                                           "resp_per_min")) -> dict[str, float]:
    """Mean of each indicator over the records (NaN-aware), for reports."""
    return {f: float(np.nanmean(records[f])) if np.isfinite(records[f]).any() else float("nan")
            for f in fields}
