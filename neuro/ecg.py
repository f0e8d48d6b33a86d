"""Level-1 ECG beat classification: features, spike encoding, the spiking classifier, AAMI scores.

The pipeline for one lead of a record (MIT-BIH: MLII at 360 Hz):

1. beats: the reference annotations, or R peaks from the streaming Pan-Tompkins detector
   (:mod:`neuro.qrs`, classical, sample by sample);
2. :func:`beat_features`: a causal 0.5-40 Hz band-pass (:class:`EcgFilter`, carried filter
   state); each beat's R peak refined to the largest |ECG| within 50 ms; a window from 250 ms
   before to 450 ms after it, in units of the median R amplitude of the last 16 beats; its
   deviation from the median of the previous 32 windows (the patient's dominant beat); and the
   RR intervals (previous, next, mean of the last 10, mean of the last 300) and the RR
   irregularity (median absolute successive difference of the last 8), in s;
3. :class:`BeatEncoding`: window and deviation through the ``sensors`` level-crossing encoder
   (a companded ladder of levels, UP and DOWN events per level) binned to 1/120-s steps, the
   RR intervals as log-ratios in thermometer population codes (one input per level, firing
   every few steps while the feature is at or above it), and a phase code (one input per
   100-ms segment of the window, which tells the network where the R peak is);
4. :class:`EcgBeatClassifier`: a CUBA-LIF network (inputs -> hidden -> 5 outputs) trained with
   surrogate gradients (:mod:`neuro.training`), quantised to the fixed-point contract; the
   class is the output neuron with the most spikes (ties: the earlier first spike; none: N).

The model file is a NIR graph (:mod:`neuro.nir_io`) whose graph metadata also holds the
encoding under ``neurotwin_ecg`` (JSON), so that one file carries everything inference needs.
Scores follow AAMI EC57 (:func:`aami_report`): classes N, S, V, F, Q; paced records excluded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np
import scipy.signal

from neuro.backends import run
from neuro.nir_io import from_nir, to_nir
from neuro.qrs import detect_beats, match_beats
from neuro.quantise import quantise
from sensors.encoders import LevelCrossingEncoder
from sensors.events import UP, sample_index
from sensors.records import Recording, available, load, resample

CLASSES = ("N", "S", "V", "F", "Q")
# AAMI EC57 practice excludes the records with paced beats.
PACED_RECORDS = ("102", "104", "107", "217")
# Inter-patient split of de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7):1196-1206 (2004).
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
       "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
       "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
FS = 360.0
LEAD = "MLII"
# RR columns at the end of a feature row: previous, next, local mean, long mean, and the
# irregularity (median absolute difference of successive previous intervals), s.
N_RR = 5
# Prematurity and pause in units of the RR irregularity (at least this fraction of the local
# mean RR, so that a very regular rhythm does not divide by ~0), coded as GAIN * asinh(z / 2):
# the thermometer's -0.6 ... 0.6 then spans z of about -7 ... 7.
IRREGULAR_FLOOR = 0.02
IRREGULAR_GAIN = 0.3
# P-wave features (BeatEncoding(p_wave=True)): the atrial part of the window, from 230 to 80 ms
# before R, where a sinus P wave lies (PR interval 120-200 ms); amplitudes in units of the
# recent R amplitude, coded as P_GAIN * log(amplitude / P_REFERENCE) so that the thermometer's
# -0.6 ... 0.6 spans about 0.014 ... 0.74 R amplitudes.
P_REGION_S = (0.23, 0.08)
P_GAIN = 0.3
P_REFERENCE = 0.1
MODEL_KEY = "neurotwin_ecg"
MODEL_FORMAT = 1


class EcgError(ValueError):
    """Input the ECG pipeline cannot use: a missing lead, a model of another kind, ..."""


@dataclass
class EcgFilter:
    """Streaming band-pass for beat morphology (Butterworth sections, carried state).

    Args:
        fs: sample rate, Hz.
        band_hz: pass band, Hz: 0.5 Hz removes baseline wander, 40 Hz mains and EMG.
        order: Butterworth order per edge.
    """

    fs: float
    band_hz: tuple[float, float] = (0.5, 40.0)
    order: int = 2

    def __post_init__(self) -> None:
        self.sos_ = scipy.signal.butter(self.order, self.band_hz, btype="band", fs=self.fs,
                                        output="sos")
        self.reset()

    def reset(self) -> EcgFilter:
        """Start a new stream from rest."""
        self.zi_ = np.zeros((self.sos_.shape[0], 2))
        return self

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        """The filtered next chunk (1-D, same units)."""
        out, self.zi_ = scipy.signal.sosfilt(self.sos_, np.asarray(chunk, float), zi=self.zi_)
        return out


def _gather(signal: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """Rows signal[start_i : start_i + width], edge-padded beyond the ends: [n, width]."""
    idx = np.clip(start[:, None] + np.arange(width)[None, :], 0, signal.size - 1)
    return signal[idx]


def refine_peaks(clean: np.ndarray, positions: np.ndarray, fs: float,
                 radius_s: float = 0.05) -> np.ndarray:
    """Each position moved to the largest |clean| within ``radius_s`` (s): annotated and
    detected beats then share one fiducial point."""
    radius = round(radius_s * fs)
    pos = np.asarray(positions, dtype=np.int64)
    if pos.size == 0:
        return pos
    near = np.abs(_gather(clean, pos - radius, 2 * radius + 1))
    return np.clip(pos - radius + near.argmax(axis=1), 0, clean.size - 1)


def rr_intervals(r: np.ndarray, fs: float, local: int = 10, long: int = 300,
                 irregular: int = 8) -> np.ndarray:
    """RR features per beat, s: [previous, next, mean of the last ``local``, mean of the last
    ``long`` previous intervals, median absolute difference of the last ``irregular``
    successive previous intervals] (causal except "next", which needs the following beat).

    The irregularity tells a premature beat in a regular rhythm (small: one ectopic beat moves
    the median little) from an irregular rhythm such as atrial fibrillation (large), where
    every other beat looks premature. The first beat borrows its next interval as previous
    and the last its previous as next.
    """
    n = r.size
    if n < 2:
        out = np.full((n, N_RR), 1.0)
        out[:, 4] = 0.0
        return out
    rr = np.diff(r) / fs
    pre = np.concatenate([rr[:1], rr])
    post = np.concatenate([rr, rr[-1:]])
    csum = np.concatenate([[0.0], np.cumsum(pre)])
    idx = np.arange(1, n + 1)

    def running_mean(k: int) -> np.ndarray:
        lo = np.maximum(idx - k, 0)
        return (csum[idx] - csum[lo]) / (idx - lo)

    step = np.abs(np.diff(pre, prepend=pre[0]))  # |RR_i - RR_(i-1)|, known at beat i
    # Median of step[i - irregular + 1 .. i]: _running_median covers the rows before i, so
    # it is fed the steps shifted by one (the first beat: its next step, one beat of latency).
    ahead = np.concatenate([step[1:], step[-1:]])
    irregularity = _running_median(ahead[:, None], irregular)[:, 0]
    return np.column_stack([pre, post, running_mean(local), running_mean(long), irregularity])


def _running_median(rows: np.ndarray, k: int, block: int = 256) -> np.ndarray:
    """Per row i, the median of rows i - k .. i - 1 (the first row: itself), column-wise.

    In blocks of rows so that the [rows, k, columns] stack stays small.
    """
    n = rows.shape[0]
    padded = np.concatenate([np.repeat(rows[:1], k, axis=0), rows])
    out = np.empty_like(rows)
    for a in range(0, n, block):
        b = min(n, a + block)
        stack = np.lib.stride_tricks.sliding_window_view(padded[a:b + k - 1], k, axis=0)
        out[a:b] = np.median(stack, axis=-1)
    return out


def beat_features(signal: np.ndarray, fs: float, positions: np.ndarray,
                  before_s: float = 0.25, after_s: float = 0.45,
                  n_recent: int = 16, n_template: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of beats of one lead: [window..., deviation..., 5 RR columns (s)].

    The window is the band-passed ECG around the R peak in units of the median R amplitude of
    the last ``n_recent`` beats; the deviation is the window minus the column-wise median of
    the previous ``n_template`` windows: the difference from this patient's dominant beat,
    which carries across patients better than the shape itself. Both are causal (streaming
    with the window's latency).

    Args:
        signal: one lead, mV, sampled at ``fs`` Hz.
        positions: beat sample indices (annotations or detections), ascending.
        before_s, after_s: window around the R peak, s.

    Returns:
        X [beats, 2 window + N_RR] float32 (:func:`rr_intervals`) and the refined R sample
        of every beat.
    """
    clean = EcgFilter(fs)(np.asarray(signal, float))
    r = refine_peaks(clean, positions, fs)
    before, after = round(before_s * fs), round(after_s * fs)
    if r.size == 0:
        return np.empty((0, 2 * (before + after) + N_RR), np.float32), r
    windows = _gather(clean, r - before, before + after)
    # The window's isoelectric level: its median (most of a beat's window is baseline).
    windows -= np.median(windows, axis=1, keepdims=True)
    amplitude = np.abs(clean[r])
    recent = _running_median(amplitude[:, None], n_recent)[:, 0]
    windows /= np.maximum(recent, 1e-3)[:, None]
    deviation = windows - _running_median(windows, n_template)
    X = np.hstack([windows, deviation, rr_intervals(r, fs)]).astype(np.float32)
    return X, r


