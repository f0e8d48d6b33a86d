"""Artefact identification per window: clean / motion / friction / other, as a small spiking
classifier whose output events go downstream.

Per window (2 s, a step of the heart-rate tracker) six band energies are measured on the
primary and the reference channels, each mapped to [0, 1] on a fixed logarithmic range
(:func:`window_features`):

==  ===========  =============================================================  ============
#   name         what                                                           log10 range
==  ===========  =============================================================  ============
0   ``acc``      accelerometer rms, 0.5-8 Hz, all axes (g)                      -2.5 .. 0.5
1   ``mic``      in-ear microphone rms, 1-6 kHz (Pa)                            -3.5 .. 0
2   ``pulse``    primary rms, 0.5-4 Hz, over the record's median window          -1 .. 1.5
3   ``low``      primary rms, 0.05-0.4 Hz, over the median pulse-band rms    -1.5 .. 1.5
4   ``high``     primary rms above 5 Hz, over the median pulse-band rms          -2 .. 1
5   ``spiky``    peak over rms of the primary above 5 Hz (impulsive noise)       0.3 .. 1.5
==  ===========  =============================================================  ============

Motion shows on the accelerometer (low-frequency whole-body motion), friction on the in-ear
microphone and as impulsive spikes on the primary (sensor-skin rubbing), "other" (muscle
noise, baseline wander, mains) on the primary alone. The primary's bands are relative to the
record's own median window, so that the classifier does not depend on the sensor's gain.

Each feature is rate-coded over the window (:class:`sensors.encoders.RateEncoder`, seeded)
into one input of a one-layer CUBA-LIF network of the contract with one neuron per class:
trained as a linear (softmax) readout of the input rates, then quantised. The most active
neuron in a window is its class; its spikes are the events that go downstream
(:meth:`ArtefactClassifier.events`), so that a beat classifier can discount the beats of an
affected window instead of discarding whole epochs. Inference runs on any backend.

:func:`labelled_mixtures` makes the labelled training and test data from the sensors
package's models (a synthetic PPG with motion, friction or other artefacts at a random SNR,
with the accelerometer and microphone that would record them); :func:`protocol_labels`
labels the SP Cup 2015 recordings from their protocol (rest, running, rest).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.signal

from neuro.backends import run
from neuro.network import FixedNetwork, FloatLayer, FloatNetwork
from neuro.quantise import quantise
from sensors.artefacts import (
    ArtefactModel,
    BaselineWander,
    EMGNoise,
    FrictionBurst,
    MainsInterference,
    MotionArtefact,
    accelerometer,
    corrupt,
)
from sensors.encoders import RateEncoder
from sensors.events import EVENT_DTYPE, make_events, sample_index, sample_times_us
from sensors.physiology import PPG

CLASSES = ("clean", "motion", "friction", "other")
FEATURES = ("acc", "mic", "pulse", "low", "high", "spiky")
# log10 ranges mapped onto [0, 1] (see the module docstring).
RANGES = np.array([(-2.5, 0.5), (-3.5, 0.0), (-1.0, 1.5), (-1.5, 1.5), (-2.0, 1.0),
                   (0.3, 1.5)])
WINDOW_S = 2.0
# In-ear microphone noise floor: 356 µPa A-weighted (sensors.afe "hearable" preset).
MIC_FLOOR_PA = 356e-6


def _band_rms(x: np.ndarray, fs: float, band: tuple[float | None, float | None],
              window: int, count: int) -> np.ndarray:
    """rms per window of ``x`` [channels, samples] filtered to ``band`` (Hz), summed over
    channels in power."""
    lo, hi = band
    hi = None if hi is None or hi >= 0.45 * fs else hi
    if lo is None and hi is None:
        y = x
    else:
        kind, edges = (("bandpass", [lo, hi]) if lo is not None and hi is not None else
                       ("highpass", lo) if lo is not None else ("lowpass", hi))
        sos = scipy.signal.butter(2, edges, kind, fs=fs, output="sos")
        y = scipy.signal.sosfiltfilt(sos, x, axis=-1)
    power = (y[:, : window * count] ** 2).reshape(y.shape[0], count, window).mean(axis=-1)
    return np.sqrt(power.sum(axis=0))


def window_features(primary: np.ndarray, fs: float, acc: np.ndarray | None = None,
                    acc_fs: float | None = None, mic: np.ndarray | None = None,
                    mic_fs: float | None = None, window_s: float = WINDOW_S) -> np.ndarray:
    """Features [windows, 6] in [0, 1] of consecutive ``window_s`` windows.

    Args:
        primary: [samples] or [1, samples], any unit (PPG, ECG, EEG).
        fs: its rate, Hz.
        acc: [3, samples] in g at ``acc_fs`` Hz, or None (no accelerometer: feature 0).
        mic: [samples] in Pa at ``mic_fs`` Hz, or None (no microphone: feature 0).
    """
    x = np.atleast_2d(np.asarray(primary, dtype=np.float64))
    window = round(window_s * fs)
    count = x.shape[1] // window
    if count == 0:
        raise ValueError(f"{x.shape[1]} samples at {fs:g} Hz hold no {window_s:g}-s window")
    raw = np.zeros((count, len(FEATURES)))
    for col, signal, rate, band in ((0, acc, acc_fs, (0.5, 8.0)), (1, mic, mic_fs,
                                                                   (1000.0, 6000.0))):
        if signal is None:
            raw[:, col] = -np.inf
            continue
        s = np.atleast_2d(np.asarray(signal, dtype=np.float64))
        w = round(window_s * rate)
        if s.shape[1] // w < count:
            raise ValueError(f"{FEATURES[col]}: {s.shape[1]} samples at {rate:g} Hz cover "
                             f"fewer than {count} windows")
        raw[:, col] = np.log10(_band_rms(s, rate, band, w, count) + 1e-12)
    pulse = _band_rms(x, fs, (0.5, 4.0), window, count) + 1e-30
    scale = np.median(pulse)
    raw[:, 2] = np.log10(pulse / scale)
    raw[:, 3] = np.log10(_band_rms(x, fs, (0.05, 0.4), window, count) / scale + 1e-12)
    high = scipy.signal.sosfiltfilt(
        scipy.signal.butter(2, 5.0, "highpass", fs=fs, output="sos"), x, axis=-1)
    frames = high[:, : window * count].reshape(x.shape[0], count, window)
    rms = np.sqrt((frames**2).mean(axis=-1)).max(axis=0) + 1e-30
    raw[:, 4] = np.log10(rms / scale + 1e-12)
    raw[:, 5] = np.log10(np.abs(frames).max(axis=-1).max(axis=0) / rms + 1e-12)
    lo, hi = RANGES[:, 0], RANGES[:, 1]
    return np.clip((raw - lo) / (hi - lo), 0.0, 1.0)


def _softmax_regression(X: np.ndarray, index: np.ndarray, n_classes: int,
                        l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (L-BFGS): coef [classes, inputs], intercept."""
    n, d = X.shape
    onehot = np.eye(n_classes)[index]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: n_classes * d].reshape(n_classes, d), theta[n_classes * d:]
        z = X @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.mean(np.log(p[np.arange(n), index] + 1e-300)) + 0.5 * l2 * np.sum(w * w)
        g = (p - onehot) / n
        return value, np.concatenate([(g.T @ X + l2 * w).ravel(), g.sum(axis=0)])

    theta = scipy.optimize.minimize(loss, np.zeros(n_classes * (d + 1)), jac=True,
                                    method="L-BFGS-B").x
    return theta[: n_classes * d].reshape(n_classes, d), theta[n_classes * d:]


