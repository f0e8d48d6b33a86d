"""Artefacts of wearable sensing with ground-truth labels, and mixing at a requested SNR.

Each artefact model is a frozen dataclass; ``model.generate(host, random_state)`` returns an
:class:`Artefact` for a host :class:`~sensors.records.Recording`: a waveform in the host's
units and shape, labels (kind, onset, offset in seconds, channel), and the reference channels
that a wearable would record alongside (accelerometer, microphone) as recordings of their own.
Waveforms come at a nominal scale; :func:`mix_at_snr` and :func:`corrupt` set the level.

- :class:`BaselineWander` — respiration-locked and slower drift (0.05-0.5 Hz).
- :class:`MainsInterference` — 50/60 Hz with harmonics.
- :class:`EMGNoise` — bursts of band-limited Gaussian noise (20-150 Hz, muscle activity).
- :class:`MotionArtefact` — episodes of walking, running or arm swing. An accelerometer
  model (step frequency and harmonics, gravity, stride-locked arm swing; Zijlstra & Hof, Gait
  Posture 18:1-10, 2003, for step rates and vertical amplitudes) gives the 3-axis trace in g;
  a sensor-specific coupling turns it into the artefact: PPG — the optical path and venous
  pressure follow the acceleration normal to the skin (0.5-5 Hz), modulating the DC
  photocurrent; ECG — electrode-skin impedance changes with skin stretch, a rectified,
  low-passed jerk of the acceleration magnitude with electrode-motion-like steps; ear-EEG —
  head motion in the low band plus jaw (chewing) bursts in the EMG band.
- :class:`FrictionBurst` — sensor-skin friction: bursts of broadband noise in the band of an
  in-ear microphone (1-6 kHz) with that microphone channel (Pa), and the triboelectric
  spikes that the same rubbing puts on the host signal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import scipy.signal

from sensors.records import LABEL_DTYPE, Recording
from sensors.signals import snr_db


@dataclass(frozen=True)
class Artefact:
    """One artefact realisation for a host recording.

    Args:
        kind: label name.
        waveform: [channels, samples] in the host's units, nominal scale.
        labels: ``LABEL_DTYPE`` array (seconds).
        references: channels a wearable records with it (e.g. accelerometer, microphone).
    """

    kind: str
    waveform: np.ndarray
    labels: np.ndarray
    references: tuple[Recording, ...] = ()


class ArtefactModel(Protocol):
    """What :func:`corrupt` takes: a model that makes an :class:`Artefact` for a host."""

    def generate(self, host: Recording,
                 random_state: int | np.random.Generator | None = None) -> Artefact:
        """One realisation for ``host``."""
        ...


def _labels(kind: str, spans: Sequence[tuple[float, float]], channel: int = -1) -> np.ndarray:
    out = np.zeros(len(spans), LABEL_DTYPE)
    for i, (a, b) in enumerate(spans):
        out[i] = (kind, a, b, channel)
    return out


def _episodes(duration_s: float, count: int, length_s: tuple[float, float],
              rng: np.random.Generator) -> list[tuple[float, float]]:
    """Up to ``count`` non-overlapping (onset, offset) spans inside ``duration_s``."""
    spans: list[tuple[float, float]] = []
    for _ in range(count * 20):
        if len(spans) == count:
            break
        length = min(rng.uniform(*length_s), duration_s)
        onset = rng.uniform(0, duration_s - length)
        if all(onset >= b or onset + length <= a for a, b in spans):
            spans.append((onset, onset + length))
    return sorted(spans)


def _mask(spans: Sequence[tuple[float, float]], n: int, fs: float) -> np.ndarray:
    mask = np.zeros(n, bool)
    for a, b in spans:
        mask[round(a * fs):round(b * fs)] = True
    return mask


def _band_noise(rng: np.random.Generator, shape: tuple[int, int], band: tuple[float, float],
                fs: float) -> np.ndarray:
    """Unit-rms Gaussian noise in ``band`` (Hz; clipped below Nyquist)."""
    hi = min(band[1], 0.45 * fs)
    sos = scipy.signal.butter(4, [band[0], hi], "bandpass", fs=fs, output="sos")
    x = scipy.signal.sosfiltfilt(sos, rng.standard_normal(shape), axis=-1)
    return x / max(x.std(), 1e-30)


@dataclass(frozen=True)
class BaselineWander:
    """Baseline wander: respiration-locked sinusoid plus slow drift, nominal 1 unit peak."""

    resp_hz: float = 0.25
    drift_hz: float = 0.05

    def generate(self, host: Recording, random_state: int | np.random.Generator | None = None
                 ) -> Artefact:
        """Wander for every channel of ``host``."""
        rng = np.random.default_rng(random_state)
        t = np.arange(host.n_samples) / host.fs
        phase = rng.uniform(0, 2 * np.pi, (host.signal.shape[0], 2, 1))
        wave = (np.sin(2 * np.pi * self.resp_hz * t + phase[:, 0])
                + 0.7 * np.sin(2 * np.pi * self.drift_hz * t + phase[:, 1]))
        return Artefact("baseline_wander", wave,
                        _labels("baseline_wander", [(0.0, host.duration_s)]))


@dataclass(frozen=True)
class MainsInterference:
    """Power-line interference at ``freq_hz`` with decaying odd harmonics (below Nyquist)."""

    freq_hz: float = 50.0
    harmonics: tuple[float, ...] = (1.0, 0.3, 0.1)

    def generate(self, host: Recording, random_state: int | np.random.Generator | None = None
                 ) -> Artefact:
        """Mains on every channel of ``host``."""
        rng = np.random.default_rng(random_state)
        t = np.arange(host.n_samples) / host.fs
        wave = np.zeros_like(host.signal)
        for k, amp in enumerate(self.harmonics):
            f = self.freq_hz * (2 * k + 1)
            if f < host.fs / 2:
                phase = rng.uniform(0, 2 * np.pi, (host.signal.shape[0], 1))
                wave += amp * np.sin(2 * np.pi * f * t + phase)
        if not np.any(wave):
            raise ValueError(f"mains at {self.freq_hz:g} Hz is above the Nyquist frequency of "
                             f"{host.name} ({host.fs:g} Hz)")
        return Artefact("mains", wave, _labels("mains", [(0.0, host.duration_s)]))


@dataclass(frozen=True)
class EMGNoise:
    """Muscle noise: bursts of band-limited Gaussian noise."""

    bursts_per_min: float = 6.0
    burst_s: tuple[float, float] = (0.5, 2.0)
    band_hz: tuple[float, float] = (20.0, 150.0)

    def generate(self, host: Recording, random_state: int | np.random.Generator | None = None
                 ) -> Artefact:
        """EMG bursts on every channel of ``host``."""
        rng = np.random.default_rng(random_state)
        count = max(1, round(self.bursts_per_min * host.duration_s / 60))
        spans = _episodes(host.duration_s, count, self.burst_s, rng)
        noise = _band_noise(rng, host.signal.shape, self.band_hz, host.fs)
        return Artefact("emg", noise * _mask(spans, host.n_samples, host.fs),
                        _labels("emg", spans))


# Step rate (Hz) and vertical acceleration amplitude (g) at the wrist/head per activity.
ACTIVITIES: dict[str, tuple[float, float]] = {
    "walking": (1.9, 0.35),
    "running": (2.8, 1.2),
    "arm_swing": (0.95, 0.6),
}


def accelerometer(activity: str, spans: Sequence[tuple[float, float]], duration_s: float,
                  fs: float, rng: np.random.Generator) -> np.ndarray:
    """3-axis acceleration (g) [3, samples]: gravity on z at rest; during ``spans`` the
    activity's periodic components (steps on z and y, stride-rate swing on x) with slowly
    wandering rate, plus sensor-independent jitter."""
    if activity not in ACTIVITIES:
        raise ValueError(f"activity must be one of {', '.join(ACTIVITIES)}, got {activity!r}")
    rate, amp = ACTIVITIES[activity]
    n = round(duration_s * fs)
    t = np.arange(n) / fs
    wander = np.cumsum(rng.normal(0, 0.02, n)) / np.sqrt(fs)
    phase = 2 * np.pi * rate * t + wander
    active = _mask(spans, n, fs).astype(float)
    ramp = scipy.signal.windows.hann(max(3, round(fs)))
    active = np.convolve(active, ramp / ramp.sum(), "same")
    acc = np.zeros((3, n))
    acc[2] = 1.0 + active * amp * (np.sin(phase) + 0.4 * np.sin(2 * phase + 0.5))
    acc[1] = active * 0.4 * amp * np.sin(phase + 1.0)
    acc[0] = active * 0.8 * amp * np.sin(0.5 * phase + 0.3)
    return acc + 0.01 * rng.standard_normal((3, n)) * (0.2 + active)


@dataclass(frozen=True)
class MotionArtefact:
    """Motion artefact driven by an accelerometer trace through a sensor's coupling.

    Args:
        activity: "walking", "running" or "arm_swing".
        coupling: "ppg", "ecg" or "ear_eeg".
        episodes: number of activity episodes.
        episode_s: (shortest, longest) episode in seconds.
        acc_fs: rate of the accelerometer reference channels (ADXL362-class ODR), Hz.
    """

    activity: Literal["walking", "running", "arm_swing"] = "walking"
    coupling: Literal["ppg", "ecg", "ear_eeg"] = "ppg"
    episodes: int = 2
    episode_s: tuple[float, float] = (10.0, 30.0)
    acc_fs: float = 100.0

    def generate(self, host: Recording, random_state: int | np.random.Generator | None = None
                 ) -> Artefact:
        """The artefact on every channel of ``host`` and the accelerometer it comes from."""
        rng = np.random.default_rng(random_state)
        spans = _episodes(host.duration_s, self.episodes, self.episode_s, rng)
        acc = accelerometer(self.activity, spans, host.duration_s, self.acc_fs, rng)
        # The accelerometer as the host's sampling clock sees it.
        t_host = np.arange(host.n_samples) / host.fs
        t_acc = np.arange(acc.shape[1]) / self.acc_fs
        a = np.stack([np.interp(t_host, t_acc, ch) for ch in acc])
        fs = host.fs
        if self.coupling == "ppg":
            sos = scipy.signal.butter(2, [0.5, min(5.0, 0.45 * fs)], "bandpass", fs=fs,
                                      output="sos")
            wave = -scipy.signal.sosfiltfilt(sos, a[2] + 0.5 * a[1])
        elif self.coupling == "ecg":
            magnitude = np.linalg.norm(a, axis=0) - 1.0
            jerk = np.gradient(magnitude) * fs
            sos = scipy.signal.butter(2, min(10.0, 0.45 * fs), fs=fs, output="sos")
            wave = scipy.signal.sosfiltfilt(sos, np.tanh(jerk) + 0.3 * np.sign(jerk))
        elif self.coupling == "ear_eeg":
            sos = scipy.signal.butter(2, [0.3, min(4.0, 0.45 * fs)], "bandpass", fs=fs,
                                      output="sos")
            head = scipy.signal.sosfiltfilt(sos, np.linalg.norm(a, axis=0))
            chew = (np.sin(2 * np.pi * 1.5 * t_host) > 0.3) * _mask(spans, host.n_samples, fs)
            jaw = _band_noise(rng, (1, host.n_samples), (20.0, 100.0), fs)[0] * chew
            wave = head / max(head.std(), 1e-30) + 0.5 * jaw
        else:
            raise ValueError(f"coupling must be ppg, ecg or ear_eeg, got {self.coupling!r}")
        wave = wave * _mask(spans, host.n_samples, fs)
        reference = Recording("accelerometer", acc, self.acc_fs, ("ACC_X", "ACC_Y", "ACC_Z"),
                              ("g", "g", "g"), labels=_labels(f"motion_{self.activity}", spans),
                              info={"model": repr(self)})
        return Artefact(f"motion_{self.activity}",
                        np.broadcast_to(wave, host.signal.shape).copy(),
                        _labels(f"motion_{self.activity}", spans), (reference,))


@dataclass(frozen=True)
class FrictionBurst:
    """Sensor-skin friction: microphone bursts (Pa) and triboelectric spikes on the host.

    Args:
        bursts_per_min: mean burst rate.
        burst_s: (shortest, longest) burst in seconds.
        band_hz: band of the rubbing noise at the microphone.
        level_pa: rms sound pressure in the ear canal during a burst (0.2 Pa = 80 dB SPL).
        mic_fs: microphone sample rate, Hz.
    """

    bursts_per_min: float = 10.0
    burst_s: tuple[float, float] = (0.05, 0.3)
    band_hz: tuple[float, float] = (1000.0, 6000.0)
    level_pa: float = 0.2
    mic_fs: float = 16000.0

    def generate(self, host: Recording, random_state: int | np.random.Generator | None = None
                 ) -> Artefact:
        """Friction spikes on every channel of ``host`` and the in-ear microphone channel."""
        rng = np.random.default_rng(random_state)
        count = max(1, round(self.bursts_per_min * host.duration_s / 60))
        spans = _episodes(host.duration_s, count, self.burst_s, rng)
        n_mic = round(host.duration_s * self.mic_fs)
        mic = self.level_pa * _band_noise(rng, (1, n_mic), self.band_hz, self.mic_fs)
        mic *= _mask(spans, n_mic, self.mic_fs)
        spikes = rng.standard_normal(host.signal.shape) ** 3
        wave = spikes * _mask(spans, host.n_samples, host.fs)
        reference = Recording("microphone", mic, self.mic_fs, ("MIC",), ("Pa",),
                              labels=_labels("friction", spans), info={"model": repr(self)})
        return Artefact("friction", wave, _labels("friction", spans), (reference,))


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """``noise`` scaled per channel so that ``snr_db(signal[c], scaled[c]) == snr`` (powers
    about the mean, over the whole record); channels without noise stay zero."""
    s = np.asarray(signal, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    if s.shape != n.shape:
        raise ValueError(f"signal {s.shape} and noise {n.shape} differ in shape")
    ps = np.var(s, axis=-1, keepdims=True)
    pn = np.var(n, axis=-1, keepdims=True)
    if np.any((pn > 0) & (ps == 0)):
        raise ValueError("a channel of the signal is constant: no SNR can be set")
    scale = np.sqrt(np.divide(ps, pn * 10 ** (snr / 10), out=np.zeros_like(pn), where=pn > 0))
    return n * scale


@dataclass(frozen=True)
class Corrupted:
    """A corrupted recording with what went into it."""

    recording: Recording
    clean: np.ndarray
    noise: np.ndarray
    references: tuple[Recording, ...]

    def snr_db(self) -> float:
        """Achieved SNR over all channels, dB."""
        return snr_db(self.clean, self.noise)


def corrupt(recording: Recording, artefacts: Sequence[ArtefactModel], snr: float,
            random_state: int | np.random.Generator | None = None) -> Corrupted:
    """Add the sum of ``artefacts`` (models with ``generate``) to ``recording`` at ``snr`` dB
    (per channel); labels are appended to the recording's, references collected."""
    if not artefacts:
        raise ValueError("no artefact to add")
    rng = np.random.default_rng(random_state)
    made = [a.generate(recording, rng) for a in artefacts]
    noise = mix_at_snr(recording.signal, sum(m.waveform for m in made), snr)
    labels = np.concatenate([recording.labels, *(m.labels for m in made)])
    corrupted = dataclasses.replace(recording, signal=recording.signal + noise,
                                    labels=np.sort(labels, order="onset"), adc=None)
    return Corrupted(corrupted, recording.signal, noise,
                     tuple(r for m in made for r in m.references))


ARTEFACTS: dict[str, ArtefactModel] = {
    "baseline": BaselineWander(),
    "mains": MainsInterference(),
    "mains60": MainsInterference(60.0),
    "emg": EMGNoise(),
    "motion:walking": MotionArtefact("walking"),
    "motion:running": MotionArtefact("running"),
    "motion:arm_swing": MotionArtefact("arm_swing"),
    "friction": FrictionBurst(),
}


def artefact(name: str, coupling: str | None = None) -> ArtefactModel:
    """A named artefact model (``ARTEFACTS``); motion takes the host's ``coupling``."""
    if name not in ARTEFACTS:
        raise ValueError(f"unknown artefact {name!r}; known: {', '.join(ARTEFACTS)}")
    model = ARTEFACTS[name]
    if isinstance(model, MotionArtefact) and coupling is not None:
        model = dataclasses.replace(model, coupling=coupling)
    return model
