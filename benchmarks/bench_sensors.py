"""Sensor chain speed and encoder quality; writes the "sensors" section of docs/benchmarks.md.

Throughput: every encoder and the front-end chain (ADS1292 preset: noise, band limit,
saturation, 24-bit quantisation) on one long multichannel input, one process, best of
``--repeat`` runs, in samples (channels x samples) per CPU-second of this process, which is
the per-core figure (numpy runs these loops on one thread), and per wall-clock second.

Quality: reconstruction SNR (signal power about its mean over the error power, dB) against the
event rate (events per sample per channel) for the delta, level-crossing and rate encoders
with their decoders, over a sweep of thresholds, on real ECG (MIT-BIH 100 and 208), PPG (SP Cup
2015 DATA_01, PPG1) and EEG (EEGLAB sample, 4 channels). The plot goes to
docs/img/encoders_snr.png.

    python benchmarks/bench_sensors.py [--data DIR] [--samples 2000000] [--channels 8]

``--data`` defaults to $NEUROTWIN_DATA, else the shipped sample (host/data).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from importlib import resources
from pathlib import Path

import numpy as np
from report import write_section  # benchmarks/ is on sys.path when run as a script

from sensors.afe import PRESETS, AnalogFrontEnd
from sensors.encoders import (
    DeltaDecoder,
    DeltaEncoder,
    LevelCrossingDecoder,
    LevelCrossingEncoder,
    RateDecoder,
    RateEncoder,
    ThresholdEncoder,
    reconstruction_snr_db,
)
from sensors.records import load

ROOT = Path(__file__).resolve().parent.parent
FIGURE = ROOT / "docs" / "img" / "encoders_snr.png"


def best_time(fn, repeat: int) -> tuple[float, float]:
    """Shortest wall-clock and shortest CPU time (this process) of ``repeat`` runs."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def throughput(channels: int, samples: int,
               repeat: int) -> list[tuple[str, float, float, str]]:
    """Samples per second (wall clock, CPU time) of each stage on a [channels, samples]
    random walk."""
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 0.05, (channels, samples)), axis=1)
    lo, hi = float(x.min()), float(x.max())
    spec = PRESETS["ads1292"]
    volts = x * 1e-4
    stages = {
        "delta encoder": (lambda: DeltaEncoder(0.5, 360.0)(x), "threshold 0.5"),
        "level-crossing encoder": (
            lambda: LevelCrossingEncoder(np.linspace(lo, hi, 64), 360.0)(x), "64 levels"),
        "rate encoder": (lambda: RateEncoder(lo, hi, 360.0, 90.0, random_state=0)(x),
                         "max 90 Hz at 360 Hz"),
        "threshold encoder": (lambda: ThresholdEncoder(-1.0, 1.0, 360.0)(x), "±1"),
        "front end (ads1292)": (
            lambda: AnalogFrontEnd(spec, spec.fs, channels, random_state=0)(volts),
            "noise + band limit + saturation + 24-bit ADC"),
    }
    n = channels * samples
    out = []
    for name, (fn, note) in stages.items():
        wall, cpu = best_time(fn, repeat)
        out.append((name, n / wall, n / cpu, note))
    return out