class ArtefactClassifier:
    """Spiking per-window artefact classifier (clean / motion / friction / other).

    Args:
        steps: network steps per window (the rate code's length).
        max_rate: spikes per step of a feature at 1.
        l2: ridge penalty of the readout's training.
        steps_per_spike: a typical winning neuron fires once per this many steps.
        backend: where :meth:`predict` runs the network.
        random_state: seed of the rate code.

    Attributes (after ``fit``):
        classes_: class names in neuron order.
        coef_, intercept_: the trained linear readout of the input rates.
        network_: the quantised spiking network (:class:`~neuro.network.FixedNetwork`).
    """

    def __init__(self, steps: int = 250, max_rate: float = 0.5, l2: float = 1e-5,
                 steps_per_spike: float = 4.0, backend: str = "reference",
                 random_state: int | None = 0):
        self.steps = steps
        self.max_rate = max_rate
        self.l2 = l2
        self.steps_per_spike = steps_per_spike
        self.backend = backend
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> ArtefactClassifier:
        """Train on features ``X`` [windows, 6] in [0, 1] and labels ``y`` (class names).

        The readout is a softmax regression on the input rates. A spiking readout fires only
        on positive drive, so the scores are shifted to put a typical runner-up at zero and
        scaled so that a typical winner fires every ``steps_per_spike`` steps: one layer of
        CUBA-LIF neurons (du = 4095 passes each step's input to v, dv = 0 integrates it),
        quantised to the contract.
        """
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(X) != len(y):
            raise ValueError(f"X must be [windows, {len(FEATURES)}] matching y, got {X.shape} "
                             f"and {y.shape}")
        unknown = sorted(set(y.tolist()) - set(CLASSES))
        if unknown:
            raise ValueError(f"labels must be among {CLASSES}, got {unknown}")
        if not (isinstance(self.steps, int) and self.steps >= 1 and 0 < self.max_rate <= 1):
            raise ValueError(f"steps must be a positive integer and max_rate in (0, 1], got "
                             f"{self.steps!r} and {self.max_rate!r}")
        classes, index = np.unique(y, return_inverse=True)
        rates = X * self.max_rate
        self.coef_, self.intercept_ = _softmax_regression(rates, index, classes.size, self.l2)
        ranked = np.sort(rates @ self.coef_.T + self.intercept_, axis=1)
        offset = -float(np.median(ranked[:, -2]))
        winner = max(float(np.median(ranked[:, -1])) + offset, 1e-6)
        layer = FloatLayer(self.coef_, du=1.0, dv=0.0, vth=self.steps_per_spike * winner,
                           bias=self.intercept_ + offset)
        self.classes_ = tuple(str(c) for c in classes)
        self.network_: FixedNetwork = quantise(FloatNetwork((layer,)))
        return self

    def spikes(self, X: np.ndarray) -> np.ndarray:
        """Rate-coded inputs [windows, steps, 6] (uint8) of features ``X``."""
        X = np.asarray(X, dtype=np.float64)
        held = np.repeat(X.T, self.steps, axis=1)  # [features, windows x steps]
        encoder = RateEncoder(0.0, 1.0, fs=1.0, max_rate_hz=self.max_rate,
                              random_state=self.random_state)
        events = encoder(held)
        raster = np.zeros((X.shape[0] * self.steps, X.shape[1]), np.uint8)
        raster[sample_index(events, 1.0), events["x"]] = 1
        return raster.reshape(X.shape[0], self.steps, X.shape[1])

    def output_spikes(self, X: np.ndarray) -> np.ndarray:
        """The class neurons' spikes [windows, steps, classes] on the chosen backend."""
        if not hasattr(self, "network_"):
            raise ValueError("fit the classifier first")
        return run(self.network_, self.spikes(X), self.backend).output

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class per window: the most active neuron (no spike at all: clean)."""
        counts = self.output_spikes(X).sum(axis=1)
        labels = np.asarray(self.classes_)[counts.argmax(axis=1)]
        return np.where(counts.max(axis=1) > 0, labels, "clean")

    def events(self, X: np.ndarray, window_s: float = WINDOW_S) -> np.ndarray:
        """The class neurons' spikes as address-events (``EVENT_DTYPE``): address = index in
        ``classes_``, time = the window's start plus the step's offset (µs)."""
        out = self.output_spikes(X)
        w, s, c = np.nonzero(out)
        if w.size == 0:
            return np.empty(0, EVENT_DTYPE)
        t = w * window_s + s * (window_s / self.steps)
        return make_events(sample_times_us(t, 1.0), c, np.ones(c.size, np.int8))


def class_report(truth: np.ndarray, predicted: np.ndarray,
                 classes: tuple[str, ...] = CLASSES) -> dict[str, dict[str, float]]:
    """Per class: sensitivity (recall), precision and support; NaN where undefined."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    report = {}
    for c in classes:
        hit = np.sum((truth == c) & (predicted == c))
        support, called = int(np.sum(truth == c)), int(np.sum(predicted == c))
        report[c] = {"sensitivity": hit / support if support else float("nan"),
                     "precision": hit / called if called else float("nan"),
                     "support": support}
    return report