def _default_levels() -> tuple[float, ...]:
    # Companded ladder in units of the recent R amplitude: fine near the baseline (P and T
    # waves, ST level), coarse at the QRS; 0 is a level so that the tracker starts there.
    pos = 0.04 * 1.4 ** np.arange(12)
    neg = -0.04 * 1.45 ** np.arange(11)
    return tuple(np.round(np.concatenate([neg[::-1], [0.0], pos]), 4).tolist())


@dataclass(frozen=True)
class BeatEncoding:
    """Feature rows to input spikes [beats, steps, inputs] (see the module docstring).

    Args:
        fs: sample rate of the windows, Hz.
        before_s, after_s: the window around the R peak, s.
        dt: network step, s.
        levels: level-crossing ladder in units of the recent R amplitude (must contain 0).
        rr_edges: thermometer levels of each log-ratio RR feature (see :meth:`rr_codes`).
        rr_period: RR inputs fire every this many steps.
        phase_segments: phase inputs (equal segments of the window).
        phase_period: phase inputs fire every this many steps inside their segment.
        tail: silent steps after the window (the two Dense delays of a 2-layer network).
        rr_irregularity: also code prematurity and pause relative to the RR irregularity
            (two more RR features, :meth:`rr_codes`; off by default, and model files written
            before they existed read as off).
        p_wave: also code the atrial activity before R (three more thermometer features,
            :meth:`p_codes`; off by default, and older model files read as off).
    """

    fs: float = FS
    before_s: float = 0.25
    after_s: float = 0.45
    dt: float = 1.0 / 120.0
    levels: tuple[float, ...] = field(default_factory=_default_levels)
    rr_edges: tuple[float, ...] = tuple(np.round(np.linspace(-0.6, 0.6, 10), 4).tolist())
    rr_period: int = 4
    phase_segments: int = 7
    phase_period: int = 2
    tail: int = 2
    rr_irregularity: bool = False
    p_wave: bool = False

    def __post_init__(self) -> None:
        if 0.0 not in self.levels:
            raise ValueError("levels must contain 0 (the baseline the tracker starts on)")
        if self.rr_period < 1 or self.phase_period < 1 or self.phase_segments < 0:
            raise ValueError("rr_period and phase_period must be >= 1, phase_segments >= 0")

    @property
    def window(self) -> int:
        """Samples per window at ``fs``."""
        return round(self.before_s * self.fs) + round(self.after_s * self.fs)

    @property
    def window_steps(self) -> int:
        """Network steps that the window's events fall on."""
        return round((self.window - 1) / (self.fs * self.dt)) + 1

    @property
    def n_steps(self) -> int:
        """Steps per beat."""
        return self.window_steps + self.tail

    @property
    def n_rr_features(self) -> int:
        """Thermometer-coded features: RR (6 or 8) plus P wave (3 with ``p_wave``)."""
        return (8 if self.rr_irregularity else 6) + (3 if self.p_wave else 0)

    def p_codes(self, X: np.ndarray) -> np.ndarray:
        """Atrial features [beats, 3] of feature rows X, from the window's P region
        (``P_REGION_S`` before R): the peak-to-peak amplitude of the dominant beat's P wave
        (window minus deviation: the running median of the previous windows) and of this
        beat's, both as ``P_GAIN * log(amplitude / P_REFERENCE)`` (amplitudes in units of the
        recent R amplitude), and 0.6 x the correlation of this beat's P region with the
        dominant beat's. A sinus beat matches its patient's P wave; atrial fibrillation has
        no dominant P wave (its f waves average out); a premature atrial beat's P wave differs
        or hides in the preceding T wave."""
        w = self.window
        before = round(self.before_s * self.fs)
        lo = max(0, before - round(P_REGION_S[0] * self.fs))
        hi = max(lo + 2, before - round(P_REGION_S[1] * self.fs))
        beat = X[:, lo:hi]
        dominant = beat - X[:, w + lo:w + hi]
        amp_dominant = np.ptp(dominant, axis=1)
        amp_beat = np.ptp(beat, axis=1)
        b = beat - beat.mean(axis=1, keepdims=True)
        d = dominant - dominant.mean(axis=1, keepdims=True)
        corr = (b * d).sum(axis=1) / np.maximum(
            np.sqrt((b * b).sum(axis=1) * (d * d).sum(axis=1)), 1e-9)
        return np.column_stack([P_GAIN * np.log(np.maximum(amp_dominant, 1e-3) / P_REFERENCE),
                                P_GAIN * np.log(np.maximum(amp_beat, 1e-3) / P_REFERENCE),
                                0.6 * corr])

    @property
    def n_inputs(self) -> int:
        return (4 * len(self.levels) + self.n_rr_features * len(self.rr_edges)
                + self.phase_segments)

    def rr_codes(self, rr: np.ndarray) -> np.ndarray:
        """RR intervals [beats, 5] (s) -> features [beats, 6 or 8]: the log-ratios of previous,
        next and local mean over the long mean, of previous and next over the local mean, and
        the log long mean (s); with ``rr_irregularity`` also the prematurity and the pause in
        units of the recent irregularity: (local - previous) / irregularity and (next - local)
        / irregularity, compressed by asinh. A premature beat in a regular rhythm scores high,
        the beats of an irregular rhythm (atrial fibrillation) low, however short their RR."""
        pre, post, local, long = (np.maximum(rr[:, k], 1e-3) for k in range(4))
        codes = np.log(np.column_stack([pre / long, post / long, local / long, pre / local,
                                        post / local, long]))
        if not self.rr_irregularity:
            return codes
        spread = np.maximum(rr[:, 4], IRREGULAR_FLOOR * local)
        z = np.column_stack([(local - pre) / spread, (post - local) / spread])
        return np.hstack([codes, IRREGULAR_GAIN * np.arcsinh(z / 2.0)])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """uint8 spikes [beats, n_steps, n_inputs] of feature rows X [beats, 2 window + 5]."""
        X = np.asarray(X, dtype=np.float64)
        w = self.window
        if X.ndim != 2 or X.shape[1] != 2 * w + N_RR:
            raise ValueError(f"feature rows must be [beats, {2 * w + N_RR}] (window and "
                             f"deviation of {w} samples each + {N_RR} RR intervals), got "
                             f"{X.shape}")
        n, n_levels = X.shape[0], len(self.levels)
        out = np.zeros((n, self.n_steps, self.n_inputs), np.uint8)
        # One encoder channel per beat and trace (window, deviation): each its own stream from
        # the baseline level, in groups that fit the 16-bit address space.
        group = max(1, (2**16 - 1) // (2 * n_levels))
        initial = self.levels.index(0.0)
        for a in range(0, n, group):
            traces = X[a:a + group, :2 * w].reshape(-1, w)
            events = LevelCrossingEncoder(self.levels, self.fs, initial=initial)(traces)
            channel, level = np.divmod(events["x"].astype(np.int64), n_levels)
            beat, trace = np.divmod(channel, 2)
            # Binned to network steps as sensors.events.to_raster does (UP in column 2j,
            # DOWN in 2j + 1), written straight into the per-beat raster.
            step = sample_index(events, 1.0 / self.dt)
            out[a + beat, step, trace * 2 * n_levels + 2 * level + (events["p"] != UP)] = 1
        codes = self.rr_codes(X[:, 2 * w:])
        if self.p_wave:
            codes = np.hstack([codes, self.p_codes(X)])
        thermometer = (codes[:, :, None] >= np.asarray(self.rr_edges)[None, None, :]).reshape(
            n, -1)
        start = 4 * n_levels
        stop = start + thermometer.shape[1]
        out[:, :self.window_steps:self.rr_period, start:stop] = thermometer[:, None, :]
        if self.phase_segments:
            segment = np.arange(self.window_steps) * self.phase_segments // self.window_steps
            on = np.arange(self.window_steps) % self.phase_period == 0
            phase = np.zeros((self.window_steps, self.phase_segments), np.uint8)
            phase[on, segment[on]] = 1
            out[:, :self.window_steps, stop:] = phase[None]
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BeatEncoding:
        d = json.loads(text)
        d["levels"], d["rr_edges"] = tuple(d["levels"]), tuple(d["rr_edges"])
        d.setdefault("rr_irregularity", False)  # files from before the feature
        d.setdefault("p_wave", False)
        return cls(**d)


def decide(output_spikes: np.ndarray) -> np.ndarray:
    """Class index per beat from output spikes [beats, steps, classes]: most spikes, ties to the
    earliest first spike (then the lower index), no spikes -> 0 (N)."""
    s = np.asarray(output_spikes)
    steps = s.shape[1]
    counts = s.sum(axis=1).astype(np.int64)
    first = np.where(s.any(axis=1), s.argmax(axis=1), steps)
    return np.argmax(counts * (steps + 1) - first, axis=1)


@dataclass(frozen=True)
class Prediction:
    """What a backend made of a set of beats."""

    labels: np.ndarray  # predicted class letters
    counts: np.ndarray  # output spikes per class [beats, 5]
    synaptic_ops: np.ndarray  # synaptic events per beat (spikes x fan-out, all layers)


class EcgBeatClassifier:
    """Spiking AAMI beat classifier (see the module docstring), scikit-learn conventions.

    Args:
        hidden: neurons per hidden layer.
        encoding: the feature -> spike encoding (default :class:`BeatEncoding`()).
        du, dv: current and voltage decay per step, per layer or one for all.
        epochs, batch_size, learning_rate, balance_power, count_scale, rate_penalty,
            quantise_epochs: see :class:`neuro.training.SurrogateGradientTrainer`.
        crossbar: crossbar device preset for hardware-aware training (None: off).
        threads: torch CPU threads.
        random_state: seed.

    Learned state: ``network_`` (FixedNetwork), ``float_network_`` (the trained float network;
    after :meth:`load`, the float reading of ``network_``), ``encoding_``, ``classes_``,
    ``loss_curve_`` (not kept in files), ``training_`` (the protocol, see :func:`train`),
    ``n_features_in_``.
    """

    def __init__(self, hidden: Sequence[int] = (96,), encoding: BeatEncoding | None = None,
                 du: float | Sequence[float] = (0.25, 1.0),
                 dv: float | Sequence[float] = (0.125, 0.03),
                 epochs: int = 12, batch_size: int = 256, learning_rate: float = 3e-3,
                 balance_power: float = 0.5, count_scale: float = 0.5,
                 rate_penalty: float = 0.0, quantise_epochs: int = 2,
                 crossbar: str | None = None, threads: int = 1,
                 random_state: int | None = None) -> None:
        self.hidden = hidden
        self.encoding = encoding
        self.du = du
        self.dv = dv
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.balance_power = balance_power
        self.count_scale = count_scale
        self.rate_penalty = rate_penalty
        self.quantise_epochs = quantise_epochs
        self.crossbar = crossbar
        self.threads = threads
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters."""
        return {k: getattr(self, k) for k in (
            "hidden", "encoding", "du", "dv", "epochs", "batch_size", "learning_rate",
            "balance_power", "count_scale", "rate_penalty", "quantise_epochs", "crossbar",
            "threads", "random_state")}

    def fit(self, X: np.ndarray, y: Sequence[str],
            progress: Callable[[int, float], None] | None = None) -> EcgBeatClassifier:
        """Train on feature rows X (:func:`beat_features`) and AAMI letters y."""
        from neuro.training import SurrogateGradientTrainer

        y = np.asarray(y)
        unknown = sorted(set(np.unique(y)) - set(CLASSES))
        if unknown:
            raise ValueError(f"labels must be AAMI classes {CLASSES}, got {unknown}")
        self.encoding_ = self.encoding or BeatEncoding()
        spikes = self.encoding_(X)
        index = np.array([CLASSES.index(c) for c in y], dtype=np.int64)
        trainer = SurrogateGradientTrainer(
            hidden=self.hidden, du=self.du, dv=self.dv, epochs=self.epochs,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            balance_power=self.balance_power, count_scale=self.count_scale,
            rate_penalty=self.rate_penalty, quantise_epochs=self.quantise_epochs,
            crossbar=self.crossbar, threads=self.threads, random_state=self.random_state)
        # Every class gets an output neuron, also one absent from the training set.
        trainer.fit(spikes, index, n_classes=len(CLASSES), dt=self.encoding_.dt,
                    progress=progress)
        self.float_network_ = trainer.network_
        self.network_ = quantise(trainer.network_)
        self.loss_curve_ = trainer.loss_curve_
        self.classes_ = np.asarray(CLASSES)
        self.n_features_in_ = X.shape[1]
        return self

    def _check(self) -> None:
        if not hasattr(self, "network_"):
            raise EcgError("this classifier is not trained: call fit() or load a model file")

    def predict_detail(self, X: np.ndarray, backend: str = "reference", batch: int = 2048,
                       **options: Any) -> Prediction:
        """Run feature rows X on a backend; labels, output counts and synaptic operations."""
        self._check()
        labels, counts, ops = [], [], []
        fan_out = [layer.n_neurons for layer in self.network_.layers]
        for a in range(0, len(X), batch):
            spikes = self.encoding_(X[a:a + batch])
            record = run(self.network_, spikes, backend, **options)
            out = np.asarray(record.spikes[-1])
            labels.append(np.asarray(CLASSES)[decide(out)])
            counts.append(out.sum(axis=1))
            events = [spikes.sum(axis=(1, 2)), *(np.asarray(s).sum(axis=(1, 2))
                                                 for s in record.spikes[:-1])]
            ops.append(sum(e.astype(np.int64) * f for e, f in zip(events, fan_out,
                                                                   strict=True)))
        if not labels:
            return Prediction(np.empty(0, "<U1"), np.empty((0, len(CLASSES)), np.int64),
                              np.empty(0, np.int64))
        return Prediction(np.concatenate(labels), np.concatenate(counts), np.concatenate(ops))

    def predict(self, X: np.ndarray, backend: str = "reference", **options: Any) -> np.ndarray:
        """AAMI letters of feature rows X, run on ``backend``."""
        return self.predict_detail(X, backend, **options).labels

    def save(self, path: str | Path) -> None:
        """Write the model: a NIR graph of the network plus, in its metadata, the encoding,
        the hyperparameters and the training protocol (``training_``, when set)."""
        self._check()
        graph = to_nir(self.network_)
        graph.metadata[MODEL_KEY] = json.dumps({
            "format": MODEL_FORMAT, "classes": list(CLASSES),
            "encoding": json.loads(self.encoding_.to_json()),
            "params": {k: v for k, v in self.get_params().items() if k != "encoding"},
            "training": getattr(self, "training_", {}),
        })
        nir.write(str(path), graph)

    @classmethod
    def load(cls, path: str | Path) -> EcgBeatClassifier:
        """Read a model written by :meth:`save`; a file of another network is refused."""
        path = Path(path)
        if not path.is_file():
            raise EcgError(f"model file {path} does not exist")
        try:
            graph = nir.read(str(path))
        except Exception as exc:
            raise EcgError(f"model file {path}: not a readable NIR file ({exc})") from exc
        meta = (graph.metadata or {}).get(MODEL_KEY)
        if meta is None:
            raise EcgError(f"model file {path} holds a network but not an ECG beat classifier "
                           f"(no {MODEL_KEY} metadata); train one with `neurotwin train ecg`")
        info = json.loads(str(meta))
        if info.get("format") != MODEL_FORMAT or tuple(info.get("classes", ())) != CLASSES:
            raise EcgError(f"model file {path}: ECG model format {info.get('format')} with "
                           f"classes {info.get('classes')} is not supported")
        network = from_nir(graph)
        encoding = BeatEncoding.from_json(json.dumps(info["encoding"]))
        if network.n_inputs != encoding.n_inputs or network.layers[-1].n_neurons != len(
                CLASSES):
            raise EcgError(f"model file {path}: network of {network.sizes} neurons does not "
                           f"match its encoding ({encoding.n_inputs} inputs, 5 classes)")
        params = {k: (tuple(v) if isinstance(v, list) else v)
                  for k, v in info.get("params", {}).items()}
        model = cls(**params, encoding=encoding)
        model.network_, model.encoding_ = network, encoding
        model.float_network_ = network.to_float()
        model.classes_ = np.asarray(CLASSES)
        model.n_features_in_ = 2 * encoding.window + N_RR
        model.training_ = info.get("training", {})
        return model


def merge_classifiers(models: Sequence[EcgBeatClassifier]) -> EcgBeatClassifier:
    """One network from several trained 2-layer classifiers of the same encoding: their
    hidden layers side by side (inputs -> sum of hidden -> 5), the output layer fed by all of
    them with each model's output weights divided by the number of models, and the mean of
    their output biases, so that an output neuron integrates the mean of the models' drives
    (an ensemble that deploys as one plain CUBA-LIF network). The float networks are merged
    (each layer first scaled to threshold 1) and then quantised once."""
    from neuro.network import FloatLayer, FloatNetwork

    if not models:
        raise EcgError("no models to merge")
    for m in models:
        m._check()
    nets = [m.float_network_ for m in models]
    encoding = models[0].encoding_
    if any(m.encoding_ != encoding for m in models) or any(len(n.layers) != 2 for n in nets):
        raise EcgError("merge needs 2-layer classifiers of one encoding")
    # Weights and bias in units of the threshold (the dynamics are linear below it, so this
    # changes no spike): the float reading of a quantised file has its own threshold scale.
    def unit(layer: FloatLayer) -> FloatLayer:
        return FloatLayer(layer.weights / layer.vth, du=layer.du, dv=layer.dv, vth=1.0,
                          bias=np.broadcast_to(layer.bias, layer.n_neurons) / layer.vth)

    hidden = [unit(n.layers[0]) for n in nets]
    output = [unit(n.layers[1]) for n in nets]
    if len({(h.du, h.dv) for h in hidden}) != 1 or len({(o.du, o.dv) for o in output}) != 1:
        raise EcgError("merge needs the same decays in every model")
    k = len(models)
    layer0 = FloatLayer(np.vstack([h.weights for h in hidden]), du=hidden[0].du,
                        dv=hidden[0].dv, vth=hidden[0].vth,
                        bias=np.concatenate([h.bias for h in hidden]))
    layer1 = FloatLayer(np.hstack([o.weights for o in output]) / k, du=output[0].du,
                        dv=output[0].dv, vth=output[0].vth,
                        bias=np.mean([o.bias for o in output], axis=0))
    params = models[0].get_params()
    params["hidden"] = (int(layer0.n_neurons),)
    merged = EcgBeatClassifier(**params)
    merged.encoding_ = encoding
    merged.float_network_ = FloatNetwork((layer0, layer1), dt=nets[0].dt)
    merged.network_ = quantise(merged.float_network_)
    merged.classes_ = np.asarray(CLASSES)
    merged.n_features_in_ = models[0].n_features_in_
    merged.training_ = {**getattr(models[0], "training_", {}),
                        "merged_seeds": [getattr(m, "training_", {}).get("seed") for m in models]}
    return merged


def load_record(folder: str | Path, name: str) -> Recording:
    """A record with beat annotations, resampled to 360 Hz if it is not: WFDB files
    (``<name>.hea`` ...) in ``folder`` or its ``mitdb/`` sub-folder, or a shipped excerpt
    ``mitdb_<name>.npz`` (:func:`sensors.records.load`); NSTDB noise records such as
    ``118e06`` are read as such. Errors name the files looked for."""
    source = f"nstdb:{name}" if re.fullmatch(r"\d+e\d+", name) else f"mitdb:{name}"
    return resample(load(source, folder), FS)


def lead_signal(recording: Recording, lead: str = LEAD) -> np.ndarray:
    """One lead of a record, mV; a record without it is refused with the leads it has."""
    names = [c.upper() for c in recording.channels]
    if lead.upper() not in names:
        raise EcgError(f"{recording.name} has no lead {lead} (it has "
                       f"{', '.join(recording.channels)}); choose another lead or record")
    return recording.signal[names.index(lead.upper())]


@dataclass(frozen=True)
class RecordBeats:
    """The beats of one record ready to classify, with their reference classes.

    Attributes:
        record: record name.
        X: feature rows [beats, 2 window + 5].
        reference: AAMI letter of each row's reference beat ("" for a detection that matches
            none: an extra beat).
        sample: R sample of each row.
        missed: reference beats per class that no detection matched (detected mode).
    """

    record: str
    X: np.ndarray
    reference: np.ndarray
    sample: np.ndarray
    missed: dict[str, int]


def record_beats(recording: Recording, lead: str = LEAD, beats: str = "annotated",
                 encoding: BeatEncoding | None = None) -> RecordBeats:
    """Feature rows of a record's beats: the annotated ones, or the detector's (matched to the
    reference within 150 ms, AAMI EC57)."""
    enc = encoding or BeatEncoding()
    x = lead_signal(recording, lead)
    ref = recording.beats
    name = recording.name.split(":")[-1]
    if beats == "annotated":
        X, r = beat_features(x, recording.fs, ref["sample"], enc.before_s, enc.after_s)
        return RecordBeats(name, X, ref["aami"].copy(), r, dict.fromkeys(CLASSES, 0))
    if beats != "detected":
        raise EcgError(f"beats must be 'annotated' or 'detected', got {beats!r}")
    found = detect_beats(x, recording.fs)
    X, r = beat_features(x, recording.fs, found, enc.before_s, enc.after_s)
    i_ref, i_det = match_beats(ref["sample"], found, recording.fs)
    reference = np.full(found.size, "", "<U1")
    reference[i_det] = ref["aami"][i_ref]
    unmatched = np.ones(ref.size, bool)
    unmatched[i_ref] = False
    missed = {c: int(np.sum(ref["aami"][unmatched] == c)) for c in CLASSES}
    return RecordBeats(name, X, reference, r, missed)


def aami_report(reference: np.ndarray, predicted: np.ndarray,
                missed: dict[str, int] | None = None) -> dict[str, Any]:
    """AAMI EC57 scores of predicted vs reference letters (JSON-ready).

    ``reference`` "" marks an extra detection (no reference beat): it counts against the
    positive predictivity of the class it was given. ``missed`` reference beats (no
    detection) count against sensitivity. ``confusion`` rows are the reference classes
    N, S, V, F, Q in order, columns the predicted ones, over matched beats.
    """
    reference = np.asarray(reference)
    predicted = np.asarray(predicted)
    missed = missed or dict.fromkeys(CLASSES, 0)
    matched = reference != ""
    k = len(CLASSES)
    ri = np.array([CLASSES.index(c) for c in reference[matched]], dtype=np.int64)
    pi = np.array([CLASSES.index(c) for c in predicted[matched]], dtype=np.int64)
    confusion = np.bincount(ri * k + pi, minlength=k * k).reshape(k, k)
    extra = np.array([np.sum(predicted[~matched] == c) for c in CLASSES])
    miss = np.array([missed.get(c, 0) for c in CLASSES])
    tp = np.diag(confusion)
    truth = confusion.sum(axis=1) + miss
    said = confusion.sum(axis=0) + extra
    total = int(confusion.sum() + miss.sum() + extra.sum())

    def ratio(a: float, b: float) -> float | None:
        return float(a / b) if b else None

    per_class = {c: {"se": ratio(tp[i], truth[i]), "ppv": ratio(tp[i], said[i]),
                     "reference": int(truth[i]), "predicted": int(said[i])}
                 for i, c in enumerate(CLASSES)}
    return {"beats": int(confusion.sum()), "accuracy": ratio(tp.sum(), total),
            "per_class": per_class, "confusion": confusion.tolist(),
            "detection": {"matched": int(confusion.sum()), "missed": int(miss.sum()),
                          "extra": int(extra.sum()),
                          "se": ratio(confusion.sum(), confusion.sum() + miss.sum()),
                          "ppv": ratio(confusion.sum(), confusion.sum() + extra.sum())}}


def assemble(records: Sequence[RecordBeats]) -> RecordBeats:
    """Several records' beats as one set (record names joined, misses summed)."""
    if not records:
        raise EcgError("no records to assemble")
    return RecordBeats(",".join(r.record for r in records),
                       np.concatenate([r.X for r in records]),
                       np.concatenate([r.reference for r in records]),
                       np.concatenate([r.sample for r in records]),
                       {c: sum(r.missed[c] for r in records) for c in CLASSES})


