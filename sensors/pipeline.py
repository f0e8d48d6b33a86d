"""Source -> artefacts -> analog front end -> encoder in one call: what ``neurotwin sense`` runs.

:func:`sense` takes a :class:`SenseConfig` and returns a :class:`Sensed` with the recording as
the sensor saw it (artefacts added), the signal that the encoder took (the front end's output
in its input unit, or the recording itself), the events, their decoding and the parameters
needed to decode them again, which :meth:`Sensed.save` writes next to the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensors.afe import PRESETS, AnalogFrontEnd
from sensors.artefacts import artefact, corrupt
from sensors.encoders import (
    ENCODERS,
    Decoder,
    DeltaDecoder,
    DeltaEncoder,
    Encoder,
    GradedDeltaDecoder,
    GradedDeltaEncoder,
    LevelCrossingDecoder,
    LevelCrossingEncoder,
    RateDecoder,
    RateEncoder,
    ThresholdDecoder,
    ThresholdEncoder,
    reconstruction_snr_db,
)
from sensors.events import concatenate, save_events
from sensors.interp import InterpDeltaDecoder, InterpDeltaEncoder, KnotEncoder, decode_stream
from sensors.physiology import MODELS
from sensors.records import Recording, load, resample
from sensors.signals import unit_factor

# Synthetic sources: rate (Hz) at which each model is generated.
SIM_FS = {"ecg": 360.0, "ppg": 125.0, "resp": 50.0, "emg": 1000.0, "eeg": 128.0}
SIM_DURATION_S = 30.0
# Auto thresholds: delta step as a fraction of each channel's 0.5-99.5 percentile range.
DELTA_FRACTION = 1 / 40
# Graded delta dead band, same basis: a median 0.19 events per sample over the 44 MIT-BIH
# records (0.2 needs 1/40 to 1/70 of the range, by record; docs/sensors.md).
GRADED_FRACTION = 1 / 48
# Interpolating send-on-delta (interp, knots): without a threshold a rate controller holds this
# many events per sample per channel (0.2 less a margin: on the 44 MIT-BIH records knots ends
# at 0.195-0.199, docs/sensors.md), starting from the graded dead band (knots: its square as
# the penalty); knot values in 1/1024 of the range (0.5-99.5 percentile).
INTERP_RATE = 0.198
INTERP_RESOLUTION = 1 / 1024
LEVELS = 16


@dataclass(frozen=True)
class SenseConfig:
    """What to sense and how.

    Args:
        source: ``set:record`` (see ``sensors.records``) or ``sim:<model>`` (ecg, ppg, resp,
            emg, eeg).
        data: folder with the sets or sample files (not needed for ``sim:``).
        channels: channel names to keep (all when empty).
        start_s, duration_s: excerpt (whole record when duration is None; 30 s for sim).
        artefacts: names from ``sensors.artefacts.ARTEFACTS``.
        snr_db: signal-to-artefact ratio when artefacts are added.
        coupling: motion coupling ("ppg", "ecg", "ear_eeg"); guessed from the units if None.
        afe: preset name from ``sensors.afe.PRESETS`` or None.
        encoder: name from ``sensors.encoders.ENCODERS``.
        threshold: delta step, graded-delta dead band, interp corridor, square root of the
            knots penalty (or threshold half-width) in the encoded signal's unit; None picks
            1/40 of each channel's range (1/48 for graded; for interp and knots the start of a
            rate controller that holds 0.198 events per sample).
        seed: seed for everything random.
    """

    source: str
    data: Path | None = None
    channels: tuple[str, ...] = ()
    start_s: float = 0.0
    duration_s: float | None = None
    artefacts: tuple[str, ...] = ()
    snr_db: float = 10.0
    coupling: str | None = None
    afe: str | None = None
    encoder: str = "delta"
    threshold: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class Sensed:
    """The result of :func:`sense`."""

    config: SenseConfig
    recording: Recording
    signal: np.ndarray
    fs: float
    units: tuple[str, ...]
    events: np.ndarray
    decoded: np.ndarray
    parameters: dict[str, np.ndarray] = field(default_factory=dict)
    references: tuple[Recording, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def event_rate(self) -> float:
        """Events per sample per channel."""
        return self.events.size / max(1, self.signal.size)

    @property
    def snr_db(self) -> float:
        """Reconstruction SNR of the decoded events against the encoded signal, dB."""
        return reconstruction_snr_db(self.signal, self.decoded)

    def save(self, path: str | Path) -> None:
        """Write the events and what decodes them (see ``sensors.events.save_events``)."""
        save_events(path, self.events, fs_hz=self.fs, n_samples=self.signal.shape[1],
                    channels=np.array(self.recording.channels), units=np.array(self.units),
                    source=self.config.source, encoder=self.config.encoder,
                    afe=self.config.afe or "none", seed=self.config.seed, **self.parameters)


def load_source(source: str, data: str | Path | None, duration_s: float | None,
                seed: int) -> Recording:
    """A recording from a set (``set:record``) or a model (``sim:<model>``)."""
    kind, _, name = source.partition(":")
    if kind == "sim":
        if name not in MODELS:
            raise ValueError(f"unknown model {name!r} in {source!r}; models: "
                             f"{', '.join(MODELS)}")
        return MODELS[name]().generate(duration_s or SIM_DURATION_S, SIM_FS[name], seed)
    if data is None:
        raise ValueError(f"{source}: give the data folder that holds it")
    return load(source, data)


def _coupling(recording: Recording) -> str:
    units = set(recording.units)
    if units & {"A", "uA", "nA"} or any("PPG" in c.upper() for c in recording.channels):
        return "ppg"
    return "ear_eeg" if units & {"µV", "uV"} else "ecg"


def front_end(recording: Recording, preset: str, seed: int) -> tuple[np.ndarray, float, str,
                                                                       tuple[str, ...]]:
    """Run a preset on every channel: signal in the preset's unit, its rate, unit, notes."""
    if preset not in PRESETS:
        raise ValueError(f"unknown front end {preset!r}; presets: {', '.join(PRESETS)}")
    spec = PRESETS[preset]
    factors = []
    for channel, unit in zip(recording.channels, recording.units, strict=True):
        try:
            factors.append(unit_factor(unit, spec.quantity))
        except ValueError as exc:
            raise ValueError(f"{recording.name} channel {channel!r} is in {unit}; {spec.name} "
                             f"takes {spec.quantity} ({exc})") from exc
    notes: tuple[str, ...] = ()
    ratio = recording.fs / spec.fs
    if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
        notes = (f"resampled {recording.fs:g} Hz -> {spec.fs:g} Hz for {spec.name}",)
        recording = resample(recording, spec.fs)
    afe = AnalogFrontEnd(spec, recording.fs, recording.signal.shape[0], seed)
    codes = afe(recording.signal * np.asarray(factors)[:, None])
    return afe.to_units(codes), spec.fs, spec.quantity, notes


