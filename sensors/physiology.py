"""Physiological signal models with the heart rate, rhythm and morphology under control.

Each model is a frozen dataclass of parameters; ``model.generate(duration_s, fs,
random_state)`` returns a :class:`~sensors.records.Recording` with its ground truth.

- :class:`ECG` — our own sum-of-Gaussians beat model (the P, Q, R, S, T waves of McSharry et
  al., IEEE TBME 50(3):289-294, 2003, placed at explicit beat times, widths scaled with the
  RR interval as in Bazett's QT correction). Unlike neurokit2's ECGSYN it gives the exact
  beat annotations (sample, symbol, AAMI class), and it renders three rhythms: ``sinus``
  (respiratory sinus arrhythmia plus random RR variability), ``af`` (atrial fibrillation:
  irregular RR with no P wave and 4-9 Hz fibrillatory waves) and ``pvc`` (premature
  ventricular beats: early, wide, tall QRS with no P wave, then a compensatory pause).
- :class:`PPG` — neurokit2's ``ppg_simulate`` (Charlton et al. beat template) as the pulse
  shape, turned into the photocurrent (A) that a reflective sensor sees: a DC level with a
  pulsatile dip of ``perfusion_index`` (more blood absorbs more light).
- :class:`Respiration` — neurokit2's ``rsp_simulate`` (breathmetrics model), arbitrary units.
- :class:`EMG` — neurokit2's ``emg_simulate`` (bursts of Gaussian activity), scaled to mV.
- :class:`EEG` — our own: 1/f^beta background (Gaussian noise shaped in frequency) plus an
  alpha rhythm with waxing and waning amplitude, in µV; neurokit2's EEG simulator needs MNE
  and a head model.

The heart rate of :class:`ECG` and :class:`PPG` is also given as an 8-s-window trace (2-s step)
like the SP Cup's reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sensors.records import AAMI_OF_SYMBOL, BEAT_DTYPE, HR_DTYPE, Recording

# Wave parameters at RR = 1 s: (name, centre re R peak in s, width in s, amplitude in mV).
ECG_WAVES: tuple[tuple[str, float, float, float], ...] = (
    ("P", -0.20, 0.025, 0.12),
    ("Q", -0.030, 0.010, -0.10),
    ("R", 0.0, 0.012, 1.00),
    ("S", 0.030, 0.010, -0.25),
    ("T", 0.28, 0.055, 0.30),
)
# A premature ventricular beat: no P, a wide tall QRS of opposite-going S, inverted T.
PVC_WAVES: tuple[tuple[str, float, float, float], ...] = (
    ("R", 0.0, 0.030, 1.6),
    ("S", 0.060, 0.030, -0.6),
    ("T", 0.32, 0.070, -0.45),
)


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    return np.random.default_rng(random_state)


def hr_trace(beat_times_s: np.ndarray, duration_s: float, window_s: float = 8.0,
             step_s: float = 2.0) -> np.ndarray:
    """Heart rate per window (``HR_DTYPE``): 60 / mean RR of the beats inside each window."""
    onsets = np.arange(0.0, duration_s - window_s + 1e-9, step_s)
    hr = np.zeros(onsets.size, HR_DTYPE)
    hr["onset"], hr["offset"] = onsets, onsets + window_s
    for i, t0 in enumerate(onsets):
        inside = beat_times_s[(beat_times_s >= t0) & (beat_times_s < t0 + window_s)]
        hr["bpm"][i] = 60.0 / np.mean(np.diff(inside)) if inside.size > 1 else np.nan
    return hr


def _sum_of_gaussians(t: np.ndarray, beats_s: np.ndarray, scale: np.ndarray,
                      waves: list[tuple[tuple[str, float, float, float], ...]],
                      kind: np.ndarray) -> np.ndarray:
    """ECG (mV) at times ``t``: the waves of the beats just before and just after each sample,
    beat b drawing ``waves[kind[b]]`` with times scaled by ``scale[b]`` (vectorised)."""
    out = np.zeros_like(t)
    after = np.searchsorted(beats_s, t)
    for beat in (after - 1, after):
        valid = (beat >= 0) & (beat < beats_s.size)
        b = np.clip(beat, 0, beats_s.size - 1)
        dt, s = t - beats_s[b], scale[b]
        for k, wave_set in enumerate(waves):
            mine = valid & (kind[b] == k)
            for _, mu, sigma, a in wave_set:
                out += np.where(mine, a * np.exp(-0.5 * ((dt - mu * s) / (sigma * s)) ** 2), 0)
    return out


@dataclass(frozen=True)
class ECG:
    """Synthetic single-lead ECG in mV with beat annotations.

    Args:
        heart_rate_bpm: mean heart rate.
        heart_rate_std_bpm: random beat-to-beat variability (sinus, pvc).
        rhythm: "sinus", "af" or "pvc".
        pvc_fraction: fraction of beats that are premature ventricular (rhythm "pvc").
        amplitude_mv: R-wave amplitude.
        qrs_width: QRS width factor (1 = normal; >1 widens Q, R, S).
        t_amplitude: T-wave amplitude factor.
        resp_rate_hz: respiratory sinus arrhythmia frequency; its depth is 5% of the RR.
    """

    heart_rate_bpm: float = 70.0
    heart_rate_std_bpm: float = 2.0
    rhythm: Literal["sinus", "af", "pvc"] = "sinus"
    pvc_fraction: float = 0.1
    amplitude_mv: float = 1.0
    qrs_width: float = 1.0
    t_amplitude: float = 1.0
    resp_rate_hz: float = 0.25

    def __post_init__(self) -> None:
        if not 20 <= self.heart_rate_bpm <= 250:
            raise ValueError(f"heart_rate_bpm must lie in 20..250, got {self.heart_rate_bpm}")
        if self.rhythm not in ("sinus", "af", "pvc"):
            raise ValueError(f"rhythm must be sinus, af or pvc, got {self.rhythm!r}")

    def waves(self) -> tuple[tuple[str, float, float, float], ...]:
        """Normal-beat waves after the morphology factors."""
        out = []
        for name, mu, sigma, a in ECG_WAVES:
            if name in "QRS":
                mu, sigma = mu * self.qrs_width, sigma * self.qrs_width
            if name == "T":
                a = a * self.t_amplitude
            if name == "P" and self.rhythm == "af":
                continue
            out.append((name, mu, sigma, a))
        return tuple(out)

    def beat_times(self, duration_s: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """R-peak times (s) and beat symbols ("N" or "V")."""
        rr0 = 60.0 / self.heart_rate_bpm
        n = int(duration_s / rr0 * 1.5) + 4
        if self.rhythm == "af":
            # Irregularly irregular: RR drawn from a wide gamma law around the mean.
            rr = rr0 * rng.gamma(8.0, 1 / 8.0, n)
        else:
            rr = rr0 * (1 + 0.05 * np.sin(2 * np.pi * self.resp_rate_hz * rr0 * np.arange(n)))
            rr += rng.normal(0, self.heart_rate_std_bpm / self.heart_rate_bpm * rr0, n)
        symbol = np.full(n, "N")
        if self.rhythm == "pvc":
            pvc = rng.random(n) < self.pvc_fraction
            pvc[0] = False
            pvc[1:] &= ~pvc[:-1]
            symbol[pvc] = "V"
            # Coupling interval 60% of the RR, then a full compensatory pause.
            nxt = np.flatnonzero(pvc[:-1]) + 1
            rr[nxt] += rr[pvc[:-1].nonzero()[0]] * 0.4
            rr[pvc] *= 0.6
        times = 0.3 * rr0 + np.cumsum(np.concatenate([[0.0], rr[1:]]))
        keep = times < duration_s
        return times[keep], symbol[keep], np.maximum(np.concatenate([[rr0], rr[1:]])[keep], 0.3)

    def generate(self, duration_s: float, fs: float = 360.0,
                 random_state: int | np.random.Generator | None = None) -> Recording:
        """An ECG of ``duration_s`` seconds at ``fs`` Hz."""
        rng = _rng(random_state)
        times, symbol, rr = self.beat_times(duration_s, rng)
        t = np.arange(round(duration_s * fs)) / fs
        kind = (symbol == "V").astype(int)
        ecg = self.amplitude_mv * _sum_of_gaussians(t, times, np.sqrt(rr),
                                                    [self.waves(), PVC_WAVES], kind)
        if self.rhythm == "af":
            f_wave = 5 + 2 * rng.random()
            ecg += 0.05 * self.amplitude_mv * np.sin(
                2 * np.pi * f_wave * t + np.cumsum(rng.normal(0, 0.05, t.size)))
        beats = np.zeros(times.size, BEAT_DTYPE)
        beats["sample"] = np.rint(times * fs).astype(np.int64)
        beats["symbol"] = symbol
        beats["aami"] = [AAMI_OF_SYMBOL[s] for s in symbol]
        return Recording("sim:ecg", ecg[None], fs, ("ECG",), ("mV",), beats=beats,
                         hr=hr_trace(times, duration_s),
                         info={"model": repr(self), "set": "synthetic (sensors.physiology)"})


@dataclass(frozen=True)
class PPG:
    """Synthetic reflective PPG as photocurrent (A).

    Args:
        heart_rate_bpm: mean heart rate.
        dc_current_a: photocurrent with no pulse (LED, skin, tissue), e.g. 2 µA.
        perfusion_index: pulsatile fraction of the DC (wrist: 0.2-2%).
        ibi_randomness: beat-to-beat variability (neurokit2 parameter).
    """

    heart_rate_bpm: float = 70.0
    dc_current_a: float = 2e-6
    perfusion_index: float = 0.01
    ibi_randomness: float = 0.1

    def generate(self, duration_s: float, fs: float = 125.0,
                 random_state: int | np.random.Generator | None = None) -> Recording:
        """A PPG of ``duration_s`` seconds at ``fs`` Hz."""
        import neurokit2 as nk

        seed = int(_rng(random_state).integers(2**31))
        pulse = nk.ppg_simulate(duration=duration_s, sampling_rate=fs,
                                heart_rate=self.heart_rate_bpm, ibi_randomness=self.ibi_randomness,
                                drift=0, motion_amplitude=0, powerline_amplitude=0,
                                burst_number=0, random_state=seed)
        pulse = (pulse - pulse.min()) / np.ptp(pulse)
        current = self.dc_current_a * (1 - self.perfusion_index * pulse)
        peaks = np.flatnonzero((pulse[1:-1] > pulse[:-2]) & (pulse[1:-1] >= pulse[2:])
                               & (pulse[1:-1] > 0.6)) + 1
        return Recording("sim:ppg", current[None], fs, ("PPG",), ("A",),
                         hr=hr_trace(peaks / fs, duration_s),
                         info={"model": repr(self), "set": "synthetic (neurokit2 ppg_simulate)"})


@dataclass(frozen=True)
class Respiration:
    """Synthetic respiration (breathmetrics model), arbitrary units."""

    rate_per_min: float = 15.0

    def generate(self, duration_s: float, fs: float = 50.0,
                 random_state: int | np.random.Generator | None = None) -> Recording:
        """A respiration trace of ``duration_s`` seconds at ``fs`` Hz."""
        import neurokit2 as nk

        seed = int(_rng(random_state).integers(2**31))
        rsp = nk.rsp_simulate(length=round(duration_s * fs), sampling_rate=fs, noise=0,
                              respiratory_rate=self.rate_per_min, random_state=seed)
        return Recording("sim:resp", np.asarray(rsp)[None], fs, ("RESP",), ("a.u.",),
                         info={"model": repr(self), "set": "synthetic (neurokit2 rsp_simulate)"})


@dataclass(frozen=True)
class EMG:
    """Synthetic surface EMG bursts in mV."""

    bursts: int = 2
    burst_duration_s: float = 1.0
    amplitude_mv: float = 0.5

    def generate(self, duration_s: float, fs: float = 1000.0,
                 random_state: int | np.random.Generator | None = None) -> Recording:
        """An EMG of ``duration_s`` seconds at ``fs`` Hz."""
        import neurokit2 as nk

        seed = int(_rng(random_state).integers(2**31))
        emg = nk.emg_simulate(length=round(duration_s * fs), sampling_rate=fs, noise=0.01,
                              burst_number=self.bursts, burst_duration=self.burst_duration_s,
                              random_state=seed)
        return Recording("sim:emg", self.amplitude_mv * np.asarray(emg)[None], fs, ("EMG",),
                         ("mV",),
                         info={"model": repr(self), "set": "synthetic (neurokit2 emg_simulate)"})


@dataclass(frozen=True)
class EEG:
    """Synthetic EEG in µV: 1/f^beta background plus a waxing and waning alpha rhythm.

    Args:
        channels: number of channels.
        background_uv: rms of the 1/f background per channel.
        beta: spectral exponent of the background (1 = pink).
        alpha_hz, alpha_uv: alpha frequency and rms (shared by all channels, with a random
            gain per channel as from different distances to the source).
    """

    channels: int = 2
    background_uv: float = 10.0
    beta: float = 1.0
    alpha_hz: float = 10.0
    alpha_uv: float = 8.0

    def generate(self, duration_s: float, fs: float = 128.0,
                 random_state: int | np.random.Generator | None = None) -> Recording:
        """An EEG of ``duration_s`` seconds at ``fs`` Hz."""
        rng = _rng(random_state)
        n = round(duration_s * fs)
        f = np.fft.rfftfreq(n, 1 / fs)
        shape = np.zeros_like(f)
        shape[1:] = f[1:] ** (-self.beta / 2)
        spectrum = (rng.normal(size=(self.channels, f.size))
                    + 1j * rng.normal(size=(self.channels, f.size))) * shape
        background = np.fft.irfft(spectrum, n, axis=1)
        background *= self.background_uv / background.std(axis=1, keepdims=True)
        t = np.arange(n) / fs
        envelope = 1 + 0.5 * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 2 * np.pi))
        alpha = np.sqrt(2) * self.alpha_uv * envelope * np.sin(2 * np.pi * self.alpha_hz * t)
        gains = rng.uniform(0.5, 1.0, (self.channels, 1))
        names = tuple(f"EEG{i + 1}" for i in range(self.channels))
        return Recording("sim:eeg", background + gains * alpha, fs, names,
                         ("µV",) * self.channels,
                         info={"model": repr(self), "set": "synthetic (sensors.physiology)"})


MODELS: dict[str, type] = {"ecg": ECG, "ppg": PPG, "resp": Respiration, "emg": EMG, "eeg": EEG}