def _window_labels(labels: np.ndarray, count: int, window_s: float) -> np.ndarray:
    """Window class from artefact labels: friction wherever a burst touches the window,
    else motion or other where their spans cover the window's centre, else clean."""
    starts = np.arange(count) * window_s
    centre = starts + window_s / 2
    out = np.full(count, "clean", dtype="<U8")
    for kind, onset, offset, _ in labels.tolist():
        cls = ("motion" if kind.startswith("motion") else
               "friction" if kind == "friction" else "other")
        if cls == "friction":
            hit = (starts < offset) & (starts + window_s > onset)
        else:
            hit = (centre >= onset) & (centre < offset) & (out != "friction")
        out[hit] = cls
    return out


def _mixture_models(kind: str, rng: np.random.Generator) -> list[ArtefactModel]:
    if kind == "motion":
        activity = rng.choice(["walking", "running", "arm_swing"])
        return [MotionArtefact(str(activity), "ppg", episodes=2, episode_s=(10.0, 25.0))]
    if kind == "friction":
        return [FrictionBurst(bursts_per_min=float(rng.uniform(6, 15)))]
    other = rng.choice(["emg", "baseline", "mains"])
    return [{"emg": EMGNoise(bursts_per_min=10.0), "baseline": BaselineWander(),
             "mains": MainsInterference(float(rng.choice([50.0, 60.0])))}[str(other)]]