def make_codec(name: str, signal: np.ndarray, fs: float, threshold: float | None,
               seed: int) -> tuple[Encoder, Decoder, dict[str, np.ndarray]]:
    """Encoder, matching decoder and their parameters for ``signal``, with automatic
    thresholds from each channel's 0.5-99.5 percentile range where none is given."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; encoders: {', '.join(ENCODERS)}")
    n = signal.shape[0]
    lo, hi = np.percentile(signal, [0.5, 99.5], axis=1)
    span = np.maximum(hi - lo, np.finfo(float).tiny)
    step = np.full(n, threshold) if threshold is not None else span * DELTA_FRACTION
    if name == "delta":
        origin = signal[:, 0].copy()
        params = {"threshold": step, "origin": origin}
        return (DeltaEncoder(step, fs, origin), DeltaDecoder(step, fs, n, origin), params)
    if name == "graded":
        origin = signal[:, 0].copy()
        band = np.full(n, threshold) if threshold is not None else span * GRADED_FRACTION
        params = {"threshold": band, "resolution": band / 2,
                  "levels": np.array(GradedDeltaEncoder.levels), "origin": origin}
        return (GradedDeltaEncoder(band, fs, band / 2, origin=origin),
                GradedDeltaDecoder(band, fs, n, band / 2, origin=origin), params)
    if name in ("interp", "knots"):
        origin = signal[:, 0].copy()
        band = np.full(n, threshold) if threshold is not None else span * GRADED_FRACTION
        resolution = span * INTERP_RESOLUTION
        rate = 0.0 if threshold is not None else INTERP_RATE
        encoder: InterpDeltaEncoder | KnotEncoder = (
            InterpDeltaEncoder(band, fs, resolution, origin=origin, target_rate=rate)
            if name == "interp" else
            KnotEncoder(band**2, fs, resolution, origin=origin, target_rate=rate))
        params = {"threshold": band, "resolution": resolution,
                  "levels": np.array(encoder.levels), "delay": np.array(encoder.delay),
                  "origin": origin, "target_rate": np.array(rate)}
        return encoder, InterpDeltaDecoder(band, fs, n, resolution, delay=encoder.delay,
                                           origin=origin), params
    if name == "level":
        # One ladder for every channel, over the whole signal.
        bottom, top = float(signal.min()), float(signal.max())
        levels = np.linspace(bottom, top, LEVELS) if threshold is None else \
            np.arange(bottom, top + threshold, threshold)
        params = {"levels": levels}
        return LevelCrossingEncoder(levels, fs), LevelCrossingDecoder(levels, fs, n), params
    if name == "rate":
        max_rate = fs / 4
        params = {"low": lo, "high": hi, "max_rate_hz": np.array(max_rate)}
        return (RateEncoder(lo, hi, fs, max_rate, seed),
                RateDecoder(lo, hi, fs, max_rate, n), params)
    mid = (lo + hi) / 2
    half = step if threshold is not None else span / 10
    params = {"low": mid - half, "high": mid + half}
    return (ThresholdEncoder(mid - half, mid + half, fs),
            ThresholdDecoder(mid - half, mid + half, fs, n), params)


def sense(config: SenseConfig) -> Sensed:
    """Read or generate the source, add artefacts, run the front end, encode and decode."""
    recording = load_source(config.source, config.data, config.duration_s, config.seed)
    if config.start_s or (config.duration_s and not config.source.startswith("sim:")):
        stop = None if config.duration_s is None else config.start_s + config.duration_s
        recording = recording.excerpt(config.start_s, stop)
    if config.channels:
        recording = recording.select(config.channels)
    references: tuple[Recording, ...] = ()
    if config.artefacts:
        coupling = config.coupling or _coupling(recording)
        corrupted = corrupt(recording, [artefact(a, coupling) for a in config.artefacts],
                            config.snr_db, config.seed)
        recording, references = corrupted.recording, corrupted.references
    notes: tuple[str, ...] = ()
    if config.afe:
        signal, fs, unit, notes = front_end(recording, config.afe, config.seed)
        units = (unit,) * signal.shape[0]
    else:
        signal, fs, units = recording.signal, recording.fs, recording.units
    encoder, decoder, params = make_codec(config.encoder, signal, fs, config.threshold,
                                          config.seed)
    events = encoder(signal)
    if isinstance(encoder, InterpDeltaEncoder | KnotEncoder) \
            and isinstance(decoder, InterpDeltaDecoder):
        # The stream ends here: its last knot, and the samples the decoder's delay held back.
        events = concatenate([events, encoder.flush()])
        decoded = decode_stream(decoder, events, signal.shape[1])
    else:
        decoded = decoder(events, signal.shape[1])
    return Sensed(config, recording, signal, fs, units, events, decoded, params, references,
                  notes)