def check_record_name(name: str) -> str:
    """A record name as given on a command line; paced records are refused (AAMI EC57)."""
    if name in PACED_RECORDS:
        raise EcgError(f"record {name} is paced; AAMI EC57 excludes {', '.join(PACED_RECORDS)}")
    return name



def available_records(folder: str | Path) -> list[str]:
    """Names of the annotated ECG records readable from a folder (:func:`load_record`),
    paced records excluded."""
    names = [src.split(":", 1)[1] for src in available(folder) if src.startswith("mitdb:")]
    return sorted({n for n in names if n not in PACED_RECORDS})


def split_records(folder: str | Path, split: str) -> list[str]:
    """Records of a protocol present in ``folder``: ``ds1`` or ``ds2`` (de Chazal 2004), or
    ``intra`` / ``all`` (every non-paced record)."""
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"{folder}: no such data folder")
    have = available_records(folder)
    if split in ("intra", "all"):
        chosen = have
    elif split in ("ds1", "ds2"):
        chosen = [r for r in (DS1 if split == "ds1" else DS2) if r in have]
    else:
        raise EcgError(f"split must be ds1, ds2, intra or all, got {split!r}")
    if not chosen:
        raise EcgError(f"no {split} records in {folder} (it has {', '.join(have) or 'none'})")
    return chosen


