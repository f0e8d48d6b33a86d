"""Analog front ends and ADCs of wearable sensor chips, with presets from their datasheets.

A front end takes the sensed quantity (V at the electrodes, g, A of photocurrent, Pa of sound)
sampled at ``fs_in`` and returns ADC codes at the part's data rate ``fs``. In order:

1. DC input offset (electrode half-cell potential, in the quantity's unit);
2. input-referred noise, white, scaled so that at the output it has the datasheet figure
   (in-band rms, noise density, or A-weighted rms);
3. band limits: optional high-pass (AC coupling) and the low-pass of the ADC's
   anti-alias/decimation filter, Butterworth at the stated -3 dB frequencies;
4. saturation at full scale and quantisation to ``bits`` (round to nearest code, clip);
5. decimation by the integer ratio ``fs_in / fs`` (every k-th sample, so any band above fs/2
   that the filter lets through aliases as it would in the part).

Every stage carries its state across chunks (filter memory, noise stream, decimation phase), so
a signal fed in chunks gives the codes of one call. ``to_units`` maps codes back to the input
quantity (input-referred).

Presets (datasheet figures quoted at each):

- ``ads1292``: TI ADS1292 24-bit biopotential AFE (SBAS502B, Dec 2011 / Sep 2012).
- ``max30102``: Maxim MAX30102 18-bit PPG current ADC (19-7740 Rev 1, 10/2018).
- ``adxl362``: Analog Devices ADXL362 12-bit MEMS accelerometer (Rev D, 2015).
- ``hearable``: an in-ear microphone of the Infineon IM69D130 class (XENSIV MEMS, datasheet
  v1.1): 69 dB(A) SNR, sensitivity -36 dBFS at 94 dB SPL, 130 dB SPL acoustic overload point.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.integrate
import scipy.signal

from sensors.noise import GaussianNoise
from sensors.signals import as_signal

NoiseKind = Literal["rms", "density", "rms_a"]
# Frequency grid for noise gains: white noise of variance s^2 leaves a filter H with variance
# s^2 * mean(|H(f)|^2) over 0..fs/2.
_NOISE_GRID = 1 << 16


@dataclass(frozen=True)
class FrontEndSpec:
    """One part at one setting; every figure in SI units of ``quantity`` unless stated.

    Args:
        name: preset name.
        part: manufacturer and part number.
        quantity: unit of the input: "V", "g", "A" or "Pa".
        fs: output data rate in Hz (one of ``rates``).
        rates: data rates the part offers, Hz.
        full_scale: input-referred full scale: ±full_scale (bipolar) or 0..full_scale.
        bits: ADC resolution.
        noise: datasheet noise figure, input-referred, in the unit ``noise_kind`` says.
        noise_kind: "rms" (unit, over the output band), "density" (unit/√Hz) or "rms_a"
            (unit, A-weighted, IEC 61672).
        bandwidth: low-pass -3 dB frequency as a fraction of ``fs``.
        highpass_hz: AC-coupling corner in Hz, or None for a DC-coupled part.
        lowpass_order, highpass_order: Butterworth orders.
        unipolar: codes 0..2^bits - 1 (a current ADC) rather than two's complement.
        offset: DC offset at the input (e.g. electrode offset), in the unit.
        noise_by_rate: (rate Hz, noise) pairs where the datasheet tabulates noise per rate.
        datasheet: where the figures come from.
    """

    name: str
    part: str
    quantity: str
    fs: float
    rates: tuple[float, ...]
    full_scale: float
    bits: int
    noise: float
    noise_kind: NoiseKind
    bandwidth: float
    highpass_hz: float | None = None
    lowpass_order: int = 2
    highpass_order: int = 1
    unipolar: bool = False
    offset: float = 0.0
    noise_by_rate: tuple[tuple[float, float], ...] = ()
    datasheet: str = ""

    def __post_init__(self) -> None:
        if self.fs not in self.rates:
            raise ValueError(f"{self.part} ({self.name}) has no data rate {self.fs} Hz; "
                             f"it offers {', '.join(f'{r:g}' for r in self.rates)} Hz")
        if not 0 < self.bandwidth < 0.5:
            raise ValueError(f"bandwidth must be a fraction of fs in (0, 0.5), got "
                             f"{self.bandwidth}")
        if self.full_scale <= 0 or self.bits < 2 or self.noise < 0:
            raise ValueError(f"{self.name}: full_scale > 0, bits >= 2 and noise >= 0 needed")

    @property
    def lsb(self) -> float:
        """One code step in the input unit."""
        return self.full_scale / (1 << (self.bits if self.unipolar else self.bits - 1))

    @property
    def code_range(self) -> tuple[int, int]:
        """Lowest and highest output code."""
        if self.unipolar:
            return 0, (1 << self.bits) - 1
        return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1

    @property
    def lowpass_hz(self) -> float:
        """Low-pass -3 dB frequency, Hz."""
        return self.bandwidth * self.fs

    def at_rate(self, fs: float) -> FrontEndSpec:
        """The same part at another data rate (noise from ``noise_by_rate`` when tabulated)."""
        noise = dict(self.noise_by_rate).get(fs, self.noise)
        return dataclasses.replace(self, fs=fs, noise=noise)

    def replace(self, **changes: object) -> FrontEndSpec:
        """A copy with fields changed (e.g. ``offset=0.3``)."""
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, FrontEndSpec] = {
    "ads1292": FrontEndSpec(
        name="ads1292", part="TI ADS1292", quantity="V", fs=500.0,
        # Data rates 125 SPS ... 8 kSPS (CONFIG1 DR bits).
        rates=(125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0),
        # Internal 2.42-V reference, PGA gain 2: input range ±VREF/gain = ±1.21 V; 24 bits.
        full_scale=1.21, bits=24,
        # Table 1 (3-V supply, 2.42-V reference), PGA gain 2: 0.8, 1.2, 1.7, 2.5, 5.3, 26.0
        # µVrms at 125 ... 4000 SPS; 1.7 µVrms (10.9 µVpp) at 500 SPS.
        noise=1.7e-6, noise_kind="rms",
        noise_by_rate=((125.0, 0.8e-6), (250.0, 1.2e-6), (500.0, 1.7e-6), (1000.0, 2.5e-6),
                       (2000.0, 5.3e-6), (4000.0, 26.0e-6)),
        # Table 1: -3-dB bandwidth 0.262 x data rate (sinc3 decimation filter), e.g. 131 Hz
        # at 500 SPS. DC-coupled: the part takes the electrode offset (AAMI EC38/IEC 60601-2-47
        # ask for ±300 mV tolerance), so no high-pass here.
        bandwidth=0.262,
        datasheet="TI SBAS502B, Table 1 (noise, bandwidth); PGA and reference sections",
    ),
    "max30102": FrontEndSpec(
        name="max30102", part="Maxim MAX30102", quantity="A", fs=100.0,
        # SPO2_SR: 50 ... 3200 samples/s.
        rates=(50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1600.0, 3200.0),
        # SPO2_ADC_RGE = 01: full scale 4096 nA, LSB 15.63 pA; 18 bits at 411-µs pulse width.
        full_scale=4096e-9, bits=18, unipolar=True,
        # The MAX30102 datasheet gives no input-referred noise; Maxim's optical AFE of the
        # same family (MAX30112 datasheet: "low 25pA-RMS input referred noise") sets it.
        noise=25e-12, noise_kind="rms",
        # Integration over the LED pulse, then sampling: modelled as a low-pass at 0.4 fs.
        bandwidth=0.4,
        datasheet="Maxim 19-7740 Rev 1 (ranges, LSB, rates); MAX30112 datasheet (noise)",
    ),
    "adxl362": FrontEndSpec(
        name="adxl362", part="Analog Devices ADXL362", quantity="g", fs=100.0,
        # ODR 12.5 ... 400 Hz.
        rates=(12.5, 25.0, 50.0, 100.0, 200.0, 400.0),
        # ±2 g range, 12-bit output, 1 mg/LSB.
        full_scale=2.048, bits=12,
        # Noise density 550 µg/√Hz in normal mode (175 µg/√Hz in ultralow-noise mode).
        noise=550e-6, noise_kind="density",
        # Antialiasing filter at ODR/4 (HALF_BW = 1, the FILTER_CTL reset value).
        bandwidth=0.25,
        datasheet="ADI ADXL362 Rev D, specifications table and FILTER_CTL register",
    ),
    "hearable": FrontEndSpec(
        name="hearable", part="in-ear MEMS microphone, Infineon IM69D130 class",
        quantity="Pa", fs=16000.0, rates=(8000.0, 16000.0, 32000.0, 48000.0),
        # Sensitivity -36 dBFS at 94 dB SPL (1 Pa rms): a full-scale sine is 63.1 Pa rms,
        # 89.3 Pa peak (= the 130 dB SPL acoustic overload point); 24-bit PCM after the PDM
        # decimator.
        full_scale=89.3, bits=24,
        # SNR 69 dB(A) at 94 dB SPL: A-weighted self-noise 25 dB(A) SPL = 356 µPa.
        noise=20e-6 * 10 ** ((94 - 69) / 20), noise_kind="rms_a",
        # Audio band: AC-coupled at 20 Hz, low-pass at 0.45 fs (model choices).
        bandwidth=0.45, highpass_hz=20.0,
        datasheet="Infineon IM69D130 datasheet v1.1 (sensitivity, SNR, AOP)",
    ),
}


def a_weighting(f: np.ndarray) -> np.ndarray:
    """A-weighting amplitude gain (IEC 61672-1 analog form, 1 at 1 kHz) at frequencies f, Hz."""
    f2 = np.asarray(f, dtype=np.float64) ** 2
    ra = (12194.0**2 * f2**2) / (
        (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))
    return ra * 10 ** (2.0 / 20)


def band_filter(spec: FrontEndSpec, fs_in: float) -> np.ndarray:
    """Second-order sections of the front end's band limits at the input rate ``fs_in``."""
    if spec.lowpass_hz >= fs_in / 2:
        raise ValueError(f"{spec.name}: low-pass at {spec.lowpass_hz:g} Hz needs an input rate "
                         f"above {2 * spec.lowpass_hz:g} Hz, got {fs_in:g} Hz")
    sos = [scipy.signal.butter(spec.lowpass_order, spec.lowpass_hz, fs=fs_in, output="sos")]
    if spec.highpass_hz:
        sos.append(scipy.signal.butter(spec.highpass_order, spec.highpass_hz, "highpass",
                                       fs=fs_in, output="sos"))
    return np.concatenate(sos)


