"""Real recordings with their ground truth, read from the public sets or the shipped sample.

Sources are named ``set:record``:

- ``mitdb:100`` — MIT-BIH Arrhythmia Database (WFDB, 360 Hz, two leads in mV, beat labels
  mapped to the AAMI classes N, S, V, F, Q). Moody & Mark, IEEE EMB 20(3):45-50 (2001).
- ``nstdb:118e06`` — record 118 with electrode-motion noise at 6 (or 24) dB from 300 s on
  (WFDB format 16, made with the NSTDB ``nst`` tool); labelled as an artefact.
  Moody, Muldrow & Mark, Computers in Cardiology 11:381-384 (1984).
- ``spc2015:DATA_01_TYPE01`` (or ``spc2015:01``) — IEEE SP Cup 2015 / TROIKA: chest ECG, two
  wrist PPG, wrist 3-axis accelerometer at 125 Hz, with the ECG-derived heart rate per 8-s
  window (2-s step). Zhang, Pi & Liu, IEEE TBME 62(2):522-531 (2015).
- ``emgdb:healthy`` (``myopathy``, ``neuropathy``) — PhysioNet Examples of Electromyograms,
  needle EMG at 4 kHz in mV.
- ``eeglab:sample`` — the EEGLAB tutorial EEG, 32 channels at 128 Hz in µV.
  Delorme & Makeig, J Neurosci Methods 134:9-21 (2004).

:func:`load` looks in the folder it is given, in the set's own sub-folder (``mitdb/``,
``spc2015/Training_data/`` ...) and then for a sample file ``<set>_<record>.npz`` written by
:meth:`Recording.save` (the project ships such excerpts). Every problem with the input names
the file: a missing header or annotation file, NaNs, an unexpected sampling rate, a heart-rate
trace that does not fit its signal.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import scipy.io
import scipy.signal

from sensors.events import NPZ_ERRORS

BEAT_DTYPE = np.dtype([("sample", "<i8"), ("symbol", "<U2"), ("aami", "<U1")])
# Artefact labels: kind, onset and offset in seconds, channel index (-1: every channel).
LABEL_DTYPE = np.dtype([("kind", "<U24"), ("onset", "<f8"), ("offset", "<f8"),
                        ("channel", "<i2")])
# Reference heart rate per window: window start and end in seconds, beats per minute.
HR_DTYPE = np.dtype([("onset", "<f8"), ("offset", "<f8"), ("bpm", "<f8")])

# AAMI EC57 beat classes from MIT-BIH beat symbols (de Chazal et al., IEEE TBME 51(7), 2004).
AAMI_CLASSES: dict[str, tuple[str, ...]] = {
    "N": ("N", "L", "R", "e", "j"),
    "S": ("A", "a", "J", "S"),
    "V": ("V", "E"),
    "F": ("F",),
    "Q": ("/", "f", "Q"),
}
AAMI_OF_SYMBOL = {s: c for c, symbols in AAMI_CLASSES.items() for s in symbols}

MITDB_FS = 360.0
SPC2015_FS = 125.0
SPC2015_CHANNELS = ("ECG", "PPG1", "PPG2", "ACC_X", "ACC_Y", "ACC_Z")
SPC2015_UNITS = ("a.u.", "a.u.", "a.u.", "g", "g", "g")
# BPMtrace: value k covers samples [250 k, 250 k + 1000) at 125 Hz.
SPC2015_WINDOW_S, SPC2015_STEP_S = 8.0, 2.0
EMGDB_FS = 4000.0


class DataError(ValueError):
    """A data file that cannot be read as the set it belongs to; the message names it."""


def empty_beats() -> np.ndarray:
    """An empty beat-annotation array."""
    return np.empty(0, BEAT_DTYPE)


def empty_labels() -> np.ndarray:
    """An empty artefact-label array."""
    return np.empty(0, LABEL_DTYPE)


def empty_hr() -> np.ndarray:
    """An empty heart-rate trace."""
    return np.empty(0, HR_DTYPE)


@dataclass(frozen=True)
class Recording:
    """A multichannel signal with its ground truth.

    Args:
        name: source name, e.g. "mitdb:100".
        signal: [channels, samples] float64 in ``units``.
        fs: sample rate, Hz.
        channels: channel names.
        units: unit of each channel ("mV", "µV", "g", "A", "Pa", or "a.u." for arbitrary).
        beats: beat annotations (``BEAT_DTYPE``: sample index, symbol, AAMI class).
        labels: artefact labels (``LABEL_DTYPE``, seconds).
        hr: reference heart rate per window (``HR_DTYPE``, seconds and bpm).
        adc: (gain in counts per unit, baseline in counts) per channel when ``signal`` is an
            ADC's counts converted as (counts - baseline) / gain, so that it can be stored as
            integers; None otherwise.
        info: free-text metadata (source file, citation, excerpt).
    """

    name: str
    signal: np.ndarray
    fs: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    beats: np.ndarray = field(default_factory=empty_beats)
    labels: np.ndarray = field(default_factory=empty_labels)
    hr: np.ndarray = field(default_factory=empty_hr)
    adc: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    info: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = self.info.get("file", self.name)
        sig = np.asarray(self.signal, dtype=np.float64)
        object.__setattr__(self, "signal", sig)
        if sig.ndim != 2:
            raise DataError(f"{where}: signal must be [channels, samples], got {sig.shape}")
        if not len(self.channels) == len(self.units) == sig.shape[0]:
            raise DataError(f"{where}: {sig.shape[0]} channels but {len(self.channels)} names "
                            f"and {len(self.units)} units")
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise DataError(f"{where}: sampling rate must be positive, got {self.fs}")
        if not np.all(np.isfinite(sig)):
            c, t = np.argwhere(~np.isfinite(sig))[0]
            raise DataError(f"{where}: NaN or infinite samples (first in channel "
                            f"{self.channels[c]!r} at sample {t}, {t / self.fs:.3f} s)")
        for name, arr, dtype in (("beats", self.beats, BEAT_DTYPE),
                                 ("labels", self.labels, LABEL_DTYPE),
                                 ("hr", self.hr, HR_DTYPE)):
            if np.asarray(arr).dtype != dtype:
                raise DataError(f"{where}: {name} must have dtype {dtype}")

    @property
    def n_samples(self) -> int:
        """Samples per channel."""
        return self.signal.shape[1]

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    def aami_counts(self) -> dict[str, int]:
        """Beats per AAMI class."""
        return {c: int(np.sum(self.beats["aami"] == c)) for c in AAMI_CLASSES}

    def select(self, channels: list[str] | tuple[str, ...]) -> Recording:
        """The named channels only (case-insensitive names)."""
        lower = [c.lower() for c in self.channels]
        missing = [c for c in channels if c.lower() not in lower]
        if missing:
            raise ValueError(f"{self.name} has no channel {', '.join(map(repr, missing))}; "
                             f"it has {', '.join(self.channels)}")
        idx = [lower.index(c.lower()) for c in channels]
        labels = self.labels[np.isin(self.labels["channel"], [-1, *idx])].copy()
        labels["channel"] = [idx.index(c) if c >= 0 else -1 for c in labels["channel"]]
        adc = None if self.adc is None else tuple(tuple(a[i] for i in idx) for a in self.adc)
        return dataclasses.replace(
            self, signal=self.signal[idx], channels=tuple(self.channels[i] for i in idx),
            units=tuple(self.units[i] for i in idx), labels=labels, adc=adc)

    def excerpt(self, start_s: float, stop_s: float | None = None) -> Recording:
        """Samples in [start_s, stop_s) with the annotations that fall inside, re-timed."""
        a = max(0, round(start_s * self.fs))
        b = self.n_samples if stop_s is None else min(self.n_samples, round(stop_s * self.fs))
        if b <= a:
            raise ValueError(f"{self.name}: empty excerpt {start_s}..{stop_s} s of "
                             f"{self.duration_s:.1f} s")
        t0, t1 = a / self.fs, b / self.fs
        beats = self.beats[(self.beats["sample"] >= a) & (self.beats["sample"] < b)].copy()
        beats["sample"] -= a
        labels = self.labels[(self.labels["offset"] > t0) & (self.labels["onset"] < t1)].copy()
        labels["onset"] = np.maximum(labels["onset"], t0) - t0
        labels["offset"] = np.minimum(labels["offset"], t1) - t0
        hr = self.hr[(self.hr["onset"] >= t0) & (self.hr["offset"] <= t1)].copy()
        hr["onset"] -= t0
        hr["offset"] -= t0
        # Seconds into the original record, kept across repeated excerpts.
        origin = float(self.info.get("excerpt_s", "0-").split("-")[0])
        info = {**self.info, "excerpt_s": f"{origin + t0:g}-{origin + t1:g}"}
        return dataclasses.replace(self, signal=self.signal[:, a:b], beats=beats, labels=labels,
                                   hr=hr, info=info)

    def save(self, path: str | Path) -> None:
        """Write to a compressed ``.npz`` (integers when ``adc`` describes the signal)."""
        arrays: dict[str, np.ndarray] = {}
        if self.adc is not None:
            gain, base = (np.asarray(a, dtype=np.float64)[:, None] for a in self.adc)
            counts = np.rint(self.signal * gain + base)
            if not np.array_equal((counts - base) / gain, self.signal):
                raise ValueError(f"{self.name}: signal is not (counts - baseline) / gain")
            arrays["counts"] = counts.astype(np.int32)
            arrays["adc_gain"], arrays["adc_baseline"] = gain[:, 0], base[:, 0]
        else:
            arrays["signal"] = self.signal
        header = {"name": self.name, "fs": self.fs, "channels": self.channels,
                  "units": self.units, "info": self.info}
        np.savez_compressed(path, header=np.array(json.dumps(header)), beats=self.beats,
                            labels=self.labels, hr=self.hr, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                adc = None
                if "counts" in data.files:
                    gain, base = data["adc_gain"], data["adc_baseline"]
                    signal = (data["counts"] - base[:, None]) / gain[:, None]
                    adc = (tuple(gain.tolist()), tuple(base.tolist()))
                else:
                    signal = data["signal"]
                return cls(header["name"], signal, header["fs"], tuple(header["channels"]),
                           tuple(header["units"]), data["beats"], data["labels"], data["hr"],
                           adc, {**header["info"], "file": str(path)})
        except (KeyError, ValueError, *NPZ_ERRORS) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: not a recording file ({exc})") from exc


def resample(recording: Recording, fs: float) -> Recording:
    """The recording at another rate (polyphase, anti-aliased); beats move to the nearest
    sample, labels and heart rate keep their times."""
    if fs == recording.fs:
        return recording
    ratio = Fraction(fs / recording.fs).limit_denominator(1000)
    if abs(float(ratio) * recording.fs - fs) > 1e-6 * fs:
        raise ValueError(f"{recording.name}: cannot resample {recording.fs:g} Hz to {fs:g} Hz "
                         "by a ratio of small integers")
    signal = scipy.signal.resample_poly(recording.signal, ratio.numerator, ratio.denominator,
                                        axis=1, padtype="line")
    beats = recording.beats.copy()
    beats["sample"] = np.rint(beats["sample"] * float(ratio)).astype(np.int64)
    beats = beats[beats["sample"] < signal.shape[1]]
    return dataclasses.replace(recording, signal=signal, fs=float(fs), beats=beats, adc=None)


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file ({what})")
    return path


def _read_wfdb(folder: Path, record: str, fs: float | None) -> tuple[object, np.ndarray]:
    """Header and digital samples [channels, samples] of a WFDB record."""
    import wfdb

    base = folder / record
    header = _require(base.with_suffix(".hea"), "WFDB header")
    try:
        rec = wfdb.rdrecord(str(base), physical=False)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{header}: the header names a signal file that is missing "
                                f"({exc.filename or exc})") from exc
    except (ValueError, IndexError) as exc:
        raise DataError(_short_signal_file(folder, record) or
                        f"{header}: cannot read record ({exc})") from exc
    if fs is not None and rec.fs != fs:
        raise DataError(f"{header}: sampled at {rec.fs:g} Hz, this set is {fs:g} Hz")
    return rec, rec.d_signal.T.astype(np.float64)


# Bytes per sample of the WFDB storage formats (format 212 packs two 12-bit samples in 3).
_WFDB_BYTES = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
               "212": 1.5, "310": 4 / 3, "311": 4 / 3}


def _short_signal_file(folder: Path, record: str) -> str | None:
    """What is wrong when a signal file holds fewer bytes than its header promises (a
    truncated copy or download), or None."""
    import wfdb

    header = wfdb.rdheader(str(folder / record))
    for name in dict.fromkeys(header.file_name):
        fmts = [f for f, n in zip(header.fmt, header.file_name, strict=True) if n == name]
        if any(f not in _WFDB_BYTES for f in fmts):
            continue
        need = int(np.ceil(header.sig_len * sum(_WFDB_BYTES[f] for f in fmts)))
        path = folder / name
        size = path.stat().st_size
        if size < need:
            return (f"{path}: holds {size} bytes, but {record}.hea needs {need} "
                    f"({header.sig_len} samples x {len(fmts)} signals in format "
                    f"{'/'.join(dict.fromkeys(fmts))}): the signal file is truncated; copy it "
                    "again")
    return None


def _read_beats(folder: Path, record: str, n_samples: int) -> np.ndarray:
    import wfdb

    atr = folder / f"{record}.atr"
    if not atr.is_file():
        raise DataError(f"{atr}: record {record} has a header but no beat annotation file "
                        "(.atr); the set's ground truth is missing")
    try:
        ann = wfdb.rdann(str(folder / record), "atr")
    except (ValueError, IndexError) as exc:
        raise DataError(f"{atr}: cannot read annotations ({exc})") from exc
    symbols = np.asarray(ann.symbol, dtype="<U2")
    keep = np.isin(symbols, list(AAMI_OF_SYMBOL)) & (ann.sample < n_samples)
    beats = np.empty(int(keep.sum()), BEAT_DTYPE)
    beats["sample"], beats["symbol"] = ann.sample[keep], symbols[keep]
    beats["aami"] = [AAMI_OF_SYMBOL[s] for s in symbols[keep]]
    return beats


def read_mitdb(folder: str | Path, record: str) -> Recording:
    """An MIT-BIH Arrhythmia record: both leads in mV, beats with AAMI classes."""
    folder = Path(folder)
    rec, counts = _read_wfdb(folder, record, MITDB_FS)
    gain, base = np.asarray(rec.adc_gain, float), np.asarray(rec.baseline, float)
    return Recording(
        f"mitdb:{record}", (counts - base[:, None]) / gain[:, None], MITDB_FS,
        tuple(rec.sig_name), tuple(rec.units), _read_beats(folder, record, counts.shape[1]),
        adc=(tuple(gain.tolist()), tuple(base.tolist())),
        info={"file": str(folder / f"{record}.hea"), "set": "MIT-BIH Arrhythmia Database "
              "v1.0.0 (PhysioNet, ODC-By 1.0)", "comments": " | ".join(rec.comments)})


def read_nstdb(folder: str | Path, record: str) -> Recording:
    """A noise-stress record made by ``nst`` (e.g. 118e06): ECG + electrode-motion noise.

    These files store the record's counts minus 1024 while their header still declares a
    baseline of 1024, so the baseline is taken as 0 (the signal then equals record 118 in mV
    up to the noise). The noise span (from 300 s, as verified against record 118) is
    labelled ``electrode_motion``.
    """
    folder = Path(folder)
    rec, counts = _read_wfdb(folder, record, MITDB_FS)
    comments = " ".join(rec.comments)
    if "nst" not in comments:
        raise DataError(f"{folder / record}.hea: not made by the nst tool ({comments!r})")
    gain = np.asarray(rec.adc_gain, float)
    labels = np.array([("electrode_motion", 300.0, counts.shape[1] / MITDB_FS, -1)],
                      LABEL_DTYPE)
    return Recording(
        f"nstdb:{record}", counts / gain[:, None], MITDB_FS, tuple(rec.sig_name),
        tuple(rec.units), _read_beats(folder, record, counts.shape[1]), labels,
        adc=(tuple(gain.tolist()), (0.0,) * len(gain)),
        info={"file": str(folder / f"{record}.hea"), "set": "MIT-BIH record 118 + NSTDB em "
              "noise (PhysioNet, ODC-By 1.0)", "comments": comments})


def _spc2015_file(folder: Path, name: str) -> Path:
    if name.isdigit():
        hits = sorted(folder.glob(f"DATA_{int(name):02d}_TYPE??.mat"))
        if hits:
            return hits[0]
    return folder / f"{name}.mat"


def read_spc2015(folder: str | Path, name: str) -> Recording:
    """An SP Cup 2015 training recording: ECG, PPG1, PPG2 (a.u.), ACC_X/Y/Z (g) at 125 Hz,
    with the reference heart rate per 8-s window (2-s step)."""
    folder = Path(folder)
    path = _require(_spc2015_file(folder, name), "SP Cup 2015 recording")
    trace = _require(path.with_name(f"{path.stem}_BPMtrace.mat"), "its reference heart rate")
    try:
        sig = scipy.io.loadmat(path)["sig"]
        bpm = scipy.io.loadmat(trace)["BPM0"]
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot read 'sig' / 'BPM0' ({exc})") from exc
    if sig.ndim != 2 or sig.shape[0] != len(SPC2015_CHANNELS):
        raise DataError(f"{path}: 'sig' must be 6 x N (ECG, PPG1, PPG2, ACC x/y/z), got "
                        f"{sig.shape}")
    window, step = round(SPC2015_WINDOW_S * SPC2015_FS), round(SPC2015_STEP_S * SPC2015_FS)
    expected = (sig.shape[1] - window) // step + 1
    bpm = np.asarray(bpm, dtype=np.float64).ravel()
    if bpm.size != expected:
        raise DataError(f"{trace}: {bpm.size} heart-rate values, but {sig.shape[1]} samples at "
                        f"125 Hz make {expected} windows of 8 s at a 2-s step (wrong rate or "
                        "mismatched file?)")
    hr = np.empty(bpm.size, HR_DTYPE)
    hr["onset"] = np.arange(bpm.size) * SPC2015_STEP_S
    hr["offset"] = hr["onset"] + SPC2015_WINDOW_S
    hr["bpm"] = bpm
    return Recording(f"spc2015:{path.stem}", sig, SPC2015_FS, SPC2015_CHANNELS, SPC2015_UNITS,
                     hr=hr, info={"file": str(path), "set": "IEEE SP Cup 2015 (TROIKA); "
                                  "academic use with citation"})


def read_emgdb(folder: str | Path, name: str) -> Recording:
    """A PhysioNet EMG example (healthy, myopathy or neuropathy): needle EMG in mV, 4 kHz."""
    folder = Path(folder)
    record = name if name.startswith("emg_") else f"emg_{name}"
    rec, counts = _read_wfdb(folder, record, EMGDB_FS)
    gain, base = np.asarray(rec.adc_gain, float), np.asarray(rec.baseline, float)
    return Recording(
        f"emgdb:{record.removeprefix('emg_')}", (counts - base[:, None]) / gain[:, None],
        EMGDB_FS, tuple(rec.sig_name), tuple(rec.units),
        adc=(tuple(gain.tolist()), tuple(base.tolist())),
        info={"file": str(folder / f"{record}.hea"), "set": "PhysioNet Examples of "
              "Electromyograms v1.0.0", "diagnosis": record.removeprefix("emg_"),
              "comments": " | ".join(rec.comments)})


def read_eeglab(folder: str | Path, name: str = "sample") -> Recording:
    """The EEGLAB tutorial EEG (``eeglab_data.set`` + ``.fdt``): 32 channels in µV."""
    folder = Path(folder)
    path = _require(folder / ("eeglab_data.set" if name == "sample" else f"{name}.set"),
                    "EEGLAB dataset")
    try:
        eeg = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["EEG"]
        n_ch, n_t, fs = int(eeg.nbchan), int(eeg.pnts), float(eeg.srate)
        labels = tuple(str(c.labels) for c in np.atleast_1d(eeg.chanlocs))
        datafile = str(eeg.data)
    except (KeyError, AttributeError, ValueError) as exc:
        raise DataError(f"{path}: not an EEGLAB dataset ({exc})") from exc
    fdt = _require(folder / datafile, f"the data file that {path.name} names")
    raw = np.fromfile(fdt, "<f4")
    if raw.size != n_ch * n_t:
        raise DataError(f"{fdt}: {raw.size} values, {path.name} declares {n_ch} x {n_t}")
    return Recording(f"eeglab:{name}", raw.reshape(n_t, n_ch).T.astype(np.float64), fs,
                     labels, ("µV",) * n_ch,
                     info={"file": str(path), "set": "EEGLAB tutorial data (BSD-2-Clause)",
                           "events": str(len(np.atleast_1d(eeg.event)))})


@dataclass(frozen=True)
class Source:
    """A public set: where it lives under a data folder, how to read one record."""

    name: str
    folders: tuple[str, ...]
    reader: Callable[[Path, str], Recording]
    native: Callable[[Path, str], Path]
    description: str
    example: str


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("mitdb", ("mitdb",), read_mitdb, lambda d, r: d / f"{r}.hea",
           "MIT-BIH Arrhythmia DB: 2-lead ECG (mV), 360 Hz, beats -> AAMI N/S/V/F/Q",
           "mitdb:100"),
    Source("nstdb", ("nstdb-118em", "nstdb"), read_nstdb, lambda d, r: d / f"{r}.hea",
           "MIT-BIH 118 + NSTDB electrode-motion noise (labelled from 300 s), 360 Hz",
           "nstdb:118e06"),
    Source("spc2015", ("spc2015/Training_data", "spc2015", "Training_data"), read_spc2015,
           _spc2015_file, "SP Cup 2015: ECG, 2 wrist PPG, 3-axis acc (g), 125 Hz, HR per 8 s",
           "spc2015:DATA_01_TYPE01"),
    Source("emgdb", ("emgdb",), read_emgdb,
           lambda d, r: d / f"{r if r.startswith('emg_') else 'emg_' + r}.hea",
           "PhysioNet EMG examples: needle EMG (mV), 4 kHz, per-record diagnosis",
           "emgdb:healthy"),
    Source("eeglab", ("eeglab-sample", "eeglab"), read_eeglab,
           lambda d, r: d / ("eeglab_data.set" if r == "sample" else f"{r}.set"),
           "EEGLAB tutorial EEG: 32 channels incl. EOG (µV), 128 Hz", "eeglab:sample"),
)}


def parse_source(source: str) -> tuple[Source, str]:
    """Split ``set:record`` and look the set up."""
    set_name, sep, record = source.partition(":")
    if not sep or not record:
        raise ValueError(f"source {source!r} must be set:record, e.g. mitdb:100")
    if set_name not in SOURCES:
        raise ValueError(f"unknown set {set_name!r} in {source!r}; sets: {', '.join(SOURCES)}")
    return SOURCES[set_name], record


def sample_file(source: str) -> str:
    """File name of the shipped excerpt of a source: ``<set>_<record>.npz``."""
    set_name, _, record = source.partition(":")
    return f"{set_name}_{record}.npz"


def load(source: str, data: str | Path) -> Recording:
    """Read ``set:record`` from ``data``: the set's own files there or in its sub-folder,
    else a sample file ``<set>_<record>.npz`` there."""
    src, record = parse_source(source)
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such data folder")
    for folder in (*(root / f for f in src.folders), root):
        if src.native(folder, record).is_file():
            return src.reader(folder, record)
    sample = root / sample_file(f"{src.name}:{record}")
    if sample.is_file():
        return Recording.load(sample)
    looked = ", ".join(str(src.native(root / f, record)) for f in src.folders)
    raise FileNotFoundError(f"{source}: not found in {root} (looked for {looked}, "
                            f"{src.native(root, record)} and {sample})")


def available(data: str | Path) -> list[str]:
    """Sources readable from ``data``: native records of every set, then sample files."""
    root = Path(data)
    found: list[str] = []
    for src in SOURCES.values():
        for folder in (*(root / f for f in src.folders), root):
            if src.name == "spc2015":
                names = [p.stem for p in folder.glob("DATA_*.mat") if "BPM" not in p.stem]
            elif src.name == "eeglab":
                names = ["sample"] if (folder / "eeglab_data.set").is_file() else []
            elif src.name == "emgdb":
                names = [p.stem.removeprefix("emg_") for p in folder.glob("emg_*.hea")]
            else:
                pattern = r"\d+e\d+" if src.name == "nstdb" else r"\d+"
                names = [p.stem for p in folder.glob("*.hea") if re.fullmatch(pattern, p.stem)]
            found += [f"{src.name}:{n}" for n in sorted(names) if f"{src.name}:{n}" not in found]
        found += sorted(f"{src.name}:{p.stem.split('_', 1)[1]}"
                        for p in root.glob(f"{src.name}_*.npz")
                        if f"{src.name}:{p.stem.split('_', 1)[1]}" not in found)
    return found