def labelled_mixtures(records: int = 8, duration_s: float = 60.0, fs: float = 125.0,
                      snr_db: tuple[float, float] = (-6.0, 12.0),
                      random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features [windows, 6] and labels of synthetic wrist PPG with labelled artefacts.

    ``records`` recordings of each kind (clean, motion, friction, other) of ``duration_s``:
    a synthetic PPG (:class:`sensors.physiology.PPG`, 55-150 bpm) with the kind's artefact
    model at an SNR drawn from ``snr_db``, an accelerometer (at rest unless the artefact is
    motion) and an in-ear microphone (noise floor unless friction).
    """
    rng = np.random.default_rng(random_state)
    features, labels = [], []
    for kind in CLASSES:
        for _ in range(records):
            host = PPG(heart_rate_bpm=float(rng.uniform(55, 150))).generate(duration_s, fs, rng)
            acc = accelerometer("walking", [], duration_s, 100.0, rng)
            mic = MIC_FLOOR_PA * rng.standard_normal(round(duration_s * 16000.0))
            signal, window_labels = host.signal[0], host.labels
            if kind != "clean":
                mixed = corrupt(host, _mixture_models(kind, rng), float(rng.uniform(*snr_db)),
                                rng)
                signal, window_labels = mixed.recording.signal[0], mixed.recording.labels
                for ref in mixed.references:
                    if ref.channels[0] == "MIC":
                        mic = mic + ref.signal[0]
                    else:
                        acc = ref.signal
            feats = window_features(signal, fs, acc, 100.0, mic, 16000.0)
            features.append(feats)
            labels.append(_window_labels(window_labels, len(feats), WINDOW_S))
    return np.concatenate(features), np.concatenate(labels)


def protocol_labels(name: str, duration_s: float, window_s: float = WINDOW_S,
                    guard_s: float = 4.0) -> np.ndarray:
    """Window labels of an SP Cup 2015 training recording from its protocol: rest for the
    first 30 s, running (motion) until 30 s before the end, rest after; windows within
    ``guard_s`` of a transition are "" (not scored).

    TYPE01 and TYPE02 share the timing (30 s rest, 4 x 1 min running, 30 s rest); the
    recordings run 5 min give or take a few seconds, so the last rest is taken from the end.
    """
    if "TYPE0" not in name:
        raise ValueError(f"{name}: the protocol is known for DATA_xx_TYPE01/02 only")
    count = int(duration_s // window_s)
    start = np.arange(count) * window_s
    centre = start + window_s / 2
    run_from, run_to = 30.0, duration_s - 30.0
    labels = np.where((centre >= run_from) & (centre < run_to), "motion", "clean")
    near = (np.abs(start - run_from) < guard_s) | (np.abs(start + window_s - run_from) < guard_s)
    near |= (np.abs(start - run_to) < guard_s) | (np.abs(start + window_s - run_to) < guard_s)
    return np.where(near, "", labels).astype("<U8")