def load_beats(folder: str | Path, records: Sequence[str], lead: str = LEAD,
               beats: str = "annotated", encoding: BeatEncoding | None = None,
               progress: Callable[[str], None] | None = None) -> list[RecordBeats]:
    """:func:`record_beats` of several records of a folder; ``progress(name)`` after each."""
    out = []
    for name in records:
        out.append(record_beats(load_record(folder, check_record_name(name)), lead, beats,
                                encoding))
        if progress is not None:
            progress(name)
    return out


def intra_split(y: np.ndarray, test_fraction: float = 0.5,
                random_state: int | None = 0) -> np.ndarray:
    """Test mask of the intra-patient protocol: within each class, a seeded random
    ``test_fraction`` of the pooled beats of every record (train and test share patients)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(random_state)
    test = np.zeros(y.size, bool)
    for c in CLASSES:
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[:round(test_fraction * idx.size)]] = True
    return test


def subsample_normal(y: np.ndarray, max_normal: int | None,
                     random_state: int | None = 0) -> np.ndarray:
    """Indices of a training set with at most ``max_normal`` N beats (seeded draw) and every
    other beat, in their original order: fewer of the dominant class trains faster and
    weighs the rare classes up."""
    y = np.asarray(y)
    normal = np.flatnonzero(y == "N")
    if max_normal is None or normal.size <= max_normal:
        return np.arange(y.size)
    rng = np.random.default_rng(random_state)
    keep = np.zeros(y.size, bool)
    keep[y != "N"] = True
    keep[rng.choice(normal, max_normal, replace=False)] = True
    return np.flatnonzero(keep)


def train(folder: str | Path, split: str = "ds1", lead: str = LEAD,
          max_normal: int | None = 20000, test_fraction: float = 0.5,
          classifier: EcgBeatClassifier | None = None,
          on_record: Callable[[str], None] | None = None,
          on_epoch: Callable[[int, float], None] | None = None) -> EcgBeatClassifier:
    """Train a classifier on the annotated beats of a protocol's training records.

    ``ds1``: every DS1 record present (inter-patient, de Chazal 2004); ``intra``: the
    training part (:func:`intra_split`, seeded by the classifier's ``random_state``) of the
    pooled beats of every non-paced record. At most ``max_normal`` N beats are used
    (:func:`subsample_normal`). The protocol is kept in ``training_`` and in the model file.
    """
    if split not in ("ds1", "intra"):
        raise EcgError(f"split must be ds1 or intra, got {split!r}")
    model = classifier or EcgBeatClassifier()
    seed = model.random_state
    records = split_records(folder, split)
    data = assemble(load_beats(folder, records, lead, progress=on_record))
    train_mask = np.ones(data.reference.size, bool)
    if split == "intra":
        train_mask = ~intra_split(data.reference, test_fraction, seed)
    idx = np.flatnonzero(train_mask)
    idx = idx[subsample_normal(data.reference[idx], max_normal, seed)]
    model.fit(data.X[idx], data.reference[idx], progress=on_epoch)
    model.training_ = {"split": split, "records": records, "lead": lead,
                       "max_normal": max_normal, "beats": int(idx.size),
                       "test_fraction": test_fraction if split == "intra" else None,
                       "seed": seed}
    return model


def intra_test_beats(folder: str | Path, model: EcgBeatClassifier, lead: str = LEAD,
                     ) -> RecordBeats:
    """The held-out beats of an intra-patient model (its split, re-drawn from its seed)."""
    info = getattr(model, "training_", {})
    if info.get("split") != "intra":
        raise EcgError("this model was not trained with the intra-patient split")
    data = assemble(load_beats(folder, info["records"], lead))
    test = intra_split(data.reference, info["test_fraction"], info["seed"])
    return RecordBeats(data.record, data.X[test], data.reference[test], data.sample[test],
                       dict.fromkeys(CLASSES, 0))


def evaluate(model: EcgBeatClassifier, beats: RecordBeats, backend: str = "reference",
             **options: Any) -> dict[str, Any]:
    """AAMI report of a model on a set of beats, on one backend, with the synaptic
    operations per beat."""
    pred = model.predict_detail(beats.X, backend, **options)
    report = aami_report(beats.reference, pred.labels, beats.missed)
    report["backend"] = backend
    report["synaptic_ops_per_beat"] = float(pred.synaptic_ops.mean()) if len(
        pred.synaptic_ops) else 0.0
    return report