def input_noise_rms(spec: FrontEndSpec, fs_in: float) -> float:
    """Rms of the white input noise (at ``fs_in``) that gives the datasheet figure at the
    output of :func:`band_filter`."""
    if spec.noise_kind == "density":
        return spec.noise * np.sqrt(fs_in / 2)
    f, h = scipy.signal.sosfreqz(band_filter(spec, fs_in), worN=_NOISE_GRID, fs=fs_in)
    gain2 = np.abs(h) ** 2
    if spec.noise_kind == "rms_a":
        gain2 = gain2 * a_weighting(f) ** 2
    return spec.noise / np.sqrt(np.mean(gain2))


@dataclass
class Filter:
    """An IIR filter (second-order sections) over [channels, samples], chunk by chunk."""

    sos: np.ndarray

    def __post_init__(self) -> None:
        self.sos = np.atleast_2d(np.asarray(self.sos, dtype=np.float64))
        if self.sos.shape[1] != 6:
            raise ValueError(f"sos must be [sections, 6], got {self.sos.shape}")
        self.reset()

    def reset(self) -> Filter:
        """Clear the filter memory (the next chunk starts from rest)."""
        self.zi_ = None
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter the next chunk [channels, samples]."""
        if self.zi_ is None:
            self.zi_ = np.zeros((self.sos.shape[0], x.shape[0], 2))
        if x.shape[1] == 0:
            return x.copy()
        y, self.zi_ = scipy.signal.sosfilt(self.sos, x, axis=-1, zi=self.zi_)
        return y


@dataclass
class Decimator:
    """Keep every ``factor``-th sample of a stream (samples 0, k, 2k, ... of the whole)."""

    factor: int

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        self.reset()

    def reset(self) -> Decimator:
        """Restart at sample 0."""
        self.phase_ = 0
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The kept samples of the next chunk [channels, samples]."""
        first = (-self.phase_) % self.factor
        self.phase_ = (self.phase_ + x.shape[-1]) % self.factor
        return x[..., first::self.factor]