def delta_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for fraction in np.geomspace(1 / 400, 1 / 8, 12):
        step = span * fraction
        events = DeltaEncoder(step, fs, x[:, 0])(x)
        decoded = DeltaDecoder(step, fs, x.shape[0], x[:, 0])(events, x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


def level_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    lo, hi = x.min(), x.max()  # the ladder spans the whole signal
    for n_levels in (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256):
        levels = np.linspace(lo, hi, n_levels)
        events = LevelCrossingEncoder(levels, fs)(x)
        decoded = LevelCrossingDecoder(levels, fs, x.shape[0])(events, x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


def rate_curve(x: np.ndarray, fs: float, span: np.ndarray) -> list[tuple[float, float]]:
    out = []
    lo, hi = np.percentile(x, [0.5, 99.5], axis=1)
    for fraction in (0.05, 0.1, 0.2, 0.4, 0.7, 1.0):
        max_rate = fraction * fs
        events = RateEncoder(lo, hi, fs, max_rate, random_state=0)(x)
        decoded = RateDecoder(lo, hi, fs, max_rate, x.shape[0], window_s=0.05)(events,
                                                                             x.shape[1])
        out.append((events.size / x.size, reconstruction_snr_db(x, decoded)))
    return out


CURVES = {"delta": delta_curve, "level": level_curve, "rate": rate_curve}


def signals(data: Path) -> dict[str, tuple[np.ndarray, float, str]]:
    """The real signals of the quality sweep: name -> (signal, fs, description)."""
    ecg = [load(f"mitdb:{r}", data).excerpt(0, 120) for r in ("100", "208")]
    ppg = load("spc2015:DATA_01_TYPE01", data).excerpt(0, 90).select(["PPG1"])
    eeg = load("eeglab:sample", data).excerpt(0, 30).select(["FPz", "EOG1", "Cz", "Oz"])
    return {
        "ECG": (np.concatenate([r.signal for r in ecg]), 360.0,
                "MIT-BIH 100 and 208, both leads, first 120 s, 360 Hz, mV"),
        "PPG": (ppg.signal, ppg.fs, "SP Cup 2015 DATA_01_TYPE01 PPG1, first 90 s, 125 Hz"),
        "EEG": (eeg.signal, eeg.fs, "EEGLAB sample FPz, EOG1, Cz, Oz, first 30 s, 128 Hz, µV"),
    }


def quality(data: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    results = {}
    for name, (x, fs, _) in signals(data).items():
        lo, hi = np.percentile(x, [0.5, 99.5], axis=1)
        results[name] = {enc: curve(x, fs, hi - lo) for enc, curve in CURVES.items()}
    return results


def plot(results: dict[str, dict[str, list[tuple[float, float]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(13, 3.8), sharey=True)
    for ax, (name, curves) in zip(axes, results.items(), strict=True):
        for enc, points in curves.items():
            rate, snr = np.array(points).T
            ax.semilogx(rate, snr, "o-", ms=3, label=enc)
        ax.axvline(0.2, color="grey", ls=":", lw=1)
        ax.axhline(30.0, color="grey", ls=":", lw=1)
        ax.set_title(name)
        ax.set_xlabel("events per sample per channel")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("reconstruction SNR (dB)")
    axes[0].legend()
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)


def best_at(points: list[tuple[float, float]], max_rate: float) -> str:
    ok = [snr for rate, snr in points if rate <= max_rate]
    return f"{max(ok):.1f}" if ok else "-"


def rate_for(points: list[tuple[float, float]], snr: float) -> str:
    ok = [rate for rate, s in points if s >= snr]
    return f"{min(ok):.3f}" if ok else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("NEUROTWIN_DATA")
                        or str(resources.files("host.data")))
    parser.add_argument("--samples", type=int, default=2_000_000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    speed = throughput(args.channels, args.samples, args.repeat)
    results = quality(Path(args.data))
    plot(results)
    described = {name: text for name, (_, _, text) in signals(Path(args.data)).items()}
    lines = [
        "## Sensors: encoder and front-end throughput, reconstruction SNR vs event rate",
        "",
        "`python benchmarks/bench_sensors.py --samples "
        f"{args.samples} --channels {args.channels}` ({platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; shared 2-core machine, "
        f"load average {os.getloadavg()[0]:.1f} at the end of the run).",
        "",
        f"Throughput on a {args.channels} x {args.samples} input (one process, one thread, "
        f"best of {args.repeat}); the target is 5e7 samples/s per core. Per CPU-second is the "
        "per-core figure (other jobs share this machine's two cores, so wall clock is lower "
        "when it is busy):",
        "",
        "| stage | samples per CPU-second | samples per wall-clock second | setting |",
        "|---|---|---|---|",
        *(f"| {name} | {cpu:.3g} | {wall:.3g} | {note} |" for name, wall, cpu, note in speed),
        "",
        "Reconstruction SNR against event rate (events per sample per channel; the decoders "
        "hold the last level, the rate decoder averages over 50 ms):",
        "",
        "![SNR vs event rate](img/encoders_snr.png)",
        "",
        "| signal | encoder | best SNR at <= 0.2 events/sample (dB) | "
        "events/sample for >= 30 dB |",
        "|---|---|---|---|",
    ]
    for name, curves in results.items():
        for enc, points in curves.items():
            lines.append(f"| {name} | {enc} | {best_at(points, 0.2)} | {rate_for(points, 30.0)} |")
    lines += ["", "Signals: " + "; ".join(f"{k}: {v}" for k, v in described.items()) + "."]
    markdown = "\n".join(lines)
    write_section("sensors", markdown)
    print(markdown)


if __name__ == "__main__":
    main()