def to_codes(steps: np.ndarray, spec: FrontEndSpec) -> np.ndarray:
    """ADC codes (int32) of values in LSB units: round to nearest, clip at the code range
    (saturation). Modifies ``steps``."""
    lo, hi = spec.code_range
    np.rint(steps, out=steps)
    np.clip(steps, lo, hi, out=steps)
    return steps.astype(np.int32)


def quantise(v: np.ndarray, spec: FrontEndSpec) -> np.ndarray:
    """ADC codes (int32) of input-referred values ``v`` (the ADC alone: saturation and
    rounding)."""
    return to_codes(np.asarray(v, dtype=np.float64) / spec.lsb, spec)


@dataclass
class AnalogFrontEnd:
    """A front end at input rate ``fs_in`` (an integer multiple of ``spec.fs``), streaming.

    Args:
        spec: the part (a preset from ``PRESETS`` or your own).
        fs_in: rate of the input signal, Hz.
        n_channels: input channels.
        random_state: seed or Generator for the noise.
    """

    spec: FrontEndSpec
    fs_in: float
    n_channels: int
    random_state: int | np.random.Generator | None = None

    def __post_init__(self) -> None:
        ratio = self.fs_in / self.spec.fs
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"{self.spec.name} samples at {self.spec.fs:g} Hz; an input at "
                f"{self.fs_in:g} Hz is unsupported (it must be an integer multiple): resample "
                "the source first (sensors.records.resample)")
        self.decimator_ = Decimator(round(ratio))
        self.noise_rms_ = input_noise_rms(self.spec, self.fs_in)
        # Offset and noise enter together; the filter's gain includes 1/LSB, so it returns
        # the input in code units.
        self.noise_ = GaussianNoise(self.n_channels, self.random_state, scale=self.noise_rms_,
                                    loc=self.spec.offset)
        sos = band_filter(self.spec, self.fs_in)
        sos[0, :3] /= self.spec.lsb
        self.filter_ = Filter(sos)

    def reset(self) -> AnalogFrontEnd:
        """Restart the stream: filter at rest, noise from the start, decimation phase 0."""
        self.filter_.reset()
        self.decimator_.reset()
        self.noise_.reset()
        return self

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """ADC codes (int32) [channels, samples / k] of the next chunk of the input."""
        v = self.noise_(np.shape(x)[-1])
        v += as_signal(x, self.n_channels)
        return to_codes(self.decimator_(self.filter_(v)), self.spec)

    def to_units(self, codes: np.ndarray) -> np.ndarray:
        """Codes back to the input quantity (input-referred), float64."""
        return np.asarray(codes, dtype=np.float64) * self.spec.lsb


def measured_noise(spec: FrontEndSpec, duration_s: float = 60.0,
                   random_state: int | np.random.Generator | None = 0) -> float:
    """The noise floor of ``spec`` measured on its own output, in the datasheet's terms.

    The input is a constant (0, or mid-scale for a unipolar part); the output's deviation from
    its mean gives the rms, its Welch spectrum the density (mean over 0.05-0.3 of the low-pass
    corner, where the filter is flat)
    or, weighted by :func:`a_weighting`, the A-weighted rms.
    """
    n = int(duration_s * spec.fs)
    afe = AnalogFrontEnd(spec.replace(offset=0.0), spec.fs, 1, random_state)
    level = spec.full_scale / 2 if spec.unipolar else 0.0
    out = afe.to_units(afe(np.full((1, n), level)))[0]
    # Drop the filter's settling from rest (the first tenth) before measuring.
    out = out[n // 10:] - out[n // 10:].mean()
    if spec.noise_kind == "rms":
        return float(np.sqrt(np.mean(out**2)))
    f, psd = scipy.signal.welch(out, fs=spec.fs, nperseg=min(n, 4096))
    if spec.noise_kind == "density":
        band = (f > 0.05 * spec.lowpass_hz) & (f < 0.3 * spec.lowpass_hz)
        return float(np.sqrt(np.mean(psd[band])))
    return float(np.sqrt(scipy.integrate.trapezoid(psd * a_weighting(f) ** 2, f)))
